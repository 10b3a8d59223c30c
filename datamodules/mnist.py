"""MNIST through torchvision: ``download`` for users online, ``root`` for local idx files."""

from __future__ import annotations

from pathlib import Path

from torchvision.datasets import MNIST

from datamodules.base import TensorImages, ZooDataModule, resize_to_uint8
from zoo.errors import ZooError

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class MNISTDataModule(ZooDataModule):
    """MNIST (LeCun et al. 1998): 60k train / 10k test 28x28 digits, resized to ``resolution``."""

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
            root: folder that holds MNIST/raw/ (torchvision's layout: the four idx files, uncompressed).
            download: fetch MNIST into root with torchvision when it is missing.
            train: the 60k training split (False: the 10k test split).
            resolution: output size in pixels (28 is the source; DCGAN needs a power of two such as 32).
        """
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        self.root, self.download, self.train, self.resolution = root, download, train, resolution

    def prepare_data(self) -> None:
        if self.download:
            MNIST(self.root, train=self.train, download=True)

    def setup(self, stage: str | None = None) -> None:
        if self.dataset is not None:
            return
        raw = Path(self.root) / "MNIST" / "raw"
        missing = [f for f in MNIST_FILES if not (raw / f).is_file()]
        if missing and not self.download:
            found = sorted(p.name for p in raw.iterdir()) if raw.is_dir() else "no such folder"
            raise ZooError(
                f"MNIST not found: expected {', '.join(missing)} in {raw} (found: {found}). "
                "Pass --data.download true to fetch it with torchvision, or --data.root pointing at the folder "
                "that contains MNIST/raw/ with the uncompressed idx files."
            )
        mnist = MNIST(self.root, train=self.train, download=self.download)
        images = resize_to_uint8(mnist.data.unsqueeze(1), self.resolution, max_value=255.0)
        self.dataset = TensorImages(images, mnist.targets.long())
