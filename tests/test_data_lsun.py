"""LSUN from tiny LMDB databases in the official layout (``<category>_<split>_lmdb``, JPEG/WebP values)."""

import io
import os
import pickle

import lmdb
import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from datamodules import get_datamodule
from datamodules.images import CachedImages, DecodedImages
from datamodules.lsun import open_database
from zoo.errors import ZooError

RED, GREEN, BLUE, YELLOW, NAVY = (220, 30, 30), (0, 255, 0), (0, 0, 255), (240, 240, 20), (10, 20, 120)


def encode(colour, size, fmt: str) -> bytes:
    """A solid ``colour`` image of ``size`` (width, height) encoded as JPEG or lossless WebP."""
    buf = io.BytesIO()
    options = {"quality": 95} if fmt == "JPEG" else {"lossless": True}
    Image.new("RGB", size, colour).save(buf, fmt, **options)
    return buf.getvalue()


def bordered() -> bytes:
    """48x32 lossless WebP: green in the central 32x32 square, red and blue 8 px borders left and right."""
    array = np.zeros((32, 48, 3), dtype=np.uint8)
    array[:, :8], array[:, 8:40], array[:, 40:] = RED, GREEN, BLUE
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "WEBP", lossless=True)
    return buf.getvalue()


def write_lmdb(path, items: dict[bytes, bytes]) -> None:
    env = lmdb.open(str(path), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for key, value in items.items():
            txn.put(key, value)
    env.close()


@pytest.fixture
def lsun_root(tmp_path):
    """bedroom: a red 40x32 JPEG, the bordered WebP, a green 32x32 JPEG; kitchen: a yellow 32x48 JPEG and a
    navy WebP (keys are listed in sorted order)."""
    root = tmp_path / "lsun"
    root.mkdir()
    write_lmdb(
        root / "bedroom_train_lmdb",
        {b"b3": encode(GREEN, (32, 32), "JPEG"), b"b1": encode(RED, (40, 32), "JPEG"), b"b2": bordered()},
    )
    write_lmdb(
        root / "kitchen_train_lmdb", {b"k1": encode(YELLOW, (32, 48), "JPEG"), b"k2": encode(NAVY, (32, 32), "WEBP")}
    )
    return root


def lsun(root, **kwargs):
    return get_datamodule("lsun")(root=str(root), **{"num_workers": 0, "hflip": False, "cache": False, **kwargs})


def all_items(dataset):
    images, labels, _ = zip(*(dataset[i] for i in range(len(dataset))))
    return torch.stack(images), torch.stack(labels)


def mean_colours(images: torch.Tensor) -> np.ndarray:
    return images.float().mean((2, 3)).numpy()


def test_jpeg_and_webp_values_with_category_labels(lsun_root):
    dm = lsun(lsun_root, categories=["kitchen", "bedroom"], resolution=16, batch_size=5)
    assert dm.num_classes == 2 and dm.sample_shape == (3, 16, 16)
    dm.setup("fit")
    images, labels = all_items(dm.dataset)
    assert images.shape == (5, 3, 16, 16) and images.dtype == torch.uint8
    assert labels.tolist() == [0, 0, 1, 1, 1]  # kitchen (index 0) first, then bedroom; keys in order
    np.testing.assert_allclose(mean_colours(images), [YELLOW, NAVY, RED, GREEN, GREEN], atol=3)

    batch = next(iter(dm.train_dataloader()))
    x, y = dm.on_after_batch_transfer(dm.on_before_batch_transfer(batch, 0), 0)
    assert x.shape == (5, 3, 16, 16) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert -1 <= x.min() and x.max() <= 1 and x.max() > 0.99  # 255 -> 1 (green)
    assert sorted(y.tolist()) == [0, 0, 1, 1, 1]
    for image, label in zip(x, y):  # each image still carries its own category's label
        expected = [YELLOW, NAVY] if label == 0 else [RED, GREEN]
        colour = (image.mean((1, 2)).numpy() + 1) * 127.5
        assert min(np.abs(colour - c).max() for c in np.array(expected)) < 3


def test_single_category_is_unconditional(lsun_root):
    dm = lsun(lsun_root, resolution=8)
    assert dm.num_classes is None
    dm.setup()
    assert len(dm.dataset) == 3 and dm.dataset.source.labels is None
    assert dm.dataset[0][1].item() == -1


def test_non_square_images_are_center_cropped(lsun_root):
    dm = lsun(lsun_root, resolution=32)
    dm.setup()
    image = dm.dataset[1][0]  # key b2: the 48x32 bordered image
    assert (image == torch.tensor(GREEN, dtype=torch.uint8)[:, None, None]).all()  # no red or blue border left
    small = lsun(lsun_root, resolution=16)
    small.setup()
    assert (small.dataset[1][0].int() - torch.tensor(GREEN)[:, None, None]).abs().max() <= 1


def test_cache_matches_decoding_and_tracks_the_database(lsun_root, tmp_path):
    kwargs = {"categories": ["bedroom", "kitchen"], "resolution": 16}
    decoded, _ = all_items(lsun(lsun_root, **kwargs).decoded())
    dm = lsun(lsun_root, cache=True, cache_dir=str(tmp_path / "cache"), **kwargs)
    dm.prepare_data()
    dm.setup()
    assert isinstance(dm.dataset, CachedImages)
    images, labels = all_items(dm.dataset)
    assert torch.equal(images, decoded) and labels.tolist() == [0, 0, 0, 1, 1]
    assert len(list((tmp_path / "cache").glob("lsun-16px-*.json"))) == 1

    again = lsun(lsun_root, cache=True, cache_dir=str(tmp_path / "cache"), **kwargs)
    again.setup()
    assert again.source()._index is None  # a finished cache is reused without listing the keys

    data = lsun_root / "kitchen_train_lmdb" / "data.mdb"
    os.utime(data, ns=(data.stat().st_atime_ns, data.stat().st_mtime_ns + 10**9))  # the database was rewritten
    rebuilt = lsun(lsun_root, cache=True, cache_dir=str(tmp_path / "cache"), **kwargs)
    rebuilt.setup()
    assert len(list((tmp_path / "cache").glob("lsun-16px-*.json"))) == 2


def test_workers_read_the_same_images_as_the_main_process(lsun_root):
    dm = lsun(lsun_root, categories=["bedroom", "kitchen"], resolution=8)
    dm.setup()
    assert isinstance(dm.dataset, DecodedImages)
    source = dm.dataset.source
    path = lsun_root.resolve() / "kitchen_train_lmdb"
    assert open_database(path) is open_database(path)  # one handle per process and database
    clone = pickle.loads(pickle.dumps(source))  # what a spawned worker gets: paths and keys, no handle
    assert set(vars(clone)) == {"paths", "_index"} and clone.read(3) == source.read(3)

    def images(workers):
        return torch.cat([x for x, _, _ in DataLoader(dm.dataset, batch_size=2, num_workers=workers)])

    assert torch.equal(images(2), images(0))


def test_missing_database_names_the_expected_folder_and_the_download(lsun_root):
    dm = lsun(lsun_root, categories=["kitchen", "tower"], split="val")
    with pytest.raises(ZooError) as err:
        dm.setup()
    message = str(err.value)
    for phrase in ("kitchen_val_lmdb", "tower_val_lmdb", "bedroom_train_lmdb, kitchen_train_lmdb"):
        assert phrase in message
    assert "LSUN project's download.py" in message and "http://dl.yf.io/lsun/" in message


def test_unknown_category_or_split_lists_the_choices(lsun_root):
    with pytest.raises(ZooError, match="unknown LSUN category cat: choose from the ten scene categories") as err:
        lsun(lsun_root, categories=["bedroom", "cat"])
    scenes = "bedroom, bridge, church_outdoor, classroom, conference_room, dining_room, kitchen, living_room, "
    assert scenes + "restaurant, tower" in str(err.value)
    with pytest.raises(ZooError, match="train, val"):
        lsun(lsun_root, split="test")
