"""A shuffling sampler whose order is a pure function of (seed, position), sharded over ranks."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch.utils.data import Sampler


class ResumableShuffleSampler(Sampler[int]):
    """Yields this rank's indices of a seeded per-epoch permutation, in whole batches, starting at
    the batch the training run has reached.

    ``batches_consumed()`` is the number of batches this rank has trained on so far (GANModule's
    ``iterations``, restored exactly from a checkpoint); it fixes both the epoch (which permutation)
    and the offset into it. So a run resumed from any checkpoint, mid-epoch or not, sees exactly the
    batches an uninterrupted run would have seen, whatever Lightning's own epoch counter says (it
    marks an epoch finished when max_steps stops it midway).

    Every rank takes a disjoint shard ``perm[rank::world_size]`` of the same permutation, trimmed so
    that all ranks get the same number of full batches (GAN batch statistics need full batches).
    """

    def __init__(
        self,
        size: int,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        batches_consumed: Callable[[], int] = lambda: 0,
    ):
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.batches_consumed = batches_consumed
        self.num_batches = size // (world_size * batch_size)

    def __len__(self) -> int:
        return self.num_batches * self.batch_size

    def epoch_indices(self, epoch: int) -> torch.Tensor:
        """This rank's indices for one whole epoch."""
        rng = torch.Generator().manual_seed(self.seed + epoch)
        perm = torch.randperm(self.size, generator=rng)[: self.num_batches * self.batch_size * self.world_size]
        return perm[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[int]:
        epoch, offset = divmod(self.batches_consumed(), self.num_batches)
        return iter(self.epoch_indices(epoch)[offset * self.batch_size :].tolist())
