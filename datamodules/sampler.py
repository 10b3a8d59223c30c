"""A shuffling sampler whose order depends only on (seed, epoch), sharded over ranks, resumable mid-epoch."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch.utils.data import Sampler


class ResumableShuffleSampler(Sampler[int]):
    """Yields this rank's indices of a (seed, epoch)-seeded permutation, in whole batches.

    - Every rank sees a disjoint shard of the same permutation (``perm[rank::world_size]``), trimmed so
      all ranks get the same number of full batches (GAN batch statistics need full batches).
    - Lightning calls ``set_epoch`` at each epoch start, so epochs reshuffle identically on every run.
    - ``batches_done()`` tells how many batches of the current epoch were already trained on; a run
      resumed from a mid-epoch checkpoint skips exactly those, so it sees the data an uninterrupted
      run would have seen.
    """

    def __init__(
        self,
        size: int,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        batches_done: Callable[[], int] = lambda: 0,
    ):
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.batches_done = batches_done
        self.epoch = 0
        self.num_batches = size // (world_size * batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_batches * self.batch_size

    def __iter__(self) -> Iterator[int]:
        rng = torch.Generator().manual_seed(self.seed + self.epoch)
        perm = torch.randperm(self.size, generator=rng)[: self.num_batches * self.batch_size * self.world_size]
        shard = perm[self.rank :: self.world_size]
        start = min(self.batches_done(), self.num_batches) * self.batch_size
        return iter(shard[start:].tolist())
