"""Separable FIR resampling and the filters of StyleGAN2-ADA's augmentation pipeline (Karras et al. 2020,
"Training Generative Adversarial Networks with Limited Data", arXiv 2006.06676, App. B.1-B.2).

``upfirdn2d`` follows the semantics of NVlabs' ``upfirdn2d`` (stylegan2-ada-pytorch torch_utils/ops/upfirdn2d.py,
its reference path ``_upfirdn2d_ref``): insert ``up - 1`` zeros after every pixel, pad (negative: crop), convolve
rows and columns with the 1-D filter, keep every ``down``-th pixel. The geometric transforms resample through the
12-tap Symlet-6 low-pass filter; the image-space filter bank is built from the 4-tap Symlet-2 (App. B.2).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

#: low-pass decomposition filters of the Symlet wavelets (PyWavelets' ``sym2`` / ``sym6`` dec_lo, reversed as
#: NVlabs' training/augment.py ``wavelets`` table lists them)
SYM2 = (-0.12940952255092145, 0.22414386804185735, 0.836516303737469, 0.48296291314469025)
SYM6 = (
    0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633, 0.4910559419267466,
    0.787641141030194, 0.3379294217276218, -0.07263752278646252, -0.021060292512300564, 0.04472490177066578,
    0.0017677118642428036, -0.007800708325034148,
)  # fmt: skip

#: relative power of the filter bank's four frequency bands (a 1/f spectrum, App. B.2)
BAND_POWER = (10 / 13, 1 / 13, 1 / 13, 1 / 13)


def normalized_taps(taps) -> Tensor:
    """A 1-D float32 filter scaled to unit DC gain."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    return f / f.sum()


def axis_matrix(size: int, taps: Tensor, up: int = 1, down: int = 1, pad=(0, 0), flip=True, gain=1.0) -> Tensor:
    """The (out, size) matrix of one axis of ``upfirdn2d``: a signal of ``size`` samples is upsampled by zero
    insertion, padded by (before, after) (negative: cropped), convolved with the k ``taps`` (correlated when not
    ``flip``) times ``gain``, and every ``down``-th sample kept. Output q reads input i through tap
    i * up + before - q * down of the (flipped) filter, where that index lies in [0, k)."""
    f = (taps.flip(0) if flip else taps) * gain
    k = f.numel()
    before, after = pad
    outputs = torch.arange(0, size * up + before + after - k + 1, down, device=f.device)
    index = torch.arange(size, device=f.device)[None, :] * up + before - outputs[:, None]
    return f[index.clamp(0, k - 1)] * ((index >= 0) & (index < k))


#: the largest axis (after upsampling) filtered by matrix products; longer ones by depthwise convolutions
MATRIX_MAX_SIZE = 256


def upfirdn2d(x: Tensor, taps: Tensor, up: int = 1, down: int = 1, pad=(0, 0, 0, 0), flip: bool = True, gain=1.0):
    """(N, C, H, W) -> upsample by zero insertion, pad (x0, x1, y0, y1; negative crops), filter every channel
    with the separable 1-D ``taps`` (a true convolution when ``flip``, a correlation otherwise) times ``gain`` per
    axis, downsample by keeping every ``down``-th pixel. Small images go through one matrix product per axis (on
    CPUs much faster than depthwise convolutions, whose backward pass is slow), large ones through convolutions."""
    taps = taps.to(x.device, x.dtype)
    if max(x.shape[2:]) * up > MATRIX_MAX_SIZE:
        return upfirdn2d_by_convolution(x, taps, up, down, pad, flip, gain)
    rows = axis_matrix(x.shape[2], taps, up, down, pad[2:], flip, gain)
    cols = axis_matrix(x.shape[3], taps, up, down, pad[:2], flip, gain)
    return rows @ x @ cols.t()


def upfirdn2d_by_convolution(x: Tensor, taps: Tensor, up: int, down: int, pad, flip: bool, gain) -> Tensor:
    """``upfirdn2d`` step by step, as NVlabs' ``_upfirdn2d_ref``: zero insertion, padding, one depthwise
    convolution per axis, subsampling."""
    n, c, h, w = x.shape
    if up > 1:
        x = F.pad(x.reshape(n, c, h, 1, w, 1), [0, up - 1, 0, 0, 0, up - 1]).reshape(n, c, h * up, w * up)
    x0, x1, y0, y1 = pad
    x = F.pad(x, [max(x0, 0), max(x1, 0), max(y0, 0), max(y1, 0)])
    x = x[:, :, max(-y0, 0) : x.shape[2] - max(-y1, 0), max(-x0, 0) : x.shape[3] - max(-x1, 0)]
    f = (taps.flip(0) if flip else taps) * gain
    x = F.conv2d(x, f.reshape(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    x = F.conv2d(x, f.reshape(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return x[:, :, ::down, ::down]


def upsample2x(x: Tensor, taps: Tensor) -> Tensor:
    """(N, C, H, W) -> (N, C, 2H, 2W) as NVlabs' ``upsample2d(x, f, up=2)``: DC gain 1 (gain 2 per axis),
    paddings (k + 1) // 2 before and (k - 2) // 2 after for a k-tap filter."""
    k = taps.numel()
    before, after = (k + 1) // 2, (k - 2) // 2
    return upfirdn2d(x, taps, up=2, pad=(before, after, before, after), gain=2.0)


def downsample2x(x: Tensor, taps: Tensor, crop: int) -> Tensor:
    """NVlabs' ``downsample2d(x, f, down=2, padding=-crop, flip_filter=True)``: correlate with the filter, after
    cropping ``crop`` pixels off every side (less the filter's own (k - 1) // 2 and (k - 2) // 2), keep every second
    pixel."""
    k = taps.numel()
    before, after = (k - 1) // 2 - crop, (k - 2) // 2 - crop
    return upfirdn2d(x, taps, down=2, pad=(before, after, before, after), flip=False)


def banded(taps: Tensor, size: int) -> Tensor:
    """(B, size, size + k - 1) matrices whose row i holds image b's k ``taps`` from column i: a correlation of a
    signal padded by k - 1 samples, as a matrix product."""
    k = taps.shape[1]
    offset = torch.arange(size + k - 1, device=taps.device)[None, :] - torch.arange(size, device=taps.device)[:, None]
    inside = (offset >= 0) & (offset < k)
    return taps[:, offset.clamp(0, k - 1)] * inside


def filter_bank(low=SYM2) -> Tensor:
    """The image-space filter bank of App. B.2, (4, 43) for Symlet-2: row 0 the low-pass band, rows 1-3 the
    octaves above it, so that sum_i g_i * bank[i] with all g_i = 1 is the identity (a unit impulse).

    Built as NVlabs' ``AugmentPipe.__init__`` builds ``Hz_fbank``: with H(z) the low-pass filter, lo2 = H(z)
    H(1/z) / 2 and hi2 = H(-z) H(-1/z) / 2; start from one unit band; for each further band, upsample every row
    by two, convolve it with lo2, and add hi2 to the new band's row, centered."""
    lo = np.asarray(low, dtype=np.float64)
    hi = lo * (-1.0) ** np.arange(lo.size)
    lo2 = np.convolve(lo, lo[::-1]) / 2
    hi2 = np.convolve(hi, hi[::-1]) / 2
    bank = np.eye(4, 1)
    for band in range(1, 4):
        upsampled = np.zeros((4, bank.shape[1] * 2 - 1))
        upsampled[:, ::2] = bank
        bank = np.stack([np.convolve(row, lo2) for row in upsampled])
        start = (bank.shape[1] - hi2.size) // 2
        bank[band, start : start + hi2.size] += hi2
    return torch.as_tensor(bank, dtype=torch.float32)
