"""Stacked MNIST (VEEGAN Sec. 5.2): three independent digits as R, G, B; class 100 R + 10 G + B."""

import pytest
import torch

from datamodules import get_datamodule
from datamodules.stacked_mnist import StackedMNISTDataModule
from tests.conftest import SHARED_MNIST
from tests.helpers import first_batch, write_idx
from zoo.errors import ZooError

TRAIN_LABELS = [3, 1, 4, 1, 5, 9, 2, 6, 5, 8]


def source_value(i: int) -> int:
    return 10 + 20 * i


@pytest.fixture
def mnist_root(tmp_path):
    """10 train digits: digit i is source_value(i) on its left half and black on its right half (so any
    mirroring shows); 4 test digits, all 250 on the left, labeled 7."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    train = torch.zeros(10, 28, 28, dtype=torch.uint8)
    train[:, :, :14] = torch.tensor([source_value(i) for i in range(10)], dtype=torch.uint8)[:, None, None]
    test = torch.zeros(4, 28, 28, dtype=torch.uint8)
    test[:, :, :14] = 250
    for split, images, labels in (("train", train, TRAIN_LABELS), ("t10k", test, [7] * 4)):
        write_idx(raw / f"{split}-images-idx3-ubyte", images, 2051)
        write_idx(raw / f"{split}-labels-idx1-ubyte", torch.tensor(labels), 2049)
    return tmp_path


def stacked(root, **kwargs) -> StackedMNISTDataModule:
    dm = StackedMNISTDataModule(root=str(root), **{"num_samples": 300, "batch_size": 16, **kwargs})
    dm.setup()
    return dm


def test_registry_name_and_shape(mnist_root):
    assert get_datamodule("stacked_mnist") is StackedMNISTDataModule
    dm = stacked(mnist_root)
    assert dm.num_classes == 1000 and dm.sample_shape == (3, 32, 32) and dm.hflip is False
    assert dm.dataset.images.shape == (300, 3, 32, 32) and dm.dataset.images.dtype == torch.uint8
    assert dm.dataset.labels.shape == (300,) and dm.dataset.labels.dtype == torch.int64


def test_class_is_100_r_plus_10_g_plus_b_of_the_source_digits(mnist_root):
    dm = stacked(mnist_root)
    left = dm.dataset.images[:, :, 16, 0].long()  # (N, 3): each channel's source value
    sources = (left - 10) // 20
    assert torch.equal(source_value(sources), left)  # every channel is one of the source digits
    digit = torch.tensor(TRAIN_LABELS)[sources]
    assert torch.equal(dm.dataset.labels, 100 * digit[:, 0] + 10 * digit[:, 1] + digit[:, 2])
    assert (dm.dataset.images[..., 24:] == 0).all()  # each channel resized as a whole, not mirrored
    for c in range(3):  # channels are drawn independently and uniformly: every digit appears in each
        assert set(sources[:, c].tolist()) == set(range(10))


def test_test_split_draws_from_the_test_digits(mnist_root):
    dm = stacked(mnist_root, train=False, num_samples=20, resolution=28)
    assert dm.dataset.labels.tolist() == [777] * 20 and dm.sample_shape == (3, 28, 28)
    assert (dm.dataset.images[:, :, :, :14] == 250).all()


def test_data_seed_fixes_the_set(mnist_root):
    a, b, other = stacked(mnist_root), stacked(mnist_root), stacked(mnist_root, data_seed=1)
    assert torch.equal(a.dataset.images, b.dataset.images) and torch.equal(a.dataset.labels, b.dataset.labels)
    assert not torch.equal(a.dataset.labels, other.dataset.labels)


def test_batches_in_unit_range_without_flips(mnist_root):
    images, labels = first_batch(stacked(mnist_root, seed=0))
    assert images.shape == (16, 3, 32, 32) and images.dtype == torch.float32
    assert images.min() == -1.0 and images.max() <= 1.0
    assert (images[..., 0] > -1).all() and (images[..., 31] == -1).all()  # digits are never mirrored
    assert labels.shape == (16,) and labels.max() < 1000


def test_missing_mnist_names_the_path_and_the_fix(tmp_path):
    dm = StackedMNISTDataModule(root=str(tmp_path / "nope"))
    with pytest.raises(ZooError, match=r"MNIST not found: .* in .*nope/MNIST/raw.*--data.download true"):
        dm.setup()


@pytest.mark.skipif(
    not (SHARED_MNIST / "MNIST" / "raw").is_dir(), reason="needs ../shared/data/MNIST (not in a user's clone)"
)
def test_real_mnist_covers_all_1000_classes():
    dm = stacked(SHARED_MNIST, num_samples=20_000, resolution=28)
    counts = torch.bincount(dm.dataset.labels, minlength=1000)
    assert len(counts) == 1000 and (counts > 0).all()  # ~20 per class; the rarest expects ~15
    assert counts.max() < 60
    digits, digit_labels = dm.read_split()  # the 60k source digits at 28 px
    for image, label in zip(dm.dataset.images[:3], dm.dataset.labels[:3]):
        stack = []
        for channel in image:  # find the source digit(s) identical to this channel
            matches = (digits == channel).flatten(1).all(1)
            assert matches.any()
            stack.append(digit_labels[matches][0].item())
        assert label.item() == 100 * stack[0] + 10 * stack[1] + stack[2]
