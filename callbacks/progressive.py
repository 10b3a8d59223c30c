"""Progressive growing (Karras et al. 2018, "Progressive Growing of GANs", arXiv 1710.10196, Sec. 2 and App. A.1;
official code: train.py ``TrainingSchedule``).

Training starts at 4x4 and alternates two phases per resolution: a fade-in of ``fade_kimg`` thousand real images
during which the newest block's weight alpha rises linearly from 0 to 1, and a stabilization of
``stabilize_kimg`` thousand images at alpha 1 (800k each in the paper). The phase is a pure function of
``images_seen`` (the global count, summed over ranks), so every DDP rank is in the same phase and a run resumed
in the middle of a fade-in continues with exactly the alpha the uninterrupted run would have had.

Each resolution may have its own batch size per device (App. A.1 lowers it at high resolutions to fit memory):
when a phase needs another one, the callback sets the datamodule's ``batch_size`` and asks Lightning to rebuild
the training dataloader at the next epoch, and the model ends the current epoch on the first batch of the old
size (``PGGAN.on_train_batch_start``). Each such change therefore starts a new epoch: budget growing runs with
``--trainer.max_kimg`` (or ``max_steps``), not ``max_epochs``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback

from zoo.errors import ZooError


@dataclass(frozen=True)
class Phase:
    """What the networks run at: the resolution, the newest block's fade-in weight and the batch size."""

    resolution: int
    alpha: float
    batch_size: int


@dataclass(frozen=True)
class GrowthSchedule:
    """The phases from ``start_resolution`` to ``max_resolution``: stabilize at 4x4, then for every further
    resolution fade in, then stabilize; the last resolution stays stable for the rest of training (the official
    ``TrainingSchedule``: a fade-in starts once its resolution's predecessor has been stable for
    ``stabilize_kimg``)."""

    max_resolution: int
    stabilize_kimg: float = 800.0
    fade_kimg: float = 800.0
    batch_sizes: dict[int, int] = field(default_factory=dict)
    default_batch_size: int = 16
    start_resolution: int = 4

    def __post_init__(self):
        if self.stabilize_kimg < 0 or self.fade_kimg < 0 or self.stabilize_kimg + self.fade_kimg <= 0:
            raise ZooError(
                f"--progressive.stabilize_kimg and --progressive.fade_kimg must be >= 0 with a positive sum, got "
                f"{self.stabilize_kimg} and {self.fade_kimg}"
            )
        if not 4 <= self.start_resolution <= self.max_resolution:
            raise ZooError(
                f"--progressive.start_resolution must be between 4 and the model's {self.max_resolution}, "
                f"got {self.start_resolution}"
            )

    def phase_at(self, images_seen: int) -> Phase:
        """The phase after ``images_seen`` real images. Counting in whole images keeps alpha exact on a resume."""
        stabilize, fade = round(self.stabilize_kimg * 1000), round(self.fade_kimg * 1000)
        doublings, into = divmod(int(images_seen), stabilize + fade)
        resolution, alpha = self.start_resolution * 2**doublings, 1.0
        if into > stabilize:  # fading in the next resolution
            resolution, alpha = 2 * resolution, (into - stabilize) / fade
        if resolution > self.max_resolution:
            resolution, alpha = self.max_resolution, 1.0
        return Phase(resolution, alpha, self.batch_sizes.get(resolution, self.default_batch_size))


class ProgressiveGrowing(Callback):
    """Puts a growing model (one with ``grow(resolution, alpha)`` and ``max_resolution``, such as PGGAN) into the
    phase of its ``images_seen`` before every batch, sets the datamodule's batch size for it, and logs
    ``progressive/resolution`` and ``progressive/alpha``. Does nothing for models that do not grow."""

    def __init__(
        self,
        stabilize_kimg: float = 800.0,
        fade_kimg: float = 800.0,
        batch_sizes: dict[int, int] | None = None,
        start_resolution: int = 4,
    ):
        """
        Args:
            stabilize_kimg: thousands of real images per stabilization phase (800 in the paper).
            fade_kimg: thousands of real images per fade-in (800 in the paper).
            batch_sizes: batch size per device by resolution, e.g. {256: 14, 512: 6, 1024: 3} (App. A.1);
                resolutions not listed use --data.batch_size.
            start_resolution: the first phase's resolution (4 in the paper).
        """
        self.stabilize_kimg, self.fade_kimg, self.start_resolution = stabilize_kimg, fade_kimg, start_resolution
        self.batch_sizes = {int(r): int(n) for r, n in (batch_sizes or {}).items()}  # YAML may quote keys
        self.schedule: GrowthSchedule | None = None
        self._reload_every_n_epochs = 0

    def on_fit_start(self, trainer: pl.Trainer, pl_module) -> None:
        if not hasattr(pl_module, "grow"):
            return
        datamodule = trainer.datamodule
        self.schedule = GrowthSchedule(
            pl_module.max_resolution,
            self.stabilize_kimg,
            self.fade_kimg,
            self.batch_sizes,
            datamodule.batch_size if datamodule is not None else 0,
            self.start_resolution,
        )
        self._reload_every_n_epochs = trainer.reload_dataloaders_every_n_epochs
        # runs after a checkpoint is restored and before the first dataloader is built
        self._enter(trainer, pl_module)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module) -> None:
        if self.schedule is not None:  # the dataloader of this epoch is built: stop rebuilding
            trainer.reload_dataloaders_every_n_epochs = self._reload_every_n_epochs

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module, batch, batch_idx: int) -> None:
        if self.schedule is None:
            return
        phase = self._enter(trainer, pl_module)
        if trainer._logger_connector.should_update_logs:  # Lightning's logging cadence, as GANModule logs
            pl_module.log_dict(
                {"progressive/resolution": float(phase.resolution), "progressive/alpha": phase.alpha},
                batch_size=phase.batch_size,
            )

    def _enter(self, trainer: pl.Trainer, pl_module) -> Phase:
        """Sets the model and the datamodule to the phase of the model's ``images_seen``."""
        phase = self.schedule.phase_at(pl_module.images_seen)
        pl_module.grow(phase.resolution, phase.alpha)
        datamodule = trainer.datamodule
        if datamodule is not None and datamodule.batch_size != phase.batch_size:
            datamodule.batch_size = phase.batch_size
            trainer.reload_dataloaders_every_n_epochs = 1  # rebuild the loader when the next epoch starts
        return phase
