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
    the hot loop never syncs). Before a checkpoint is written it also checks that every parameter, buffer
    and optimizer state in it is finite (a BatchNorm ``running_var`` can overflow while the losses are
    still finite): a non-finite state is never written, so it never replaces a good ``last.ckpt``. Ranks
    agree through one reduction, so DDP runs stop together. A bad run stops with a message naming the
    iteration and the last checkpoint file written before it."""

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
        """Raising here keeps a poisoned state out of every checkpoint file, ``last.ckpt`` included."""
        self.check(trainer, pl_module)
        bad = nonfinite_tensors(checkpoint, trainer)
        if bad:
            more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
            raise NonFiniteLossError(
                f"the training state became NaN/Inf by iteration {pl_module.iterations} ({bad[0]}{more}), so it was "
                f"not saved. {last_good_checkpoint(trainer)} {ADVICE}"
            )

    def check(self, trainer: pl.Trainer, pl_module) -> None:
        flag = pl_module.nonfinite_iteration.detach().clone()
        worst = torch.where(flag < 0, torch.iinfo(torch.long).max, flag)
        first = trainer.strategy.reduce(worst, reduce_op="min") if trainer.world_size > 1 else worst
        first = int(first)
        if first == torch.iinfo(torch.long).max:
            return
        raise NonFiniteLossError(
            f"a loss became NaN/Inf at training iteration {first} (of {pl_module.iterations} run so far). "
            f"{last_good_checkpoint(trainer)} {ADVICE}"
        )


ADVICE = (
    "Try a lower learning rate, --model.grad_clip_norm, or bf16 instead of fp16 precision, and resume with --ckpt_path."
)


def last_good_checkpoint(trainer: pl.Trainer) -> str:
    """Names the newest checkpoint file this run wrote (each was checked finite before it was written), or
    the one it resumed from."""
    path = getattr(trainer.strategy.checkpoint_io, "last_written", None) or trainer.ckpt_path
    return f"Last good checkpoint: {path}." if path else "No checkpoint was written yet."


def nonfinite_tensors(checkpoint: dict, trainer: pl.Trainer) -> list[str]:
    """Names of the floating-point tensors of a checkpoint's model and optimizer states holding a NaN or Inf.
    One host sync for the whole check (and one reduction under DDP, so every rank decides alike)."""
    named = [(f"state_dict.{k}", v) for k, v in checkpoint.get("state_dict", {}).items()]
    for i, opt in enumerate(checkpoint.get("optimizer_states", [])):
        for pid, state in opt.get("state", {}).items():
            named += [(f"optimizer {i} param {pid} {k}", v) for k, v in state.items()]
    named = [(k, v) for k, v in named if isinstance(v, torch.Tensor) and v.is_floating_point()]
    if not named:
        return []
    finite = torch.stack([torch.isfinite(v).all().to(trainer.strategy.root_device) for _, v in named])
    any_bad = (~finite).any().long()
    if trainer.world_size > 1:
        any_bad = trainer.strategy.reduce(any_bad, reduce_op="max")
    if not int(any_bad):
        return []
    return [name for (name, _), ok in zip(named, finite.tolist()) if not ok] or ["another rank's state"]


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
