"""clean-fid's "clean" preprocessing, batched on the device.

Parmar, Zhang and Zhu, "On Aliased Resizing and Surprising Subtleties in GAN Evaluation" (CVPR 2022,
arXiv 2104.11222), Sec. 4: images are quantized to uint8 as they would be when saved, then resized to
the extractor's input size with PIL's antialiased bicubic filter on float32 values, one channel at a time
(clean-fid's ``make_resizer("PIL", False, "bicubic", (299, 299))``), and clipped to [0, 255].

PIL's resampling is separable and linear: a horizontal pass, rounded to float32, then a vertical pass, each
a weighted sum in double precision with the weights of ``pil_bicubic_weights``. ``clean_resize`` computes
the same two passes as float64 matrix products for a whole batch, so it equals clean-fid's per-image PIL
calls (to float32 rounding) without leaving the device.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from zoo.errors import ZooError

#: input size of the FID Inception network
CLEAN_SIZE = 299


def to_uint8(images: Tensor) -> Tensor:
    """Generator output in [-1, 1] -> uint8 [0, 255] as an image file stores it: ``floor((x + 1) * 127.5 + 0.5)``,
    clamped (rounding half up: torchvision's save_image and NVlabs' ``x * 127.5 + 128`` truncated). Every
    image the zoo writes or scores is quantized here, so FID sees exactly the pixels of a saved sample."""
    return images.float().add(1).mul_(127.5).add_(0.5).clamp_(0, 255).to(torch.uint8)


def bicubic(x: float, a: float = -0.5) -> float:
    """Keys' cubic convolution kernel with a = -0.5, PIL's BICUBIC filter (support 2)."""
    x = abs(x)
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    if x < 2.0:
        return (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return 0.0


@functools.lru_cache(maxsize=32)
def pil_bicubic_weights(in_size: int, out_size: int) -> Tensor:
    """(out_size, in_size) float64 resampling matrix of PIL's bicubic resize along one axis: output pixel
    ``i`` is centred at ``(i + 0.5) * scale`` in input pixels; when shrinking, the kernel is stretched by
    the scale (antialiasing); each row's taps are normalized to sum to 1 (Pillow's precompute_coeffs)."""
    scale = in_size / out_size
    stretch = max(scale, 1.0)
    support = 2.0 * stretch
    weights = torch.zeros(out_size, in_size, dtype=torch.float64)
    for i in range(out_size):
        center = (i + 0.5) * scale
        first, last = max(int(center - support + 0.5), 0), min(int(center + support + 0.5), in_size)
        taps = torch.tensor([bicubic((j - center + 0.5) / stretch) for j in range(first, last)], dtype=torch.float64)
        weights[i, first:last] = taps / taps.sum()
    return weights


def clean_resize(images: Tensor, size: int = CLEAN_SIZE) -> Tensor:
    """uint8 (N, C, H, W) images, C = 1 (shown as RGB, as PIL's convert("RGB") does) or 3 -> float32
    (N, 3, size, size) in [0, 255]: clean-fid's clean resize of every image, computed on the images' device."""
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ZooError(
            f"image metrics need uint8 images (N, 1 or 3, H, W), got {images.dtype} {tuple(images.shape)}: "
            "evaluate an image model on an image dataset"
        )
    height, width = images.shape[-2:]
    horizontal = pil_bicubic_weights(width, size).to(images.device)
    vertical = pil_bicubic_weights(height, size).to(images.device)
    x = images.double()
    if width != size:
        x = (x @ horizontal.T).float().double()  # PIL stores the horizontal pass as float32
    if height != size:
        x = vertical @ x
    return x.float().clamp_(0, 255).expand(-1, 3, -1, -1)
