"""Datamodules on real on-disk formats: sklearn's bundled digits, MNIST idx files, toy mixtures."""

import pytest
import torch

from datamodules import get_datamodule
from datamodules.base import to_unit_range
from datamodules.sampler import ResumableShuffleSampler
from tests.conftest import SHARED_MNIST
from tests.helpers import first_batch, write_idx
from zoo.errors import ZooError


@pytest.mark.parametrize("resolution", [16, 32])
def test_digits_are_embedded_images_in_unit_range(resolution):
    dm = get_datamodule("digits")(resolution=resolution, batch_size=10)
    images, labels = first_batch(dm)
    assert images.shape == (10, 1, resolution, resolution) and images.dtype == torch.float32
    assert images.min() == -1.0 and images.max() == 1.0
    assert labels.dtype == torch.int64 and 0 <= labels.min() and labels.max() <= 9
    assert len(dm.dataset) == 1797 and dm.num_classes == 10 and dm.sample_shape == (1, resolution, resolution)


def test_unit_range_conversion_endpoints():
    assert to_unit_range(torch.tensor([0, 255], dtype=torch.uint8)).tolist() == [-1.0, 1.0]


def test_mnist_reads_the_idx_format(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = torch.zeros(4, 28, 28, dtype=torch.uint8)
    images[1, 10:18, 12:16] = 255
    for split in ("train", "t10k"):
        write_idx(raw / f"{split}-images-idx3-ubyte", images, 2051)
        write_idx(raw / f"{split}-labels-idx1-ubyte", torch.tensor([3, 1, 4, 1]), 2049)
    dm = get_datamodule("mnist")(root=str(tmp_path), resolution=28, batch_size=4)
    dm.setup()
    assert dm.dataset.labels.tolist() == [3, 1, 4, 1]
    assert torch.equal(dm.dataset.images[:, 0], images)
    dm32 = get_datamodule("mnist")(root=str(tmp_path), resolution=32, batch_size=4)
    batch, _ = first_batch(dm32)
    assert batch.shape == (4, 1, 32, 32) and batch.min() == -1


@pytest.mark.skipif(
    not (SHARED_MNIST / "MNIST" / "raw").is_dir(), reason="needs ../shared/data/MNIST (not in a user's clone)"
)
def test_mnist_on_the_real_files():
    dm = get_datamodule("mnist")(root=str(SHARED_MNIST), resolution=28, batch_size=64)
    dm.setup()
    assert len(dm.dataset) == 60000 and dm.dataset.labels[0].item() == 5
    mean = dm.dataset.images.float().mean().item() / 255
    assert mean == pytest.approx(0.1307, abs=1e-4)


def test_mnist_missing_files_name_the_path_and_the_fix(tmp_path):
    dm = get_datamodule("mnist")(root=str(tmp_path / "nope"))
    with pytest.raises(ZooError, match=r"nope/MNIST/raw.*--data.download true"):
        dm.setup()


def test_toy_mixtures_follow_the_protocol():
    ring = get_datamodule("toy2d")(mixture="ring", num_points=8000)
    ring.setup()
    points, labels = ring.dataset.tensors
    assert ring.std == 0.01 and len(ring.means) == 8 and ring.sample_shape == (2,)
    assert torch.allclose(points[labels == 2].mean(0), torch.tensor([0.0, 1.0]), atol=2e-3)  # cos, sin of pi/2
    assert points[labels == 2].std(0).mean().item() == pytest.approx(0.01, rel=0.1)
    grid = get_datamodule("toy2d")(mixture="grid")
    assert grid.std == 0.05 and len(grid.means) == 25 and grid.means.min() == -4 and grid.means.max() == 4
    with pytest.raises(ZooError, match="ring, grid"):
        get_datamodule("toy2d")(mixture="spiral")


def test_sampler_shards_are_disjoint_full_batches_reshuffled_per_epoch():
    consumed = {"n": 0}
    samplers = [
        ResumableShuffleSampler(103, 10, seed=1, rank=r, world_size=2, batches_consumed=lambda: consumed["n"])
        for r in (0, 1)
    ]
    epoch0 = [list(s) for s in samplers]
    assert [len(e) for e in epoch0] == [50, 50] and not set(epoch0[0]) & set(epoch0[1])
    consumed["n"] = 5  # one whole epoch (5 batches per rank) later
    epoch1 = [list(s) for s in samplers]
    assert epoch1[0] != epoch0[0] and sorted(epoch1[0] + epoch1[1]) != sorted(range(100))  # new draw of 100/103
    consumed["n"] = 7  # mid-epoch 1: resume skips the 2 batches already trained on
    assert list(samplers[0]) == epoch1[0][20:]


def test_batch_larger_than_the_dataset_is_a_clear_error():
    dm = get_datamodule("toy2d")(num_points=50, batch_size=64)
    dm.setup()
    with pytest.raises(ZooError, match="lower --data.batch_size"):
        dm.train_dataloader()
