"""Small training harness for in-process tests (the CLI is tested through subprocesses)."""

from __future__ import annotations

import logging
import struct
import warnings

import pytorch_lightning as pl
import torch

from callbacks import AtomicCheckpointIO
from datamodules.digits import DigitsDataModule
from zoo.dcgan import DCGAN

logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", ".*does not have many workers.*")


def tiny_dcgan(**kwargs) -> DCGAN:
    return DCGAN(**{"resolution": 16, "channels": 1, "ngf": 8, "ndf": 8, "latent_dim": 16, **kwargs})


def tiny_digits(**kwargs) -> DigitsDataModule:
    return DigitsDataModule(**{"resolution": 16, "batch_size": 32, **kwargs})


def make_trainer(iterations: int, d_steps: int = 1, callbacks=(), **kwargs) -> pl.Trainer:
    """A CPU trainer that stops after ``iterations`` D updates: under manual optimization
    max_steps counts optimizer steps, one per D update plus one per G update."""
    steps = iterations + iterations // d_steps
    defaults = {
        "accelerator": "cpu",
        "max_steps": steps,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "use_distributed_sampler": False,
        "plugins": [AtomicCheckpointIO()],
    }
    return pl.Trainer(callbacks=list(callbacks), **{**defaults, **kwargs})


def first_batch(dm):
    """The first training batch of a datamodule, as the model receives it (after the batch hooks)."""
    dm.setup("fit")
    images, labels = next(iter(dm.train_dataloader()))
    return dm.on_after_batch_transfer([images, labels], 0)


def write_idx(path, array: torch.Tensor, magic: int):
    """Writes ``array`` in the idx format of the MNIST files (big-endian header, then uint8 data)."""
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(header + array.to(torch.uint8).numpy().tobytes())


def grid_size(rows: int, columns: int, px: int, padding: int = 2) -> tuple[int, int]:
    """(width, height) of a torchvision ``make_grid`` picture of ``rows`` x ``columns`` px-sized tiles."""
    return columns * (px + padding) + padding, rows * (px + padding) + padding
