"""``ZooTrainer``: Lightning's Trainer with a training budget in kimg and the zoo's whole-run progress bar.

``max_kimg`` is NVlabs' ``--kimg`` (StyleGAN2-ADA's train.py): train until D has seen this many thousand real
images, summed over ranks. It is the budget that means the same at any batch size, ``d_steps`` or GPU count,
unlike ``max_steps``, which under manual optimization counts every optimizer step (DESIGN.md). As a Trainer
argument it sits in the ``trainer`` group of the CLI and of the saved config.yaml (``--trainer.max_kimg``)."""

from __future__ import annotations

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ProgressBar

from callbacks.kimg import KimgBudget
from callbacks.progress import KimgProgressBar


class ZooTrainer(pl.Trainer):
    """Lightning's Trainer options plus max_kimg, a budget in thousands of real images, and one progress bar for
    the whole run (callbacks/progress.py) instead of Lightning's per-epoch bar."""

    def __init__(self, max_kimg: float | None = None, **kwargs):
        """
        Args:
            max_kimg: stop at the first iteration after which D has seen this many thousand real images (summed
                over ranks); combines with max_steps, max_epochs and max_time: the first limit reached ends the run.
                With max_kimg and no max_epochs, the epoch count is unlimited (not Lightning's default 1000).
        """
        callbacks = kwargs.get("callbacks") or []
        callbacks = list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]
        if max_kimg is not None:
            callbacks.append(KimgBudget(max_kimg))
            if kwargs.get("max_epochs") is None:
                kwargs["max_epochs"] = -1
        if kwargs.get("enable_progress_bar") is not False and not any(isinstance(c, ProgressBar) for c in callbacks):
            callbacks.append(KimgProgressBar())
        kwargs["callbacks"] = callbacks
        super().__init__(**kwargs)
        self.max_kimg = max_kimg
