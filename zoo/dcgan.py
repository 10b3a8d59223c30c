"""DCGAN (Radford, Metz and Chintala 2015, "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks", arXiv 1511.06434)."""

from __future__ import annotations

from zoo.base import GANModule
from zoo.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from zoo.nn import dcgan_init


class DCGAN(GANModule):
    """Radford 2015: all-convolutional G/D with BatchNorm, ReLU/tanh G, LeakyReLU D.

    The paper's guidelines (Sec. 3) and training details (Sec. 4): strided convolutions instead of
    pooling, BatchNorm in both networks except G's output and D's input layer, N(0, 0.02) init,
    Adam lr 2e-4 with beta1 0.5, batch 128 (64 in the reference PyTorch code), z of 100 dims.
    """

    def __init__(self, resolution: int = 64, channels: int = 3, ngf: int = 64, ndf: int = 64, **kwargs):
        """
        Args:
            resolution: image size, linked from the datamodule (a power of two >= 8).
            channels: image channels, linked from the datamodule.
            ngf: generator width: channels of its last hidden layer.
            ndf: discriminator width: channels of its first layer.
        """
        super().__init__(**kwargs)
        self.generator = DCGANGenerator(self.latent_dim, resolution, channels, ngf)
        self.discriminator = DCGANDiscriminator(resolution, channels * self.packing, ndf)
        dcgan_init(self.generator)
        dcgan_init(self.discriminator)
