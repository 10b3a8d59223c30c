"""Multi-scale SSIM (Wang, Simoncelli and Bovik 2003) and the MS-SSIM diversity score of generated images
(Odena et al. 2017, ACGAN, Sec. 4.2; used again in PGGAN's Table 1, Karras et al. 2018).

MS-SSIM of two images, Wang et al. 2003, Eq. 7: with SSIM's luminance l, and contrast-structure cs
computed through an 11x11 Gaussian window (sigma 1.5, constants K1 = 0.01, K2 = 0.03, Eqs. 1-3 of the
SSIM paper), at M = 5 scales that halve the image (2x2 average) each time,

    MS-SSIM = l_M^{beta_M} * prod_{j=1..M} cs_j^{beta_j},  beta = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333).

Negative cs values are clipped to 0 before the powers (as TensorFlow's ssim_multiscale and torchmetrics do).
For images smaller than the window at a coarse scale the window shrinks to the image and its sigma with it
(as the MS-SSIM code of the PGGAN repository does), so 32 px images work.

Diversity: the mean MS-SSIM over random pairs of distinct generated images; lower means more diverse
(a collapsed generator scores near 1). ACGAN compares 100 pairs within a class; PGGAN 10,000 pairs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from datamodules.base import to_unit_range
from zoo.errors import ZooError

#: Wang et al. 2003, Sec. 3.2: the exponents of the 5 scales, finest first
WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def gaussian_window(size: int, sigma: float) -> Tensor:
    """A normalized 1D Gaussian of ``size`` taps centred on the middle one."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    window = torch.exp(-(x**2) / (2 * sigma**2))
    return window / window.sum()


def ssim_parts(x: Tensor, y: Tensor, data_range: float, size: int = 11, sigma: float = 1.5) -> tuple[Tensor, Tensor]:
    """Per image: the mean SSIM (l * cs) and the mean contrast-structure term cs, over every channel and
    every position where the window fits inside the image (a 'valid' filter)."""
    channels, full_size = x.shape[1], size
    size = min(full_size, x.shape[-2], x.shape[-1])
    window = gaussian_window(size, sigma * size / full_size).to(x)

    def blur(t: Tensor) -> Tensor:  # separable Gaussian, per channel
        t = F.conv2d(t, window.view(1, 1, 1, -1).expand(channels, 1, 1, size), groups=channels)
        return F.conv2d(t, window.view(1, 1, -1, 1).expand(channels, 1, size, 1), groups=channels)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y = blur(x), blur(y)
    var_x, var_y = blur(x * x) - mu_x**2, blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    cs = (2 * cov + c2) / (var_x + var_y + c2)
    luminance = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
    return (luminance * cs).mean(dim=(1, 2, 3)), cs.mean(dim=(1, 2, 3))


def ms_ssim(x: Tensor, y: Tensor, data_range: float = 2.0, weights: tuple[float, ...] = WEIGHTS) -> Tensor:
    """MS-SSIM of each pair (x[i], y[i]) of (N, C, H, W) images: (N,) values in [0, 1], 1 for equal images.
    ``data_range`` is max - min of the pixel values: 2 for [-1, 1], 255 for uint8 values as float."""
    if x.shape != y.shape or x.dim() != 4:
        raise ZooError(
            f"MS-SSIM compares two (N, C, H, W) batches of one shape, got {tuple(x.shape)}, {tuple(y.shape)}"
        )
    if min(x.shape[-2:]) < 2 ** (len(weights) - 1):
        raise ZooError(f"MS-SSIM at {len(weights)} scales needs images of at least {2 ** (len(weights) - 1)} px")
    x, y = x.double(), y.double()
    value = torch.ones(x.shape[0], dtype=torch.float64, device=x.device)
    for scale, weight in enumerate(weights):
        ssim, cs = ssim_parts(x, y, data_range)
        if scale == len(weights) - 1:
            value = value * ssim.clamp(min=0) ** weight  # l_M * cs_M at the coarsest scale
        else:
            value = value * cs.clamp(min=0) ** weight
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return value.float()


def ms_ssim_diversity(images: Tensor, num_pairs: int = 10_000, batch_size: int = 256, seed: int = 0) -> float:
    """Mean MS-SSIM over ``num_pairs`` random pairs of distinct images of a set (N >= 2, float in [-1, 1]
    or uint8); lower is more diverse."""
    n = images.shape[0]
    if n < 2:
        raise ZooError("MS-SSIM diversity needs at least 2 images")
    rng = torch.Generator().manual_seed(seed)
    first = torch.randint(n, (num_pairs,), generator=rng)
    second = (first + torch.randint(1, n, (num_pairs,), generator=rng)) % n  # never the same image
    total = 0.0
    for start in range(0, num_pairs, batch_size):
        i, j = first[start : start + batch_size], second[start : start + batch_size]
        total += float(ms_ssim(to_unit_range(images[i]), to_unit_range(images[j])).sum())
    return total / num_pairs
