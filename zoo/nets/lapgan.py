"""LAPGAN's networks (Denton et al. 2015, arXiv 1506.05751, Sec. 3-4), as the authors' facebook/eyescream builds
its class-conditional CIFAR-10 models:

- the coarsest level is a class-conditional MLP GAN (cifar/scripts/train_cifar_classcond.lua): G maps
  [z, onehot(y)] through two ReLU layers to a linear image; D maps [x, onehot(y)] through two ReLU layers, each
  followed by dropout, to one logit (the script's sigmoid is the zoo objective's);
- every finer level is a conditional convnet (cifar/scripts/train_cifar_coarse_to_fine_classcond.lua): G stacks
  a noise plane, a class plane (Linear(10 -> H*W) + ReLU) and the upsampled coarse image l, then 7x7 ReLU, 7x7
  ReLU and 5x5 'same' convolutions to a linear band-pass image h; D adds h to l (it judges the fine image),
  stacks its own class plane, then a 5x5 ReLU conv, a 5x5 stride-2 conv, ReLU, dropout and a linear logit.

``LaplacianGenerator`` samples down the pyramid (Sec. 3.2, Fig. 1): I_K = G_K(z_K, y), then
I_k = u(I_{k+1}) + G_k(z_k, y, u(I_{k+1})). Every level has its own networks: training one level never touches
another (Sec. 3.3: "each level is trained independently").
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.pyramid import laplacian_pyramid, upsample


def _class_plane(labels: Tensor, embed: nn.Linear, size: int) -> Tensor:
    """eyescream's class map: ReLU(Linear(onehot(y))) reshaped to one (N, 1, size, size) plane."""
    onehot = F.one_hot(labels, embed.in_features).to(embed.weight.dtype)
    return F.relu(embed(onehot)).view(-1, 1, size, size)


class BaseLevelGenerator(nn.Module):
    """The coarsest level's G: [z, onehot(y)] -> Linear(hidden) -> ReLU -> Linear(hidden) -> ReLU -> Linear ->
    a (C, H, W) image with a linear output (train_cifar_classcond.lua's model_G)."""

    def __init__(self, noise_dim: int, num_classes: int, shape: tuple[int, int, int], hidden: int):
        super().__init__()
        self.noise_dim, self.num_classes, self.shape = noise_dim, num_classes, tuple(shape)
        self.net = nn.Sequential(
            nn.Linear(noise_dim + num_classes, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, math.prod(shape)),
        )  # fmt: skip

    def forward(self, noise: Tensor, labels: Tensor, coarse: Tensor | None = None) -> Tensor:
        onehot = F.one_hot(labels, self.num_classes).to(noise.dtype)
        return self.net(torch.cat([noise, onehot], dim=1)).view(-1, *self.shape)


class BaseLevelDiscriminator(nn.Module):
    """The coarsest level's D: [x, onehot(y)] -> Linear(hidden) -> ReLU -> dropout -> Linear(hidden) -> ReLU ->
    dropout -> Linear -> one logit per image (train_cifar_classcond.lua's model_D, its sigmoid left to the loss)."""

    def __init__(self, num_classes: int, shape: tuple[int, int, int], hidden: int, dropout: float):
        super().__init__()
        self.num_classes = num_classes
        self.net = nn.Sequential(
            nn.Linear(math.prod(shape) + num_classes, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )  # fmt: skip

    def forward(self, image: Tensor, labels: Tensor, coarse: Tensor | None = None) -> Tensor:
        onehot = F.one_hot(labels, self.num_classes).to(image.dtype)
        return self.net(torch.cat([image.flatten(1), onehot], dim=1)).squeeze(1)


class ConvLevelGenerator(nn.Module):
    """A finer level's G (train_cifar_coarse_to_fine_classcond.lua's model_G): [noise plane, class plane, l] ->
    conv7x7(width) -> ReLU -> conv7x7(width) -> ReLU -> conv5x5(C), all 'same' and stride 1; returns the band-pass
    image h, not h + l."""

    def __init__(self, resolution: int, channels: int, num_classes: int, width: int):
        super().__init__()
        self.resolution = resolution
        self.embed = nn.Linear(num_classes, resolution * resolution)
        self.net = nn.Sequential(
            nn.Conv2d(2 + channels, width, 7, padding=3), nn.ReLU(),
            nn.Conv2d(width, width, 7, padding=3), nn.ReLU(),
            nn.Conv2d(width, channels, 5, padding=2),
        )  # fmt: skip

    def forward(self, noise: Tensor, labels: Tensor, coarse: Tensor) -> Tensor:
        plane = _class_plane(labels, self.embed, self.resolution)
        return self.net(torch.cat([noise.view(-1, 1, self.resolution, self.resolution), plane, coarse], dim=1))


class ConvLevelDiscriminator(nn.Module):
    """A finer level's D (train_cifar_coarse_to_fine_classcond.lua's model_D): [h + l, class plane] -> conv5x5
    valid (width) -> ReLU -> conv5x5 stride 2 valid (width) -> ReLU -> dropout -> Linear -> one logit."""

    def __init__(self, resolution: int, channels: int, num_classes: int, width: int, dropout: float):
        super().__init__()
        side = (resolution - 4 - 5) // 2 + 1
        if side < 1:
            raise ZooError(f"a LAPGAN conv level needs >= 10 px (two valid 5x5 convs), got {resolution} px")
        self.resolution = resolution
        self.embed = nn.Linear(num_classes, resolution * resolution)
        self.net = nn.Sequential(
            nn.Conv2d(channels + 1, width, 5), nn.ReLU(),
            nn.Conv2d(width, width, 5, stride=2), nn.Flatten(), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(width * side * side, 1),
        )  # fmt: skip

    def forward(self, band: Tensor, labels: Tensor, coarse: Tensor) -> Tensor:
        plane = _class_plane(labels, self.embed, self.resolution)
        return self.net(torch.cat([band + coarse, plane], dim=1)).squeeze(1)


def level_resolutions(resolution: int, base_resolution: int) -> list[int]:
    """The pyramid's sides, finest first: resolution, resolution / 2, ..., base_resolution."""
    sides = [resolution]
    while sides[-1] > base_resolution:
        sides.append(sides[-1] // 2)
    return sides


class LaplacianGenerator(nn.Module):
    """The generators of every level, finest first (``levels[-1]`` is the coarsest, MLP one). ``forward(z, y)``
    samples a full image down the pyramid from one flat latent: the coarsest level's noise vector, then one noise
    plane per finer level, coarsest first (eyescream draws every noise U(-1, 1))."""

    def __init__(self, levels: list[nn.Module], resolutions: list[int]):
        super().__init__()
        self.levels = nn.ModuleList(levels)
        self.resolutions = resolutions
        self.noise_sizes = [side * side for side in resolutions[:-1]] + [levels[-1].noise_dim]

    def split_noise(self, z: Tensor) -> list[Tensor]:
        """The flat latent as one noise per level, finest first."""
        return list(reversed(torch.split(z, list(reversed(self.noise_sizes)), dim=1)))

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        noises = self.split_noise(z)
        image = self.levels[-1](noises[-1], labels)
        for level, noise in zip(reversed(self.levels[:-1]), reversed(noises[:-1])):
            coarse = upsample(image)
            image = coarse + level(noise, labels, coarse)
        return image


class LaplacianDiscriminator(nn.Module):
    """The discriminators of every level, finest first. ``forward(x, y)`` scores an image's own Laplacian
    pyramid: (N, levels) logits, D_k on (h_k, y, u(I_{k+1})) and the coarsest D on I_K."""

    def __init__(self, levels: list[nn.Module]):
        super().__init__()
        self.levels = nn.ModuleList(levels)

    def forward(self, image: Tensor, labels: Tensor) -> Tensor:
        pyramid = laplacian_pyramid(image, len(self.levels))
        low = pyramid[-1]
        outputs = [self.levels[-1](low, labels)]
        for level, band in zip(reversed(self.levels[:-1]), reversed(pyramid[:-1])):
            coarse = upsample(low)
            outputs.insert(0, level(band, labels, coarse))
            low = coarse + band
        return torch.stack(outputs, dim=1)
