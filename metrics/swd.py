"""Sliced Wasserstein distance between Laplacian-pyramid patches (Karras et al. 2018, "Progressive Growing
of GANs", Sec. 5 and App. D).

The protocol of the paper, per pyramid level from full resolution down to 16x16:

1. a Laplacian pyramid of every image (Burt & Adelson 1983, the 5-tap binomial filter, mirrored borders);
   the last level is the low-pass 16x16 image;
2. 128 descriptors per image and level: 7x7 neighbourhoods with all colour channels, at random positions;
3. each set's descriptors normalized per colour channel to zero mean and unit standard deviation;
4. the sliced Wasserstein distance (Rabin et al. 2011) between the two sets: 512 random unit directions
   (4 repeats of 128), for each the mean absolute difference of the sorted projections (the 1D
   Wasserstein-1 distance of equal-size sets), averaged over directions.

Reported x1e3 per level (as in the paper's Table 1), plus their average. The paper draws 16,384 images per
set (2.1M descriptors per level). Lower is better; identical distributions give about 0.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from datamodules.base import to_unit_range
from zoo.errors import ZooError

BINOMIAL_5 = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16


def blur(images: Tensor, gain: float = 1.0) -> Tensor:
    """The separable 5x5 binomial filter per channel, mirrored borders (scipy's 'mirror' mode)."""
    channels = images.shape[1]
    kernel = (torch.outer(BINOMIAL_5, BINOMIAL_5) * gain).to(images)
    padded = F.pad(images, (2, 2, 2, 2), mode="reflect")
    return F.conv2d(padded, kernel.expand(channels, 1, 5, 5), groups=channels)


def pyramid_down(images: Tensor) -> Tensor:
    return blur(images)[..., ::2, ::2]


def pyramid_up(images: Tensor) -> Tensor:
    n, c, h, w = images.shape
    up = images.new_zeros(n, c, 2 * h, 2 * w)
    up[..., ::2, ::2] = images
    return blur(up, gain=4.0)


def laplacian_pyramid(images: Tensor, levels: int) -> list[Tensor]:
    """``levels`` band-pass images, finest first; the last is the low-pass residual, so the input is
    ``sum`` of every level upsampled back (``reconstruct``)."""
    pyramid = [images]
    for _ in range(levels - 1):
        low = pyramid_down(pyramid[-1])
        pyramid[-1] = pyramid[-1] - pyramid_up(low)
        pyramid.append(low)
    return pyramid


def reconstruct(pyramid: list[Tensor]) -> Tensor:
    """The image a Laplacian pyramid encodes (the inverse of ``laplacian_pyramid``)."""
    image = pyramid[-1]
    for level in reversed(pyramid[:-1]):
        image = level + pyramid_up(image)
    return image


def random_patches(level: Tensor, per_image: int, size: int, generator: torch.Generator) -> Tensor:
    """``per_image`` size x size neighbourhoods (all channels) per image at uniform random positions that
    keep them inside the image: (N * per_image, C, size, size)."""
    n, c, h, w = level.shape
    half = size // 2
    rows = torch.randint(half, h - half, (n, per_image, 1), generator=generator)
    cols = torch.randint(half, w - half, (n, per_image, 1), generator=generator)
    offsets = torch.arange(-half, half + 1)
    rows, cols = (rows + offsets).to(level.device), (cols + offsets).to(level.device)
    image = torch.arange(n, device=level.device).view(n, 1, 1, 1)
    patches = level.permute(0, 2, 3, 1)[image, rows[..., :, None], cols[..., None, :]]  # (N, P, size, size, C)
    return patches.permute(0, 1, 4, 2, 3).reshape(n * per_image, c, size, size)


def normalize_descriptors(descriptors: Tensor) -> Tensor:
    """Zero mean and unit standard deviation per colour channel over a whole set; flattened (N, C*size*size)."""
    mean = descriptors.mean(dim=(0, 2, 3), keepdim=True)
    std = descriptors.std(dim=(0, 2, 3), keepdim=True, unbiased=False)
    return ((descriptors - mean) / std).flatten(1)


def sliced_wasserstein(
    a: Tensor, b: Tensor, projections: int = 512, per_repeat: int = 128, generator: torch.Generator | None = None
) -> float:
    """Mean over random unit directions of the Wasserstein-1 distance between the projections of two
    equal-size point sets (N, D)."""
    if a.shape != b.shape:
        raise ZooError(
            f"SWD compares sets of equal size, got {tuple(a.shape)} and {tuple(b.shape)} descriptors: "
            "pass as many generated images as real ones"
        )
    distances = []
    for _ in range(math.ceil(projections / per_repeat)):
        directions = torch.randn(a.shape[1], per_repeat, generator=generator).to(a)
        directions = directions / directions.norm(dim=0, keepdim=True)
        # (directions, points): each projection contiguous in memory, sorted along it
        projected_a, projected_b = (directions.T @ a.T).sort().values, (directions.T @ b.T).sort().values
        distances.append((projected_a - projected_b).abs().mean(dim=1))
    return float(torch.cat(distances)[:projections].mean())


@dataclass(frozen=True)
class SWD:
    per_level: dict[int, float]  # pyramid level resolution -> SWD x 1e3, finest first
    average: float  # mean over the levels, x 1e3


def peek_resolution(images: Tensor | Iterable[Tensor]) -> tuple[int, Tensor | Iterable[Tensor]]:
    """The image size of a tensor or of an iterable's first batch, and the images (the batch put back)."""
    if isinstance(images, Tensor):
        return images.shape[-1], images
    batches = iter(images)
    first = next(batches)
    return first.shape[-1], itertools.chain([first], batches)


def in_batches(images: Tensor | Iterable[Tensor], batch_size: int = 256) -> Iterator[Tensor]:
    """A tensor of images in chunks, or the batches of an iterable, as float in [-1, 1] (uint8 converted)."""
    chunks = images.split(batch_size) if isinstance(images, Tensor) else images
    for chunk in chunks:
        yield to_unit_range(chunk)


def pyramid_descriptors(
    images: Tensor | Iterable[Tensor], levels: int, per_image: int, size: int, generator: torch.Generator
) -> list[Tensor]:
    """Normalized descriptors of a whole set, one (N * per_image, C*size*size) tensor per pyramid level."""
    found: list[list[Tensor]] = [[] for _ in range(levels)]
    for batch in in_batches(images):
        for i, level in enumerate(laplacian_pyramid(batch.float(), levels)):
            found[i].append(random_patches(level, per_image, size, generator))
    return [normalize_descriptors(torch.cat(level)) for level in found]


def swd(
    real: Tensor | Iterable[Tensor],
    fake: Tensor | Iterable[Tensor],
    min_resolution: int = 16,
    patches_per_image: int = 128,
    patch_size: int = 7,
    projections: int = 512,
    seed: int = 0,
) -> SWD:
    """PGGAN's SWD between two equal-size sets of square images (N, C, R, R), R a power of two
    >= ``min_resolution``; float in [-1, 1] or uint8, as one tensor or an iterable of batches. Patch
    positions are drawn batch by batch: the same seed and batches give the same value."""
    if min_resolution < patch_size:
        raise ZooError(f"min_resolution ({min_resolution}) must be >= patch_size ({patch_size})")
    (resolution, real), (fake_resolution, fake) = peek_resolution(real), peek_resolution(fake)
    levels = round(math.log2(resolution / min_resolution)) + 1 if resolution >= min_resolution else 0
    if fake_resolution != resolution or levels < 1 or 2 ** (levels - 1) * min_resolution != resolution:
        raise ZooError(
            f"SWD needs two sets of square images of one power-of-two size >= {min_resolution} px, "
            f"got {resolution} and {fake_resolution} px"
        )
    real_generator, fake_generator, projection_generator = (torch.Generator().manual_seed(seed + i) for i in range(3))
    real_levels = pyramid_descriptors(real, levels, patches_per_image, patch_size, real_generator)
    fake_levels = pyramid_descriptors(fake, levels, patches_per_image, patch_size, fake_generator)
    per_level = {
        resolution >> i: 1e3 * sliced_wasserstein(a, b, projections, generator=projection_generator)
        for i, (a, b) in enumerate(zip(real_levels, fake_levels))
    }
    return SWD(per_level, sum(per_level.values()) / len(per_level))
