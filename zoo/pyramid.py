"""The Laplacian pyramid of LAPGAN (Denton et al. 2015, "Deep Generative Image Models using a Laplacian Pyramid
of Adversarial Networks", arXiv 1506.05751, Sec. 3.1).

d(.) halves an image and u(.) doubles it. The Gaussian pyramid is I_0 = I, I_{k+1} = d(I_k); the Laplacian
pyramid's band-pass images are h_k = I_k - u(I_{k+1}) and its last level is the low-pass I_K itself (Eq. 3), so
I_k = u(I_{k+1}) + h_k rebuilds the image from the coarsest level up (Eq. 4), whatever d and u are.

d and u are the reference code's: facebook/eyescream builds each coarse image with Torch's
``image.scale`` in its default bilinear mode (cifar/datasets/coarse_to_fine_cifar10.lua, ``makeCoarse``), whose
C kernel (``scaleLinear_rowcol`` of torch/image's generic/image.c) averages the covered source pixels when it
shrinks (for a factor of 2: the mean of each 2x2 block) and interpolates linearly between the first and last
pixels when it grows (source position i * (n_src - 1) / (n_dst - 1): ``align_corners=True``).
"""

from __future__ import annotations

import itertools

import torch.nn.functional as F
from torch import Tensor


def downsample(image: Tensor) -> Tensor:
    """d(.): (N, C, H, W) -> (N, C, H/2, W/2), the mean of every 2x2 block (Torch ``image.scale`` shrinking)."""
    return F.avg_pool2d(image, 2)


def upsample(image: Tensor) -> Tensor:
    """u(.): (N, C, H, W) -> (N, C, 2H, 2W), bilinear through the corner pixels (Torch ``image.scale`` growing)."""
    return F.interpolate(image, scale_factor=2, mode="bilinear", align_corners=True)


def gaussian_pyramid(image: Tensor, levels: int) -> list[Tensor]:
    """[I_0, ..., I_{levels-1}]: the image and its ``levels - 1`` successive halvings, finest first."""
    pyramid = [image]
    for _ in range(levels - 1):
        pyramid.append(downsample(pyramid[-1]))
    return pyramid


def laplacian_pyramid(image: Tensor, levels: int) -> list[Tensor]:
    """[h_0, ..., h_{levels-2}, I_{levels-1}]: the band-pass images h_k = I_k - u(I_{k+1}), finest first, then
    the low-pass residual (Eq. 3)."""
    gaussian = gaussian_pyramid(image, levels)
    bands = [fine - upsample(coarse) for fine, coarse in itertools.pairwise(gaussian)]
    return [*bands, gaussian[-1]]


def reconstruct(pyramid: list[Tensor]) -> Tensor:
    """The image of a Laplacian pyramid (finest first): I_k = u(I_{k+1}) + h_k from the coarsest level (Eq. 4)."""
    image = pyramid[-1]
    for band in reversed(pyramid[:-1]):
        image = upsample(image) + band
    return image
