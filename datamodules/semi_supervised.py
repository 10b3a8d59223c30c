"""Semi-supervised batches for any labelled datamodule: ``--data.labelled N`` keeps the labels of N training
examples (N / classes per class, fixed by ``--data.labelled_seed``) and hides the others.

Every batch is ``[images, labels, num_labelled]``: first ``labelled_batch_size`` labelled examples, then
``batch_size`` unlabelled ones whose labels read -1, and ``num_labelled`` as a plain int (the split point, known
without reading a tensor back from the device). As in Triple-GAN's semi-supervised scripts (Li et al. 2017,
zhenxuan00/triple-gan x2y_yz2x_xy2p_ssl_mnist.py), the unlabelled pool is the whole training set, the labelled
examples included, and the labelled subset is taken per class from a seeded permutation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from datamodules.base import Batch, collate
from zoo.errors import ZooError
from zoo.seeding import run_seed


def balanced_labelled_subset(labels: Tensor, count: int, num_classes: int, seed: int) -> Tensor:
    """Indices of ``count`` examples, ``count / num_classes`` of each class: the first ones of each class in a
    permutation seeded by ``seed`` (the reference's ssl_seed permutation), sorted by class."""
    if count < num_classes or count % num_classes:
        raise ZooError(f"--data.labelled must be a positive multiple of the {num_classes} classes, got {count}")
    per_class = count // num_classes
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    chosen = []
    for k in range(num_classes):
        of_class = order[labels[order] == k][:per_class]
        if len(of_class) < per_class:
            raise ZooError(
                f"class {k} has {len(of_class)} training examples, fewer than the {per_class} per class that "
                f"--data.labelled {count} asks for; lower --data.labelled"
            )
        chosen.append(of_class)
    return torch.cat(chosen)


class SemiSupervisedBatchSampler(Sampler[list[int]]):
    """Index lists into a ``SemiSupervisedView``: ``labelled_batch`` labelled positions (the labelled subset in
    seeded permutations, one after the other, so every labelled example comes once per pass), then this rank's
    ``unlabelled_batch`` unlabelled positions of a seeded per-epoch permutation of the whole set (offset by its size,
    so that the view hides their labels). Like ResumableShuffleSampler, the position is a pure function of the
    batches consumed, so a resumed run sees the batches the uninterrupted one would have. Every rank gets the same
    labelled batches (the subset is small) and disjoint unlabelled shards."""

    def __init__(
        self,
        size: int,
        labelled: Tensor,
        labelled_batch: int,
        unlabelled_batch: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        batches_consumed: Callable[[], int] = lambda: 0,
    ):
        self.size, self.labelled, self.seed = size, labelled, seed
        self.labelled_batch, self.unlabelled_batch = labelled_batch, unlabelled_batch
        self.rank, self.world_size, self.batches_consumed = rank, world_size, batches_consumed
        self.num_batches = size // (world_size * unlabelled_batch)

    def __len__(self) -> int:
        return self.num_batches

    def labelled_positions(self, iteration: int) -> list[int]:
        """The labelled batch of global iteration ``iteration``: positions ``iteration * labelled_batch`` onwards in
        the endless sequence of seeded permutations of the labelled subset."""
        n, start = len(self.labelled), iteration * self.labelled_batch
        out: list[int] = []
        while len(out) < self.labelled_batch:
            passes, offset = divmod(start + len(out), n)
            perm = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed + 7919 * (passes + 1)))
            out += self.labelled[perm[offset:]].tolist()[: self.labelled_batch - len(out)]
        return out

    def __iter__(self) -> Iterator[list[int]]:
        epoch, offset = divmod(self.batches_consumed(), self.num_batches)
        rng = torch.Generator().manual_seed(self.seed + epoch)
        perm = torch.randperm(self.size, generator=rng)[: self.num_batches * self.unlabelled_batch * self.world_size]
        mine = (perm[self.rank :: self.world_size] + self.size).tolist()
        for t in range(offset, self.num_batches):
            unlabelled = mine[t * self.unlabelled_batch : (t + 1) * self.unlabelled_batch]
            yield self.labelled_positions(epoch * self.num_batches + t) + unlabelled


class SemiSupervisedView(Dataset):
    """A labelled dataset seen twice: position i < len is example i with its label, position len + i is example i
    with its label hidden (-1). ``__getitems__`` assembles the batch ``[images, labels, num_labelled]``."""

    def __init__(self, dataset: Dataset):
        self.dataset, self.size = dataset, len(dataset)

    def __len__(self) -> int:
        return 2 * self.size

    def __getitems__(self, positions: list[int]) -> Batch:
        items = [self.dataset[p % self.size] for p in positions]
        images = torch.stack([torch.as_tensor(image) for image, _ in items])
        labels = torch.tensor([int(label) if p < self.size else -1 for p, (_, label) in zip(positions, items)])
        return Batch([images, labels, sum(p < self.size for p in positions)])


class SemiSupervisedData:
    """Mixin for a ZooDataModule with labels (``num_classes`` and a ``dataset.labels`` tensor): ``labelled`` set,
    its training batches are semi-supervised (module docstring); None, the datamodule is unchanged. Subclasses call
    ``init_semi_supervised`` from ``__init__`` and may give ``evaluation_split`` (the held-out images on which a
    semi-supervised model reports its test error)."""

    def init_semi_supervised(self, labelled: int | None, labelled_seed: int, labelled_batch_size: int) -> None:
        if labelled is not None and labelled < 1:
            raise ZooError(f"--data.labelled must be >= 1 (or null: every label), got {labelled}")
        if labelled_batch_size < 1:
            raise ZooError(f"--data.labelled_batch_size must be >= 1, got {labelled_batch_size}")
        self.labelled, self.labelled_seed, self.labelled_batch_size = labelled, labelled_seed, labelled_batch_size

    def labelled_indices(self) -> Tensor:
        """The training examples whose labels are kept (``balanced_labelled_subset``)."""
        if self.dataset is None:
            self.setup("fit")
        return balanced_labelled_subset(self.dataset.labels, self.labelled, self.num_classes, self.labelled_seed)

    def evaluation_split(self) -> tuple[Tensor, Tensor] | None:
        """Held-out (uint8 images, labels) at the training resolution; None: the source has no test split."""
        return None

    def train_dataloader(self) -> DataLoader:
        if self.labelled is None:
            return super().train_dataloader()
        labelled = self.labelled_indices()
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        if len(self.dataset) < self.batch_size * world:
            raise ZooError(
                f"the dataset has {len(self.dataset)} samples, fewer than one batch of {self.batch_size} on {world} "
                "device(s); lower --data.batch_size"
            )
        sampler = SemiSupervisedBatchSampler(
            len(self.dataset), labelled, self.labelled_batch_size, self.batch_size, run_seed(self.seed), rank, world,
            self._batches_consumed,
        )  # fmt: skip
        return DataLoader(
            SemiSupervisedView(self.dataset),
            batch_sampler=sampler,
            collate_fn=collate,
            num_workers=self.loader_workers(),
            persistent_workers=self.loader_workers() > 0,
            pin_memory=torch.cuda.is_available(),
        )
