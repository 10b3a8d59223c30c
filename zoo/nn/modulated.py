"""StyleGAN2's layers (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN", arXiv
1912.04958): weight modulation and demodulation (Sec. 2.2, Eq. 1-3), noise injection, ToRGB, and the [1, 3, 3, 1]
FIR filter its up- and downsampling use (App. B, after Zhang 2019's anti-aliasing).

Conventions of the authors' code kept here: equalized learning rate (zoo/nn/equalized.py) with gain 1, and the
activation gain sqrt(2) applied after the leaky ReLU (slope 0.2) instead of inside the weights.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.nn.equalized import EqualizedLinear

#: StyleGAN2's activation gain: leaky ReLU 0.2 followed by sqrt(2) keeps the signal's second moment
ACTIVATION_GAIN = math.sqrt(2)

NOISE_MODES = ("random", "const", "none")


def leaky_relu_gain(x: Tensor, gain: float = 1.0) -> Tensor:
    """leaky_relu(x, 0.2) * sqrt(2) * gain: the activation of every StyleGAN2 layer (``gain`` is the residual
    blocks' extra sqrt(1/2))."""
    return F.leaky_relu(x, 0.2) * (ACTIVATION_GAIN * gain)


class FIRFilter(nn.Module):
    """The separable [1, 3, 3, 1] low-pass filter (App. B), normalized to unit sum, applied per channel with a
    depthwise ``F.conv2d``. Upsampling by 2 inserts zeros and filters with gain 4 (a transposed depthwise conv
    of stride 2): bilinear interpolation, zero-padded at the borders; downsampling filters and keeps every
    second pixel. Both are ``upfirdn2d`` of the authors' code with its padding, written as plain convolutions."""

    def __init__(self, taps: tuple[float, ...] = (1.0, 3.0, 3.0, 1.0)):
        super().__init__()
        kernel_1d = torch.tensor(taps)
        kernel = torch.outer(kernel_1d, kernel_1d)
        self.register_buffer("kernel", kernel / kernel.sum(), persistent=False)

    def _depthwise(self, x: Tensor, gain: float = 1.0) -> Tensor:
        c = x.shape[1]
        return (self.kernel * gain).to(x.dtype).expand(c, 1, *self.kernel.shape)

    def blur(self, x: Tensor, padding: int) -> Tensor:
        """The filter at stride 1 with ``padding`` zeros on every side (size grows by 2 * padding - 3)."""
        return F.conv2d(F.pad(x, [padding] * 4), self._depthwise(x), groups=x.shape[1])

    def upsample(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, C, 2H, 2W)."""
        return F.conv_transpose2d(x, self._depthwise(x, gain=4.0), stride=2, padding=1, groups=x.shape[1])

    def downsample(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, C, H/2, W/2)."""
        return F.conv2d(x, self._depthwise(x), stride=2, padding=1, groups=x.shape[1])


class ModulatedConv2d(nn.Module):
    """A 3x3 (or 1x1) convolution whose weights every sample scales by its style (Sec. 2.2):

    s = A(w) (an equalized affine layer, bias initialized to 1), w'_ijk = s_i * w_ijk (Eq. 1), and with
    ``demodulate`` w''_ijk = w'_ijk / sqrt(sum_ik w'_ijk^2 + 1e-8) (Eq. 3), so each output channel j keeps unit
    L2 norm. The per-sample weights run as one grouped convolution (groups = batch size), as the paper's
    implementation note says. ``up`` doubles the resolution first with the FIR filter (upsample, then conv).
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, w_dim: int, demodulate: bool = True, up=False
    ):
        super().__init__()
        self.affine = EqualizedLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.scale = 1 / math.sqrt(in_channels * kernel_size * kernel_size)  # equalized lr, gain 1
        self.demodulate, self.padding = demodulate, kernel_size // 2
        self.resample = FIRFilter() if up else None

    def effective_weight(self, w: Tensor) -> Tensor:
        """The (N, out, in, k, k) weights sample n convolves with: Eq. 1, then Eq. 3 when demodulating."""
        styles = self.affine(w)
        weight = self.weight * self.scale * styles[:, None, :, None, None]
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        return weight

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        if self.resample is not None:
            x = self.resample.upsample(x)
        n, _, h, width = x.shape
        weight = self.effective_weight(w).to(x.dtype)
        out = F.conv2d(x.reshape(1, -1, h, width), weight.flatten(0, 1), padding=self.padding, groups=n)
        return out.reshape(n, -1, *out.shape[2:])


class NoiseInjection(nn.Module):
    """Per-pixel Gaussian noise, one map per sample broadcast over channels, times a learned scale (init 0)
    (StyleGAN, Karras et al. 2019, Sec. 2 "B"; StyleGAN2 Fig. 2c moves it after the convolution).

    ``noise_mode``: ``random`` draws fresh noise (on ``rng`` when given: reproducible training), ``const`` uses a
    fixed map drawn at construction (a buffer), ``none`` adds nothing.
    """

    def __init__(self, resolution: int):
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(()))
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))

    def forward(self, x: Tensor, noise_mode: str = "random", rng: torch.Generator | None = None) -> Tensor:
        if noise_mode == "none":
            return x
        if noise_mode == "const":
            return x + self.noise_const.to(x.dtype) * self.strength
        if noise_mode != "random":
            raise ZooError(f"noise_mode must be one of {', '.join(NOISE_MODES)}, got '{noise_mode}'")
        device = rng.device if rng is not None else x.device
        noise = torch.randn(x.shape[0], 1, *x.shape[2:], generator=rng, device=device).to(x.device, x.dtype)
        return x + noise * self.strength


class StyledConv2d(nn.Module):
    """A synthesis layer (Fig. 2c): modulated, demodulated 3x3 conv, noise, bias, leaky ReLU with gain sqrt(2)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, up=up)
        self.noise = NoiseInjection(resolution)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, w: Tensor, noise_mode: str = "random", rng: torch.Generator | None = None) -> Tensor:
        x = self.noise(self.conv(x, w), noise_mode, rng)
        return leaky_relu_gain(x + self.bias[:, None, None].to(x.dtype))


class ToRGB(nn.Module):
    """A modulated 1x1 conv to image channels without demodulation, plus a bias, linear (App. B, Fig. 7)."""

    def __init__(self, in_channels: int, channels: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        return self.conv(x, w) + self.bias[:, None, None].to(x.dtype)
