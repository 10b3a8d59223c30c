"""The adaptive discriminator augmentation pipeline of StyleGAN2-ADA (Karras et al. 2020, "Training Generative
Adversarial Networks with Limited Data", arXiv 2006.06676, Sec. 2-3 and App. B), as NVlabs' stylegan2-ada-pytorch
implements it (training/augment.py ``AugmentPipe``; pipelines by name as its train.py ``augpipe_specs``).

18 transformations in 6 groups, applied in this order, each to each image with probability p times its multiplier
(App. B; Fig. 2's "stochastic non-leaking augmentations"):

- pixel blitting: x-flip, 90-degree rotations, integer translation (up to 1/8 of the image);
  Blits run through the geometric resampling below, as in the reference, so they move pixels exactly only for
  integer translations (the asymmetric Symlet-6 filter shifts the phase of flips and quarter turns slightly);
- general geometric: isotropic scaling (log2-normal, std 0.2), pre-rotation, anisotropic scaling (log2-normal,
  std 0.2), post-rotation (each rotation with 1 - sqrt(1 - p), so that P(any rotation) = p), fractional
  translation (normal, std 1/8 of the image). Blitting and geometric transforms compose into one 3x3 matrix per
  image, executed once: reflect padding, 2x upsampling with the Symlet-6 filter, bilinear ``grid_sample``,
  filtered 2x downsampling (App. B.1);
- color: brightness (normal, std 0.2), contrast (log2-normal, std 0.5), luma flip, hue rotation (uniform, a full
  circle), saturation (log2-normal, std 1), composed into one 4x4 matrix per image (hue and saturation only for
  RGB; a grayscale image takes the mean of the matrix's rows);
- image-space filtering: each of 4 frequency bands amplified by a log2-normal gain (std 1), power-normalized to a
  1/f spectrum (App. B.2);
- additive noise: Gaussian with a half-normal std (0.1);
- cutout: a square of half the image size zeroed at a uniform center.

Everything is differentiable w.r.t. the images, so D's gradient reaches G through it. ``draw_parameters`` draws
the random parameters in the reference's order (so one seeded generator gives the reference's values) and
``apply_augment`` applies given parameters; ``AdaPipeline`` joins them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.augment.fir import BAND_POWER, SYM6, banded, downsample2x, filter_bank, normalized_taps, upsample2x
from zoo.errors import ZooError

#: the probability multipliers of each named pipeline (NVlabs' train.py ``augpipe_specs``)
BLIT = ("xflip", "rotate90", "xint")
GEOM = ("scale", "rotate", "aniso", "xfrac")
COLOR = ("brightness", "contrast", "lumaflip", "hue", "saturation")
PIPELINES = {
    "blit": BLIT,
    "geom": GEOM,
    "color": COLOR,
    "filter": ("imgfilter",),
    "noise": ("noise",),
    "cutout": ("cutout",),
    "bg": BLIT + GEOM,
    "bgc": BLIT + GEOM + COLOR,
    "bgcf": BLIT + GEOM + COLOR + ("imgfilter",),
    "bgcfn": BLIT + GEOM + COLOR + ("imgfilter", "noise"),
    "bgcfnc": BLIT + GEOM + COLOR + ("imgfilter", "noise", "cutout"),
}


@dataclass(frozen=True)
class Strengths:
    """The transformations' ranges (``AugmentPipe``'s defaults, App. B): the largest integer translation and the
    std of the fractional one (fractions of the image), log2 stds of the scalings, contrast, saturation and filter
    gains, rotation and hue ranges (1 = a full circle), brightness and noise stds, the cutout size."""

    xint_max: float = 0.125
    scale_std: float = 0.2
    rotate_max: float = 1.0
    aniso_std: float = 0.2
    xfrac_std: float = 0.125
    brightness_std: float = 0.2
    contrast_std: float = 0.5
    hue_max: float = 1.0
    saturation_std: float = 1.0
    imgfilter_std: float = 1.0
    noise_std: float = 0.1
    cutout_size: float = 0.5


@dataclass
class AugmentParams:
    """One batch's transformation parameters, identity where a transform was not drawn; None for a transform the
    pipeline lacks. Shapes (B = batch): xflip, rotate90 (B,) in {0, 1} and {0..3}; xint (B, 2) in fractions of the
    image (rounded to pixels when applied); scale, aniso (B,) factors; rotate_pre, rotate_post (B,) radians; xfrac
    (B, 2) fractions of the image; brightness (B,) offsets; contrast (B,) factors; lumaflip (B,) in {0, 1}; hue (B,)
    radians; saturation (B,) factors; imgfilter (B, 4) band gains; noise (B, C, H, W) the noise already scaled by
    its per-image std; cutout_size (B,) and cutout_center (B, 2) fractions of the image."""

    xflip: Tensor | None = None
    rotate90: Tensor | None = None
    xint: Tensor | None = None
    scale: Tensor | None = None
    rotate_pre: Tensor | None = None
    aniso: Tensor | None = None
    rotate_post: Tensor | None = None
    xfrac: Tensor | None = None
    brightness: Tensor | None = None
    contrast: Tensor | None = None
    lumaflip: Tensor | None = None
    hue: Tensor | None = None
    saturation: Tensor | None = None
    imgfilter: Tensor | None = None
    noise: Tensor | None = None
    cutout_size: Tensor | None = None
    cutout_center: Tensor | None = None


GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate_pre", "aniso", "rotate_post", "xfrac")
COLORS = ("brightness", "contrast", "lumaflip", "hue", "saturation")


def check_pipeline(name: str) -> tuple[str, ...]:
    """The transforms of pipeline ``name``, refusing unknown names."""
    if name not in PIPELINES:
        raise ZooError(f"unknown augment_pipe '{name}'; choose one of: {', '.join(PIPELINES)}")
    return PIPELINES[name]


def draw_parameters(
    transforms: tuple[str, ...],
    p: Tensor | float,
    shape: tuple[int, int, int, int],
    generator: torch.Generator | None = None,
    strengths: Strengths = Strengths(),
) -> AugmentParams:
    """Draws one batch's parameters for the images of ``shape`` (B, C, H, W): each transform in ``transforms``
    is applied to each image with probability ``p`` (a tensor stays on its device: no host sync), identity
    otherwise. The draws happen in ``AugmentPipe.forward``'s order, one uniform gate after each value."""
    b, c, h, w = shape
    device = generator.device if generator is not None else (p.device if isinstance(p, Tensor) else None)
    s = strengths
    on = set(transforms)
    out = AugmentParams()

    def rand(*size):
        return torch.rand(size, generator=generator, device=device)

    def randn(*size):
        return torch.randn(size, generator=generator, device=device)

    def gate(value: Tensor, identity: float, probability) -> Tensor:
        keep = rand(*value.shape[:1], *(1,) * (value.dim() - 1)) < probability
        return torch.where(keep, value, torch.full_like(value, identity))

    if "xflip" in on:
        out.xflip = gate(torch.floor(rand(b) * 2), 0, p)
    if "rotate90" in on:
        out.rotate90 = gate(torch.floor(rand(b) * 4), 0, p)
    if "xint" in on:
        out.xint = gate((rand(b, 2) * 2 - 1) * s.xint_max, 0, p)
    if "scale" in on:
        out.scale = gate(torch.exp2(randn(b) * s.scale_std), 1, p)
    p_rot = 1 - torch.sqrt(torch.as_tensor(1 - p, device=device).clamp(0, 1))  # P(pre or post) = p
    if "rotate" in on:
        out.rotate_pre = gate((rand(b) * 2 - 1) * math.pi * s.rotate_max, 0, p_rot)
    if "aniso" in on:
        out.aniso = gate(torch.exp2(randn(b) * s.aniso_std), 1, p)
    if "rotate" in on:
        out.rotate_post = gate((rand(b) * 2 - 1) * math.pi * s.rotate_max, 0, p_rot)
    if "xfrac" in on:
        out.xfrac = gate(randn(b, 2) * s.xfrac_std, 0, p)
    if "brightness" in on:
        out.brightness = gate(randn(b) * s.brightness_std, 0, p)
    if "contrast" in on:
        out.contrast = gate(torch.exp2(randn(b) * s.contrast_std), 1, p)
    if "lumaflip" in on:
        out.lumaflip = gate(torch.floor(rand(b) * 2), 0, p)
    if "hue" in on and c > 1:
        out.hue = gate((rand(b) * 2 - 1) * math.pi * s.hue_max, 0, p)
    if "saturation" in on and c > 1:
        out.saturation = gate(torch.exp2(randn(b) * s.saturation_std), 1, p)
    if "imgfilter" in on:
        gains = [gate(torch.exp2(randn(b) * s.imgfilter_std), 1, p) for _ in BAND_POWER]
        out.imgfilter = torch.stack(gains, dim=1)
    if "noise" in on:
        sigma = gate(randn(b).abs() * s.noise_std, 0, p)
        out.noise = randn(b, c, h, w) * sigma[:, None, None, None]
    if "cutout" in on:
        out.cutout_size = gate(torch.full((b,), s.cutout_size, device=device), 0, p)
        out.cutout_center = rand(b, 2)
    return out


# ----------------------------------------------------------------------------------- homogeneous matrices


def _matrix(rows: list[list], like: Tensor) -> Tensor:
    """A batch of matrices (B, R, K) from rows of per-image (B,) tensors and constants."""
    entries = [x if isinstance(x, Tensor) else torch.full_like(like, float(x)) for row in rows for x in row]
    return torch.stack(entries, dim=-1).reshape(like.shape[0], len(rows), -1)


def translate2d(tx, ty, like: Tensor) -> Tensor:
    return _matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]], like)


def scale2d(sx, sy, like: Tensor) -> Tensor:
    return _matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], like)


def rotate2d(theta: Tensor) -> Tensor:
    cos, sin = torch.cos(theta), torch.sin(theta)
    return _matrix([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]], theta)


def geometric_matrix(params: AugmentParams, width: int, height: int, like: Tensor) -> Tensor:
    """G^-1 (B, 3, 3), mapping output pixels to input pixels (coordinates centered on the image): the inverse of
    each drawn transform, right-multiplied in the pipeline's order."""
    g = torch.eye(3, device=like.device).expand(like.shape[0], 3, 3)
    if params.xflip is not None:
        g = g @ scale2d(1 / (1 - 2 * params.xflip), 1, like)
    if params.rotate90 is not None:
        g = g @ rotate2d(math.pi / 2 * params.rotate90)
    if params.xint is not None:
        t = params.xint
        g = g @ translate2d(-torch.round(t[:, 0] * width), -torch.round(t[:, 1] * height), like)
    if params.scale is not None:
        g = g @ scale2d(1 / params.scale, 1 / params.scale, like)
    if params.rotate_pre is not None:
        g = g @ rotate2d(params.rotate_pre)
    if params.aniso is not None:
        g = g @ scale2d(1 / params.aniso, params.aniso, like)
    if params.rotate_post is not None:
        g = g @ rotate2d(params.rotate_post)
    if params.xfrac is not None:
        g = g @ translate2d(-params.xfrac[:, 0] * width, -params.xfrac[:, 1] * height, like)
    return g


def color_matrix(params: AugmentParams, like: Tensor) -> Tensor:
    """C (B, 4, 4) acting on homogeneous RGB colors: each drawn transform left-multiplied in order. Luma flip is
    the Householder reflection about the luma axis v = (1, 1, 1) / sqrt(3); hue rotates about v; saturation
    scales the components orthogonal to v."""
    eye = torch.eye(4, device=like.device)
    c = eye.expand(like.shape[0], 4, 4)
    v = torch.tensor([1.0, 1.0, 1.0, 0.0], device=like.device) / math.sqrt(3)
    vv = torch.outer(v, v)
    if params.brightness is not None:
        b = params.brightness
        c = _matrix([[1, 0, 0, b], [0, 1, 0, b], [0, 0, 1, b], [0, 0, 0, 1]], like) @ c
    if params.contrast is not None:
        k = params.contrast
        c = _matrix([[k, 0, 0, 0], [0, k, 0, 0], [0, 0, k, 0], [0, 0, 0, 1]], like) @ c
    if params.lumaflip is not None:
        c = (eye - 2 * vv * params.lumaflip[:, None, None]) @ c
    if params.hue is not None:
        c = _rotate_about(v, params.hue) @ c
    if params.saturation is not None:
        c = (vv + (eye - vv) * params.saturation[:, None, None]) @ c
    return c


def _rotate_about(v: Tensor, theta: Tensor) -> Tensor:
    """(B, 4, 4) rotations by ``theta`` about the unit axis v (Rodrigues' formula)."""
    x, y, z = v[0], v[1], v[2]
    s, c = torch.sin(theta), torch.cos(theta)
    cc = 1 - c
    return _matrix(
        [
            [x * x * cc + c, x * y * cc - z * s, x * z * cc + y * s, 0],
            [y * x * cc + z * s, y * y * cc + c, y * z * cc - x * s, 0],
            [z * x * cc - y * s, z * y * cc + x * s, z * z * cc + c, 0],
            [0, 0, 0, 1],
        ],
        theta,
    )


# ------------------------------------------------------------------------------------------- execution


def resample(images: Tensor, g_inv: Tensor, taps: Tensor) -> Tensor:
    """Executes G^-1 (App. B.1, NVlabs' "Execute geometric transformations"): reflect-pads the images by what
    the transformed corners plus the filter support reach (at most the image size - 1), upsamples 2x with the
    low-pass ``taps``, samples bilinearly at G^-1 of every output pixel, and downsamples 2x with the same filter.

    The padding is an integer the host must know: one device-to-host copy per call, as in the reference."""
    b, c, h, w = images.shape
    cx, cy = (w - 1) / 2, (h - 1) / 2
    corners = torch.tensor([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]], device=images.device)
    reach = (g_inv @ corners.t())[:, :2, :].permute(1, 0, 2).flatten(1)  # (xy, B * 4)
    support = taps.numel() // 4  # filter pixels a side, at the input resolution
    margin = torch.cat([-reach, reach]).max(dim=1).values  # (x0, y0, x1, y1)
    margin = margin + torch.tensor([support * 2 - cx, support * 2 - cy] * 2, device=images.device)
    low, high = torch.zeros(4, device=images.device), torch.tensor([w - 1, h - 1] * 2, device=images.device)
    mx0, my0, mx1, my1 = margin.clamp(low, high).ceil().to(torch.int32).tolist()

    images = F.pad(images, [mx0, mx1, my0, my1], mode="reflect")
    g = translate2d((mx0 - mx1) / 2, (my0 - my1) / 2, g_inv[:, 0, 0]) @ g_inv
    images = upsample2x(images, taps.to(images.device))
    like = g[:, 0, 0]
    g = scale2d(2, 2, like) @ g @ scale2d(0.5, 0.5, like)
    g = translate2d(-0.5, -0.5, like) @ g @ translate2d(0.5, 0.5, like)
    out_h, out_w = (h + support * 2) * 2, (w + support * 2) * 2
    g = scale2d(2 / images.shape[3], 2 / images.shape[2], like) @ g @ scale2d(out_w / 2, out_h / 2, like)
    grid = F.affine_grid(g[:, :2, :], [b, c, out_h, out_w], align_corners=False)
    images = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return downsample2x(images, taps.to(images.device), crop=support * 2)


def recolor(images: Tensor, c: Tensor) -> Tensor:
    """Applies the color matrix: RGB as homogeneous vectors; grayscale with the mean of its 3 color rows."""
    b, channels, h, w = images.shape
    flat = images.reshape(b, channels, h * w)
    if channels == 3:
        flat = c[:, :3, :3] @ flat + c[:, :3, 3:]
    elif channels == 1:
        rows = c[:, :3, :].mean(dim=1, keepdim=True)
        flat = flat * rows[:, :, :3].sum(dim=2, keepdim=True) + rows[:, :, 3:]
    else:
        raise ZooError(f"color augmentation needs RGB or grayscale images, got {channels} channels")
    return flat.reshape(b, channels, h, w)


def band_filter(images: Tensor, gains: Tensor, bank: Tensor) -> Tensor:
    """Image-space filtering (App. B.2): the per-image gains of the 4 bands, each band's gain vector normalized
    to the expected 1/f power, multiplied, form one separable symmetric filter per image, applied with reflect
    padding."""
    h, w = images.shape[2:]
    pad = bank.shape[1] // 2
    if min(h, w) <= pad:
        raise ZooError(
            f"the image-space filter (augment_pipe bgcf, bgcfn, bgcfnc, filter) pads {pad} pixels by reflection and "
            f"needs images of >= {pad + 1} px, got {h}x{w}; use a pipeline without filtering (bgc)"
        )
    power = torch.tensor(BAND_POWER, device=images.device)
    total = torch.ones_like(gains)
    for band in range(gains.shape[1]):
        t = torch.ones_like(gains)
        t[:, band] = gains[:, band]
        t = t / (power * t.square()).sum(dim=-1, keepdim=True).sqrt()
        total = total * t
    taps = total @ bank.to(images.device)  # (B, taps): symmetric, so correlation = convolution
    x = F.pad(images, [pad] * 4, mode="reflect")
    return banded(taps, h)[:, None] @ x @ banded(taps, w)[:, None].transpose(2, 3)


def cut_out(images: Tensor, size: Tensor, center: Tensor) -> Tensor:
    """Zeroes, per image, the pixels whose centers lie within size / 2 of ``center`` on both axes."""
    _, _, h, w = images.shape
    x = (torch.arange(w, device=images.device) + 0.5) / w
    y = (torch.arange(h, device=images.device) + 0.5) / h
    outside_x = (x[None, :] - center[:, :1]).abs() >= size[:, None] / 2  # (B, W)
    outside_y = (y[None, :] - center[:, 1:]).abs() >= size[:, None] / 2  # (B, H)
    keep = outside_x[:, None, None, :] | outside_y[:, None, :, None]
    return images * keep.to(images.dtype)


def apply_augment(images: Tensor, params: AugmentParams, geometric_taps: Tensor, bank: Tensor) -> Tensor:
    """Applies ``params`` to (B, C, H, W) images in the pipeline's order: one geometric resampling (when the
    pipeline has blitting or geometric transforms), one color matrix, the band filter, noise, cutout."""
    b, _, h, w = images.shape
    like = torch.zeros(b, device=images.device)
    if any(getattr(params, name) is not None for name in GEOMETRIC):
        images = resample(images, geometric_matrix(params, w, h, like), geometric_taps)
    if any(getattr(params, name) is not None for name in COLORS):
        images = recolor(images, color_matrix(params, like))
    if params.imgfilter is not None:
        images = band_filter(images, params.imgfilter, bank)
    if params.noise is not None:
        images = images + params.noise
    if params.cutout_size is not None:
        images = cut_out(images, params.cutout_size, params.cutout_center)
    return images


class AdaPipeline(nn.Module):
    """The pipeline ``name`` (PIPELINES) with the strengths of App. B: ``forward(images, p, generator)`` draws
    parameters with probability ``p`` and applies them. Holds the filters as non-persistent buffers."""

    def __init__(self, name: str = "bgc", strengths: Strengths = Strengths()):
        super().__init__()
        self.transforms = check_pipeline(name)
        self.strengths = strengths
        self.register_buffer("geometric_taps", normalized_taps(SYM6), persistent=False)
        self.register_buffer("bank", filter_bank(), persistent=False)

    def draw(self, shape, p, generator: torch.Generator | None = None) -> AugmentParams:
        return draw_parameters(self.transforms, p, shape, generator, self.strengths)

    def apply(self, images: Tensor, params: AugmentParams) -> Tensor:
        return apply_augment(images, params, self.geometric_taps, self.bank)

    def forward(self, images: Tensor, p, generator: torch.Generator | None = None) -> Tensor:
        return self.apply(images, self.draw(tuple(images.shape), p, generator))
