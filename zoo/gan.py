"""GAN (Goodfellow et al. 2014, "Generative Adversarial Nets", arXiv 1406.2661)."""

from __future__ import annotations

from zoo.base import GANModule
from zoo.nets.mlp import MLPDiscriminator, MLPGenerator
from zoo.nn import normal_init


class GAN(GANModule):
    """Goodfellow 2014: MLP generator and maxout discriminator, minimax or non-saturating loss.

    Sec. 3 and 5 of the paper: rectifier/sigmoid generator, maxout discriminator with dropout, trained
    with the minimax value function (Eq. 1) or, in practice, the non-saturating generator loss.
    Works on any sample shape: flattened images or 2D points (configs/gan/toy2d.yaml uses PacGAN's
    toy networks: G 4x400 with BatchNorm, D 3x200 maxout with 5 pieces, weights from N(0, 0.02)).
    """

    default_data = "digits"

    def __init__(
        self,
        sample_shape: tuple[int, ...] = (1, 16, 16),
        g_hidden: tuple[int, ...] = (256, 512),
        g_batch_norm: bool = False,
        d_hidden: tuple[int, ...] = (256, 256),
        maxout_pieces: int = 5,
        d_dropout: float = 0.5,
        output_activation: str = "tanh",
        init_std: float | None = None,
        **kwargs,
    ):
        """
        Args:
            sample_shape: shape of one sample, linked from the datamodule (C, H, W) or (2,).
            g_hidden: generator hidden widths.
            g_batch_norm: BatchNorm after each generator hidden layer.
            d_hidden: discriminator hidden widths.
            maxout_pieces: pieces per maxout unit in D (1: LeakyReLU units instead).
            d_dropout: dropout after each D hidden layer (the paper trains D with dropout).
            output_activation: tanh for images in [-1, 1], identity for unbounded data such as toy2d.
            init_std: weights from N(0, init_std), biases 0 and BatchNorm scales 1 (PacGAN's toy networks:
                0.02); None keeps PyTorch's default initialization.
        """
        super().__init__(**kwargs)
        self.generator = MLPGenerator(self.latent_dim, sample_shape, g_hidden, g_batch_norm, output_activation)
        self.discriminator = MLPDiscriminator(self.packed_shape(sample_shape), d_hidden, maxout_pieces, d_dropout)
        if init_std is not None:
            normal_init(self.generator, init_std)
            normal_init(self.discriminator, init_std)
