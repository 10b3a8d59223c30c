"""Schedules in thousands of real images (kimg), the unit of the StyleGAN papers' intervals: it means the
same at any batch size, number of D steps or GPU count."""

from __future__ import annotations

import math


def next_grid_point(kimg: float, every_n_kimg: float) -> float:
    """The first multiple of ``every_n_kimg`` strictly after ``kimg``."""
    return (math.floor(kimg / every_n_kimg) + 1) * every_n_kimg


def kimg_stem(images_seen: int, every_n_kimg: float) -> str:
    """The file name stem of a point of a kimg schedule, shared by periodic checkpoints and sample grids.

    A whole interval gives whole kimg in six digits, ``kimg000200``, as NVlabs' ``network-snapshot-000200.pkl``
    and ``fakes000200.png`` (stylegan2-ada-pytorch, training_loop.py). A fractional interval adds the images
    past the last whole kimg as three decimals, ``kimg000001.500``: exact to the image, so two grid points never
    share a name (with whole kimg alone, 1.0 and 1.5 would). The interval, fixed for a run, decides the form, so
    ``ls`` lists a run's files in time order."""
    whole, images = divmod(int(images_seen), 1000)
    if float(every_n_kimg).is_integer():
        return f"kimg{whole:06d}"
    return f"kimg{whole:06d}.{images:03d}"
