"""The DCGAN generator and discriminator (Radford et al. 2015, Sec. 3 and Fig. 1).

Generator: z -> 4x4 by a fractionally-strided conv, then one stride-2 transposed conv per doubling,
BatchNorm + ReLU everywhere except the tanh output. Discriminator: the mirror image with stride-2 convs,
LeakyReLU(0.2), BatchNorm everywhere except the input layer, and a 4x4 conv to one logit.
Channel widths halve per doubling so the last hidden layer has ``width`` channels (ngf/ndf of the
reference implementation); any power-of-two resolution >= 8 and any channel count work.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from zoo.errors import ZooError


def num_doublings(resolution: int) -> int:
    """Number of 2x steps between 4x4 and ``resolution``; rejects sizes DCGAN cannot produce."""
    if resolution < 8 or resolution & (resolution - 1):
        raise ZooError(
            f"DCGAN needs a power-of-two resolution >= 8, got {resolution}; set --data.resolution to 16, 32 or 64"
        )
    return int(math.log2(resolution)) - 2


class DCGANGenerator(nn.Module):
    def __init__(self, latent_dim: int, resolution: int, channels: int, width: int):
        super().__init__()
        n = num_doublings(resolution)
        c = width * 2 ** (n - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, c, 4, 1, 0, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(inplace=True),
        ]
        for _ in range(n - 1):
            layers += [
                nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c // 2),
                nn.ReLU(inplace=True),
            ]
            c //= 2
        layers += [nn.ConvTranspose2d(c, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.view(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    def __init__(self, resolution: int, channels: int, width: int):
        super().__init__()
        n = num_doublings(resolution)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        c = width
        for _ in range(n - 1):
            layers += [nn.Conv2d(c, c * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c * 2), nn.LeakyReLU(0.2, inplace=True)]
            c *= 2
        layers += [nn.Conv2d(c, 1, 4, 1, 0, bias=False)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).view(x.shape[0])
