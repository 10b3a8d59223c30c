"""MNIST and Fashion-MNIST through torchvision: ``download`` for users online, ``root`` for local idx files."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor
from torchvision.datasets import MNIST, FashionMNIST

from datamodules.base import TensorImages, TorchvisionDataModule, check_files, resize_to_uint8

IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class IdxDataModule(TorchvisionDataModule):
    """28x28 grayscale images with 10 classes in the idx format, read by the torchvision class ``source``
    from ``<root>/<source.__name__>/raw/`` (torchvision's layout), resized to ``resolution``."""

    source: type[MNIST]  # MNIST or a subclass such as FashionMNIST; root holds <source.__name__>/raw/
    channels = 1
    num_classes = 10

    @property
    def layout(self) -> str:
        return f"{self.source.__name__}/raw/ with the uncompressed idx files"

    def validate(self) -> None:
        if not self.download:
            name = self.source.__name__
            check_files(Path(self.root) / name / "raw", IDX_FILES, name, self.layout)

    def read_split(self) -> tuple[Tensor, Tensor]:
        """The chosen split at the source size: uint8 images (N, 28, 28) and int64 labels (N,)."""
        self.prepare_data()  # downloads what is missing with download=True (setup without a Trainer)
        self.validate()
        data = self.source(self.root, train=self.train, download=False)
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
