"""``ZooDataModule``: what every datamodule shares (the data contract of DESIGN.md).

Datamodules yield ``(image, label)`` with images as uint8 NCHW on the host; the conversion to float
in [-1, 1] happens after the transfer to the device (4x less host-to-device traffic). Non-image data
(toy 2D points) is yielded as float and passed through unchanged.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from datamodules.sampler import ResumableShuffleSampler
from zoo.errors import ZooError
from zoo.seeding import run_seed


def to_unit_range(x: Tensor) -> Tensor:
    """uint8 [0, 255] -> float [-1, 1]; float input is returned as it is."""
    return x.float().div_(127.5).sub_(1.0) if x.dtype == torch.uint8 else x


class ZooDataModule(pl.LightningDataModule):
    """Base datamodule: subclasses set ``resolution``, ``channels``, ``num_classes`` and build
    ``self.dataset`` in ``setup``."""

    resolution: int | None = None
    channels: int | None = None
    num_classes: int | None = None

    def __init__(self, batch_size: int = 64, num_workers: int = 0, seed: int | None = None):
        """
        Args:
            batch_size: images per batch on each device.
            num_workers: DataLoader worker processes (0 loads in the main process).
            seed: base seed of the shuffling order (None: the run's seed_everything value).
        """
        super().__init__()
        if batch_size < 1:
            raise ZooError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.dataset: Dataset | None = None

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one sample, (C, H, W) for images."""
        return (self.channels, self.resolution, self.resolution)

    def train_dataloader(self) -> DataLoader:
        if self.dataset is None:
            self.setup("fit")
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        if len(self.dataset) < self.batch_size * world:
            raise ZooError(
                f"the dataset has {len(self.dataset)} samples, fewer than one batch of {self.batch_size} on "
                f"{world} device(s); lower --data.batch_size"
            )
        seed = run_seed(self.seed)
        sampler = ResumableShuffleSampler(len(self.dataset), self.batch_size, seed, rank, world, self._batches_consumed)
        return DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            drop_last=True,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
        )

    def _batches_consumed(self) -> int:
        """Batches this rank has trained on so far: the GAN's iteration counter (0 outside fit)."""
        trainer = self.trainer
        if trainer is None or not trainer.training:
            return 0
        return int(getattr(trainer.lightning_module, "iterations", 0))

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        if isinstance(batch, (list, tuple)):
            return [to_unit_range(batch[0]), *batch[1:]]
        return to_unit_range(batch)


class TensorImages(Dataset):
    """In-memory (image, label) pairs: uint8 images (N, C, H, W) and int64 labels (N,)."""

    def __init__(self, images: Tensor, labels: Tensor):
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.images[i], self.labels[i]


def resize_to_uint8(images: Tensor, resolution: int, max_value: float) -> Tensor:
    """(N, C, H, W) images with values in [0, max_value] -> uint8 at ``resolution`` x ``resolution``
    (bilinear, antialiased when shrinking)."""
    x = images.float() / max_value
    if x.shape[-1] != resolution:
        x = torch.nn.functional.interpolate(
            x, size=(resolution, resolution), mode="bilinear", align_corners=False, antialias=resolution < x.shape[-1]
        )
    return x.clamp_(0, 1).mul_(255).round_().to(torch.uint8)
