"""Equalized learning rate (Karras et al. 2018, "Progressive Growing of GANs", arXiv 1710.10196, Sec. 4.1), the
layer convention of PGGAN, StyleGAN and StyleGAN2.

Weights are stored as w ~ N(0, 1) / lr_multiplier and used as w * scale with scale = gain * lr_multiplier /
sqrt(fan_in), computed at run time rather than folded into the initialization: Adam's updates are invariant
to a parameter's scale, so every layer then learns at the same speed whatever its fan-in. The bias is stored
divided by lr_multiplier and used times it. ``lr_multiplier`` < 1 slows a layer down (StyleGAN's mapping
network: 0.01, Karras et al. 2019, App. C); ``gain`` is He's sqrt(2) before a (leaky) ReLU in PGGAN and 1
where StyleGAN2 applies sqrt(2) after the activation instead.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class EqualizedLinear(nn.Module):
    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        gain: float = 1.0,
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), bias_init / lr_multiplier)) if bias else None
        self.scale = gain * lr_multiplier / math.sqrt(in_features)
        self.lr_multiplier = lr_multiplier

    def forward(self, x: Tensor) -> Tensor:
        bias = None if self.bias is None else self.bias * self.lr_multiplier
        return F.linear(x, self.weight * self.scale, bias)


class EqualizedConv2d(nn.Module):
    """A stride-1 convolution with "same" padding for odd kernels, equalized as above (fan_in = in x k x k)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True, gain: float = 1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = gain / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = kernel_size // 2

    def forward(self, x: Tensor) -> Tensor:
        """The conv in the dtype of ``x`` (StyleGAN2-ADA's fp16 blocks cast their inputs, not the parameters)."""
        bias = None if self.bias is None else self.bias.to(x.dtype)
        return F.conv2d(x, (self.weight * self.scale).to(x.dtype), bias, padding=self.padding)
