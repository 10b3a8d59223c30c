"""COCO-GAN's networks (Lin et al. 2019, arXiv 1904.00284, Sec. 3 and App. A), as the reference code builds them
(hubert0527/COCO-GAN: models/generator.py, models/discriminator.py, models/spatial_prediction.py, ops.py):

- G(z, c) draws one micro patch from the latent z and the micro coordinate c: cond = [z, c] -> SN-linear to a
  2x2 map of 16 ngf channels, then log2(micro) - 1 residual up-blocks with ngf x [8, 4, 2, 1, ...] channels
  (CBN(cond) -> ReLU -> nearest 2x up -> SN-conv3x3 -> CBN(cond) -> ReLU -> SN-conv3x3, plus an SN-conv1x1 of the
  upsampled input), then BN -> ReLU -> SN-conv3x3 -> tanh. The CBN gains and biases are plain linear maps of cond.
- D(x, c) judges a macro patch: log2(macro) - 1 residual down-blocks with ndf x [..., 2, 4, 8, 8] channels (the
  first block, the head, has ndf channels and no leading ReLU; the last does not pool), ReLU, a global sum pool,
  then an SN-linear logit plus the projection <SN-linear(c), features> of the macro coordinate c.
- The spatial head regresses c from D's pooled features: SN-linear(aux 128) -> BN -> LeakyReLU(0.2) -> SN-linear(2)
  -> tanh. Its TF scope ("GD_...") puts it in both players' optimizers.

Initialisation as ops.py: convolutions N(0, 2 / fan_in) truncated at 2 std, linear layers Glorot uniform (``snlinear``
passes no initializer, so TF's default applies), zero biases. Spectral norm is torch's (one power iteration per
training forward); the reference's estimate does the same.

The reference's conditional BN normalises by sqrt(var^2 + eps), the batch variance squared (generator.py ``_cbn``:
``(x - mean) / tf.sqrt(var**2 + _EPS)``), and keeps running statistics with momentum 0.01 for sampling;
``cbn_normalisation="standard"`` divides by sqrt(var + eps) instead.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.nn.spectral_norm import spectral_norm

CBN_NORMALISATIONS = ("reference", "standard")


def _conv(in_channels: int, out_channels: int, kernel: int = 3) -> nn.Module:
    """ops.py ``snconv2d``: a 'same' convolution, N(0, 2 / fan_in) truncated at 2 std, zero bias, spectral norm."""
    conv = nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2)
    std = math.sqrt(2.0 / (kernel * kernel * in_channels))
    nn.init.trunc_normal_(conv.weight, std=std, a=-2 * std, b=2 * std)
    nn.init.zeros_(conv.bias)
    return spectral_norm(conv)


def _linear(in_features: int, out_features: int, normalised: bool = True) -> nn.Module:
    """ops.py ``snlinear`` (or slim's ``fully_connected`` when not ``normalised``): Glorot uniform, zero bias."""
    linear = nn.Linear(in_features, out_features)
    nn.init.xavier_uniform_(linear.weight)
    nn.init.zeros_(linear.bias)
    return spectral_norm(linear) if normalised else linear


class CoordinateBatchNorm2d(nn.Module):
    """The reference's ``_cbn``: batch statistics in training (running ones, momentum 0.01, for sampling), then
    gain and bias from plain linear maps of the condition [z, c]: y = gamma(cond) * x_hat + beta(cond)."""

    def __init__(self, channels: int, condition_dim: int, normalisation: str = "reference", eps: float = 1e-5):
        super().__init__()
        if normalisation not in CBN_NORMALISATIONS:
            choices = ", ".join(CBN_NORMALISATIONS)
            raise ZooError(f"unknown cbn_normalisation '{normalisation}'; choose one of: {choices}")
        self.normalisation, self.eps = normalisation, eps
        self.gamma, self.beta = _linear(condition_dim, channels, False), _linear(condition_dim, channels, False)
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        if self.training:
            mean, var = x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=False)
            with torch.no_grad():
                self.running_mean.lerp_(mean, 0.01)
                self.running_var.lerp_(var, 0.01)
        else:
            mean, var = self.running_mean, self.running_var
        spread = var.square() if self.normalisation == "reference" else var
        x_hat = (x - mean[:, None, None]) / torch.sqrt(spread + self.eps)[:, None, None]
        return self.gamma(condition)[:, :, None, None] * x_hat + self.beta(condition)[:, :, None, None]


class GeneratorBlock(nn.Module):
    """generator.py ``_g_residual_block`` with resize: CBN, ReLU, 2x nearest up, conv3x3, CBN, ReLU, conv3x3, plus
    a conv1x1 of the upsampled input."""

    def __init__(self, in_channels: int, out_channels: int, condition_dim: int, normalisation: str):
        super().__init__()
        self.norm1 = CoordinateBatchNorm2d(in_channels, condition_dim, normalisation)
        self.conv1 = _conv(in_channels, out_channels)
        self.norm2 = CoordinateBatchNorm2d(out_channels, condition_dim, normalisation)
        self.conv2 = _conv(out_channels, out_channels)
        self.shortcut = _conv(in_channels, out_channels, 1)

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        h = F.interpolate(F.relu(self.norm1(x, condition)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.norm2(self.conv1(h), condition)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class MicroPatchGenerator(nn.Module):
    """G(z, c) -> (N, C, micro, micro) micro patches in [-1, 1] (generator.py ``GeneratorBuilder.forward``)."""

    def __init__(
        self, latent_dim: int, micro_size: int, channels: int, ngf: int, coord_dim: int = 2, cbn: str = "reference"
    ):
        super().__init__()
        condition_dim = latent_dim + coord_dim
        self.fc = _linear(condition_dim, 16 * ngf * 2 * 2)
        count = int(math.log2(micro_size)) - 1
        widths = [16 * ngf] + [ngf * m for m in ([8, 4, 2] + [1] * max(0, count - 3))[:count]]
        self.blocks = nn.ModuleList(GeneratorBlock(a, b, condition_dim, cbn) for a, b in itertools.pairwise(widths))
        self.out = nn.Sequential(nn.BatchNorm2d(widths[-1]), nn.ReLU(), _conv(widths[-1], channels), nn.Tanh())
        self.start_channels = 16 * ngf

    def forward(self, z: Tensor, coordinates: Tensor) -> Tensor:
        condition = torch.cat([z, coordinates], dim=1)
        h = self.fc(condition).view(-1, self.start_channels, 2, 2)
        for block in self.blocks:
            h = block(h, condition)
        return self.out(h)


class DiscriminatorBlock(nn.Module):
    """discriminator.py ``_d_residual_block``: (ReLU unless the head), conv3x3, ReLU, conv3x3, 2x2 average pool
    (unless the last block), plus a conv1x1 of the (pooled) input."""

    def __init__(self, in_channels: int, out_channels: int, head: bool, resize: bool):
        super().__init__()
        self.head, self.resize = head, resize
        self.conv1, self.conv2 = _conv(in_channels, out_channels), _conv(out_channels, out_channels)
        self.shortcut = _conv(in_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(F.relu(self.conv1(x if self.head else F.relu(x))))
        skip = F.avg_pool2d(x, 2) if self.resize else x
        return (F.avg_pool2d(h, 2) if self.resize else h) + self.shortcut(skip)


def discriminator_widths(macro_size: int, ndf: int) -> list[int]:
    """discriminator.py's channel list: log2(macro) - 1 blocks, multipliers [2, 4, 8, 8] tail-aligned (ones in front
    when more blocks are needed), the first set to 1."""
    count = int(math.log2(macro_size)) - 1
    multipliers = [1] * (count - 4) + [2, 4, 8, 8] if count > 4 else [2, 4, 8, 8][-count:]
    multipliers[0] = 1
    return [ndf * m for m in multipliers]


class MacroPatchDiscriminator(nn.Module):
    """D(x, c) -> (logits (N,), pooled features (N, F)) for macro patches x at macro coordinates c; ``c=None``
    leaves out the projection term (the reference's critic on the gradient-penalty interpolates)."""

    def __init__(self, macro_size: int, channels: int, ndf: int, coord_dim: int = 2):
        super().__init__()
        widths = discriminator_widths(macro_size, ndf)
        ins = [channels, *widths[:-1]]
        last = len(widths) - 1
        self.blocks = nn.Sequential(
            *(DiscriminatorBlock(a, b, head=i == 0, resize=i != last) for i, (a, b) in enumerate(zip(ins, widths)))
        )
        self.out = _linear(widths[-1], 1)
        self.embed = _linear(coord_dim, widths[-1])
        self.features = widths[-1]

    def forward(self, x: Tensor, coordinates: Tensor | None = None) -> tuple[Tensor, Tensor]:
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))
        out = self.out(h).squeeze(1)
        if coordinates is not None:
            out = out + (self.embed(coordinates) * h).sum(dim=1)
        return out, h


class SpatialHead(nn.Module):
    """spatial_prediction.py: the macro coordinate regressed from D's pooled features."""

    def __init__(self, features: int, hidden: int = 128, coord_dim: int = 2):
        super().__init__()
        self.net = nn.Sequential(
            _linear(features, hidden), nn.BatchNorm1d(hidden), nn.LeakyReLU(0.2), _linear(hidden, coord_dim), nn.Tanh()
        )

    def forward(self, features: Tensor) -> Tensor:
        return self.net(features)
