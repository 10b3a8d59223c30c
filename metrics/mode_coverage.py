"""Mode coverage on 2D Gaussian mixtures: the VEEGAN/PacGAN protocol (REFERENCES.md).

VEEGAN (Srivastava et al. 2017, arXiv 1705.07761, Sec. 5.1) and PacGAN (Lin et al. 2018, arXiv
1712.04086, Sec. 5.1, Table 1): draw 2,500 samples; a sample is high quality (HQ) if it lies within
3 standard deviations of its nearest mode; a mode is captured if it is the nearest mode of at least
one HQ sample; report modes captured, % HQ, and the KL divergence of the HQ samples' mode histogram
from the uniform distribution over modes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


def ring_means(modes: int = 8, radius: float = 1.0) -> Tensor:
    """Means at (r cos 2πk/K, r sin 2πk/K), k = 0..K-1: K distinct points, none repeated."""
    angles = 2 * math.pi * torch.arange(modes, dtype=torch.float64) / modes
    return (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def grid_means(side: int = 5, spacing: float = 2.0) -> Tensor:
    """Means on a side x side grid centred at 0: {-4, -2, 0, 2, 4}^2 for the defaults."""
    axis = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    return torch.cartesian_prod(axis, axis)


#: name -> (means, standard deviation) of the reference mixtures
MIXTURES = {"ring": (ring_means(), 0.01), "grid": (grid_means(), 0.05)}


def kl_from_uniform(counts: Tensor) -> float:
    """KL(p || uniform) = sum_k p_k log(K p_k) for the histogram ``counts`` over K bins (0 log 0 = 0); inf for
    an empty histogram."""
    total = counts.sum()
    if total == 0:
        return math.inf
    p = counts.double() / total
    p = p[p > 0]
    return float((p * (p * len(counts)).log()).sum())


@dataclass(frozen=True)
class ModeCoverage:
    modes: int  # modes captured
    total_modes: int
    hq_fraction: float  # fraction of samples within 3 std of their nearest mode
    reverse_kl: float  # KL(HQ mode histogram || uniform); inf when no sample is HQ


def mode_coverage(samples: Tensor, means: Tensor, std: float, threshold_std: float = 3.0) -> ModeCoverage:
    """Scores ``samples`` (N, 2) against a mixture with ``means`` (K, 2) and isotropic ``std``."""
    dist = torch.cdist(samples.double(), means.double())
    nearest_dist, nearest = dist.min(dim=1)
    hq = nearest_dist <= threshold_std * std
    counts = torch.bincount(nearest[hq], minlength=len(means))
    return ModeCoverage(int((counts > 0).sum()), len(means), float(hq.double().mean()), kl_from_uniform(counts))
