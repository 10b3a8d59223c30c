"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training", arXiv 2006.10738,
Sec. 3 and Fig. 4), as its authors' mit-han-lab/data-efficient-gans DiffAugment_pytorch.py implements it: every
image D sees (real and fake) goes through the policy's differentiable transforms, always (no probability):

- color: brightness + U(-0.5, 0.5); saturation: the deviation from the per-pixel channel mean times U(0, 2);
  contrast: the deviation from the image mean times U(0.5, 1.5);
- translation: an integer shift of up to 1/8 of the image size on each axis, zeros filled in;
- cutout: a square of half the image size (rounded) zeroed at a uniform offset, clipped at the borders.

The random values are drawn in the reference's order (so one seeded generator gives its values).
"""

from __future__ import annotations

import torch
from torch import Tensor

from zoo.errors import ZooError

POLICIES = ("color", "translation", "cutout")


def _rand(x: Tensor, generator: torch.Generator | None) -> Tensor:
    device = generator.device if generator is not None else x.device
    return torch.rand(x.shape[0], 1, 1, 1, generator=generator, device=device).to(x.device, x.dtype)


def _randint(low: int, high: int, n: int, generator: torch.Generator | None, like: Tensor) -> Tensor:
    device = generator.device if generator is not None else like.device
    return torch.randint(low, high, (n, 1, 1), generator=generator, device=device).to(like.device)


def color(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Brightness, saturation, contrast, in this order."""
    x = x + (_rand(x, generator) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(x, generator) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(x, generator) + 0.5) + mean


def translation(x: Tensor, generator: torch.Generator | None = None, ratio: float = 0.125) -> Tensor:
    """Shifts image n by (dy_n, dx_n) pixels, each uniform in [-round(ratio * size), round(ratio * size)]: output
    pixel (i, j) reads input (i + dy, j + dx), zero where that falls outside."""
    n, _, h, w = x.shape
    shift_h, shift_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = _randint(-shift_h, shift_h + 1, n, generator, x)
    dx = _randint(-shift_w, shift_w + 1, n, generator, x)
    rows = torch.arange(h, device=x.device)[None, :, None] + dy + 1  # indices into the 1-pixel zero-padded image
    cols = torch.arange(w, device=x.device)[None, None, :] + dx + 1
    rows, cols = rows.clamp(0, h + 1), cols.clamp(0, w + 1)
    padded = torch.nn.functional.pad(x, [1, 1, 1, 1])
    batch = torch.arange(n, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x: Tensor, generator: torch.Generator | None = None, ratio: float = 0.5) -> Tensor:
    """Zeroes a (round(ratio * h), round(ratio * w)) rectangle per image whose center offset is uniform over the
    image (one position more for even sizes, as the reference draws it), clipped at the borders."""
    n, _, h, w = x.shape
    size_h, size_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = _randint(0, h + (1 - size_h % 2), n, generator, x) - size_h // 2  # (n, 1, 1)
    left = _randint(0, w + (1 - size_w % 2), n, generator, x) - size_w // 2
    rows = torch.arange(h, device=x.device)[None, :, None]
    cols = torch.arange(w, device=x.device)[None, None, :]
    inside = (rows >= top) & (rows < top + size_h) & (cols >= left) & (cols < left + size_w)
    return x * (~inside).to(x.dtype)[:, None]


TRANSFORMS = {"color": color, "translation": translation, "cutout": cutout}


def parse_policy(policy: str) -> tuple[str, ...]:
    """``color,translation,cutout`` -> its names, refusing unknown ones."""
    names = tuple(name.strip() for name in policy.split(",") if name.strip())
    unknown = [name for name in names if name not in TRANSFORMS]
    if unknown or not names:
        raise ZooError(
            f"diffaugment_policy '{policy}' must list some of {', '.join(POLICIES)}, comma-separated; "
            f"unknown: {', '.join(unknown) or 'none given'}"
        )
    return names


def diff_augment(x: Tensor, policy: tuple[str, ...], generator: torch.Generator | None = None) -> Tensor:
    """Applies the policy's transforms in the given order to (N, C, H, W) images."""
    for name in policy:
        x = TRANSFORMS[name](x, generator)
    return x.contiguous()
