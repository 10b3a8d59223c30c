"""Callbacks that see a GAN only through the GANModule contract, so each serves the whole zoo."""

from callbacks.checkpoint_io import AtomicCheckpointIO, load_gan, read_checkpoint
from callbacks.health import CorruptImageReport, NonFiniteGuard, NonFiniteLossError
from callbacks.samples import SampleGrid

__all__ = [
    "AtomicCheckpointIO",
    "CorruptImageReport",
    "NonFiniteGuard",
    "NonFiniteLossError",
    "SampleGrid",
    "load_gan",
    "read_checkpoint",
]
