"""The networks of WGAN-GP's experiments (Gulrajani et al. 2017, arXiv 1704.00028, Sec. 5), as the
authors' code builds them (igul222/improved_wgan_training, TensorFlow):

- ``resnet32``: the CIFAR-10 ResNet of gan_cifar_resnet.py (Table 3's unsupervised ResNet): G is a linear layer to
  128 x 4 x 4 and three up blocks of 128 channels (BN, ReLU, nearest 2x, 3x3 conv, twice); D is the optimized
  first block, one down block and two plain blocks of 128 channels, ReLU, global mean pooling and a linear
  output; no normalization in D. These are SNGAN's blocks (zoo/nets/resnet.py) without spectral norm.
- ``resnet64``: the 64 px ResNet that gan_64x64.py trains by default (GoodGenerator / GoodDiscriminator): G a
  linear layer to 8w x 4 x 4 and up blocks to 8w, 4w, 2w, w; D a 3x3 conv to w, down blocks to 2w, 4w, 8w, 8w
  with layer norm before each ReLU, and a linear layer on the flattened 8w x 4 x 4 features; the first conv of
  every block has no bias.
- ``dcgan64``: gan_64x64.py's DCGAN baseline (DCGANGenerator / DCGANDiscriminator) in WGAN-GP mode: a linear
  input layer with BN, 5x5 stride-2 (transposed) convs with biases, layer norm in D instead of BN, weights from
  N(0, 0.02).

Convs inside blocks (and the 64 px generator's output conv) are Glorot-uniform with gain sqrt 2 (tflib's he_init),
shortcuts, linear layers and the other input and output convs gain 1.
TensorFlow's "SAME" padding of the 5x5 stride-2 convs pads (1, 2); PyTorch pads (2, 2): the same parameters,
the feature maps shifted by half a pixel.
"""

from __future__ import annotations

import itertools

from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.nets import resnet
from zoo.nets.dcgan import norm_layer
from zoo.nets.resnet import RESIDUAL_GAIN
from zoo.nn import normal_init
from zoo.nn.conditional import UnconditionalBatchNorm2d
from zoo.nn.spectral_norm import Layers

#: image size each architecture is defined for
RESOLUTIONS = {"resnet32": 32, "resnet64": 64, "dcgan64": 64}
PLAIN = Layers(spectral_norm=False)


def check_resolution(architecture: str, resolution: int) -> None:
    if RESOLUTIONS[architecture] != resolution:
        raise ZooError(
            f"the WGAN-GP {architecture} networks are {RESOLUTIONS[architecture]} px, not {resolution}: set "
            "--data.resolution, or --model.architecture dcgan (the zoo's DCGAN nets, any power of two)"
        )


def cifar_generator(latent_dim: int, channels: int, width: int = 128) -> nn.Module:
    """gan_cifar_resnet.py's Generator (DIM_G 128)."""
    return resnet.ResNetGenerator(latent_dim, [width] * 4, 4, channels, PLAIN, UnconditionalBatchNorm2d)


def cifar_discriminator(channels: int, width: int = 128) -> nn.Module:
    """gan_cifar_resnet.py's Discriminator (DIM_D 128, NORMALIZATION_D False)."""
    return resnet.ResNetDiscriminator(
        32, channels, [width] * 4, (True, True, False, False), PLAIN, wide=False, pooling="mean"
    )


def resnet64_generator(latent_dim: int, channels: int, width: int = 64) -> nn.Module:
    """gan_64x64.py's GoodGenerator (DIM 64)."""
    widths = [8 * width, 8 * width, 4 * width, 2 * width, width]
    return resnet.ResNetGenerator(
        latent_dim, widths, 4, channels, PLAIN, UnconditionalBatchNorm2d, conv1_bias=False, output_gain=RESIDUAL_GAIN
    )


class ResNet64Discriminator(nn.Module):
    """gan_64x64.py's GoodDiscriminator (DIM 64) with WGAN-GP's layer norm."""

    def __init__(self, channels: int, width: int = 64):
        super().__init__()
        widths = [width, 2 * width, 4 * width, 8 * width, 8 * width]
        self.input = PLAIN.conv(channels, width, 3)
        self.blocks = nn.Sequential(
            *(
                resnet.DBlock(c_in, c_out, True, PLAIN, wide=False, norm=lambda c: norm_layer("layer", c))
                for c_in, c_out in itertools.pairwise(widths)
            )
        )
        self.output = PLAIN.linear(widths[-1] * 4 * 4, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.output(self.blocks(self.input(x)).flatten(1)).squeeze(1)


class DCGAN64Generator(nn.Module):
    """gan_64x64.py's DCGANGenerator: linear to 8w x 4 x 4, BN, ReLU, four 5x5 stride-2 transposed convs."""

    def __init__(self, latent_dim: int, channels: int, width: int = 64):
        super().__init__()
        self.width = width
        self.input = nn.Linear(latent_dim, 8 * width * 16)
        widths = [8 * width, 4 * width, 2 * width, width, channels]
        layers: list[nn.Module] = [nn.BatchNorm2d(widths[0]), nn.ReLU()]
        for i, (c_in, c_out) in enumerate(itertools.pairwise(widths)):
            layers.append(nn.ConvTranspose2d(c_in, c_out, 5, 2, padding=2, output_padding=1))
            layers += [nn.BatchNorm2d(c_out), nn.ReLU()] if i < len(widths) - 2 else [nn.Tanh()]
        self.net = nn.Sequential(*layers)
        normal_init(self, 0.02)  # tflib's batch norm starts at scale 1

    def forward(self, z: Tensor) -> Tensor:
        return self.net(self.input(z).view(z.shape[0], 8 * self.width, 4, 4))


class DCGAN64Discriminator(nn.Module):
    """gan_64x64.py's DCGANDiscriminator: four 5x5 stride-2 convs with LeakyReLU 0.2, layer norm after all but
    the first, and a linear layer on the flattened 8w x 4 x 4 features."""

    def __init__(self, channels: int, width: int = 64):
        super().__init__()
        widths = [channels, width, 2 * width, 4 * width, 8 * width]
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(itertools.pairwise(widths)):
            layers.append(nn.Conv2d(c_in, c_out, 5, 2, padding=2))
            layers += [norm_layer("layer", c_out)] if i > 0 else []
            layers.append(nn.LeakyReLU(0.2))
        self.net = nn.Sequential(*layers)
        self.output = nn.Linear(8 * width * 16, 1)
        normal_init(self, 0.02)

    def forward(self, x: Tensor) -> Tensor:
        return self.output(self.net(x).flatten(1)).squeeze(1)


def wgan_gp_generator(architecture: str, latent_dim: int, channels: int, width: int) -> nn.Module:
    if architecture == "resnet32":
        return cifar_generator(latent_dim, channels, width)
    if architecture == "resnet64":
        return resnet64_generator(latent_dim, channels, width)
    return DCGAN64Generator(latent_dim, channels, width)


def wgan_gp_discriminator(architecture: str, channels: int, width: int) -> nn.Module:
    """D taking ``channels`` input channels (times PacGAN's packing)."""
    if architecture == "resnet32":
        return cifar_discriminator(channels, width)
    if architecture == "resnet64":
        return ResNet64Discriminator(channels, width)
    return DCGAN64Discriminator(channels, width)
