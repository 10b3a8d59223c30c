"""Schedules and the training budget in thousands of real images (kimg), the unit of the StyleGAN papers'
intervals and of NVlabs' ``--kimg``: it means the same at any batch size, number of D steps or GPU count."""

from __future__ import annotations

import math
import sys

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback

from zoo.errors import ZooError


def next_grid_point(kimg: float, every_n_kimg: float) -> float:
    """The first multiple of ``every_n_kimg`` strictly after ``kimg``."""
    return (math.floor(kimg / every_n_kimg) + 1) * every_n_kimg


def kimg_stem(images_seen: int, every_n_kimg: float) -> str:
    """The file name stem of a point of a kimg schedule, shared by periodic checkpoints and sample grids.

    A whole interval gives whole kimg in six digits, ``kimg000200``, as NVlabs' ``network-snapshot-000200.pkl``
    and ``fakes000200.png`` (stylegan2-ada-pytorch, training_loop.py). A fractional interval adds the images
    past the last whole kimg as three decimals, ``kimg000001.500``: exact to the image, so two grid points never
    share a name (with whole kimg alone, 1.0 and 1.5 would). The interval, fixed for a run, decides the form, so
    ``ls`` lists a run's files in time order."""
    whole, images = divmod(int(images_seen), 1000)
    if float(every_n_kimg).is_integer():
        return f"kimg{whole:06d}"
    return f"kimg{whole:06d}.{images:03d}"


def kimg_images(kimg: float) -> int:
    """``kimg`` thousand images as a whole number of images (``0.1`` is 100, not 100.00000000000001)."""
    return math.ceil(round(kimg * 1000, 6))


class KimgBudget(Callback):
    """Ends training at the first iteration boundary where ``images_seen`` (summed over ranks, so every rank stops
    at the same iteration) reaches ``max_kimg`` thousand images: NVlabs' ``--kimg``. ``ZooTrainer(max_kimg=...)``
    installs it. A run resumed at or past its budget ends at once, saying so."""

    def __init__(self, max_kimg: float):
        if not max_kimg > 0:
            raise ZooError(f"--trainer.max_kimg must be > 0 (thousands of real images), got {max_kimg}")
        self.max_kimg = max_kimg
        self.max_images = kimg_images(max_kimg)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if pl_module.images_seen >= self.max_images:
            trainer.should_stop = True
            if trainer.is_global_zero:
                print(
                    f"max_kimg {self.max_kimg:g} reached already: the run is at {pl_module.images_seen / 1000:g} kimg "
                    f"(iteration {pl_module.iterations}); nothing to train. Pass a larger --trainer.max_kimg to go on",
                    file=sys.stderr,
                )

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx) -> None:
        if pl_module.images_seen >= self.max_images:
            trainer.should_stop = True
