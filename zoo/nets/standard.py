"""The networks the objective family shares, chosen by the data: DCGAN's convolutional G and D for images
(C, H, W), and PacGAN's toy MLPs for points (D,).

The papers of the objective family (WGAN, WGAN-GP, LSGAN, DRAGAN, f-GAN, relativistic GANs, EBGAN, BEGAN)
compare losses on DCGAN-style networks, and the mode-coverage protocol of VEEGAN/PacGAN (REFERENCES.md)
compares them on 2D mixtures with MLPs: G of 4 hidden layers with BatchNorm and ReLU, D of 3 maxout layers
with 5 pieces, weights from N(0, 0.02) (Lin et al. 2018, App. C). ``width`` is DCGAN's ngf/ndf for images
and the hidden width for points (PacGAN: 400 for G, 200 for D).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from zoo.errors import ZooError
from zoo.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from zoo.nets.mlp import MLPDiscriminator, MLPGenerator
from zoo.nn import dcgan_init, pacgan_init

G_LAYERS, D_LAYERS, MAXOUT_PIECES = 4, 3, 5


def data_kind(sample_shape: Sequence[int]) -> str:
    """ "image" for (C, H, W) with H == W, "points" for (D,); anything else is rejected."""
    if len(sample_shape) == 3 and sample_shape[1] == sample_shape[2]:
        return "image"
    if len(sample_shape) == 1:
        return "points"
    raise ZooError(
        f"this entry trains on square images (C, H, W) or points (D,), got samples of shape {tuple(sample_shape)}"
    )


def standard_generator(latent_dim: int, sample_shape: Sequence[int], width: int) -> nn.Module:
    if data_kind(sample_shape) == "image":
        channels, resolution = sample_shape[0], sample_shape[1]
        net = DCGANGenerator(latent_dim, resolution, channels, width)
        dcgan_init(net)
        return net
    net = MLPGenerator(latent_dim, sample_shape, (width,) * G_LAYERS, batch_norm=True, output_activation="identity")
    pacgan_init(net)
    return net


def standard_discriminator(sample_shape: Sequence[int], width: int, norm: str = "batch") -> nn.Module:
    """D for one (packed) input shape; ``norm`` applies to the conv net (the toy D is maxout, unnormalized)."""
    if data_kind(sample_shape) == "image":
        net = DCGANDiscriminator(sample_shape[1], sample_shape[0], width, norm)
        dcgan_init(net)
        return net
    net = MLPDiscriminator(sample_shape, (width,) * D_LAYERS, MAXOUT_PIECES, dropout=0.0)
    pacgan_init(net)
    return net
