"""Sampling a trained GAN: interpolation strips, truncation sweeps, class rows, and sample files for
external evaluators. Pure functions over the GANModule contract (zoo/base.py): ``sample_latent``,
``sample_labels`` and ``generate`` (for a style generator: ``generator.mapping`` and ``generator.synthesis``),
run on the EMA generator when there is one, in eval mode.

Every function takes a ``seed``; latents are drawn on the host, so a seed gives the same samples on
any device (style generators with ``noise_mode`` random add fresh noise on each call).

``truncation`` means what the model's paper means: BigGAN's resampling of |z_i| > truncation in Z (Brock et al.
2019, Sec. 3.1), applied when the latents are drawn; for a style generator (StyleGAN, StyleGAN2) it is psi, the
truncation in W, w' = w_avg + psi (w - w_avg) (Karras et al. 2019, "A Style-Based Generator Architecture for
GANs", App. B), applied when rendering, on the ws below ``StyleOptions.truncation_cutoff``.
"""

from __future__ import annotations

import contextlib
import os
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from metrics.resize import to_uint8
from zoo.base import eval_mode
from zoo.errors import ZooError

#: the most images drawn into one grid picture (a grid of 50k samples would not fit in memory)
MAX_GRID_IMAGES = 1024


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def sampling_net(model) -> nn.Module:
    """The generator that samples: the EMA generator when there is one, else the training one."""
    return model.generator_ema if model.generator_ema is not None else model.generator


@dataclass(frozen=True)
class StyleOptions:
    """Sampling settings of style generators besides psi: only the ws below ``truncation_cutoff`` are truncated
    (None: all; StyleGAN's figures use 8, App. B), and ``noise_mode`` (random, const, none; None: the model's
    eval-mode default, ``sample_noise_mode``) sets the per-pixel noise inputs (Karras et al. 2019, Sec. 3.2)."""

    truncation_cutoff: int | None = None
    noise_mode: str | None = None


def is_style_model(model) -> bool:
    """A generator with ``mapping`` (z, y -> ws (N, num_ws, w_dim)) and ``synthesis`` (ws -> images): it
    truncates in W."""
    return hasattr(model.generator, "mapping") and hasattr(model.generator, "synthesis")


def require_style_model(model) -> None:
    """A ZooError naming the fix for a model without a style generator."""
    if not is_style_model(model):
        raise ZooError(
            f"{type(model).__name__} has no style generator (mapping and synthesis): --truncation_cutoff, "
            "--noise_mode, --style_mix and --space w need a stylegan or stylegan2 checkpoint; drop them"
        )


@torch.no_grad()
def styles(
    model, z: Tensor, y: Tensor | None = None, truncation: float | None = None, style: StyleOptions | None = None
) -> Tensor:
    """ws (N, num_ws, w_dim) on the model's device of a style generator, psi = ``truncation`` (None: 1)."""
    net, cutoff = sampling_net(model), (style or StyleOptions()).truncation_cutoff
    if cutoff is not None and not 0 <= cutoff <= net.synthesis.num_ws:
        raise ZooError(f"--truncation_cutoff must be in 0..{net.synthesis.num_ws} (the ws of this model), got {cutoff}")
    psi = 1.0 if truncation is None else truncation
    with eval_mode(net):
        y = None if y is None else y.to(model.device)
        return net.mapping(z.to(model.device), y, truncation_psi=psi, truncation_cutoff=cutoff, update_w_avg=False)


@torch.no_grad()
def synthesize(model, ws: Tensor, style: StyleOptions | None = None) -> Tensor:
    """Images (on the host) of a style generator for ws (N, num_ws, w_dim), with ``style``'s noise mode."""
    net = sampling_net(model)
    noise_mode = (style or StyleOptions()).noise_mode or model.hparams.get("sample_noise_mode", "random")
    with eval_mode(net):
        return net.synthesis(ws.to(model.device), noise_mode=noise_mode).float().cpu()


@torch.no_grad()
def render(
    model, z: Tensor, y: Tensor | None = None, truncation: float | None = None, style: StyleOptions | None = None
) -> Tensor:
    """Images (on the host) for latents ``z`` and labels ``y``. A style generator truncates in W here, with
    psi = ``truncation``; other models ignore ``truncation`` (``model.sample_latent`` truncated z)."""
    if style not in (None, StyleOptions()):
        require_style_model(model)
    if is_style_model(model):
        return synthesize(model, styles(model, z, y, truncation, style), style)
    net = sampling_net(model)
    with eval_mode(net):
        out = model.generate(net, z.to(model.device), None if y is None else y.to(model.device))
    return out.float().cpu()


# ------------------------------------------------------------------------------------ interpolation


def lerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Linear interpolation ``a + t (b - a)`` (broadcasting)."""
    return a + t * (b - a)


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical linear interpolation (Shoemake 1985), which White (2016, "Sampling Generative
    Networks", Sec. 2.1) recommends for Gaussian latents: with Ω the angle between ``a`` and ``b``,
    ``sin((1 - t) Ω) / sin Ω * a + sin(t Ω) / sin Ω * b``. Unit vectors stay on the unit sphere;
    (anti)parallel end points, where Ω is undefined, fall back to ``lerp``. Broadcasts over the last dim."""
    cos = (nn.functional.normalize(a, dim=-1) * nn.functional.normalize(b, dim=-1)).sum(-1, keepdim=True)
    omega = cos.clamp(-1, 1).acos()
    sin = omega.sin()
    parallel = sin.abs() < 1e-6
    sin = torch.where(parallel, torch.ones_like(sin), sin)
    curve = (((1 - t) * omega).sin() * a + (t * omega).sin() * b) / sin
    return torch.where(parallel, lerp(a, b, t), curve)


INTERPOLATIONS = {"linear": lerp, "slerp": slerp}


def interpolate(
    model,
    strips: int = 8,
    steps: int = 10,
    method: str = "slerp",
    seed: int = 0,
    truncation: float | None = None,
    style: StyleOptions | None = None,
) -> Tensor:
    """``strips`` rows of ``steps`` images, row i walking from latent a_i to latent b_i (end points
    included); a conditional model keeps one class along each row. Shape (strips * steps, C, H, W).
    zoo/style_sampling.py's ``interpolate_w`` walks in W instead."""
    if method not in INTERPOLATIONS:
        raise ZooError(f"unknown interpolation '{method}'; choose one of: {', '.join(INTERPOLATIONS)}")
    if strips < 1 or steps < 2:
        raise ZooError(f"an interpolation needs >= 1 strip and >= 2 steps, got {strips} and {steps}")
    z, y = interpolation_ends(model, strips, seed, truncation)
    t = torch.linspace(0, 1, steps).view(1, steps, 1)
    z = INTERPOLATIONS[method](z[:strips, None], z[strips:, None], t).flatten(0, 1)
    return render(model, z, None if y is None else y.repeat_interleave(steps), truncation, style)


def interpolation_ends(
    model, strips: int, seed: int = 0, truncation: float | None = None
) -> tuple[Tensor, Tensor | None]:
    """The latents (2 * strips, latent_dim) on the host, starts then ends, and one label per strip."""
    rng = seeded(seed)
    return model.sample_latent(2 * strips, generator=rng, truncation=truncation).cpu(), model.sample_labels(
        strips, generator=rng
    )


# ---------------------------------------------------------------------------------- grids by row


def truncation_sweep(
    model,
    truncations: Sequence[float | None],
    columns: int = 8,
    seed: int = 0,
    style: StyleOptions | None = None,
) -> Tensor:
    """One row of ``columns`` images per truncation value (None: untruncated), every row drawn from the
    same seed and with the same labels, so a column shows one sample pulled towards the mode as the
    threshold falls (BigGAN, Brock et al. 2019, Sec. 3.1 and Fig. 2a). Row r equals
    ``model.sample(columns, truncation=truncations[r], seed=seed)`` with the first row's labels. For a style
    generator the values are psi (1 for None), the same z in every row (StyleGAN App. B, Fig. 8)."""
    rows, labels = [], None
    for truncation in truncations:
        rng = seeded(seed)
        z = model.sample_latent(columns, generator=rng, truncation=truncation)
        if labels is None:
            labels = model.sample_labels(columns, generator=rng)
        rows.append(render(model, z, labels, truncation, style))
    return torch.cat(rows)


def class_grid(
    model,
    classes: Sequence[int],
    columns: int = 8,
    seed: int = 0,
    truncation: float | None = None,
    style: StyleOptions | None = None,
) -> Tensor:
    """One row of ``columns`` images per class, the same latents in every row, so a column shows one
    latent rendered as each class (as the class rows of ACGAN and BigGAN figures)."""
    if model.num_classes is None:
        raise ZooError(f"{type(model).__name__} is unconditional: class rows need a class-conditional model")
    outside = [c for c in classes if not 0 <= c < model.num_classes]
    if outside:
        raise ZooError(f"classes {outside} are outside 0..{model.num_classes - 1} of this model")
    z = model.sample_latent(columns, generator=seeded(seed), truncation=truncation)
    y = torch.tensor(list(classes), dtype=torch.long).repeat_interleave(columns)
    return render(model, z.repeat(len(classes), *([1] * (z.dim() - 1))), y, truncation, style)


def evenly_spaced_classes(num_classes: int, rows: int) -> list[int]:
    """``rows`` class indices spread over 0..num_classes-1 (all of them when there are few)."""
    if num_classes <= rows:
        return list(range(num_classes))
    return torch.linspace(0, num_classes - 1, rows).round().long().tolist()


# ------------------------------------------------------------------------------ files of samples


def load_inputs(
    model, latents: str | os.PathLike, labels: str | os.PathLike | None = None
) -> tuple[Tensor, Tensor | None]:
    """The latents a user holds (``sample --latents FILE.npy``: one latent per row, each flattening to the model's
    latent size, so pytorch/examples' (N, nz, 1, 1) works too) and their classes (``--labels FILE.npy``: one int
    per row; required by a conditional model, refused by an unconditional one), checked against ``model``."""
    z = torch.from_numpy(read_npy(latents, "--latents")).float()
    expected = model.sample_latent(1, generator=seeded(0)).shape[1:]
    if z.dim() < 2 or len(z) == 0 or z[0].numel() != expected.numel():
        raise ZooError(
            f"--latents {latents} holds an array of shape {tuple(z.shape)}; {type(model).__name__} takes one latent "
            f"of {expected.numel()} numbers per row"
        )
    z = z.reshape(len(z), *expected)
    if model.num_classes is None:
        if labels is not None:
            raise ZooError(f"{type(model).__name__} is unconditional: it takes no --labels")
        return z, None
    if labels is None:
        raise ZooError(f"{type(model).__name__} is class-conditional: give one class per latent with --labels FILE.npy")
    y = read_npy(labels, "--labels")
    if y.dtype.kind not in "iu" or y.shape not in ((len(z),), (len(z), 1)):
        raise ZooError(f"--labels {labels} must hold {len(z)} integer classes, one per latent; got {y.dtype} {y.shape}")
    y = torch.from_numpy(y.reshape(-1).astype(np.int64))
    if y.min() < 0 or y.max() >= model.num_classes:
        raise ZooError(f"--labels {labels} holds classes outside 0..{model.num_classes - 1} of this model")
    return z, y


def read_npy(path: str | os.PathLike, flag: str) -> np.ndarray:
    """A NumPy array file, without pickled objects; an unreadable one raises one ZooError naming the flag."""
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ZooError(f"{flag} {path} is not a readable .npy file: {err}".splitlines()[0]) from err


def sample_batches(
    model,
    num_samples: int,
    batch_size: int = 64,
    seed: int = 0,
    truncation: float | None = None,
    style: StyleOptions | None = None,
    inputs: tuple[Tensor, Tensor | None] | None = None,
) -> Iterator[tuple[Tensor, Tensor | None]]:
    """(images on the host, labels) ``batch_size`` at a time: the samples of ``model.sample(num_samples,
    truncation=truncation, seed=seed)`` (latents and labels drawn in the same order; a style generator's
    ``truncation`` is psi instead), never all images on the device at once. ``inputs``: the (latents, labels) to
    render instead, in their order (``load_inputs``), ``num_samples`` of them; a style generator still truncates
    them in W."""
    if num_samples < 1 or batch_size < 1:
        raise ZooError(f"num_samples and batch_size must be >= 1, got {num_samples} and {batch_size}")
    if inputs is None:
        rng = seeded(seed)
        inputs = (
            model.sample_latent(num_samples, generator=rng, truncation=truncation),
            model.sample_labels(num_samples, generator=rng),
        )
    elif len(inputs[0]) != num_samples:
        raise ZooError(f"{len(inputs[0])} latents are given, but {num_samples} samples were asked for")
    z, y = inputs[0].cpu(), None if inputs[1] is None else inputs[1].cpu()
    for start in range(0, num_samples, batch_size):
        labels = None if y is None else y[start : start + batch_size]
        yield render(model, z[start : start + batch_size], labels, truncation, style), labels


def grid_samples(
    model,
    num_samples: int,
    batch_size: int = 64,
    seed: int = 0,
    truncation: float | None = None,
    style: StyleOptions | None = None,
    inputs: tuple[Tensor, Tensor | None] | None = None,
) -> Tensor:
    """The samples of ``sample_batches`` in one host tensor, for a picture; more than
    ``MAX_GRID_IMAGES`` images raise a ZooError after the first batch (2D points are not limited)."""
    batches = []
    for images, _ in sample_batches(model, num_samples, batch_size, seed, truncation, style, inputs):
        if images.dim() == 4 and num_samples > MAX_GRID_IMAGES:
            raise ZooError(
                f"a grid of {num_samples} images is too large to draw; add --no-grid (--individual and --npz "
                f"write every sample) or use --num_samples <= {MAX_GRID_IMAGES}"
            )
        batches.append(images)
    return torch.cat(batches)


def dump(
    model,
    out_dir: str | os.PathLike,
    num_samples: int,
    npz: bool = True,
    png: bool = False,
    batch_size: int = 64,
    seed: int = 0,
    truncation: float | None = None,
    style: StyleOptions | None = None,
    inputs: tuple[Tensor, Tensor | None] | None = None,
) -> Path:
    """Writes ``num_samples`` samples (of ``inputs`` when given, see ``sample_batches``) for external evaluators,
    streamed batch by batch:

    - ``npz``: ``<out_dir>/samples.npz`` with ``arr_0`` uint8 (N, H, W, C), the layout the NVlabs,
      clean-fid and ADM (Dhariwal & Nichol 2021) evaluators read, plus ``arr_1`` int64 labels for a
      conditional model (as ADM's sampler writes them); built in a temporary file and renamed when complete.
    - ``png``: ``<out_dir>/000000.png`` ... one file per sample, grayscale or RGB.

    Returns ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target, partial = out_dir / "samples.npz", out_dir / ".samples.npz.partial"
    labels, index = [], 0
    try:
        with contextlib.ExitStack() as stack:
            archive = stack.enter_context(zipfile.ZipFile(partial, "w", allowZip64=True)) if npz else None
            stream = None
            for images, y in sample_batches(model, num_samples, batch_size, seed, truncation, style, inputs):
                if images.dim() != 4:
                    raise ZooError("this model generates points, not images: there is nothing to write as images")
                pixels = to_uint8(images).permute(0, 2, 3, 1).numpy()  # NHWC
                if archive is not None:
                    if stream is None:
                        stream = stack.enter_context(archive.open("arr_0.npy", "w", force_zip64=True))
                        header = {"descr": "|u1", "fortran_order": False, "shape": (num_samples, *pixels.shape[1:])}
                        np.lib.format.write_array_header_1_0(stream, header)
                    stream.write(np.ascontiguousarray(pixels).tobytes())
                if png:
                    for pixel in pixels:
                        Image.fromarray(pixel[..., 0] if pixel.shape[-1] == 1 else pixel).save(
                            out_dir / f"{index:06d}.png"
                        )
                        index += 1
                if y is not None:
                    labels.append(y)
            if stream is not None:
                stream.close()  # a zip has one open member at a time: arr_0 ends before arr_1 begins
            if archive is not None and labels:
                with archive.open("arr_1.npy", "w", force_zip64=True) as label_stream:
                    np.lib.format.write_array(label_stream, torch.cat(labels).numpy())
        if npz:
            os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return out_dir
