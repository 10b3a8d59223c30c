"""``ZooDataModule``: what every datamodule shares (the data contract of DESIGN.md).

Datamodules yield ``(image, label)`` with images as uint8 NCHW on the host; the conversion to float
in [-1, 1] happens after the transfer to the device (4x less host-to-device traffic). Non-image data
(toy 2D points) is yielded as float and passed through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, default_collate

from datamodules.sampler import ResumableShuffleSampler
from zoo.errors import ZooError
from zoo.seeding import iteration_seed, run_seed


class Batch(tuple):
    """A batch a dataset assembled itself in ``__getitems__``: ``collate`` passes it through."""


def collate(items):
    """The DataLoader's collate: batches a dataset already assembled pass through, lists of samples
    are stacked by PyTorch's default collate."""
    return list(items) if isinstance(items, Batch) else default_collate(items)


def to_unit_range(x: Tensor) -> Tensor:
    """uint8 [0, 255] -> float [-1, 1]; float input is returned as it is."""
    return x.float().div_(127.5).sub_(1.0) if x.dtype == torch.uint8 else x


@dataclass(frozen=True)
class DataExtent:
    """What a dataset holds, read before training without decoding it: the number of training samples and the
    largest resolution its images provide (None: any, when the images are resized freely)."""

    count: int
    max_resolution: int | None = None


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

    def validate(self) -> None:
        """Cheap checks that the data is where it should be, raising a ZooError that names the fix.
        The CLI calls it before a run folder or a W&B run exists. Nothing to check by default."""

    def extent(self) -> DataExtent | None:
        """The dataset's size and largest resolution, read cheaply before training, so that the CLI can fit a
        recipe's resolution and batch sizes to the data (zoo/recipe_fit.py); None where unknown before setup."""
        return None

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
            collate_fn=collate,
            drop_last=True,
            num_workers=self.loader_workers(),
            persistent_workers=self.loader_workers() > 0,
            pin_memory=torch.cuda.is_available(),
        )

    def loader_workers(self) -> int:
        """DataLoader worker processes for training (``num_workers`` unless a subclass knows better)."""
        return self.num_workers

    def _batches_consumed(self) -> int:
        """Batches this rank has trained on so far: the GAN's iteration counter (0 outside fit)."""
        trainer = self.trainer
        if trainer is None or not trainer.training:
            return 0
        return int(getattr(trainer.lightning_module, "iterations", 0))

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        images, rest = (batch[0], list(batch[1:])) if isinstance(batch, (list, tuple)) else (batch, None)
        images = to_unit_range(images)
        if getattr(self, "hflip", False) and images.dim() == 4:
            images = self.random_hflip(images)
        return images if rest is None else [images, *rest]

    def random_hflip(self, images: Tensor) -> Tensor:
        """Flips each image left-right with probability 1/2, on the device. The coin flips come from
        (seed, rank, iteration), so they are the same on a resumed run and never repeat across
        DataLoader workers (which a per-worker RNG in a transform can)."""
        rng = self.augmentation_generator(images.device)
        flip = torch.rand(images.shape[0], generator=rng, device=images.device) < 0.5
        return torch.where(flip[:, None, None, None], images.flip(-1), images)

    def augmentation_generator(self, device: torch.device, stream: int = 1) -> torch.Generator:
        """A generator on ``device`` seeded from (seed + ``stream``, rank, iteration): one stream per augmentation
        (1: the flips), the same on a resumed run."""
        trainer = self.trainer
        rank = trainer.global_rank if trainer is not None else 0
        iteration = int(getattr(trainer.lightning_module, "iterations", 0)) if trainer is not None else 0
        return torch.Generator(device=device).manual_seed(iteration_seed(run_seed(self.seed) + stream, rank, iteration))


class TorchvisionDataModule(ZooDataModule):
    """A dataset that torchvision can download (``source``), read into memory from ``root``."""

    source: type  # the torchvision dataset class
    layout: str  # what root holds, in torchvision's layout (for messages)

    def __init__(
        self,
        root: str = "data",
        download: bool = False,
        train: bool = True,
        resolution: int = 32,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int | None = None,
    ):
        """
        Args:
            root: the folder that holds the dataset in torchvision's layout.
            download: fetch the dataset into root with torchvision when it is missing.
            train: the training split (False: the test split).
            resolution: output size in pixels.
        """
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        self.root, self.download, self.train, self.resolution = root, download, train, resolution

    def prepare_data(self) -> None:
        if self.download:
            name = self.source.__name__
            download(lambda: self.source(self.root, train=self.train, download=True), name, self.root, self.layout)


class TensorImages(Dataset):
    """In-memory (image, label) pairs: uint8 images (N, C, H, W) and int64 labels (N,)."""

    def __init__(self, images: Tensor, labels: Tensor):
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.images[i], self.labels[i]


def resize_to_uint8(images: Tensor, resolution: int, max_value: float, chunk: int = 4096) -> Tensor:
    """(N, C, H, W) images with values in [0, max_value] -> uint8 at ``resolution`` x ``resolution``
    (bilinear, antialiased when shrinking), converted ``chunk`` images at a time so that no float copy
    of a whole dataset is ever held."""
    out = torch.empty((images.shape[0], images.shape[1], resolution, resolution), dtype=torch.uint8)
    for start in range(0, images.shape[0], chunk):
        x = images[start : start + chunk].float() / max_value
        if x.shape[-1] != resolution:
            shrinking = resolution < x.shape[-1]
            x = F.interpolate(
                x, size=(resolution, resolution), mode="bilinear", align_corners=False, antialias=shrinking
            )
        out[start : start + chunk] = x.clamp_(0, 1).mul_(255).round_().to(torch.uint8)
    return out


def download(fetch: Callable[[], object], dataset: str, root: str | Path, layout: str) -> None:
    """Runs a torchvision download; when it fails (offline, a moved URL, a missing helper package) raises one
    ZooError saying so and where to put the files instead."""
    try:
        fetch()
    except (OSError, RuntimeError) as err:  # urllib's URLError is an OSError; torchvision raises RuntimeErrors
        reason = " ".join(str(getattr(err, "reason", err)).split())
        raise ZooError(
            f"downloading {dataset} failed ({reason}); get the files another way and put {layout} in {root}, "
            "then run without --data.download"
        ) from None


def found(folder: Path, limit: int = 10) -> str:
    """What ``folder`` holds (sub-folders end in /), for 'not found' messages."""
    if not folder.is_dir():
        return "no such folder"
    names = sorted(p.name + "/" * p.is_dir() for p in folder.iterdir())
    more = f", ... ({len(names)} entries)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more if names else "an empty folder"


def check_files(folder: Path, files: Sequence[str], dataset: str, layout: str) -> None:
    """One ZooError naming the files missing from ``folder``, what is there instead, and the two fixes
    (torchvision's download, or a root that holds ``layout``)."""
    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        raise ZooError(
            f"{dataset} not found: expected {', '.join(missing)} in {folder} (found: {found(folder)}). "
            "Pass --data.download true to fetch it with torchvision, or --data.root pointing at the folder "
            f"that contains {layout}."
        )
