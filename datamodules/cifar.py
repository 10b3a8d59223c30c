"""CIFAR-10 and CIFAR-100 (Krizhevsky 2009) from the official "python version" batches."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
from torchvision.datasets import CIFAR10, CIFAR100

from datamodules.base import TensorImages, TorchvisionDataModule, check_files, resize_to_uint8
from zoo.errors import ZooError


def unpickle(path: Path) -> dict:
    """One official batch or meta file: a Python 2 pickle of a dict with bytes keys."""
    with open(path, "rb") as f:
        return pickle.load(f, encoding="bytes")


class CIFARDataModule(TorchvisionDataModule):
    """32x32 RGB images from ``<root>/<folder>/``, the layout torchvision downloads to: pickled dicts with
    b"data" (N x 3072 uint8 rows, channel-major: 1024 R, 1024 G, 1024 B values, each 32x32 row-major) and
    the labels, kept in memory as uint8 and resized to ``resolution``.

    The batches are Python pickles, the official format, and unpickling runs code: use files from a trusted
    source (the official tarball or torchvision's download).
    """

    source: type[CIFAR10]  # downloads with --data.download true
    folder: str
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    meta_file: str
    labels_key: bytes  # the labels in each batch
    names_key: bytes  # the class names in the meta file
    channels = 3

    def __init__(self, hflip: bool = True, **kwargs):
        """
        Args:
            hflip: random horizontal flips, standard for CIFAR GANs.
            **kwargs: root (the folder holding cifar-10-batches-py/ or cifar-100-python/, the official
                python version), download, train (50k train / 10k test), resolution (32 is the source;
                other sizes are resized bilinearly), batch_size, num_workers, seed.
        """
        super().__init__(**kwargs)
        self.hflip = hflip
        self.classes: list[str] | None = None

    @property
    def layout(self) -> str:
        return f"{self.folder}/ (the official python version)"

    def validate(self) -> None:
        if not self.download:
            files = [*(self.train_files if self.train else self.test_files), self.meta_file]
            check_files(Path(self.root) / self.folder, files, self.source.__name__, self.layout)

    def setup(self, stage: str | None = None) -> None:
        if self.dataset is not None:
            return
        if self.download:  # setup called without prepare_data (outside a Trainer): fetch what is missing
            self.prepare_data()
        self.validate()
        folder = Path(self.root) / self.folder
        batches = self.train_files if self.train else self.test_files
        dicts = [unpickle(folder / f) for f in batches]
        data = np.concatenate([d[b"data"] for d in dicts])
        images = torch.from_numpy(data).view(-1, 3, 32, 32)
        if self.resolution != 32:  # at 32 px skip resize_to_uint8's float copy (600 MB for the train split)
            images = resize_to_uint8(images, self.resolution, max_value=255.0)
        labels = torch.tensor([y for d in dicts for y in d[self.labels_key]], dtype=torch.int64)
        self.classes = [name.decode() for name in unpickle(folder / self.meta_file)[self.names_key]]
        self.dataset = TensorImages(images, labels)


class CIFAR10DataModule(CIFARDataModule):
    """CIFAR-10 (Krizhevsky 2009, "Learning Multiple Layers of Features from Tiny Images"): 50k train / 10k
    test 32x32 color images in 10 classes. GANs train on the 50k training images at 32 px, the benchmark
    protocol of Salimans et al. 2016 ("Improved Techniques for Training GANs") that later papers follow."""

    source = CIFAR10
    folder = "cifar-10-batches-py"
    train_files = tuple(f"data_batch_{i}" for i in range(1, 6))
    test_files = ("test_batch",)
    meta_file = "batches.meta"
    labels_key, names_key = b"labels", b"label_names"
    num_classes = 10


class CIFAR100DataModule(CIFARDataModule):
    """CIFAR-100 (Krizhevsky 2009): 50k train / 10k test 32x32 color images labeled with 100 fine classes
    grouped into 20 coarse superclasses; ``label_type`` picks which of the two labels the batches yield. Same
    protocol as CIFAR-10 (Salimans et al. 2016): the 50k training images at 32 px."""

    source = CIFAR100
    folder = "cifar-100-python"
    train_files = ("train",)
    test_files = ("test",)
    meta_file = "meta"

    def __init__(self, label_type: str = "fine", **kwargs):
        """
        Args:
            label_type: "fine" (100 classes) or "coarse" (20 superclasses).
            **kwargs: root, download, train, resolution, hflip, batch_size, num_workers, seed (see CIFARDataModule).
        """
        if label_type not in ("fine", "coarse"):
            raise ZooError(f'--data.label_type must be "fine" or "coarse", got {label_type!r}')
        super().__init__(**kwargs)
        self.label_type, self.num_classes = label_type, 100 if label_type == "fine" else 20
        self.labels_key, self.names_key = f"{label_type}_labels".encode(), f"{label_type}_label_names".encode()
