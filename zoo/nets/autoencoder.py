"""Autoencoder discriminators of the energy-based GANs (EBGAN, Zhao et al. 2017, Sec. 2.3; BEGAN,
Berthelot et al. 2017, Sec. 3.1): D encodes x to a code and decodes it back; the entry turns the
reconstruction error into an energy.

For images, ``conv_autoencoder`` is EBGAN's fully convolutional autoencoder (Zhao et al. 2017, the appendix's 64 x 64
LSUN and CelebA model; 1Konny/EBGAN-pytorch's model.py builds the same layer list): encoder (64)4c2s-(128)4c2s-
(256)4c2s, decoder (128)4c2s-(64)4c2s-(3)4c2s, "(64)4c2s" a 4x4 convolution of 64 maps with stride 2; its code is
the encoder's last feature maps. Its layers follow DCGAN's conventions: LeakyReLU 0.2 and BatchNorm but on the input
layer in the encoder, BatchNorm and ReLU in the decoder, no output activation, bias-free convolutions. The other
image autoencoder (``autoencoder_discriminator``) is DCGAN's discriminator with a ``code_dim`` output as the encoder
and DCGAN's generator without the tanh as the decoder; for points both are MLPs of two hidden ReLU layers.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from zoo.nets.standard import data_kind
from zoo.nn import dcgan_init


class AutoencoderDiscriminator(nn.Module):
    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(reconstruction, code)."""
        code = self.encoder(x)
        return self.decoder(code), code


def _mlp(sizes: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers += [nn.Linear(a, b)] + ([nn.ReLU(inplace=True)] if i < len(sizes) - 2 else [])
    return nn.Sequential(*layers)


def conv_autoencoder(sample_shape: Sequence[int], width: int) -> AutoencoderDiscriminator:
    """EBGAN's convolutional autoencoder at ``width`` (64 in the appendix) for images whose size is divisible by 8."""
    channels, resolution = sample_shape[0], sample_shape[1]
    if resolution % 8:
        raise ZooError(
            f"EBGAN's autoencoder halves the size three times: the resolution must divide by 8, not {resolution}"
        )
    encoder = nn.Sequential(
        nn.Conv2d(channels, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(2 * width, 4 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(4 * width),
        nn.LeakyReLU(0.2, inplace=True),
    )  # fmt: skip
    decoder = nn.Sequential(
        nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU(inplace=True),
        nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
        nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False),
    )  # fmt: skip
    dcgan_init(encoder)
    dcgan_init(decoder)
    return AutoencoderDiscriminator(encoder, decoder)


def autoencoder_discriminator(
    sample_shape: Sequence[int], width: int, code_dim: int, norm: str = "batch"
) -> AutoencoderDiscriminator:
    if data_kind(sample_shape) == "image":
        channels, resolution = sample_shape[0], sample_shape[1]
        encoder = DCGANDiscriminator(resolution, channels, width, norm, out_features=code_dim)
        decoder = DCGANGenerator(code_dim, resolution, channels, width, output_activation=False)
        dcgan_init(encoder)
        dcgan_init(decoder)
    else:
        dim = sample_shape[0]
        encoder, decoder = _mlp((dim, width, width, code_dim)), _mlp((code_dim, width, width, dim))
    return AutoencoderDiscriminator(encoder, decoder)
