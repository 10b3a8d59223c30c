"""MNIST and Fashion-MNIST through torchvision: ``download`` for users online, ``root`` for local idx files."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor
from torchvision.datasets import MNIST, FashionMNIST

from datamodules.base import TensorImages, TorchvisionDataModule, check_files, resize_to_uint8
from datamodules.semi_supervised import SemiSupervisedData

IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class IdxDataModule(SemiSupervisedData, TorchvisionDataModule):
    """28x28 grayscale images with 10 classes in the idx format, read by the torchvision class ``source``
    from ``<root>/<source.__name__>/raw/`` (torchvision's layout), resized to ``resolution``. With ``labelled``,
    semi-supervised training batches (datamodules/semi_supervised.py), evaluated on the test split."""

    source: type[MNIST]  # MNIST or a subclass such as FashionMNIST; root holds <source.__name__>/raw/
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
        labelled: int | None = None,
        labelled_seed: int = 1,
        labelled_batch_size: int = 100,
    ):
        """
        Args:
            labelled: keep the labels of this many training examples, balanced over the classes, and hide the
                others (semi-supervised batches: ``labelled_batch_size`` labelled + ``batch_size`` unlabelled);
                None: every label, plain batches.
            labelled_seed: seed of the permutation that picks the labelled examples.
            labelled_batch_size: labelled examples per batch (with ``labelled``).
        """
        super().__init__(root, download, train, resolution, batch_size, num_workers, seed)
        self.init_semi_supervised(labelled, labelled_seed, labelled_batch_size)

    def evaluation_split(self) -> tuple[Tensor, Tensor]:
        """The test split's uint8 images at ``resolution`` and labels."""
        test = type(self)(root=self.root, download=self.download, train=False, resolution=self.resolution)
        test.setup()
        return test.dataset.images, test.dataset.labels

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
