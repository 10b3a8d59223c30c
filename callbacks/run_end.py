"""The end of a run is never lost: ``last.ckpt`` holds the last iteration of every run, whether it reached
its budget (max_steps, max_epochs, max_time, early stopping) or was stopped by Ctrl-C, SIGTERM or SLURM's
requeue signal.

Lightning's ``ModelCheckpoint`` writes ``last.ckpt`` only with its periodic saves, so a run that ends
between two of them leaves ``last.ckpt`` behind its end, and a signal kills the process wherever it is.
Here a signal only raises a flag; Lightning's SIGTERM machinery then stops every rank together at the
next batch boundary (``SIGTERMException``, checked once per iteration), where the state is that of a
whole number of iterations, so the checkpoint written there resumes bit-for-bit. The process then
exits with 128 + the signal's number (130 for SIGINT, 143 for SIGTERM), which schedulers read as
"killed", not as success. A second Ctrl-C stops at once, without a checkpoint.

Between the two ends, ``ZooCheckpoint`` saves by kimg and keeps the newest few periodic files, so a long run
does not fill the disk.
"""

from __future__ import annotations

import math
import os
import re
import signal
import sys
from pathlib import Path
from types import FrameType

import pytorch_lightning as pl
from lightning_fabric.plugins.environments import SLURMEnvironment
from pytorch_lightning.callbacks import Callback, ModelCheckpoint
from pytorch_lightning.utilities.exceptions import SIGTERMException

from callbacks.kimg import kimg_stem, next_grid_point
from zoo.errors import ZooError
from zoo.temporaries import remove_abandoned


def slurm_requeue_signal(trainer: pl.Trainer) -> tuple[int, ...]:
    """The signal on which Lightning's SLURM auto-requeue saves and requeues the job (SIGUSR1 by default;
    ``#SBATCH --signal=SIGUSR1@90``), when the run uses it; () otherwise."""
    environment = trainer._accelerator_connector.cluster_environment
    if isinstance(environment, SLURMEnvironment) and environment.auto_requeue and environment.requeue_signal:
        return (environment.requeue_signal,)
    return ()


#: what a checkpoint folder's temporaries are temporaries of
CHECKPOINT_FILE = re.compile(r".+\.ckpt")


#: Lightning's own periodic triggers; when none is given with ``every_n_kimg``, kimg alone decides
LIGHTNING_TRIGGERS = ("every_n_train_steps", "every_n_epochs", "train_time_interval")


class ZooCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` that saves every ``every_n_kimg`` thousand real images as ``kimgNNNNNN.ckpt`` and keeps
    only the newest ``keep_last`` periodic files; its ``last.ckpt`` (with ``save_last``) also holds the end of
    training, and it removes the temporaries a killed checkpoint write left in its folder (callbacks/checkpoint_io.py).

    Retention: the periodic files this run wrote are listed, oldest first, in the callback's state, so every
    checkpoint carries the list and a resume continues it. A file is removed (by rank 0) only after a newer
    periodic file was written, so the checkpoint a run resumed from stays until something newer replaces it.
    ``last.ckpt``, ``best_fid.ckpt`` (callbacks/fid.py), SLURM's ``hpc_ckpt_N.ckpt`` and files of another folder
    or another run are never removed."""

    def __init__(self, every_n_kimg: float | None = None, keep_last: int = -1, **kwargs):
        """
        Args:
            every_n_kimg: interval in thousands of real images shown to D (``images_seen``, summed over ranks);
                the files are named by ``callbacks.kimg.kimg_stem``. Lightning's ``every_n_train_steps``,
                ``every_n_epochs`` and ``train_time_interval`` still work beside it, their files named by
                ``filename`` and kept by the same ``keep_last``.
            keep_last: how many periodic checkpoints stay, the newest ones (-1: all).
            **kwargs: ``ModelCheckpoint``'s arguments.
        """
        if every_n_kimg is not None and every_n_kimg <= 0:
            raise ZooError(
                f"--checkpoint.every_n_kimg must be > 0 (or null for no kimg checkpoints), got {every_n_kimg}"
            )
        if keep_last == 0 or keep_last < -1:
            raise ZooError(
                f"--checkpoint.keep_last must be >= 1, or -1 to keep every periodic checkpoint, got {keep_last}"
            )
        if every_n_kimg is not None and all(kwargs.get(name) is None for name in LIGHTNING_TRIGGERS):
            kwargs["every_n_epochs"] = 0  # no checkpoint every epoch, Lightning's default when it has no trigger
        super().__init__(**kwargs)
        self.every_n_kimg, self.keep_last = every_n_kimg, keep_last
        self.periodic: list[str] = []  # names of the periodic files kept in dirpath, oldest first
        self._next_kimg = math.inf

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        if trainer.is_global_zero and self.dirpath and "://" not in str(self.dirpath):
            remove_abandoned(Path(self.dirpath), CHECKPOINT_FILE)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        if self.every_n_kimg is not None:  # after a resume: the next grid point after the restored images_seen
            self._next_kimg = next_grid_point(pl_module.images_seen / 1000, self.every_n_kimg)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx) -> None:
        if pl_module.images_seen >= self._next_kimg * 1000:
            self._next_kimg = next_grid_point(pl_module.images_seen / 1000, self.every_n_kimg)
            if not self._should_skip_saving_checkpoint(trainer):
                if self.save_top_k != 0:
                    stem = kimg_stem(pl_module.images_seen, self.every_n_kimg)
                    self.save_periodic(trainer, os.path.join(self.dirpath, stem + self.FILE_EXTENSION))
                self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)  # Lightning's triggers, if given

    def _save_none_monitor_checkpoint(self, trainer: pl.Trainer, monitor_candidates: dict) -> None:
        """Lightning's periodic saves without a monitor (``every_n_train_steps`` ...), kept by ``keep_last``."""
        self.save_periodic(
            trainer, self._get_metric_interpolated_filepath_name(monitor_candidates, trainer, self.best_model_path)
        )

    def save_periodic(self, trainer: pl.Trainer, filepath: str) -> None:
        """Writes a periodic checkpoint, then removes the periodic files older than the newest ``keep_last``.
        The list is updated before the write because it is part of the checkpoint; the removal comes after it,
        so a save that fails or is refused (a non-finite state, a full disk) removes nothing."""
        name = os.path.basename(filepath)
        listed = [kept for kept in self.periodic if kept != name] + [name]
        excess = max(0, len(listed) - self.keep_last) if self.keep_last > 0 else 0
        self.periodic, self.best_model_path = listed[excess:], filepath
        self._save_checkpoint(trainer, filepath)
        for old in listed[:excess]:
            self._remove_checkpoint(trainer, os.path.join(self.dirpath, old))  # the strategy removes on rank 0

    def state_dict(self) -> dict:
        return {**super().state_dict(), "periodic": list(self.periodic)}

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        if state_dict.get("dirpath") == self.dirpath:  # another folder's files are not this run's to remove
            self.periodic = list(state_dict.get("periodic", []))

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.save_last_now(trainer)

    def save_last_now(self, trainer: pl.Trainer) -> str | None:
        """Writes ``last.ckpt`` at the current step unless it already holds it; returns its path."""
        if not self.save_last or self._should_skip_saving_checkpoint(trainer):
            return self.last_model_path or None
        self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        return self.last_model_path


class GracefulInterrupt(Callback):
    """SIGINT, SIGTERM and the SLURM requeue signal end training at the next iteration boundary with
    ``last.ckpt`` written there (see the module docstring). Installed for the duration of ``fit``."""

    def __init__(self):
        self.received: int | None = None
        self._previous: dict[int, object] = {}
        self._trainer: pl.Trainer | None = None
        self._frame: FrameType | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.received, self._trainer, self._previous = None, trainer, {}
        for signum in (signal.SIGINT, signal.SIGTERM, *slurm_requeue_signal(trainer)):
            self._previous[signum] = signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and self.received is not None:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        previous = self._previous.get(signum)
        if signum == signal.SIGTERM and callable(previous):
            previous(signum, frame)  # Lightning's: passes the signal on to DDP worker processes
        self.received = signum
        self._frame = frame
        # Lightning's stop flag: every rank stops at the next batch boundary (rank 0's flag is broadcast)
        self._trainer._signal_connector.received_sigterm = True
        name = signal.Signals(signum).name
        print(f"\n{name} received: stopping after this iteration and writing last.ckpt", file=sys.stderr)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._restore_handlers()
        if not isinstance(exception, SIGTERMException) or self.received is None:
            return
        ckpt = trainer.checkpoint_callback
        path = ckpt.save_last_now(trainer) if isinstance(ckpt, ZooCheckpoint) else None
        if self.received in slurm_requeue_signal(trainer):
            # Lightning's requeue handler, deferred to this boundary: hpc_ckpt_N.ckpt, then `scontrol requeue`
            self._previous[self.received](self.received, self._frame)
        exception.code = 128 + self.received  # what a scheduler expects of a killed job
        if trainer.is_global_zero:
            where = f"last checkpoint: {path}; resume with --ckpt_path {path}" if path else "checkpointing is off"
            print(
                f"{signal.Signals(self.received).name}: stopped at iteration {pl_module.iterations}; {where}",
                file=sys.stderr,
            )

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._restore_handlers()

    def _restore_handlers(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
