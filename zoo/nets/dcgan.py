"""The DCGAN generator and discriminator (Radford et al. 2015, Sec. 3 and Fig. 1).

Generator: z -> 4x4 by a fractionally-strided conv, then one stride-2 transposed conv per doubling,
BatchNorm + ReLU everywhere except the tanh output. Discriminator: the mirror image with stride-2 convs,
LeakyReLU(0.2), BatchNorm everywhere except the input layer, and a 4x4 conv to one logit.
Channel widths halve per doubling so the last hidden layer has ``width`` channels (ngf/ndf of the
reference implementation); any power-of-two resolution >= 8 and any channel count work.

Options used by other entries: conv biases (``bias``: MSGAN's DCGAN nets keep PyTorch's default biases,
HelenMao/MSGAN DCGAN-Mode-Seeking/networks.py), the discriminator's normalization (``norm``: WGAN-GP's critic has
no batch norm, Gulrajani et al. 2017 Sec. 4, and uses layer norm), its number of outputs (``out_features``: the
encoder of an autoencoder discriminator), and the generator's output activation (a decoder has none).
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from zoo.errors import ZooError

#: discriminator normalizations; "layer" normalizes each sample over (C, H, W) with per-channel affine,
#: as the layer norm of WGAN-GP's reference critic (equal to GroupNorm with one group)
NORMS = {
    "batch": nn.BatchNorm2d,
    "layer": lambda channels: nn.GroupNorm(1, channels),
    "none": lambda channels: nn.Identity(),
}


def num_doublings(resolution: int) -> int:
    """Number of 2x steps between 4x4 and ``resolution``; rejects sizes DCGAN cannot produce."""
    if resolution < 8 or resolution & (resolution - 1):
        raise ZooError(
            f"DCGAN needs a power-of-two resolution >= 8, got {resolution}; set --data.resolution to 16, 32 or 64"
        )
    return int(math.log2(resolution)) - 2


def norm_layer(norm: str, channels: int) -> nn.Module:
    if norm not in NORMS:
        raise ZooError(f"unknown discriminator norm '{norm}'; choose one of: {', '.join(NORMS)}")
    return NORMS[norm](channels)


class DCGANGenerator(nn.Module):
    def __init__(
        self,
        latent_dim: int,
        resolution: int,
        channels: int,
        width: int,
        output_activation: bool = True,
        bias: bool = False,
    ):
        super().__init__()
        n = num_doublings(resolution)
        c = width * 2 ** (n - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, c, 4, 1, 0, bias=bias),
            nn.BatchNorm2d(c),
            nn.ReLU(inplace=True),
        ]
        for _ in range(n - 1):
            layers += [
                nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=bias),
                nn.BatchNorm2d(c // 2),
                nn.ReLU(inplace=True),
            ]
            c //= 2
        layers += [nn.ConvTranspose2d(c, channels, 4, 2, 1, bias=bias)]
        layers += [nn.Tanh()] if output_activation else []
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.view(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    """Outputs one value per sample, or ``out_features`` values when that is not 1."""

    def __init__(
        self, resolution: int, channels: int, width: int, norm: str = "batch", out_features: int = 1, bias: bool = False
    ):
        super().__init__()
        n = num_doublings(resolution)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1, bias=bias), nn.LeakyReLU(0.2, inplace=True)]
        c = width
        for _ in range(n - 1):
            layers += [
                nn.Conv2d(c, c * 2, 4, 2, 1, bias=bias),
                norm_layer(norm, c * 2),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            c *= 2
        layers += [nn.Conv2d(c, out_features, 4, 1, 0, bias=bias)]
        self.out_features = out_features
        self.net = nn.Sequential(*layers)

    def features(self, x: Tensor) -> Tensor:
        """The last hidden layer (N, 8 * width..., 4, 4): what feature matching compares (Salimans et al. 2016)."""
        return self.net[:-1](x)

    def forward(self, x: Tensor) -> Tensor:
        out = self.net(x).flatten(1)
        return out.squeeze(1) if self.out_features == 1 else out
