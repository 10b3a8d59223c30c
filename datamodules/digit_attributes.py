"""Attributes measured on a digit image: stroke thickness, slant and size, each bucketed into 3 levels.

``captioned_mnist`` writes its captions from these measurements, and benchmarks of text-to-image GANs measure
generated samples with the same functions, so a caption's attribute can be checked on the image it produced.
All functions take a batch of grayscale images (N, H, W) or (N, 1, H, W), white ink on black (MNIST's
polarity), uint8 in [0, 255] or float in [-1, 1]; lengths are expressed in pixels of a 28 px image, so any
resolution measures alike. They are vectorized torch code with no host syncs.
"""

from __future__ import annotations

import torch
from torch import Tensor

#: ink is where the image is above half of its value range
INK_THRESHOLD = 0.5
#: the reference size lengths are expressed in (MNIST's 28 px)
REFERENCE_SIDE = 28
#: bucket edges (level 0 below the first, 2 above the second): the tertiles of the 60,000 MNIST training
#: digits, measured with ``python -m datamodules.digit_attributes ../shared/data``
THICKNESS_EDGES = (1.75, 2.19)
SLANT_EDGES = (-0.01, 0.22)
SIZE_EDGES = (0.33, 0.41)
#: the words of each level, in order
THICKNESS_WORDS = ("thin", "medium", "thick")
SLANT_WORDS = ("left", "upright", "right")
SIZE_WORDS = ("small", "medium", "large")


def ink_mask(images: Tensor) -> Tensor:
    """Float mask (N, H, W) of the ink pixels."""
    x = images.squeeze(1) if images.dim() == 4 else images
    unit = x.float() / 255.0 if x.dtype == torch.uint8 else (x.float() + 1.0) / 2.0
    return (unit > INK_THRESHOLD).float()


def thickness(images: Tensor) -> Tensor:
    """Mean stroke width (N,) in 28-px pixels: twice the ink area over the ink's perimeter (the number of
    4-neighbour edges between ink and background). A stroke of width w and length L >> w has area w L and
    perimeter about 2 L, so the ratio is w, without a skeleton."""
    ink = ink_mask(images)
    padded = torch.nn.functional.pad(ink, (1, 1, 1, 1))
    edges = (padded[:, 1:, :] - padded[:, :-1, :]).abs().sum((1, 2)) + (padded[:, :, 1:] - padded[:, :, :-1]).abs().sum(
        (1, 2)
    )
    return 2 * ink.sum((1, 2)) / edges.clamp(min=1) * (REFERENCE_SIDE / ink.shape[-1])


def slant(images: Tensor) -> Tensor:
    """Horizontal shear of the ink (N,) from its second moments: -cov(x, y) / var(y), the change of x per
    unit of height going up (image rows grow downwards). Positive: the digit leans right; 0: upright."""
    ink = ink_mask(images)
    h, w = ink.shape[-2:]
    ys = torch.arange(h, dtype=ink.dtype, device=ink.device)[:, None]
    xs = torch.arange(w, dtype=ink.dtype, device=ink.device)[None, :]
    mass = ink.sum((1, 2)).clamp(min=1)
    my, mx = (ink * ys).sum((1, 2)) / mass, (ink * xs).sum((1, 2)) / mass
    dy, dx = ys - my[:, None, None], xs - mx[:, None, None]
    cov = (ink * dx * dy).sum((1, 2)) / mass
    var = (ink * dy * dy).sum((1, 2)) / mass
    return -cov / var.clamp(min=1e-6)


def size(images: Tensor) -> Tensor:
    """Area of the ink's bounding box as a fraction of the image (N,); 0 for an empty image."""
    ink = ink_mask(images)
    h, w = ink.shape[-2:]
    rows, cols = ink.amax(2), ink.amax(1)  # (N, H), (N, W): which rows / columns hold ink
    return extent(rows) * extent(cols) / (h * w)


def extent(occupied: Tensor) -> Tensor:
    """Length of the span from the first to the last occupied position of each row of ``occupied`` (N, L)."""
    positions = torch.arange(occupied.shape[1], device=occupied.device)
    first = torch.where(occupied > 0, positions, occupied.shape[1]).amin(1)
    last = torch.where(occupied > 0, positions, -1).amax(1)
    return (last - first + 1).clamp(min=0).float()


def bucket(values: Tensor, edges: tuple[float, float]) -> Tensor:
    """Level 0, 1 or 2 (int64) of each value: below the first edge, between the edges, above the second."""
    return torch.bucketize(values, torch.tensor(edges, dtype=values.dtype, device=values.device), right=True)


def attribute_levels(images: Tensor) -> Tensor:
    """(N, 3) int64 levels of (thickness, slant, size) of each image."""
    return torch.stack(
        [
            bucket(thickness(images), THICKNESS_EDGES),
            bucket(slant(images), SLANT_EDGES),
            bucket(size(images), SIZE_EDGES),
        ],
        dim=1,
    )


def tertiles(values: Tensor) -> tuple[float, float]:
    """The 1/3 and 2/3 quantiles of ``values``, rounded to 2 decimals (how the bucket edges were set)."""
    q = torch.quantile(values.float(), torch.tensor([1 / 3, 2 / 3]))
    return round(q[0].item(), 2), round(q[1].item(), 2)


if __name__ == "__main__":
    import sys

    from torchvision.datasets import MNIST

    digits = MNIST(sys.argv[1] if len(sys.argv) > 1 else "data", train=True, download=False).data
    for name, measure in (("thickness", thickness), ("slant", slant), ("size", size)):
        print(name, tertiles(measure(digits)))
