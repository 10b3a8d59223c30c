"""A callback for the ADA DDP test: every rank records, at each ADA adjustment, its own sign sums (before the
reduction across ranks) and the p and r_t that follow."""

from pathlib import Path

import torch
from pytorch_lightning.callbacks import Callback


class AdaProbe(Callback):
    def __init__(self, out_dir: str):
        self.out_dir = Path(out_dir)
        self.updates = []

    def on_train_start(self, trainer, pl_module):
        augmentation = pl_module.augmentation
        adjust = augmentation.end_iteration

        def recorded(iterations, global_batch, reduce_sum):
            local = augmentation.signs.clone()
            adjust(iterations, global_batch, reduce_sum)
            if iterations % 4 == 0:
                self.updates.append({"local": local, "p": augmentation.p.clone(), "rt": augmentation.rt.clone()})

        augmentation.end_iteration = recorded

    def on_train_end(self, trainer, pl_module):
        self.out_dir.mkdir(parents=True, exist_ok=True)
        torch.save(self.updates, self.out_dir / f"rank{trainer.global_rank}.pt")
