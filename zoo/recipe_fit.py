"""Fits a recipe to the dataset it is given, before anything is built (issue 20, "the headline command at any scale").

A recipe (configs/<model>/<data>.yaml) holds what the paper used: ``configs/stylegan/ffhq.yaml`` trains 1024 px
with batch sizes up to 128. Given a 64-image zip of 32 px images, ``python cli.py fit --model stylegan --data ffhq
--data.root DATA`` should train at 32 px with batches the 64 images can fill, not fail. So, from the datamodule's
``extent()`` (image count and largest resolution, read without decoding):

1. Resolution: a recipe (or default) resolution larger than the images becomes the images' own; a resolution the
   user gave stays, and the datamodule refuses one the images cannot provide, naming ``--data.resolution``.
2. Scaled config: when the resolution came from the data, a model that knows how to scale its paper config
   (``scaled_config(resolution, devices)``: StyleGAN2-ADA's ``auto`` rule) replaces the values not given.
3. Batch sizes: each resolution's batch is the recipe's (``--progressive.batch_sizes``, else
   ``--data.batch_size``), capped by an explicit ``--data.batch_size`` and by one batch per device out of the
   dataset (the loader drops the last incomplete batch: datamodules/base.py), rounded down to whole minibatch
   stddev groups. A value the user gave that cannot fit is an error naming its flag.

Values given on the command line or in a ``--config`` file (a ``--preset``) count as given: they are kept.
"""

from __future__ import annotations

import copy
from typing import Any

from zoo.errors import ZooError
from zoo.resume import flags_given

#: the minibatch stddev group of the style and progressive models when no value is configured (their default)
DEFAULT_MBSTD_GROUP = 4


class Given:
    """Which config values the user set: a flag on the command line, or a value that differs from the parser's
    defaults (the recipe), as a ``--config`` file sets them."""

    def __init__(self, config, defaults, argv: list[str]):
        # a copy: the values this module sets are chosen, not given
        self.config, self.defaults, self.argv = copy.deepcopy(config), defaults, argv

    def __call__(self, key: str) -> bool:
        group, name = key.split(".", 1)
        if name.split(".")[0] in flags_given(self.argv, group):
            return True
        return self.config.get(key) != self.defaults.get(key)


def fitting_batch(wanted: int, limit: int, group: int) -> int:
    """``wanted`` when it fits, else ``limit`` rounded down to whole minibatch stddev groups (a batch smaller than
    a group is one group: G = min(group, N))."""
    if wanted <= limit:
        return wanted
    return limit - limit % group if limit >= group else limit


def fit_recipe_to_data(config, defaults, argv: list[str], model_cls: type, data_cls: type, devices: int) -> str | None:
    """Adjusts ``config`` (the subcommand's parsed config) to the dataset of ``config.data`` on ``devices``
    processes; returns one line saying what was chosen, or None when the recipe fits as it is."""
    extent = data_cls(**config.data.as_dict()).extent()
    if extent is None:
        return None
    given = Given(config, defaults, argv)
    notes = []
    resolution = config.data.get("resolution")
    larger = resolution is not None and extent.max_resolution is not None and resolution > extent.max_resolution
    if larger and not given("data.resolution"):  # a given one is refused by the datamodule, naming the flag
        config.data.resolution = extent.max_resolution
        notes.append(f"resolution {extent.max_resolution} (the configured {resolution} is larger than the images)")
        notes.extend(apply_scaled_config(config, given, model_cls, extent.max_resolution, devices))
    notes.extend(fit_batch_sizes(config, given, model_cls, extent.count, devices))
    if not notes:
        return None
    size = f", {extent.max_resolution} px" if extent.max_resolution else ""
    return f"fit to the data ({extent.count} images{size}): {'; '.join(notes)}"


def apply_scaled_config(config, given: Given, model_cls: type, resolution: int, devices: int) -> list[str]:
    """The model's ``scaled_config`` at ``resolution`` for every value not given; a note naming what changed."""
    scaled = getattr(model_cls, "scaled_config", None)
    if scaled is None:
        return []
    changed = {}
    for key, value in scaled(resolution, devices).items():
        if not given(key) and config.get(key) != value:
            config[key] = value
            changed[key] = value
    if not changed:
        return []
    values = ", ".join(f"{key} {value}" for key, value in changed.items())
    return [f"scaled as StyleGAN2-ADA's auto config at {resolution} px ({values})"]


def fit_batch_sizes(config, given: Given, model_cls: type, count: int, devices: int) -> list[str]:
    """Per-resolution (progressive models) or single batch sizes that one batch per device out of ``count``
    samples can fill; notes naming what changed."""
    if count < devices:
        raise ZooError(f"the dataset has {count} samples, fewer than the {devices} devices; lower --trainer.devices")
    limit = count // devices  # per device: the loader drops the last incomplete batch
    batch_size = config.data.batch_size
    if given("data.batch_size") and batch_size > limit:
        raise ZooError(
            f"--data.batch_size {batch_size} on {devices} device(s) needs {batch_size * devices} samples, the "
            f"dataset has {count}; lower --data.batch_size to at most {limit}"
        )
    group = mbstd_group(config.model)
    notes = []
    if "progressive" in config and hasattr(model_cls, "grow"):
        notes.extend(fit_progressive_batch_sizes(config, given, count, devices, limit, group))
    if not given("data.batch_size"):
        fitted = fitting_batch(batch_size, limit, group)
        if fitted != batch_size:
            config.data.batch_size = fitted
            notes.append(
                f"batch size {fitted} (the configured {batch_size} does not fit {count} samples on {devices} device(s))"
            )
    return notes


def fit_progressive_batch_sizes(config, given: Given, count: int, devices: int, limit: int, group: int) -> list[str]:
    """``--progressive.batch_sizes`` for every resolution from the first phase to the last (the model's)."""
    progressive = config.progressive
    table = {int(r): int(n) for r, n in (progressive.batch_sizes or {}).items()}
    table_given, cap = given("progressive.batch_sizes"), config.data.batch_size if given("data.batch_size") else None
    resolutions = []
    r = progressive.start_resolution
    while r <= config.data.resolution:
        resolutions.append(r)
        r *= 2
    fitted = {}
    for r in resolutions:
        wanted = table.get(r, config.data.batch_size)
        if table_given and r in table and wanted > limit:
            raise ZooError(
                f"--progressive.batch_sizes gives {wanted} at {r} px, but the dataset has {count} samples on "
                f"{devices} device(s); lower it to at most {limit}"
            )
        if table_given and r in table:  # the user's table entry, more specific than --data.batch_size
            fitted[r] = wanted
        elif cap is not None:  # an explicit --data.batch_size caps the recipe's table (it fits: checked above)
            fitted[r] = min(wanted, cap)
        else:
            fitted[r] = fitting_batch(wanted, limit, group)
    recipe = {r: table.get(r, config.data.batch_size) for r in resolutions}
    if fitted == recipe:
        return []
    progressive.batch_sizes = fitted
    return [f"batch sizes {fitted} (recipe: {recipe})"]


def mbstd_group(model_config: Any) -> int:
    """The configured minibatch stddev group (StyleGAN/PGGAN's mbstd_group_size, StyleGAN2's mbstd_group)."""
    for key in ("mbstd_group_size", "mbstd_group"):
        if model_config.get(key):
            return int(model_config.get(key))
    return DEFAULT_MBSTD_GROUP
