"""SNGAN's standard CNN (Miyato et al. 2018, arXiv 1802.05957, App. B, Table 3), for 32 px (CIFAR-10) and
48 px (STL-10) images.

Generator: z -> dense to M_g x M_g x 8w (M_g = resolution / 8), BN, ReLU -> three 4x4 stride-2 deconvolutions
to 4w, 2w, w channels with BN and ReLU -> 3x3 conv, tanh. Discriminator: 3x3 stride-1 and 4x4 stride-2 convs
alternating, w, w, 2w, 2w, 4w, 4w, 8w channels, LeakyReLU 0.1 -> dense to 1. The paper's w is 64. Weights
start from N(0, 0.02), as the chainer-gan-lib code of the experiments; every D layer is spectrally normalized.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.nn import dcgan_init
from zoo.nn.spectral_norm import Layers

RESOLUTIONS = (32, 48)
#: (kernel, stride, width multiplier) of the discriminator's convolutions (Table 3)
D_CONVS = ((3, 1, 1), (4, 2, 1), (3, 1, 2), (4, 2, 2), (3, 1, 4), (4, 2, 4), (3, 1, 8))


def check_resolution(resolution: int) -> None:
    if resolution not in RESOLUTIONS:
        raise ZooError(
            f"SNGAN's standard CNN is defined for {', '.join(map(str, RESOLUTIONS))} px, not {resolution}; set "
            "--data.resolution, or --model.architecture resnet"
        )


class SNGANCNNGenerator(nn.Module):
    def __init__(self, latent_dim: int, resolution: int, image_channels: int, width: int = 64):
        super().__init__()
        check_resolution(resolution)
        self.bottom, c = resolution // 8, 8 * width
        self.linear = nn.Linear(latent_dim, c * self.bottom * self.bottom)
        layers: list[nn.Module] = [nn.BatchNorm2d(c), nn.ReLU()]
        for _ in range(3):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1), nn.BatchNorm2d(c // 2), nn.ReLU()]
            c //= 2
        layers += [nn.Conv2d(c, image_channels, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(self.linear(z).view(z.shape[0], -1, self.bottom, self.bottom))


class SNGANCNNDiscriminator(nn.Module):
    def __init__(self, resolution: int, image_channels: int, width: int = 64):
        super().__init__()
        check_resolution(resolution)
        layers = Layers(spectral_norm=True, init="normal")
        convs, c_in = [], image_channels
        for kernel, stride, multiplier in D_CONVS:
            convs.append(layers.conv(c_in, width * multiplier, kernel, stride, padding=1))
            c_in = width * multiplier
        self.convs = nn.ModuleList(convs)
        self.linear = layers.linear(c_in * (resolution // 8) ** 2, 1)

    def forward(self, x: Tensor) -> Tensor:
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.1)
        return self.linear(x.flatten(1)).squeeze(1)
