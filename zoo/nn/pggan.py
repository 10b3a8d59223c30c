"""The normalizations PGGAN introduced (Karras et al. 2018, "Progressive Growing of GANs", arXiv 1710.10196),
kept by StyleGAN and StyleGAN2: pixelwise feature normalization in G and minibatch standard deviation in D."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from zoo.errors import ZooError


class PixelNorm(nn.Module):
    """b = a / sqrt(mean_j(a_j^2) + eps) over the channels j of every pixel (Sec. 4.2, eps 1e-8); on (N, C)
    vectors it normalizes each vector (StyleGAN's normalization of z before the mapping network)."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + self.eps)


class ChannelBias(nn.Module):
    """One learned bias per channel of an (N, C, H, W) map, added after PGGAN G's first dense layer is reshaped to
    4x4 (official networks.py ``G_paper``: ``dense`` without bias, ``tf.reshape``, then ``apply_bias``)."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.bias[:, None, None]


class MinibatchStdDev(nn.Module):
    """Minibatch standard deviation (Sec. 3): within groups of ``group_size`` samples, the standard deviation of
    every feature over the group, averaged over features and pixels, appended as ``num_channels`` constant
    feature maps (the channels split into ``num_channels`` parts, one statistic each: StyleGAN2's
    ``mbstd_num_channels``; PGGAN and StyleGAN use 1).

    As in the authors' code, a group is samples i, i + N/G, i + 2N/G, ... of the batch (a reshape to (G, N/G,
    ...)), G = min(group_size, N), and N must be divisible by G, and the variance is the biased one.
    ``consecutive_groups`` and ``unbiased`` give facebookresearch/pytorch_GAN_zoo's variant instead
    (models/networks/mini_batch_stddev_module.py ``miniBatchStdDev``: groups of G neighbouring samples, ``torch.var``).
    """

    def __init__(
        self,
        group_size: int = 4,
        num_channels: int = 1,
        eps: float = 1e-8,
        consecutive_groups: bool = False,
        unbiased: bool = False,
    ):
        super().__init__()
        self.group_size, self.num_channels, self.eps = group_size, num_channels, eps
        self.consecutive_groups, self.unbiased = consecutive_groups, unbiased

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        g, f = min(self.group_size, n), self.num_channels
        if n % g or c % f:
            raise ZooError(
                f"minibatch stddev groups {g} samples and splits channels into {f}: the batch ({n}) must be "
                f"divisible by {g} and the channels ({c}) by {f}; change --data.batch_size"
            )
        group_dim = 1 if self.consecutive_groups else 0
        y = x.float().unflatten(0, (-1, g) if self.consecutive_groups else (g, -1)).unflatten(2, (f, c // f))
        std = (y.var(dim=group_dim, unbiased=self.unbiased) + self.eps).sqrt()  # (N/G, F, C/F, H, W)
        stat = std.mean(dim=(2, 3, 4)).to(x.dtype)  # (N/G, F)
        stat = stat.repeat_interleave(g, dim=0) if self.consecutive_groups else stat.repeat(g, 1)
        maps = stat[:, :, None, None].expand(n, f, h, w)
        return torch.cat([x, maps], dim=1)
