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
"""

from __future__ import annotations

import re
import signal
import sys
from pathlib import Path
from types import FrameType

import pytorch_lightning as pl
from lightning_fabric.plugins.environments import SLURMEnvironment
from pytorch_lightning.callbacks import Callback, ModelCheckpoint
from pytorch_lightning.utilities.exceptions import SIGTERMException

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


class ZooCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` whose ``last.ckpt`` (with ``save_last``) also holds the end of training, and which
    removes the temporaries a killed checkpoint write left in its folder (callbacks/checkpoint_io.py)."""

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        if trainer.is_global_zero and self.dirpath and "://" not in str(self.dirpath):
            remove_abandoned(Path(self.dirpath), CHECKPOINT_FILE)

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
