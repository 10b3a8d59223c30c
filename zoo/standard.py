"""``StandardGAN``: the base of the objective family's entries, which differ from one another in the game
(objective, penalties, critic steps, optimizer) and share their networks (zoo/nets/standard.py)."""

from __future__ import annotations

from torch import nn

from zoo.base import GANModule
from zoo.nets.standard import standard_discriminator, standard_generator


class StandardGAN(GANModule):
    """DCGAN networks for images, PacGAN's toy MLPs for 2D points; every knob of GANModule."""

    def __init__(
        self, sample_shape: tuple[int, ...] = (1, 16, 16), ngf: int = 64, ndf: int = 64, d_norm: str = "batch", **kwargs
    ):
        """
        Args:
            sample_shape: shape of one sample, linked from the datamodule: (C, H, W) images or (D,) points.
            ngf: generator width (DCGAN's ngf for images, hidden units for points; PacGAN's toy G: 400).
            ndf: discriminator width (DCGAN's ndf for images, hidden units for points; PacGAN's toy D: 200).
            d_norm: normalization of D's conv layers: batch, layer (WGAN-GP's critic) or none.
        """
        super().__init__(**kwargs)
        self.generator = self.build_generator(tuple(sample_shape), ngf)
        self.discriminator = self.build_discriminator(self.packed_shape(tuple(sample_shape)), ndf, d_norm)

    def build_generator(self, sample_shape: tuple[int, ...], width: int) -> nn.Module:
        """G for one sample shape; entries with their papers' own networks return those."""
        return standard_generator(self.latent_dim, sample_shape, width)

    def build_discriminator(self, input_shape: tuple[int, ...], width: int, norm: str) -> nn.Module:
        """D for one (packed) input; energy-based entries return an autoencoder instead."""
        return standard_discriminator(input_shape, width, norm)
