"""Callbacks that see a GAN only through the GANModule contract, so each serves the whole zoo."""

from callbacks.checkpoint_io import AtomicCheckpointIO, load_gan, read_checkpoint
from callbacks.ema import EMA
from callbacks.fid import PeriodicFID
from callbacks.health import CorruptImageReport, NonFiniteGuard, NonFiniteLossError
from callbacks.progressive import ProgressiveGrowing
from callbacks.run_end import GracefulInterrupt, ZooCheckpoint
from callbacks.samples import SampleGrid
from callbacks.wandb_model import WandbModelArtifact

__all__ = [
    "EMA",
    "AtomicCheckpointIO",
    "CorruptImageReport",
    "GracefulInterrupt",
    "NonFiniteGuard",
    "NonFiniteLossError",
    "PeriodicFID",
    "ProgressiveGrowing",
    "SampleGrid",
    "WandbModelArtifact",
    "ZooCheckpoint",
    "load_gan",
    "read_checkpoint",
]
