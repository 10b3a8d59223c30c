"""InfoGAN's MNIST networks (Chen et al. 2016, arXiv 1606.03657, App. C.1, Table 1), as the authors' code builds
them (openai/InfoGAN, infogan/models/regularized_gan.py, network_type "mnist"):

Discriminator and Q: 4x4 conv 64 stride 2, LeakyReLU; 4x4 conv 128 stride 2, BatchNorm, LeakyReLU; FC 1024,
BatchNorm, LeakyReLU; then FC 1 for D, and FC 128, BatchNorm, LeakyReLU, FC to Q's outputs for Q.
Generator: FC 1024, BatchNorm, ReLU; FC (R/4 x R/4 x 128), BatchNorm, ReLU; 4x4 upconv 64 stride 2, BatchNorm,
ReLU; 4x4 upconv to the image, stride 2. Every layer has a bias; weights from N(0, 0.02), BatchNorm scales from
N(1, 0.02).

The LeakyReLU slope is the paper's 0.1 (App. C; the code's leaky_rectify defaults to 0.01). As the code, the nets
work on pixels in [0, 1]: G ends in a sigmoid (the mean of its ``MeanBernoulli`` output distribution, which is what
``sample`` returns) and D reads [0, 1] pixels; both convert at their edges from and to the zoo's [-1, 1] images (x
-> (x + 1) / 2 into D, p -> 2 p - 1 out of G), so every layer sees the authors' values. Widths scale with ``width``
(64 in the paper: the conv layers have width and 2 x width channels, the FC layer 16 x width units); any resolution
divisible by 4 works (28 for MNIST).

The CelebA networks (App. C.3, Table 3; App. C.2's Table 2 lists the same layers for SVHN), 32 px colour images:

Discriminator and Q: 4x4 conv 64 stride 2, LeakyReLU; 4x4 conv 128 stride 2, BatchNorm, LeakyReLU; 4x4 conv 256
stride 2, BatchNorm, LeakyReLU; then FC 1 for D, and FC 128, BatchNorm, LeakyReLU, FC to Q's outputs for Q.
Generator: FC 2 x 2 x 448, BatchNorm, ReLU; 4x4 upconv 256 stride 2, BatchNorm, ReLU; 4x4 upconv 128 stride 2,
ReLU; 4x4 upconv 64 stride 2, ReLU; 4x4 upconv 3 stride 2, Tanh (the table puts no BatchNorm after the 128 and 64
upconvs). Biases and initialization as the MNIST nets (the authors' layers all carry a bias); widths scale with
``width`` (64: G's 448, 256, 128, 64 are 7, 4, 2, 1 x width; D's 64, 128, 256 are 1, 2, 4 x width); any
resolution divisible by 16 works (G starts at R/16, D ends at R/8).
"""

from __future__ import annotations

from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.nets.conditional import auxiliary_head
from zoo.nn import dcgan_init

SLOPE = 0.1


def bottom(resolution: int) -> int:
    if resolution % 4:
        raise ZooError(f"InfoGAN's MNIST networks need a resolution divisible by 4, got {resolution}")
    return resolution // 4


class InfoGANGenerator(nn.Module):
    def __init__(self, latent_dim: int, resolution: int, channels: int, width: int = 64):
        super().__init__()
        self.shape = (2 * width, bottom(resolution), bottom(resolution))
        hidden, maps = 16 * width, 2 * width * bottom(resolution) ** 2
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, maps), nn.BatchNorm1d(maps), nn.ReLU(inplace=True),
            nn.Unflatten(1, self.shape),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Sigmoid(),
        )  # fmt: skip
        dcgan_init(self)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.flatten(1)) * 2 - 1


class InfoGANDiscriminator(nn.Module):
    """Returns (source logits (N,), Q's outputs (N, q_outputs)), as ``AuxiliaryHeadDiscriminator``."""

    def __init__(self, resolution: int, channels: int, q_outputs: int, width: int = 64, q_hidden: int = 128):
        super().__init__()
        hidden = 16 * width
        self.trunk = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(SLOPE, inplace=True),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.BatchNorm2d(2 * width), nn.LeakyReLU(SLOPE, inplace=True),
            nn.Flatten(),
            nn.Linear(2 * width * bottom(resolution) ** 2, hidden), nn.BatchNorm1d(hidden),
            nn.LeakyReLU(SLOPE, inplace=True),
        )  # fmt: skip
        self.source = nn.Linear(hidden, 1)
        self.head = auxiliary_head(hidden, q_outputs, q_hidden)
        dcgan_init(self)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.trunk((x + 1) / 2)
        return self.source(h).squeeze(1), self.head(h)


def celeba_bottom(resolution: int) -> int:
    if resolution % 16:
        raise ZooError(
            f"InfoGAN's CelebA networks need a resolution divisible by 16 (32 in the paper), got {resolution}"
        )
    return resolution // 16


class InfoGANCelebAGenerator(nn.Module):
    """Table 3's generator: FC to 2 x 2 x 448 (at 32 px), then four 4x4 stride-2 upconvs."""

    def __init__(self, latent_dim: int, resolution: int, channels: int, width: int = 64):
        super().__init__()
        side = celeba_bottom(resolution)
        self.shape = (7 * width, side, side)
        maps = 7 * width * side**2
        self.net = nn.Sequential(
            nn.Linear(latent_dim, maps), nn.BatchNorm1d(maps), nn.ReLU(inplace=True),
            nn.Unflatten(1, self.shape),
            nn.ConvTranspose2d(7 * width, 4 * width, 4, 2, 1), nn.BatchNorm2d(4 * width), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh(),
        )  # fmt: skip
        dcgan_init(self)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.flatten(1))


class InfoGANCelebADiscriminator(nn.Module):
    """Table 3's discriminator and Q: three 4x4 stride-2 convs (64, 128, 256), D's FC 1 and Q's FC 128 head on
    the flattened last conv. Returns (source logits (N,), Q's outputs (N, q_outputs))."""

    def __init__(self, resolution: int, channels: int, q_outputs: int, width: int = 64, q_hidden: int = 128):
        super().__init__()
        features = 4 * width * (2 * celeba_bottom(resolution)) ** 2
        self.trunk = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(SLOPE, inplace=True),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.BatchNorm2d(2 * width), nn.LeakyReLU(SLOPE, inplace=True),
            nn.Conv2d(2 * width, 4 * width, 4, 2, 1), nn.BatchNorm2d(4 * width), nn.LeakyReLU(SLOPE, inplace=True),
            nn.Flatten(),
        )  # fmt: skip
        self.source = nn.Linear(features, 1)
        self.head = auxiliary_head(features, q_outputs, q_hidden)
        dcgan_init(self)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.trunk(x)
        return self.source(h).squeeze(1), self.head(h)
