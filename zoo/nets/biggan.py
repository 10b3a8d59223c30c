"""BigGAN's generator (Brock et al. 2019, "Large Scale GAN Training for High Fidelity Natural Image
Synthesis", arXiv 1809.11096, Sec. 3 and App. B, Table 4 and Fig. 15), on the ResNet of zoo/nets/resnet.py.

What BigGAN changes in the SAGAN generator: a class embedding shared by all blocks (128-d) instead of per-block
class gains, and a hierarchical latent: z is split into one chunk per block plus one for the linear layer, and
each block's conditional BN computes its gain and bias by linear projections of [shared embedding, z chunk]
(the "skip-z" connections). Layers are orthogonally initialized and spectrally normalized in G and D; the
shared embedding is neither (as BigGAN-PyTorch, whose layouts the tables below follow).
"""

from __future__ import annotations

import dataclasses
import functools

import torch
from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.nets.resnet import Architecture, ResNetDiscriminator, ResNetGenerator
from zoo.nn.attention import SelfAttention
from zoo.nn.conditional import ConditionalBatchNorm2d
from zoo.nn.spectral_norm import Layers

#: Table 4 (128 px) and its 256 px counterpart at width ch (96 in the paper); 32 and 64 px follow BigGAN-PyTorch
#: (BigGAN.py G_arch / D_arch: 32 px at ch 64 is SNGAN's CIFAR-10 width, 256 channels).
BIGGAN_ARCHITECTURES = {
    32: Architecture(4, (4, 4, 4, 4), (4, 4, 4, 4), (True, True, False, False)),
    64: Architecture(4, (16, 16, 8, 4, 2), (1, 2, 4, 8, 16), (True, True, True, True, False)),
    128: Architecture(4, (16, 16, 8, 4, 2, 1), (1, 2, 4, 8, 16, 16), (True, True, True, True, True, False)),
    256: Architecture(4, (16, 16, 8, 8, 4, 2, 1), (1, 2, 4, 8, 8, 16, 16), (True, True, True, True, True, True, False)),
}

#: the size at which BigGAN-PyTorch's D_arch lists each D block (BigGAN.py ``D_arch[...]['resolution']``), which
#: its D_attn is matched against: every block listed at that size is followed by attention. It is the block's
#: output size, except at 32 px, where all four blocks are listed at 16 px (their D at 32 px with D_attn 16 has
#: four attention layers); at 64-256 px the last two blocks are both listed at 4 px.
D_LISTED_SIZES = {
    32: (16, 16, 16, 16),
    64: (32, 16, 8, 4, 4),
    128: (64, 32, 16, 8, 4, 4),
    256: (128, 64, 32, 16, 8, 4, 4),
}


class BigGANGenerator(ResNetGenerator):
    """``forward(z, y)``: z of ``latent_dim`` = (blocks + 1) chunks when ``hierarchical`` (the first chunk feeds
    the linear layer, chunk k + 1 block k's conditional BN together with the shared embedding of y); without
    it, all of z feeds the linear layer and every block sees the embedding alone."""

    def __init__(
        self,
        latent_dim: int,
        num_classes: int,
        channels: list[int],
        bottom: int,
        image_channels: int,
        layers: Layers,
        shared_dim: int = 128,
        hierarchical: bool = True,
        attention_resolution: int | None = None,
    ):
        slots = len(channels) if hierarchical else 1  # one chunk per block, plus the linear layer's
        if latent_dim % slots:
            raise ZooError(
                f"BigGAN's hierarchical latent splits z into {slots} equal chunks at this resolution; "
                f"latent_dim {latent_dim} is not a multiple of {slots} (e.g. --model.latent_dim {slots * 20})"
            )
        chunk = latent_dim // slots
        condition_dim = shared_dim + (chunk if hierarchical else 0)
        norm = functools.partial(ConditionalBatchNorm2d.by_vector, condition_dim=condition_dim, layers=layers)
        super().__init__(chunk, channels, bottom, image_channels, layers, norm, attention_resolution)
        self.chunk, self.hierarchical = chunk, hierarchical
        self.shared = dataclasses.replace(layers, spectral_norm=False).embedding(num_classes, shared_dim)

    def block_inputs(self, z: Tensor, y: Tensor | None) -> tuple[Tensor, list[Tensor]]:
        embedding = self.shared(y)
        if not self.hierarchical:
            return z, [embedding] * len(self.blocks)
        first, *chunks = z.split(self.chunk, dim=1)
        return first, [torch.cat([embedding, chunk], dim=1) for chunk in chunks]


class BigGANDiscriminator(ResNetDiscriminator):
    """The wide projection ResNet D with BigGAN-PyTorch's attention placement (BigGAN.py ``Discriminator``): a
    self-attention layer after every block listed at ``attention_resolution`` (``D_LISTED_SIZES``). The first is
    ``ResNetDiscriminator``'s ``attention``; each further one is appended to its block (``blocks.<i>.1``, the block
    itself ``blocks.<i>.0``)."""

    def __init__(
        self,
        resolution: int,
        image_channels: int,
        channels: list[int],
        downsample: list[bool],
        layers: Layers,
        num_classes: int,
        attention_resolution: int | None = None,
    ):
        super().__init__(
            resolution, image_channels, channels, downsample, layers, wide=True, num_classes=num_classes,
            attention_resolution=attention_resolution,
        )  # fmt: skip
        if self.attention_after is None:
            return
        for i in attention_blocks(resolution, attention_resolution):
            if i != self.attention_after:
                self.blocks[i] = nn.Sequential(self.blocks[i], SelfAttention(channels[i], layers))


def attention_blocks(resolution: int, attention_resolution: int | None) -> list[int]:
    """The D blocks BigGAN-PyTorch follows by self-attention at ``attention_resolution`` (``D_LISTED_SIZES``)."""
    return [i for i, size in enumerate(D_LISTED_SIZES[resolution]) if size == attention_resolution]
