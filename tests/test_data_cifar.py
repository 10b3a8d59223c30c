"""CIFAR-10/100 datamodules on tiny fixtures in the official "python version" format (pickled batches)."""

import pickle

import numpy as np
import pytest
import torch

from datamodules import get_datamodule
from datamodules.cifar import CIFAR10DataModule, CIFAR100DataModule
from tests.helpers import first_batch
from zoo.errors import ZooError

CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def pickle_dict(path, d: dict):
    path.write_bytes(pickle.dumps(d))


def cifar_rows(n: int, first: int) -> np.ndarray:
    """n images as official rows (N x 3072 uint8): black, except pixel (c=2, y=5, x=7) = first + i and a
    white 8x8 top-left corner in the red channel (white at any resolution)."""
    rows = np.zeros((n, 3, 32, 32), dtype=np.uint8)
    rows[:, 0, :8, :8] = 255
    rows = rows.reshape(n, 3072)
    rows[:, 2 * 1024 + 5 * 32 + 7] = first + np.arange(n)  # written by hand at its flat channel-major offset
    return rows


@pytest.fixture
def cifar10_root(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for k in range(1, 6):  # 2 images per training batch, labels 2k - 2, 2k - 1 (0..9 over the 5 batches)
        pickle_dict(folder / f"data_batch_{k}", {b"data": cifar_rows(2, 10 * k), b"labels": [2 * k - 2, 2 * k - 1]})
    pickle_dict(folder / "test_batch", {b"data": cifar_rows(3, 100), b"labels": [7, 8, 9]})
    pickle_dict(folder / "batches.meta", {b"label_names": [n.encode() for n in CIFAR10_NAMES]})
    return tmp_path


@pytest.fixture
def cifar100_root(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    pickle_dict(
        folder / "train",
        {b"data": cifar_rows(4, 50), b"fine_labels": [0, 55, 99, 12], b"coarse_labels": [4, 19, 0, 3]},
    )
    pickle_dict(folder / "test", {b"data": cifar_rows(2, 60), b"fine_labels": [1, 2], b"coarse_labels": [5, 6]})
    meta = {
        b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
        b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)],
    }
    pickle_dict(folder / "meta", meta)
    return tmp_path


def test_registry_names():
    assert get_datamodule("cifar10") is CIFAR10DataModule and get_datamodule("cifar100") is CIFAR100DataModule


def test_cifar10_rows_are_decoded_channel_major(cifar10_root):
    dm = CIFAR10DataModule(root=str(cifar10_root), batch_size=2)
    dm.setup()
    images = dm.dataset.images
    assert images.shape == (10, 3, 32, 32) and images.dtype == torch.uint8
    assert images[:, 2, 5, 7].tolist() == [10, 11, 20, 21, 30, 31, 40, 41, 50, 51]  # batches in order 1..5
    assert (images[:, 0, :8, :8] == 255).all()
    assert images.sum(dim=(1, 2, 3)).tolist() == (images[:, 2, 5, 7].int() + 64 * 255).tolist()  # nothing else set
    assert dm.dataset.labels.tolist() == list(range(10)) and dm.dataset.labels.dtype == torch.int64
    assert dm.classes == CIFAR10_NAMES and dm.num_classes == 10 and dm.sample_shape == (3, 32, 32)
    assert dm.hflip is True


def test_cifar10_test_split(cifar10_root):
    dm = CIFAR10DataModule(root=str(cifar10_root), train=False, batch_size=2)
    dm.setup()
    assert len(dm.dataset) == 3 and dm.dataset.labels.tolist() == [7, 8, 9]
    assert dm.dataset.images[:, 2, 5, 7].tolist() == [100, 101, 102]


@pytest.mark.parametrize("resolution", [16, 32, 64])
def test_cifar10_batches_at_resolution_in_unit_range(cifar10_root, resolution):
    dm = CIFAR10DataModule(root=str(cifar10_root), resolution=resolution, batch_size=4, seed=0)
    images, labels = first_batch(dm)
    assert dm.dataset.images.dtype == torch.uint8
    assert images.shape == (4, 3, resolution, resolution) and images.dtype == torch.float32
    assert images.min() == -1.0 and images.max() == 1.0  # the white corner (flipped or not) and black
    assert labels.shape == (4,) and set(labels.tolist()) <= set(range(10))


@pytest.mark.parametrize("hflip", [True, False])
def test_cifar_hflip_mirrors_some_images_on_the_device(cifar10_root, hflip):
    dm = CIFAR10DataModule(root=str(cifar10_root), hflip=hflip, batch_size=8, seed=0)
    images, _ = first_batch(dm)
    corner_left, corner_right = images[:, 0, 0, 0] == 1, images[:, 0, 0, 31] == 1
    assert (corner_left ^ corner_right).all()  # each image is the original or its mirror
    assert corner_right.any() == hflip and corner_left.any()


def test_cifar100_fine_and_coarse_labels(cifar100_root):
    fine = CIFAR100DataModule(root=str(cifar100_root), batch_size=2)
    fine.setup()
    assert fine.dataset.labels.tolist() == [0, 55, 99, 12] and fine.num_classes == 100
    assert fine.classes[55] == "fine55" and len(fine.classes) == 100
    assert fine.dataset.images[:, 2, 5, 7].tolist() == [50, 51, 52, 53]
    coarse = CIFAR100DataModule(root=str(cifar100_root), label_type="coarse", batch_size=2)
    coarse.setup()
    assert coarse.dataset.labels.tolist() == [4, 19, 0, 3] and coarse.num_classes == 20
    assert coarse.classes == [f"coarse{i}" for i in range(20)]
    test = CIFAR100DataModule(root=str(cifar100_root), train=False, label_type="coarse", batch_size=2)
    test.setup()
    assert test.dataset.labels.tolist() == [5, 6] and test.dataset.images[:, 2, 5, 7].tolist() == [60, 61]


def test_cifar100_rejects_an_unknown_label_type():
    with pytest.raises(ZooError, match='label_type must be "fine" or "coarse", got \'superclass\''):
        CIFAR100DataModule(label_type="superclass")


def test_missing_cifar10_batches_name_the_files_what_was_found_and_the_fix(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    pickle_dict(folder / "data_batch_1", {b"data": cifar_rows(1, 0), b"labels": [0]})
    with pytest.raises(ZooError) as err:
        CIFAR10DataModule(root=str(tmp_path)).setup()
    message = str(err.value)
    for phrase in (
        "CIFAR10 not found",
        "data_batch_2, data_batch_3, data_batch_4, data_batch_5, batches.meta",
        str(folder),
        "found: data_batch_1)",
        "--data.download true",
        "contains cifar-10-batches-py/",
    ):
        assert phrase in message
    assert "data_batch_1," not in message


def test_missing_cifar100_folder(tmp_path):
    dm = CIFAR100DataModule(root=str(tmp_path / "nope"), train=False)
    pattern = r"CIFAR100 not found: expected test, meta in .*nope/cifar-100-python \(found: no such folder\)"
    with pytest.raises(ZooError, match=pattern + r".*--data.download true"):
        dm.setup()
