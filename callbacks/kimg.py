"""Schedules in thousands of real images (kimg), the unit of the StyleGAN papers' intervals: it means the
same at any batch size, number of D steps or GPU count."""

from __future__ import annotations

import math


def next_grid_point(kimg: float, every_n_kimg: float) -> float:
    """The first multiple of ``every_n_kimg`` strictly after ``kimg``."""
    return (math.floor(kimg / every_n_kimg) + 1) * every_n_kimg
