"""The ResNet generator and discriminator of SNGAN (Miyato et al. 2018, arXiv 1802.05957, App. B, Tables 4-6
and Fig. 8), shared by SNGAN, its projection variant, SAGAN and BigGAN (zoo/nets/biggan.py).

Generator: z -> linear -> (C, b, b) -> ResBlock up x K -> BN, ReLU, 3x3 conv, tanh. A "ResBlock up" is
BN, ReLU, 2x nearest upsampling, 3x3 conv, BN, ReLU, 3x3 conv, plus a shortcut of upsampling and a 1x1 conv;
its BN takes a condition (the class, or BigGAN's embedding and z chunk) in conditional generators.

Discriminator: ResBlock down x K -> ReLU -> global sum pooling -> linear (+ the class projection of Miyato &
Koyama 2018). A "ResBlock down" is ReLU, 3x3 conv, ReLU, 3x3 conv, 2x2 average pooling (where it downsamples),
plus a shortcut of a 1x1 conv then pooling (the identity when neither the width nor the size changes). The
first block is the "optimized" one of the authors' code: no ReLU before its first conv, and its shortcut pools
before the 1x1 conv. SNGAN's blocks are "skinny" (the first conv keeps the input width, the authors' Chainer
code); SAGAN's and BigGAN's are "wide" (the first conv already has the output width).

Convolutions in blocks are Glorot-initialized with gain sqrt 2, shortcuts and linear layers with gain 1, as in
the authors' code (``Layers`` picks the initializer; BigGAN's is orthogonal).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.nn.attention import SelfAttention
from zoo.nn.conditional import ConditionalBatchNorm2d, ProjectionHead, UnconditionalBatchNorm2d
from zoo.nn.spectral_norm import Layers

RESIDUAL_GAIN = math.sqrt(2)

#: builds a generator block's batch norm for a number of channels; it is called as norm(x, condition)
NormFactory = Callable[[int], nn.Module]


@dataclass(frozen=True)
class Architecture:
    """Channel multipliers of the network widths at one resolution.

    ``generator``: the output of G's linear layer (at ``bottom`` x ``bottom``), then of every up block.
    ``discriminator``: the output of every D block; ``downsample``: whether that block halves the size.
    """

    bottom: int
    generator: tuple[int, ...]
    discriminator: tuple[int, ...]
    downsample: tuple[bool, ...]

    def g_channels(self, width: int) -> list[int]:
        return [width * m for m in self.generator]

    def d_channels(self, width: int) -> list[int]:
        return [width * m for m in self.discriminator]


#: SNGAN's ResNets at width 64: 32 px is Table 4 (CIFAR-10: G 256, D 128 channels everywhere), 48 px Table 5
#: (STL-10), 128 px Table 6 (ImageNet; the projection discriminator's 128 px model). 64 px is the authors'
#: 64 px model (pfnet-research/sngan_projection, gen_models/resnet_64.py and dis_models/snresnet_64.py).
SNGAN_ARCHITECTURES = {
    32: Architecture(4, (4, 4, 4, 4), (2, 2, 2, 2), (True, True, False, False)),
    48: Architecture(6, (8, 4, 2, 1), (1, 2, 4, 8, 16), (True, True, True, True, False)),
    64: Architecture(4, (16, 8, 4, 2, 1), (1, 2, 4, 8, 16), (True, True, True, True, True)),
    128: Architecture(4, (16, 16, 8, 4, 2, 1), (1, 2, 4, 8, 16, 16), (True, True, True, True, True, False)),
}


def architecture(table: dict[int, Architecture], resolution: int, model: str) -> Architecture:
    """The architecture of ``model`` at ``resolution``; a ZooError names the supported resolutions."""
    if resolution not in table:
        supported = ", ".join(str(r) for r in sorted(table))
        raise ZooError(f"{model} has architectures for {supported} px, not {resolution}; set --data.resolution")
    return table[resolution]


def require_classes(num_classes: int | None, model: str) -> int:
    """``num_classes`` of a class-conditional entry, which must be given (the CLI links it from the data)."""
    if num_classes is None or num_classes < 1:
        raise ZooError(
            f"{model} is class-conditional: it needs num_classes (a labelled dataset, or --model.num_classes)"
        )
    return num_classes


def class_norm(num_classes: int | None) -> NormFactory:
    """Per-class conditional BN (projection-discriminator and SAGAN generators), or plain BN without classes."""
    if num_classes is None:
        return UnconditionalBatchNorm2d
    return functools.partial(ConditionalBatchNorm2d.by_class, num_classes=num_classes)


def upsample(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


def attention_index(resolutions: Sequence[int], attention_resolution: int | None, network: str) -> int | None:
    """The block after which the self-attention block sits: the first whose output has that size."""
    if attention_resolution is None:
        return None
    if attention_resolution not in resolutions:
        sizes = ", ".join(str(r) for r in sorted(set(resolutions)))
        raise ZooError(
            f"no {network} feature map is {attention_resolution}x{attention_resolution} for self-attention; "
            f"its sizes are {sizes}: set --model.attention_resolution to one of them"
        )
    return list(resolutions).index(attention_resolution)


class GBlock(nn.Module):
    """ResBlock up (SNGAN Fig. 8a; BigGAN Fig. 15b). ``norm(channels)`` builds its two batch norms; ``conv1_bias``:
    whether the first conv has a bias (not in WGAN-GP's 64 px ResNet)."""

    def __init__(self, in_channels: int, out_channels: int, norm: NormFactory, layers: Layers, conv1_bias: bool = True):
        super().__init__()
        self.bn1, self.bn2 = norm(in_channels), norm(out_channels)
        self.conv1 = layers.conv(in_channels, out_channels, 3, gain=RESIDUAL_GAIN, bias=conv1_bias)
        self.conv2 = layers.conv(out_channels, out_channels, 3, gain=RESIDUAL_GAIN)
        self.shortcut = layers.conv(in_channels, out_channels, 1)

    def forward(self, x: Tensor, condition: Tensor | None) -> Tensor:
        h = self.conv1(upsample(F.relu(self.bn1(x, condition))))
        h = self.conv2(F.relu(self.bn2(h, condition)))
        return h + self.shortcut(upsample(x))


class DBlock(nn.Module):
    """ResBlock down (SNGAN Fig. 8b; BigGAN Fig. 15c); ``first`` makes it the optimized first block. ``norm``
    (WGAN-GP's 64 px critic: layer norm) normalizes the input of each ReLU, and then the first conv has no bias."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        downsample: bool,
        layers: Layers,
        wide: bool,
        first: bool = False,
        norm: Callable[[int], nn.Module] | None = None,
    ):
        super().__init__()
        if first and not downsample:
            raise ZooError("the discriminator's first (optimized) block always downsamples")
        hidden = out_channels if wide or first else in_channels
        self.downsample, self.first = downsample, first
        self.norm1 = norm(in_channels) if norm is not None else nn.Identity()
        self.norm2 = norm(hidden) if norm is not None else nn.Identity()
        self.conv1 = layers.conv(in_channels, hidden, 3, gain=RESIDUAL_GAIN, bias=norm is None)
        self.conv2 = layers.conv(hidden, out_channels, 3, gain=RESIDUAL_GAIN)
        learnable = downsample or in_channels != out_channels
        self.shortcut = layers.conv(in_channels, out_channels, 1) if learnable else None

    def pool(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, 2) if self.downsample else x

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(F.relu(self.norm2(self.conv1(x if self.first else F.relu(self.norm1(x))))))
        if self.first:
            return self.pool(h) + self.shortcut(self.pool(x))
        skip = x if self.shortcut is None else self.pool(self.shortcut(x))
        return self.pool(h) + skip


class ResNetGenerator(nn.Module):
    """z -> linear -> ``channels[0]`` x bottom x bottom -> one up block per further entry of ``channels`` (each
    doubling the size) -> BN, ReLU, 3x3 conv, tanh; a self-attention block after the block whose output is
    ``attention_resolution`` px. ``forward(z, y)`` gives every block the condition ``y`` (None: unconditional);
    subclasses change what z and the blocks receive through ``block_inputs``. ``conv1_bias``: see ``GBlock``;
    ``output_gain``: the Glorot gain of the output conv (sqrt 2 in WGAN-GP's 64 px generator)."""

    def __init__(
        self,
        linear_features: int,
        channels: Sequence[int],
        bottom: int,
        image_channels: int,
        layers: Layers,
        norm: NormFactory,
        attention_resolution: int | None = None,
        conv1_bias: bool = True,
        output_gain: float = 1.0,
    ):
        super().__init__()
        self.bottom = bottom
        self.linear = layers.linear(linear_features, channels[0] * bottom * bottom)
        pairs = list(itertools.pairwise(channels))
        self.blocks = nn.ModuleList(GBlock(c_in, c_out, norm, layers, conv1_bias) for c_in, c_out in pairs)
        resolutions = [bottom * 2 ** (i + 1) for i in range(len(pairs))]
        self.attention_after = attention_index(resolutions, attention_resolution, "generator")
        if self.attention_after is not None:
            self.attention = SelfAttention(channels[self.attention_after + 1], layers)
        self.out = nn.Sequential(
            nn.BatchNorm2d(channels[-1]),
            nn.ReLU(),
            layers.conv(channels[-1], image_channels, 3, gain=output_gain),
            nn.Tanh(),
        )

    def block_inputs(self, z: Tensor, y: Tensor | None) -> tuple[Tensor, list[Tensor | None]]:
        """The linear layer's input and each block's condition."""
        return z, [y] * len(self.blocks)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        z, conditions = self.block_inputs(z, y)
        h = self.linear(z).view(z.shape[0], -1, self.bottom, self.bottom)
        for i, (block, condition) in enumerate(zip(self.blocks, conditions, strict=True)):
            h = block(h, condition)
            if i == self.attention_after:
                h = self.attention(h)
        return self.out(h)


class ResNetDiscriminator(nn.Module):
    """One down block per entry of ``channels`` (the first the optimized block), a self-attention block after
    the first block whose output is ``attention_resolution`` px, ReLU, global sum pooling (``pooling="mean"``:
    average pooling, as WGAN-GP's CIFAR-10 critic) and the projection head (a plain linear output without
    ``num_classes``; ``head_bias``: whether that linear layer has a bias)."""

    def __init__(
        self,
        resolution: int,
        image_channels: int,
        channels: Sequence[int],
        downsample: Sequence[bool],
        layers: Layers,
        wide: bool,
        num_classes: int | None = None,
        attention_resolution: int | None = None,
        head_bias: bool = True,
        pooling: str = "sum",
    ):
        super().__init__()
        inputs = [image_channels, *channels[:-1]]
        self.blocks = nn.ModuleList(
            DBlock(c_in, c_out, down, layers, wide, first=i == 0)
            for i, (c_in, c_out, down) in enumerate(zip(inputs, channels, downsample, strict=True))
        )
        resolutions, size = [], resolution
        for down in downsample:
            size //= 2 if down else 1
            resolutions.append(size)
        self.attention_after = attention_index(resolutions, attention_resolution, "discriminator")
        if self.attention_after is not None:
            self.attention = SelfAttention(channels[self.attention_after], layers)
        if pooling not in ("sum", "mean"):
            raise ZooError(f"unknown pooling '{pooling}'; choose sum or mean")
        self.pooling = pooling
        self.head = ProjectionHead(channels[-1], num_classes, layers, head_bias)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = x
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i == self.attention_after:
                h = self.attention(h)
        h = F.relu(h)
        return self.head(h.sum(dim=(2, 3)) if self.pooling == "sum" else h.mean(dim=(2, 3)), y)
