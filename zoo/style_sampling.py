"""Pictures particular to style generators (StyleGAN, Karras et al. 2019, "A Style-Based Generator Architecture
for GANs"; StyleGAN2, Karras et al. 2020): style-mixing grids (Sec. 3.1, Fig. 3) and interpolation in W (the
linear interpolation of the path length metric's W space, Sec. 4.1, Eq. 3). Built on zoo/sampling.py's
``styles`` (z -> ws, truncated in W) and ``synthesize`` (ws -> images)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from zoo.errors import ZooError
from zoo.sampling import (
    StyleOptions,
    interpolation_ends,
    lerp,
    require_style_model,
    sampling_net,
    seeded,
    styles,
    synthesize,
)

#: ws ranges [start, stop) of Fig. 3's groups, two ws per resolution from 4 px: coarse 4-8 px, middle 16-32 px,
#: fine 64 px and up (None: to the last w)
LAYER_GROUPS = {"coarse": (0, 4), "middle": (4, 8), "fine": (8, None)}


def num_ws(model) -> int:
    """The ws of the model's style generator; a ZooError for other models."""
    require_style_model(model)
    return sampling_net(model).synthesis.num_ws


def mix_layers(spec: str, count: int) -> range:
    """The ws that a style mix takes from the column seed: a group of ``LAYER_GROUPS`` or ``A-B`` (ws A to B,
    both included), clamped to the ``count`` ws of the model; a ZooError when malformed or empty."""
    if spec in LAYER_GROUPS:
        start, stop = LAYER_GROUPS[spec]
    else:
        try:
            start, last = (int(part) for part in spec.split("-"))
        except ValueError as err:
            raise ZooError(
                f"--mix_layers takes {', '.join(LAYER_GROUPS)} or a range of ws A-B, e.g. 0-3; got '{spec}'"
            ) from err
        if not 0 <= start <= last:
            raise ZooError(f"--mix_layers A-B needs 0 <= A <= B, got '{spec}'")
        stop = last + 1
    layers = range(min(start, count), count if stop is None else min(stop, count))
    if not layers:
        raise ZooError(f"--mix_layers {spec} is empty for this model's {count} ws; choose a range within 0-{count - 1}")
    return layers


def seed_lists(spec: str) -> tuple[list[int], list[int]]:
    """``ROW_SEEDS:COLUMN_SEEDS`` (e.g. ``1,2,3:10,11``) -> the two lists of seeds."""
    try:
        rows, columns = ([int(seed) for seed in part.split(",")] for part in spec.split(":"))
    except ValueError as err:
        raise ZooError(f"--style_mix takes ROW_SEEDS:COLUMN_SEEDS, e.g. 1,2,3:10,11,12; got '{spec}'") from err
    return rows, columns


def seed_styles(
    model, seeds: Sequence[int], truncation: float | None = None, style: StyleOptions | None = None
) -> Tensor:
    """ws (len(seeds), num_ws, w_dim) of one latent (and label) per seed, drawn as ``model.sample(1, seed=s)``."""
    latents, labels = [], []
    for seed in seeds:
        rng = seeded(seed)
        latents.append(model.sample_latent(1, generator=rng).cpu())
        labels.append(model.sample_labels(1, generator=rng))
    y = None if labels[0] is None else torch.cat(labels)
    return styles(model, torch.cat(latents), y, truncation, style)


def style_mixing(
    model,
    row_seeds: Sequence[int],
    column_seeds: Sequence[int],
    layers: range,
    truncation: float | None = None,
    style: StyleOptions | None = None,
) -> Tensor:
    """StyleGAN's Fig. 3 as (rows + 1) * (columns + 1) images, row-major: a blank (white) corner, the column
    seeds' images along the top, the row seeds' images down the left, and cell (r, c) the row seed's ws with the
    ws in ``layers`` taken from column seed c (``layers`` empty: the row image; all ws: the column image)."""
    if not row_seeds or not column_seeds:
        raise ZooError("--style_mix needs at least one row seed and one column seed, e.g. 1,2:3")
    rows = seed_styles(model, row_seeds, truncation, style)
    columns = seed_styles(model, column_seeds, truncation, style)
    mixed = torch.zeros(rows.shape[1], dtype=torch.bool, device=rows.device)
    mixed[layers.start : layers.stop] = True
    cells = torch.where(mixed[None, None, :, None], columns[None], rows[:, None]).flatten(0, 1)
    images = synthesize(model, torch.cat([columns, rows, cells]), style)
    top, left, cells = images.split([len(column_seeds), len(row_seeds), len(cells)])
    corner = torch.ones_like(top[:1])
    header = torch.cat([corner, top])
    body = torch.cat([left[:, None], cells.view(len(row_seeds), len(column_seeds), *cells.shape[1:])], dim=1)
    return torch.cat([header, body.flatten(0, 1)])


def interpolate_w(
    model,
    strips: int = 8,
    steps: int = 10,
    seed: int = 0,
    truncation: float | None = None,
    style: StyleOptions | None = None,
) -> Tensor:
    """``strips`` rows of ``steps`` images walking linearly in W (Eq. 3: W is not Gaussian, so no slerp) between
    the ws of the latents ``sampling.interpolate`` starts from (the same end points, with psi = ``truncation``);
    shape (strips * steps, C, H, W)."""
    if strips < 1 or steps < 2:
        raise ZooError(f"an interpolation needs >= 1 strip and >= 2 steps, got {strips} and {steps}")
    z, y = interpolation_ends(model, strips, seed)
    labels = None if y is None else y.repeat(2)
    ws = styles(model, z, labels, truncation, style)
    t = torch.linspace(0, 1, steps, device=ws.device).view(1, steps, 1, 1)
    return synthesize(model, lerp(ws[:strips, None], ws[strips:, None], t).flatten(0, 1), style)
