"""Fashion-MNIST on idx fixtures: torchvision's FashionMNIST layout, shared logic with MNIST."""

import pytest
import torch

from datamodules import get_datamodule
from datamodules.mnist import FashionMNISTDataModule
from tests.helpers import first_batch, write_idx
from zoo.errors import ZooError


def write_split(raw, split: str, images: torch.Tensor, labels: list[int]):
    raw.mkdir(parents=True, exist_ok=True)
    write_idx(raw / f"{split}-images-idx3-ubyte", images, 2051)
    write_idx(raw / f"{split}-labels-idx1-ubyte", torch.tensor(labels), 2049)


@pytest.fixture
def fashion_root(tmp_path):
    """4 train / 2 test Fashion-MNIST images, each black but for pixel (3, 20) = 100 + i; a decoy MNIST beside them."""
    images = torch.zeros(6, 28, 28, dtype=torch.uint8)
    images[:, 3, 20] = 100 + torch.arange(6, dtype=torch.uint8)
    images[:, 20:28, 0:8] = 255  # a white block, white at any resolution
    raw = tmp_path / "FashionMNIST" / "raw"
    write_split(raw, "train", images[:4], [9, 0, 0, 3])
    write_split(raw, "t10k", images[4:], [7, 5])
    for split in ("train", "t10k"):
        write_split(tmp_path / "MNIST" / "raw", split, torch.full((2, 28, 28), 7), [1, 1])
    return tmp_path


def test_registry_name():
    assert get_datamodule("fashion_mnist") is FashionMNISTDataModule


def test_fashion_mnist_reads_its_own_idx_files(fashion_root):
    dm = FashionMNISTDataModule(root=str(fashion_root), resolution=28, batch_size=2)
    dm.setup()
    assert len(dm.dataset) == 4 and dm.dataset.labels.tolist() == [9, 0, 0, 3]
    assert dm.dataset.images.shape == (4, 1, 28, 28) and dm.dataset.images.dtype == torch.uint8
    assert dm.dataset.images[:, 0, 3, 20].tolist() == [100, 101, 102, 103]
    assert dm.num_classes == 10 and dm.channels == 1 and not getattr(dm, "hflip", False)
    test = FashionMNISTDataModule(root=str(fashion_root), train=False, resolution=28, batch_size=2)
    test.setup()
    assert test.dataset.labels.tolist() == [7, 5] and test.dataset.images[:, 0, 3, 20].tolist() == [104, 105]


def test_fashion_mnist_batches_at_32_px_in_unit_range(fashion_root):
    images, labels = first_batch(FashionMNISTDataModule(root=str(fashion_root), batch_size=4))
    assert images.shape == (4, 1, 32, 32) and images.dtype == torch.float32
    assert images.min() == -1.0 and images.max() == 1.0
    assert sorted(labels.tolist()) == [0, 0, 3, 9]


def test_missing_fashion_mnist_names_the_files_what_was_found_and_the_fix(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    write_idx(raw / "train-images-idx3-ubyte", torch.zeros(1, 28, 28), 2051)
    with pytest.raises(ZooError) as err:
        FashionMNISTDataModule(root=str(tmp_path)).setup()
    message = str(err.value)
    for phrase in (
        "FashionMNIST not found",
        "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte",
        f"in {raw}",
        "found: train-images-idx3-ubyte)",
        "--data.download true",
        "contains FashionMNIST/raw/",
    ):
        assert phrase in message
