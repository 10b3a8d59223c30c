"""InfoGAN's MNIST networks (Chen et al. 2016, arXiv 1606.03657, App. C.1, Table 1), as the authors' code builds
them (openai/InfoGAN, infogan/models/regularized_gan.py, network_type "mnist"):

Discriminator and Q: 4x4 conv 64 stride 2, LeakyReLU; 4x4 conv 128 stride 2, BatchNorm, LeakyReLU; FC 1024,
BatchNorm, LeakyReLU; then FC 1 for D, and FC 128, BatchNorm, LeakyReLU, FC to Q's outputs for Q.
Generator: FC 1024, BatchNorm, ReLU; FC (R/4 x R/4 x 128), BatchNorm, ReLU; 4x4 upconv 64 stride 2, BatchNorm,
ReLU; 4x4 upconv to the image, stride 2. Every layer has a bias; weights from N(0, 0.02), BatchNorm scales from
N(1, 0.02).

The LeakyReLU slope is the paper's 0.1 (App. C; the code's leaky_rectify defaults to 0.01). The output is tanh for
the zoo's [-1, 1] pixels where the code samples a Bernoulli of sigmoid(output). Widths scale with ``width`` (64
in the paper: the conv layers have width and 2 x width channels, the FC layer 16 x width units); any resolution
divisible by 4 works (28 for MNIST).
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
            nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh(),
        )  # fmt: skip
        dcgan_init(self)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.flatten(1))


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
        h = self.trunk(x)
        return self.source(h).squeeze(1), self.head(h)
