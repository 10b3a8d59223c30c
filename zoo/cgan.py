"""CGAN (Mirza and Osindero 2014, "Conditional Generative Adversarial Nets", arXiv 1411.1784)."""

from __future__ import annotations

import torch

from zoo.base import GANModule
from zoo.errors import ZooError
from zoo.nets.conditional import (
    LabelChannelsDiscriminator,
    LabelConcatGenerator,
    MaxoutConditionalDiscriminator,
    MLPConditionalGenerator,
)
from zoo.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from zoo.nn import dcgan_init
from zoo.seeding import iteration_seed

ARCHS = ("dcgan", "mlp")


class CGAN(GANModule):
    """Mirza 2014: G and D both see the class y (one-hot); the game is the GAN's, conditioned on y (Eq. 2).

    ``arch: dcgan`` (the default, for 16-64 px images): DCGAN's networks (Radford et al. 2015) with y concatenated
    to z and given to D as K constant input channels. ``arch: mlp``: the paper's MNIST networks (Sec. 4.1): G maps
    z (100) and y to ReLU layers of 200 and 1000 units, then a joint ReLU layer of 1200; D maps x and y to maxout
    layers of 240 and 50 units (5 pieces), then a joint maxout layer of 240 units (4 pieces); dropout 0.5 in both.
    z ~ N(0, I) as everywhere in the zoo (the paper draws z uniformly from the unit hypercube).
    """

    conditional = True

    def __init__(
        self,
        arch: str = "dcgan",
        resolution: int = 64,
        channels: int = 3,
        num_classes: int = 10,
        ngf: int = 64,
        ndf: int = 64,
        g_hidden: tuple[int, int, int] = (200, 1000, 1200),
        d_hidden: tuple[int, int, int] = (240, 50, 240),
        maxout_pieces: tuple[int, int, int] = (5, 5, 4),
        dropout: float = 0.5,
        **kwargs,
    ):
        """
        Args:
            arch: dcgan (convolutional, power-of-two resolutions >= 8) or mlp (the paper's MNIST nets, any size).
            resolution: image size, linked from the datamodule.
            channels: image channels, linked from the datamodule.
            num_classes: number of classes, linked from the datamodule.
            ngf: dcgan generator width.
            ndf: dcgan discriminator width.
            g_hidden: mlp generator units: z branch, y branch, joint layer.
            d_hidden: mlp discriminator maxout units: x branch, y branch, joint layer.
            maxout_pieces: pieces of the mlp discriminator's x branch, y branch and joint layer.
            dropout: dropout of the mlp networks.
        """
        if arch not in ARCHS:
            raise ZooError(f"unknown cgan arch '{arch}'; choose one of: {', '.join(ARCHS)}")
        if num_classes is None:
            raise ZooError("cgan is class-conditional: train it on labelled data (--data mnist, cifar10, digits ...)")
        super().__init__(num_classes=num_classes, **kwargs)
        if arch == "mlp":
            shape = (channels, resolution, resolution)
            self.generator = MLPConditionalGenerator(self.latent_dim, num_classes, shape, g_hidden, dropout)
            self.discriminator = MaxoutConditionalDiscriminator(shape, num_classes, d_hidden, maxout_pieces, dropout)
            return
        g_net = DCGANGenerator(self.latent_dim + num_classes, resolution, channels, ngf)
        d_net = DCGANDiscriminator(resolution, channels + num_classes, ndf)
        dcgan_init(g_net)
        dcgan_init(d_net)
        self.generator = LabelConcatGenerator(g_net, num_classes)
        self.discriminator = LabelChannelsDiscriminator(d_net, num_classes)

    def training_step(self, batch, batch_idx: int) -> None:
        """Seeds the global RNG, which dropout draws its masks from, from (seed, rank, iteration) first: checkpoints
        do not carry the global RNG, so this is what lets a resumed mlp run draw the masks the uninterrupted run
        would (the latents have their own per-iteration stream, zoo/base.py)."""
        torch.manual_seed(iteration_seed(self._seed + 1, self.global_rank, self.iterations))
        super().training_step(batch, batch_idx)
