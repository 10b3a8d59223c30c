"""Latent-code sweeps of InfoGAN (Chen et al. 2016, Sec. 7.1 and Fig. 2): each row keeps one latent (noise and
every other code) fixed while the chosen code takes ``values`` along the row, so a column shows one code value
and a row shows what the code controls."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from zoo.errors import ZooError
from zoo.sampling import render, seeded

#: continuous codes are swept over [-2, 2], past the [-1, 1] they are trained on (Fig. 2 c-d)
CONTINUOUS_RANGE = (-2.0, 2.0)
CONTINUOUS_STEPS = 10


def code_columns(model, code: str) -> slice:
    """The latent columns of ``code``; a ZooError for models without codes."""
    if not hasattr(model, "code_columns"):
        raise ZooError(f"{type(model).__name__} has no latent codes: --vary_code needs an InfoGAN checkpoint")
    return model.code_columns(code)


def categories(model, code: str) -> int:
    """Categories of ``code`` (``categorical``, or ``cat1``, ``cat2`` ... for a model with several categorical
    codes); 0 for a continuous code (``c1``, ``c2`` ...)."""
    code_columns(model, code)  # names the problem for a model without codes or an unknown code
    return model.code_categories(code)


def default_values(model, code: str) -> list[float]:
    """Every category of a categorical code; 10 evenly spaced values over [-2, 2] for a continuous code."""
    k = categories(model, code)
    return list(range(k)) if k else torch.linspace(*CONTINUOUS_RANGE, CONTINUOUS_STEPS).tolist()


def vary_code_latents(model, code: str, values: Sequence[float] | None = None, rows: int = 8, seed: int = 0) -> Tensor:
    """(rows * len(values), latent_dim) latents: row r is latent r of ``seed`` repeated, with ``code`` set to
    each value in turn (a category index for a categorical code, the code's value for ``c1``, ``c2`` ...); every
    other column, the other categorical codes included, keeps its value."""
    columns, k = code_columns(model, code), categories(model, code)
    values = default_values(model, code) if values is None else list(values)
    if rows < 1 or not values:
        raise ZooError(f"a code sweep needs >= 1 row and >= 1 value, got {rows} rows and {len(values)} values")
    latents = model.sample_latent(rows, generator=seeded(seed)).cpu().repeat_interleave(len(values), dim=0)
    if k:
        if not all(float(v).is_integer() and 0 <= v < k for v in values):
            raise ZooError(f"{code}'s values are category indices 0..{k - 1}, got {values}")
        setting = torch.eye(k)[torch.tensor(values, dtype=torch.long)]
    else:
        setting = torch.tensor(values, dtype=latents.dtype)[:, None]
    latents[:, columns] = setting.repeat(rows, 1)
    return latents


def vary_code(model, code: str, values: Sequence[float] | None = None, rows: int = 8, seed: int = 0) -> Tensor:
    """Images (rows * len(values), C, H, W) of ``vary_code_latents``, from the EMA generator when there is one."""
    return render(model, vary_code_latents(model, code, values, rows, seed))
