"""A callback for the DDP test: every rank writes what it trained on and what it ended with."""

from pathlib import Path

import torch
from pytorch_lightning.callbacks import Callback


class RankProbe(Callback):
    def __init__(self, out_dir: str):
        self.out_dir = Path(out_dir)
        self.first_batch = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.first_batch is None:
            self.first_batch = batch[0].detach().cpu().clone()

    def on_train_end(self, trainer, pl_module):
        self.out_dir.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                # parameters only: BatchNorm running statistics are per rank between DDP's
                # buffer broadcasts (rank 0's are the ones checkpointed)
                "generator": {k: v.detach() for k, v in pl_module.generator.named_parameters()},
                "discriminator": {k: v.detach() for k, v in pl_module.discriminator.named_parameters()},
                "next_latents": pl_module.sample_latent(4).cpu(),
                "first_batch": self.first_batch,
                "images_seen": pl_module.images_seen,
                "strategy": type(trainer.strategy).__name__,
                "world_size": trainer.world_size,
            },
            self.out_dir / f"rank{trainer.global_rank}.pt",
        )
