"""MNIST and Fashion-MNIST through torchvision: ``download`` for users online, ``root`` for local idx files."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor
from torchvision.datasets import MNIST, FashionMNIST

from datamodules.base import TensorImages, ZooDataModule, check_files, resize_to_uint8

IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class IdxDataModule(ZooDataModule):
    """28x28 grayscale images with 10 classes in the idx format, read by the torchvision class ``source``
    from ``<root>/<source.__name__>/raw/`` (torchvision's layout), resized to ``resolution``."""

    source: type[MNIST]  # MNIST or a subclass such as FashionMNIST
    channels = 1
    num_classes = 10

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
            root: folder that holds MNIST/raw/ or FashionMNIST/raw/ (torchvision's layout: four uncompressed idx files).
            download: fetch the dataset into root with torchvision when it is missing.
            train: the 60k training split (False: the 10k test split).
            resolution: output size in pixels (28 is the source; DCGAN needs a power of two such as 32).
        """
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        self.root, self.download, self.train, self.resolution = root, download, train, resolution

    def prepare_data(self) -> None:
        if self.download:
            self.source(self.root, train=self.train, download=True)

    def validate(self) -> None:
        if not self.download:
            name = self.source.__name__
            check_files(Path(self.root) / name / "raw", IDX_FILES, name, f"{name}/raw/ with the uncompressed idx files")

    def read_split(self) -> tuple[Tensor, Tensor]:
        """The chosen split at the source size: uint8 images (N, 28, 28) and int64 labels (N,)."""
        self.validate()
        data = self.source(self.root, train=self.train, download=self.download)
        return data.data, data.targets.long()

    def setup(self, stage: str | None = None) -> None:
        if self.dataset is not None:
            return
        images, labels = self.read_split()
        self.dataset = TensorImages(resize_to_uint8(images.unsqueeze(1), self.resolution, max_value=255.0), labels)


class MNISTDataModule(IdxDataModule):
    """MNIST (LeCun et al. 1998): 60k train / 10k test 28x28 digits, resized to ``resolution``."""

    source = MNIST


class FashionMNISTDataModule(IdxDataModule):
    """Fashion-MNIST (Xiao et al. 2017, arXiv:1708.07747): 60k train / 10k test 28x28 grayscale photos of
    clothing in 10 classes, a drop-in replacement for MNIST in the same idx format, resized to ``resolution``.
    torchvision's FashionMNIST reads it from ``<root>/FashionMNIST/raw/``."""

    source = FashionMNIST
