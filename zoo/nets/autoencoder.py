"""Autoencoder discriminators of the energy-based GANs (EBGAN, Zhao et al. 2017, Sec. 2.3; BEGAN,
Berthelot et al. 2017, Sec. 3.1): D encodes x to a code and decodes it back; the entry turns the
reconstruction error into an energy.

For images the encoder is DCGAN's discriminator with a ``code_dim`` output and the decoder DCGAN's generator
without the tanh; for points both are MLPs of two hidden ReLU layers.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from torch import Tensor, nn

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
