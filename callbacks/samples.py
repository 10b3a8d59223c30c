"""Fixed-latent sample grids, saved as PNG in the run folder and logged to W&B and TensorBoard."""

from __future__ import annotations

import math
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.loggers import TensorBoardLogger, WandbLogger
from torch import Tensor
from torch.utils.data import default_collate
from torchvision.utils import make_grid, save_image

from callbacks.kimg import kimg_stem, next_grid_point
from datamodules.base import to_unit_range
from zoo.sampling import class_grid, evenly_spaced_classes


def scatter_image(points: Tensor, size: int = 256, extent: float | None = None) -> Tensor:
    """Renders 2D points as a (1, size, size) image in [0, 1] (a 2D histogram, white = dense), so
    toy-data samples get a picture like images do."""
    points = points.detach().float().cpu()
    if extent is None:
        extent = float(points.abs().max().clamp(min=1.0)) * 1.1
    cells = ((points / extent + 1) / 2 * size).long()
    keep = ((cells >= 0) & (cells < size)).all(dim=1)
    x, y = cells[keep, 0], size - 1 - cells[keep, 1]
    hist = torch.bincount(y * size + x, minlength=size * size).float().view(1, size, size)
    return (hist / hist.max().clamp(min=1)).sqrt()


def sample_picture(samples: Tensor, nrow: int | None = None) -> Tensor:
    """One (C, H, W) picture in [0, 1]: a grid for images in [-1, 1], a scatter plot for 2D points."""
    if samples.dim() == 2:
        return scatter_image(samples)
    nrow = nrow or math.ceil(math.sqrt(len(samples)))
    return make_grid(samples.float().cpu(), nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)


#: training examples shown (one column each) by an image-to-image model's grid
TRANSLATION_EXAMPLES = 8


def fixed_examples(datamodule, n: int, seed: int) -> list[Tensor]:
    """``n`` training examples of ``datamodule``, the same ones at every call (chosen by ``seed``), collated:
    uint8 images become floats in [-1, 1], other fields (labels, skipped-file counts) stay as they are."""
    dataset = datamodule.dataset
    indices = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:n].tolist()
    fields = default_collate([dataset[i] for i in indices])
    return [to_unit_range(x) for x in fields]


class SampleGrid(Callback):
    """Every ``every_n_kimg`` thousand real images (and at the end of training), samples
    ``num_samples`` images from the same fixed latents (with the EMA generator when there is one) and
    writes ``<run>/samples/kimgNNNNNN.png`` (``kimgNNNNNN.NNN.png`` with a fractional interval: ``kimg_stem``)
    plus ``latest.png``; a W&B or TensorBoard logger gets the grid as the image ``samples``, at the step of the
    losses logged with it. A class-conditional image model gets one row per class, the same latents in every row
    (at most ``class_rows`` classes, evenly spaced over the labels). An image-to-image model shows its
    translations of 8 fixed training examples instead (``translation_picture``)."""

    def __init__(self, every_n_kimg: float = 10.0, num_samples: int = 64, seed: int = 0, class_rows: int = 10):
        """
        Args:
            every_n_kimg: interval in thousands of real images shown to D.
            num_samples: samples per grid (use 2500 for toy 2D data); conditional grids show
                num_samples // rows per row.
            seed: seed of the fixed latents.
            class_rows: most classes shown by a conditional model's grid, one row each.
        """
        self.every_n_kimg, self.num_samples, self.seed, self.class_rows = every_n_kimg, num_samples, seed, class_rows
        self._next_kimg = every_n_kimg
        self.last_path: Path | None = None

    def next_kimg(self, images_seen: int) -> float:
        """The first multiple of ``every_n_kimg`` strictly after ``images_seen``."""
        return next_grid_point(images_seen / 1000, self.every_n_kimg)

    def on_train_start(self, trainer: pl.Trainer, pl_module) -> None:
        self._next_kimg = self.next_kimg(pl_module.images_seen)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if pl_module.images_seen >= self._next_kimg * 1000:
            self.render(trainer, pl_module, step=trainer.fit_loop.epoch_loop._batches_that_stepped)
            self._next_kimg = self.next_kimg(pl_module.images_seen)

    def on_train_end(self, trainer: pl.Trainer, pl_module) -> None:
        # Lightning has counted the last iteration's step up by now
        self.render(trainer, pl_module, step=max(trainer.fit_loop.epoch_loop._batches_that_stepped - 1, 0))

    def picture(self, pl_module, datamodule=None) -> Tensor:
        """A square grid (or a scatter of 2D points); one row per class for a conditional model; for an
        image-to-image model, its translations of fixed training examples (from ``datamodule``)."""
        if getattr(pl_module, "translates_images", False):
            examples = fixed_examples(datamodule, min(self.num_samples, TRANSLATION_EXAMPLES), self.seed)
            return sample_picture(*pl_module.translation_picture(examples))
        if pl_module.num_classes is None:
            return sample_picture(pl_module.sample(self.num_samples, seed=self.seed))
        classes = evenly_spaced_classes(pl_module.num_classes, self.class_rows)
        columns = max(1, self.num_samples // len(classes))
        return sample_picture(class_grid(pl_module, classes, columns, seed=self.seed), nrow=columns)

    def render(self, trainer: pl.Trainer, pl_module, step: int) -> Path | None:
        """Writes the grid's PNGs and logs it at ``step``, the logger step of the iteration just finished, which is
        where Lightning logged its losses (Lightning's own callbacks log at ``_batches_that_stepped`` too)."""
        if not trainer.is_global_zero:
            return None
        picture = self.picture(pl_module, trainer.datamodule)
        folder = Path(trainer.default_root_dir) / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        stem = kimg_stem(pl_module.images_seen, self.every_n_kimg)
        path = folder / f"{stem}.png"
        save_image(picture, path)
        save_image(picture, folder / "latest.png")
        self.last_path = path
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image(key="samples", images=[picture], step=step, caption=[stem])
            elif isinstance(logger, TensorBoardLogger):
                logger.experiment.add_image("samples", picture, global_step=step)
        return path
