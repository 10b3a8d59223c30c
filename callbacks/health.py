"""Run health: stop at the first non-finite loss; report unreadable training images."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.utilities import rank_zero_warn

from zoo.errors import ZooError


class NonFiniteLossError(ZooError):
    """A loss became NaN or infinite."""


class NonFiniteGuard(Callback):
    """Checks every ``check_every_n_iterations`` iterations, and before every checkpoint is written,
    whether any loss so far was NaN/Inf (GANModule records the first such iteration on the device, so
    the hot loop never syncs). Ranks agree through one max-reduction, so DDP runs stop together. A bad
    run stops with a message naming the iteration and the last checkpoint written before it."""

    def __init__(self, check_every_n_iterations: int = 50):
        """
        Args:
            check_every_n_iterations: how often the device-side flag is read (each read is a host sync).
        """
        self.every = max(1, check_every_n_iterations)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if pl_module.iterations % self.every == 0:
            self.check(trainer, pl_module)

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module, checkpoint: dict) -> None:
        self.check(trainer, pl_module)  # raising here keeps the poisoned weights out of the checkpoint

    def check(self, trainer: pl.Trainer, pl_module) -> None:
        flag = pl_module.nonfinite_iteration.detach().clone()
        worst = torch.where(flag < 0, torch.iinfo(torch.long).max, flag)
        first = trainer.strategy.reduce(worst, reduce_op="min") if trainer.world_size > 1 else worst
        first = int(first)
        if first == torch.iinfo(torch.long).max:
            return
        ckpt = trainer.checkpoint_callback
        last_good = (ckpt.last_model_path or ckpt.best_model_path) if ckpt is not None else ""
        raise NonFiniteLossError(
            f"a loss became NaN/Inf at training iteration {first} (of {pl_module.iterations} run so far). "
            f"Last good checkpoint: {last_good or 'none was written yet'}. Try a lower learning rate, "
            "--model.grad_clip_norm, or bf16 instead of fp16 precision, and resume with --ckpt_path."
        )


class CorruptImageReport(Callback):
    """At the end of every epoch, warns how many unreadable image files the datamodule skipped while
    decoding on the fly (each file is also named once in a warning when it is first met)."""

    def __init__(self):
        self._reported = 0

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module) -> None:
        total = getattr(trainer.datamodule, "corrupt_skipped", 0)
        if total > self._reported:
            rank_zero_warn(
                f"skipped {total - self._reported} unreadable image file(s) this epoch; "
                "`python cli.py prepare --data NAME ...` builds a cache without them and lists them"
            )
        self._reported = total
