"""Two unpaired image domains A and B for CycleGAN-style translation (Zhu et al. 2017, "Unpaired
Image-to-Image Translation using Cycle-Consistent Adversarial Networks", ICCV), in the layout of the
CycleGAN datasets (https://people.eecs.berkeley.edu/~taesung_park/CycleGAN/datasets/:
<name>/trainA, trainB, testA, testB). Images are squared, resized and randomly flipped; the reference
implementation's 286 -> 256 random-crop jitter is not applied.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset

from datamodules.base import DataExtent, found, to_unit_range
from datamodules.folder import folder_or_zip_source
from datamodules.images import ImageDataModule, ImageSource
from zoo.errors import ZooError
from zoo.seeding import run_seed

SPLITS = ("train", "test")
SIDES = ("A", "B")


class UnpairedImages(Dataset):
    """``max(|A|, |B|)`` items; item i pairs A[i % |A|] with B[perm[i % |B|]]. ``perm`` is a fixed
    permutation of B drawn from ``seed``, so the pairs are unaligned but the same in every run (and
    in a resumed one). Items are (image_a, image_b, files skipped as unreadable)."""

    def __init__(self, a: Dataset, b: Dataset, seed: int):
        self.a, self.b = a, b
        self.perm = torch.randperm(len(b), generator=torch.Generator().manual_seed(seed))

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    def __getitem__(self, i: int):
        image_a, _, skipped_a = self.a[i % len(self.a)]
        image_b, _, skipped_b = self.b[int(self.perm[i % len(self.b)])]
        return image_a, image_b, skipped_a + skipped_b


class UnpairedDataModule(ImageDataModule):
    """Yields ``(images_a, images_b)`` batches: uint8 on the host (ImageDataModule's
    on_before_batch_transfer drops the skipped-file counts), both in [-1, 1] and flipped with
    independent coins on the device. Each domain is a folder or zip of images, cached separately."""

    def __init__(
        self,
        root: str | None = None,
        split: str = "train",
        root_a: str | None = None,
        root_b: str | None = None,
        resolution: int = 256,
        **kwargs,
    ):
        """
        Args:
            root: a CycleGAN dataset folder (e.g. horse2zebra/) holding trainA/, trainB/, testA/, testB/.
            split: train or test: which pair of folders of ``root`` to read.
            root_a, root_b: explicit folders or zips for domain A and B (they take precedence over root).
            resolution: training resolution (CycleGAN trains at 256).
            **kwargs: batch_size, num_workers, hflip, cache, cache_dir, seed (see ImageDataModule).
        """
        if root is None and (root_a is None or root_b is None):
            raise ZooError(
                "set --data.root to a CycleGAN dataset folder (with trainA/ and trainB/), "
                "or both --data.root_a and --data.root_b"
            )
        if split not in SPLITS:
            raise ZooError(f"unknown unpaired split '{split}'; choose one of: {', '.join(SPLITS)}")
        super().__init__(root or root_a, resolution=resolution, **kwargs)
        self.split = split
        explicit = {"A": root_a, "B": root_b}
        self.roots = {side: Path(explicit[side] or self.root / f"{split}{side}") for side in SIDES}

    def domain_source(self, side: str) -> ImageSource:
        """Domain ``side``'s images, after checking that its folder (or zip) is there."""
        path = self.roots[side]
        if not path.exists():
            raise ZooError(
                f"domain {side} not found: expected {path}; found in {path.parent}: {found(path.parent)}. "
                f"--data.root needs {self.split}A/ and {self.split}B/ (the CycleGAN datasets' layout); "
                "or set --data.root_a and --data.root_b"
            )
        return folder_or_zip_source(path, labels=False)[0]

    def domain(self, side: str) -> Dataset:
        """Domain ``side``'s images: decoded on the fly, or through its own cache (its key names the side)."""
        return self.images(self.domain_source(side), f"{self.name}-{side}")

    def extent(self) -> DataExtent:
        """The number of items, ``max(|A|, |B|)`` as ``UnpairedImages`` pairs them (the files are listed, not
        decoded)."""
        return DataExtent(max(len(self.domain_source(side)) for side in SIDES))

    def cache_paths(self) -> list[Path]:
        return [self.cache_path(self.domain_source(side), f"{self.name}-{side}") for side in SIDES]

    def validate(self) -> None:
        for side in SIDES:
            self.domain_source(side)

    def prepare_data(self) -> None:
        if self.cache:
            for side in SIDES:
                self.domain(side)

    def setup(self, stage: str | None = None) -> None:
        if self.dataset is None:
            self.dataset = UnpairedImages(self.domain("A"), self.domain("B"), run_seed(self.seed))

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        images = to_unit_range(torch.cat(batch))
        if self.hflip:
            images = self.random_hflip(images)  # one coin per image of A and of B
        return list(images.chunk(2))
