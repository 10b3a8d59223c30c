"""GAN-INT-CLS's networks (Reed, Akata, Yan, Logeswaran, Schiele and Lee 2016, "Generative Adversarial Text to
Image Synthesis", ICML, Sec. 3.1 and Fig. 2), as reedscot/icml2016 main_cls_int.lua builds them.

Generator G(z, t): the text embedding t goes through FC to ``nt`` (128) + LeakyReLU 0.2 and is concatenated with z
(100); a DCGAN generator follows, 4x4 with 8 ngf channels, with a bottleneck residual block (1x1 to 2 ngf, 3x3,
3x3 back to 8 ngf, BN after each, ReLU between, added to the input, then ReLU) at 4x4 and one (4 ngf -> ngf -> 4
ngf) at 8x8; the transposed convolutions into both blocks have BN and no ReLU (the block's closing ReLU follows
the sum); then 4x4 stride-2 transposed convs halving the channels (BN, ReLU) up to the resolution, tanh.

Discriminator D(x, t): 4x4 stride-2 convs doubling from ``ndf`` down to 4x4, LeakyReLU 0.2 after the first, BN +
LeakyReLU after the next, BN without an activation after the last two, then LeakyReLU (the reference computes
exactly this: its D residual block is added to a table as the undefined ``skipD``, so the block is not in the
network; ``residual_block`` builds the block the script meant instead); t goes through FC to ``nt`` + BN +
LeakyReLU 0.2, tiled over the 4x4 map and concatenated; a 1x1 conv (8 ndf), BN, LeakyReLU and a 4x4 conv to one
logit (the reference's sigmoid is in the loss).

Convolutions have no bias: the reference zeroes every conv bias before each D and G step. Resolutions 16 to 64
and beyond (64: the paper's); at 32 px the generator has one stride-2 layer less, the discriminator one conv less.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from zoo.errors import ZooError


def doublings(resolution: int) -> int:
    """Stride-2 layers between 4x4 and ``resolution`` (>= 2: the generator needs 8x8 for its second block)."""
    if resolution < 16 or resolution & (resolution - 1):
        raise ZooError(f"gan_t2i needs a power-of-two resolution >= 16, got {resolution}; set --data.resolution")
    return int(math.log2(resolution)) - 2


class Bottleneck(nn.Module):
    """x + (1x1 to ``inner``, BN, act, 3x3, BN, act, 3x3 back, BN)(x), then act: main_cls_int.lua's blocks."""

    def __init__(self, channels: int, inner: int, activation: nn.Module):
        super().__init__()
        self.branch = nn.Sequential(
            nn.Conv2d(channels, inner, 1, bias=False),
            nn.BatchNorm2d(inner),
            activation,
            nn.Conv2d(inner, inner, 3, padding=1, bias=False),
            nn.BatchNorm2d(inner),
            activation,
            nn.Conv2d(inner, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        return self.activation(x + self.branch(x))


class TextFeatures(nn.Sequential):
    """FC from the embedding to ``nt`` features (+ BN in D), LeakyReLU 0.2."""

    def __init__(self, text_dim: int, nt: int, batch_norm: bool):
        layers = [nn.Linear(text_dim, nt)] + ([nn.BatchNorm1d(nt)] if batch_norm else [])
        super().__init__(*layers, nn.LeakyReLU(0.2))


class T2IGenerator(nn.Module):
    def __init__(self, latent_dim: int, text_dim: int, resolution: int, channels: int, ngf: int = 128, nt: int = 128):
        super().__init__()
        n = doublings(resolution)
        self.text = TextFeatures(text_dim, nt, batch_norm=False)
        relu = nn.ReLU()
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim + nt, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            Bottleneck(ngf * 8, ngf * 2, relu),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            Bottleneck(ngf * 4, ngf, relu),
        ]
        c = ngf * 4
        for _ in range(n - 2):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU()]
            c //= 2
        layers += [nn.ConvTranspose2d(c, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, text: Tensor) -> Tensor:
        x = torch.cat([z.flatten(1), self.text(text)], 1)
        return self.net(x[..., None, None])


class T2IDiscriminator(nn.Module):
    def __init__(
        self, text_dim: int, resolution: int, channels: int, ndf: int = 64, nt: int = 128, residual_block: bool = False
    ):
        super().__init__()
        n = doublings(resolution)
        lrelu = nn.LeakyReLU(0.2)
        layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), lrelu]
        c = ndf
        for i in range(1, n):
            layers += [nn.Conv2d(c, c * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c * 2)]
            c *= 2
            if i < n - 2:
                layers.append(lrelu)  # the last two convolutions have no activation of their own
        layers.append(Bottleneck(c, c // 4, lrelu) if residual_block else lrelu)
        self.image = nn.Sequential(*layers)
        self.text = TextFeatures(text_dim, nt, batch_norm=True)
        self.joint = nn.Sequential(
            nn.Conv2d(c + nt, c, 1, bias=False), nn.BatchNorm2d(c), lrelu, nn.Conv2d(c, 1, 4, bias=False)
        )

    def forward(self, x: Tensor, text: Tensor) -> Tensor:
        h = self.image(x)
        t = self.text(text)[..., None, None].expand(-1, -1, *h.shape[2:])
        return self.joint(torch.cat([h, t], 1)).flatten()
