"""``--wandb.log_model true``: the run's final checkpoint as a W&B model artifact."""

from __future__ import annotations

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.loggers import WandbLogger

from callbacks.run_end import ZooCheckpoint
from zoo.errors import ZooError


class WandbModelArtifact(Callback):
    """At the end of training logs ``checkpoints/last.ckpt`` as the W&B artifact ``model-<run id>`` (type ``model``,
    aliases ``latest`` and ``kimgN``, metadata: images_seen, global_step, the model's class). Online it uploads with
    the run; offline it is recorded in the offline run, its file copied into wandb's staging folder (under
    ``WANDB_DATA_DIR``, default ``~/.local/share/wandb``), and ``wandb sync`` uploads it.

    Lightning's ``WandbLogger(log_model=True)`` is not used: with the zoo's checkpoints (no monitor, every periodic
    one kept) it uploads both ``last.ckpt`` and the last periodic checkpoint, often the same weights twice."""

    def __init__(self, log_model: bool = False):
        """
        Args:
            log_model: log the final checkpoint (last.ckpt) as a W&B model artifact at the end of training.
        """
        self.log_model = log_model

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if not self.log_model:
            return
        if not any(isinstance(logger, WandbLogger) for logger in trainer.loggers):
            raise ZooError("--wandb.log_model logs to W&B: use it with --logger wandb (the default)")
        if not any(isinstance(c, ZooCheckpoint) and c.save_last for c in trainer.checkpoint_callbacks):
            raise ZooError("--wandb.log_model logs last.ckpt: leave --checkpoint.save_last true")

    def on_train_end(self, trainer: pl.Trainer, pl_module) -> None:
        if not self.log_model or not trainer.is_global_zero:
            return
        import wandb

        checkpoint = next(c for c in trainer.checkpoint_callbacks if isinstance(c, ZooCheckpoint))
        path = checkpoint.save_last_now(trainer)  # Lightning runs checkpoint callbacks' hooks last: write it now
        if not path:
            return
        logger = next(logger for logger in trainer.loggers if isinstance(logger, WandbLogger))
        run = logger.experiment
        if run.disabled:  # WANDB_MODE=disabled: wandb would still copy the file into its staging folder
            return
        kimg = pl_module.images_seen // 1000
        metadata = {
            "images_seen": int(pl_module.images_seen),
            "global_step": trainer.global_step,
            "model": type(pl_module).__name__,
        }
        artifact = wandb.Artifact(f"model-{run.id}", type="model", metadata=metadata)
        artifact.add_file(path, name="last.ckpt")  # copied to staging: a resume may overwrite last.ckpt before sync
        run.log_artifact(artifact, aliases=["latest", f"kimg{kimg}"])
