"""The self-attention block of SAGAN (Zhang et al. 2019, "Self-Attention Generative Adversarial Networks",
arXiv 1805.08318, Sec. 3, Eq. 1-3), used by SAGAN and BigGAN in both networks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.nn.spectral_norm import Layers


class SelfAttention(nn.Module):
    """y = gamma * o + x (Eq. 3), gamma a learnable scalar initialised at 0, so the block starts as the identity
    and the networks first rely on local features (Sec. 3).

    With f, g, h 1x1 convolutions, s_ij = f(x_i)^T g(x_j) and beta_{j,i} = softmax_i(s_ij), a softmax over the
    positions i attended to by output position j (Eq. 1); o_j = v(sum_i beta_{j,i} h(x_i)) with v a 1x1 conv
    back to C channels (Eq. 2).

    Channel counts follow the authors' code rather than the paper's text: f and g have C/8 channels (the
    paper's C-bar = C/8), h has C/2 (the paper: C/8), as in the official TensorFlow code
    (brain-research/self-attention-gan, non_local.py ``sn_non_local_block_sim``) and BigGAN-PyTorch
    (layers.Attention); with ``pool`` (as both codes), f and h are 2x2 max-pooled, so every position attends
    to a quarter as many keys, a 4x cheaper attention map. No biases in f, g, h, v (as both codes).
    """

    def __init__(self, channels: int, layers: Layers, pool: bool = True):
        super().__init__()
        if channels < 8:
            raise ZooError(f"self-attention needs feature maps of >= 8 channels (C/8 for f and g), got {channels}")
        self.pool = pool
        self.f = layers.conv(channels, channels // 8, 1, bias=False)  # keys, at the attended positions i
        self.g = layers.conv(channels, channels // 8, 1, bias=False)  # queries, at the output positions j
        self.h = layers.conv(channels, channels // 2, 1, bias=False)  # values
        self.v = layers.conv(channels // 2, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        n, _, height, width = x.shape
        keys, values = self.f(x), self.h(x)
        if self.pool:
            keys, values = F.max_pool2d(keys, 2), F.max_pool2d(values, 2)
        queries = self.g(x).flatten(2)  # (N, C/8, HW)
        s = queries.transpose(1, 2) @ keys.flatten(2)  # (N, HW, HW'): s[j, i] = g(x_j)^T f(x_i)
        beta = s.softmax(dim=-1)  # over the attended positions i
        attended = values.flatten(2) @ beta.transpose(1, 2)  # (N, C/2, HW): sum_i beta[j, i] h(x_i)
        o = self.v(attended.view(n, -1, height, width))
        return x + self.gamma * o
