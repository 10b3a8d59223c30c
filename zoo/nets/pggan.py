"""PGGAN's progressively grown networks (Karras et al. 2018, "Progressive Growing of GANs for Improved Quality,
Stability, and Variation", arXiv 1710.10196, Sec. 2, Fig. 2 and Table 2; official code: networks.py G_paper and
D_paper).

Both networks hold the layers of every resolution from 4x4 to ``resolution`` from the start and run only those of
the current phase: ``depth`` (0 is 4x4, each step doubles the resolution) and ``alpha``, the weight of the newest
block during its fade-in (1: fully in). ``grow(resolution, alpha)`` sets both; callbacks/progressive.py calls it
from the images seen. G outputs images at the current resolution, and D expects them there.

Layers that are not in use take no gradient, so Adam keeps no state for them until their phase begins: the
optimizer state of new layers starts fresh while existing layers keep theirs, with nothing to reset.

``depth`` and ``alpha`` are Python numbers, stored with the weights as the module's extra state, so a checkpoint
samples at the resolution it was trained at and no forward pass reads a device tensor back to the host.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.base import split_batch
from zoo.errors import ZooError
from zoo.nn.equalized import EqualizedConv2d, EqualizedLinear
from zoo.nn.modulated import FIRFilter
from zoo.nn.pggan import ChannelBias, MinibatchStdDev, PixelNorm

#: the paper's LeakyReLU slope (Sec. A.1) and He's gain before it (equalized learning rate, Sec. 4.1)
SLOPE = 0.2
HE_GAIN = math.sqrt(2)
#: "official": the authors' TensorFlow code (tkarras/progressive_growing_of_gans); "pytorch_gan_zoo":
#: facebookresearch/pytorch_GAN_zoo's PGAN (models/networks/progressive_conv_net.py), whose G's first dense layer
#: has one bias per output unit and whose D's minibatch stddev groups neighbouring samples with torch.var (unbiased)
VARIANTS = ("official", "pytorch_gan_zoo")


def check_variant(variant: str) -> None:
    """Refuses a variant name that is not in ``VARIANTS``."""
    if variant not in VARIANTS:
        raise ZooError(f"unknown PGGAN variant '{variant}'; choose one of: {', '.join(VARIANTS)}")


def stage_channels(stage: int, fmap_base: int, fmap_max: int) -> int:
    """The official ``nf(stage) = min(fmap_base / 2**stage, fmap_max)``; a block at resolution r is stage
    log2(r) - 1, so fmap_base 8192 and fmap_max 512 give Table 2's widths (512 up to 32x32, 256 at 64x64, ...,
    16 at 1024x1024). Smaller values make the tiny networks of the tests."""
    return max(1, min(fmap_base // 2**stage, fmap_max))


def upsample(x: Tensor) -> Tensor:
    """2x nearest-neighbour upsampling (Sec. 2, Fig. 2)."""
    return F.interpolate(x, scale_factor=2, mode="nearest")


def downsample(x: Tensor) -> Tensor:
    """2x2 average pooling (Sec. 2, Fig. 2)."""
    return F.avg_pool2d(x, 2)


def phase_reals(real: Tensor, resolution: int, alpha: float) -> Tensor:
    """Real images as D sees them in a phase (App. A.1; official train.py ``process_reals``): average-pooled from
    the dataset's resolution down to ``resolution``, and during a fade-in blended with their own half-resolution
    version as G's output is, ``lerp(upsample(downsample(x)), x, alpha)``."""
    if real.shape[-1] % resolution:
        raise ZooError(f"real images of {real.shape[-1]} px cannot be pooled down to {resolution} px")
    while real.shape[-1] > resolution:
        real = downsample(real)
    if alpha < 1:
        real = torch.lerp(upsample(downsample(real)), real, alpha)
    return real


class Blur(nn.Module):
    """StyleGAN's low-pass filter (Karras et al. 2019, arXiv 1812.04948, Sec. 2 "bilinear up/downsampling", after
    Zhang 2019; official networks_stylegan.py ``blur2d``): the separable [1, 2, 1] / 4 kernel per channel at
    stride 1, zero-padded so the size is kept. After a 2x nearest upsampling it makes bilinear interpolation."""

    def __init__(self):
        super().__init__()
        self.filter = FIRFilter((1.0, 2.0, 1.0))

    def forward(self, x: Tensor) -> Tensor:
        return self.filter.blur(x, padding=1)


def _conv(in_channels: int, out_channels: int, kernel_size: int = 3) -> list[nn.Module]:
    """An equalized convolution followed by LeakyReLU 0.2."""
    return [EqualizedConv2d(in_channels, out_channels, kernel_size, gain=HE_GAIN), nn.LeakyReLU(SLOPE)]


def _normalized_conv(in_channels: int, out_channels: int) -> list[nn.Module]:
    """G's 3x3 convolution: LeakyReLU, then pixelwise feature normalization (Sec. 4.2)."""
    return [*_conv(in_channels, out_channels), PixelNorm()]


class Progressive(nn.Module):
    """The phase state both networks share: ``depth`` in [0, max_depth] and ``alpha`` in (0, 1]."""

    def __init__(self, resolution: int):
        super().__init__()
        if resolution < 4 or resolution & (resolution - 1):
            raise ZooError(f"PGGAN grows from 4x4 by doubling: choose a power-of-two resolution >= 4, got {resolution}")
        self.max_depth = int(math.log2(resolution)) - 2
        self.depth, self.alpha = self.max_depth, 1.0

    @property
    def resolution(self) -> int:
        """The resolution of the current phase."""
        return 4 * 2**self.depth

    @property
    def max_resolution(self) -> int:
        """The resolution of the last phase (the network's full size)."""
        return 4 * 2**self.max_depth

    def grow(self, resolution: int, alpha: float = 1.0) -> None:
        """Runs the networks at ``resolution`` with its newest block weighted by ``alpha`` (< 1 during its fade-in)."""
        depth = int(math.log2(resolution)) - 2 if resolution >= 4 else -1
        if not 0 <= depth <= self.max_depth or resolution != 4 * 2**depth:
            raise ZooError(f"resolution {resolution} is not a phase of this network: 4, 8, ..., {self.max_resolution}")
        if not 0 < alpha <= 1 or (depth == 0 and alpha != 1):
            raise ZooError(f"fade-in alpha must be in (0, 1] (1 at 4x4), got {alpha}")
        self.depth, self.alpha = depth, float(alpha)

    @property
    def fading(self) -> bool:
        return self.depth > 0 and self.alpha < 1

    def get_extra_state(self) -> dict:
        return {"depth": self.depth, "alpha": self.alpha}

    def set_extra_state(self, state: dict) -> None:
        self.depth, self.alpha = int(state["depth"]), float(state["alpha"])


class PGGANGenerator(Progressive):
    """Table 2, left: pixel-normalized z -> dense to 4x4 -> 3x3 conv; each further block 2x nearest upsampling
    and two 3x3 convs, every conv followed by LeakyReLU 0.2 and pixel norm; a linear 1x1 toRGB per resolution.

    During a fade-in the output is ``lerp(upsample(toRGB_prev(h_prev)), toRGB(block(h_prev)), alpha)`` (Fig. 2).
    The 4x4 "conv" of Table 2 is a dense layer on z, as in the official code (gain sqrt(2) / 4), without bias,
    reshaped to 4x4 and then given one bias per channel (``G_paper``; 23,079,115 parameters at 1024 px); the
    ``pytorch_gan_zoo`` variant has one bias per output unit of the dense layer instead.
    """

    def __init__(
        self,
        latent_dim: int,
        resolution: int,
        channels: int,
        fmap_base: int = 8192,
        fmap_max: int = 512,
        variant: str = "official",
    ):
        super().__init__(resolution)
        check_variant(variant)
        widths = [stage_channels(depth + 1, fmap_base, fmap_max) for depth in range(self.max_depth + 1)]
        unit_bias = variant == "pytorch_gan_zoo"
        first = nn.Sequential(
            PixelNorm(),
            EqualizedLinear(latent_dim, widths[0] * 16, bias=unit_bias, gain=HE_GAIN / 4),
            nn.Unflatten(1, (widths[0], 4, 4)),
            *([] if unit_bias else [ChannelBias(widths[0])]),
            nn.LeakyReLU(SLOPE),
            PixelNorm(),
            *_normalized_conv(widths[0], widths[0]),
        )
        growing = [
            nn.Sequential(nn.Upsample(scale_factor=2), *_normalized_conv(c_in, c_out), *_normalized_conv(c_out, c_out))
            for c_in, c_out in itertools.pairwise(widths)
        ]
        self.blocks = nn.ModuleList([first, *growing])
        self.to_rgb = nn.ModuleList(EqualizedConv2d(width, channels, 1) for width in widths)

    def forward(self, z: Tensor) -> Tensor:
        h = self.blocks[0](z)
        for block in self.blocks[1 : self.depth]:
            h = block(h)
        if self.depth == 0:
            return self.to_rgb[0](h)
        images = self.to_rgb[self.depth](self.blocks[self.depth](h))
        if self.fading:
            images = torch.lerp(upsample(self.to_rgb[self.depth - 1](h)), images, self.alpha)
        return images


class PGGANDiscriminator(Progressive):
    """Table 2, right: fromRGB (1x1 conv, LeakyReLU) at the input resolution; per block two 3x3 convs and 2x2
    average pooling; at 4x4 minibatch standard deviation (group of 4, one feature map), a 3x3 conv, the 4x4 conv
    (a dense layer on the flattened 4x4 map, as in the official code) and a linear dense to one output.

    During a fade-in the newest block's output is blended with fromRGB of the 2x2-pooled input,
    ``lerp(fromRGB_prev(downsample(x)), block(fromRGB(x)), alpha)`` (Fig. 2).
    """

    def __init__(
        self,
        resolution: int,
        channels: int,
        fmap_base: int = 8192,
        fmap_max: int = 512,
        mbstd_group_size: int = 4,
        blur: bool = False,
        variant: str = "official",
    ):
        """``blur``: StyleGAN's D (Karras et al. 2019, official ``D_basic``): a ``Blur`` before each block's second
        conv, whose output is then pooled (the authors pool before the bias and activation, here after, as PGGAN).
        ``variant``: "pytorch_gan_zoo" groups the minibatch stddev as that code does (``VARIANTS``)."""
        super().__init__(resolution)
        check_variant(variant)
        gan_zoo = variant == "pytorch_gan_zoo"
        widths = [stage_channels(depth + 1, fmap_base, fmap_max) for depth in range(self.max_depth + 1)]
        head_width = stage_channels(0, fmap_base, fmap_max)
        last = nn.Sequential(
            MinibatchStdDev(mbstd_group_size, consecutive_groups=gan_zoo, unbiased=gan_zoo),
            *_conv(widths[0] + 1, widths[0]),
            nn.Flatten(),
            EqualizedLinear(widths[0] * 16, head_width, gain=HE_GAIN),
            nn.LeakyReLU(SLOPE),
            EqualizedLinear(head_width, 1),
        )
        shrinking = [
            nn.Sequential(*_conv(c_in, c_in), *([Blur()] if blur else []), *_conv(c_in, c_out), nn.AvgPool2d(2))
            for c_out, c_in in itertools.pairwise(widths)
        ]
        self.blocks = nn.ModuleList([last, *shrinking])
        self.from_rgb = nn.ModuleList(nn.Sequential(*_conv(channels, width, kernel_size=1)) for width in widths)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.resolution:
            raise ZooError(
                f"the discriminator runs at {self.resolution} px in this phase, got {x.shape[-1]} px images: "
                "pass reals through zoo.nets.pggan.phase_reals"
            )
        h = self.from_rgb[self.depth](x)
        if self.depth > 0:
            h = self.blocks[self.depth](h)
            if self.fading:
                h = torch.lerp(self.from_rgb[self.depth - 1](downsample(x)), h, self.alpha)
        for block in reversed(self.blocks[1 : self.depth]):
            h = block(h)
        return self.blocks[0](h).squeeze(1)


class GrowingGAN:
    """The training side of progressive growing, for a ``GANModule`` whose generator, discriminator and EMA
    generator have ``grow(resolution, alpha)`` and whose discriminator is ``Progressive``: the hooks
    callbacks/progressive.py drives (``max_resolution``, ``grow``), real batches pooled to the phase, and a new
    epoch when a phase changes the batch size. Mix in before ``GANModule``."""

    @property
    def max_resolution(self) -> int:
        return self.discriminator.max_resolution

    def grow(self, resolution: int, alpha: float = 1.0) -> None:
        """Puts G, D and the EMA generator into the phase at ``resolution`` with fade-in weight ``alpha``."""
        for net in (self.generator, self.discriminator, self.generator_ema):
            if net is not None:
                net.grow(resolution, alpha)

    def compile_networks(self) -> None:
        raise ZooError(
            "compile is not available for progressive entries: the fade-in alpha and the resolution change as "
            "training goes, and every change would recompile G and D; train without --model.compile"
        )

    def training_step(self, batch, batch_idx: int) -> None:
        real, labels = split_batch(batch)
        real = phase_reals(real, self.discriminator.resolution, self.discriminator.alpha)
        return super().training_step([real] if labels is None else [real, labels], batch_idx)

    def on_train_batch_start(self, batch, batch_idx: int) -> int | None:
        """Ends the epoch when the progressive callback has changed the batch size of the coming phase: Lightning
        then rebuilds the dataloader (the callback asks it to) and the phase starts on a batch of the new size."""
        datamodule = self.trainer.datamodule
        if datamodule is not None and split_batch(batch)[0].shape[0] != datamodule.batch_size:
            return -1
        return None
