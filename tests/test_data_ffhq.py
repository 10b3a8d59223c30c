"""FFHQ from tiny fixtures in its two formats: the official PNG tree and a StyleGAN2-ADA dataset zip."""

import io
import json
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from datamodules import get_datamodule
from datamodules.images import CachedImages, DecodedImages
from zoo.errors import ZooError

#: StyleGAN2-ADA names, their class labels and each image's grey level (40 * label + 10)
LABELS = {
    "00000/img00000000.png": 3,
    "00000/img00000001.png": 0,
    "00000/img00000002.png": 5,
    "00001/img00001000.png": 1,
}


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


def grey(label: int) -> np.ndarray:
    return np.full((32, 32, 3), 40 * label + 10, dtype=np.uint8)


def write_zip(path, dataset_json: dict | None) -> None:
    """An uncompressed zip as dataset_tool.py writes it; dataset.json lists the labels in reverse order."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        for name, label in LABELS.items():
            z.writestr(name, png(grey(label)))
        if dataset_json is not None:
            z.writestr("dataset.json", json.dumps(dataset_json))


@pytest.fixture
def labelled_zip(tmp_path):
    path = tmp_path / "ffhq32.zip"
    write_zip(path, {"labels": [[name, label] for name, label in reversed(LABELS.items())]})
    return path


@pytest.fixture
def patterned_tree(tmp_path):
    """The official layout (images1024x1024/NNNNN/NNNNN.png) with two random 32x32 images."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    for i, image in enumerate(images):
        folder = tmp_path / "images1024x1024" / f"{i * 1000:05d}"
        folder.mkdir(parents=True)
        (folder / f"{i * 1000:05d}.png").write_bytes(png(image))
    (tmp_path / "images1024x1024" / "LICENSE.txt").write_text("CC BY-NC-SA 4.0")
    return tmp_path / "images1024x1024", images


def ffhq(root, **kwargs):
    return get_datamodule("ffhq")(root=str(root), **{"num_workers": 0, "hflip": False, "cache": False, **kwargs})


def all_items(dataset):
    images, labels, _ = zip(*(dataset[i] for i in range(len(dataset))))
    return torch.stack(images), torch.stack(labels)


@pytest.mark.parametrize("factor", [2, 4])
def test_downscaling_is_the_mean_of_each_block(patterned_tree, factor):
    root, originals = patterned_tree
    dm = ffhq(root, resolution=32 // factor)
    dm.setup()
    images, labels = all_items(dm.dataset)
    blocks = originals.reshape(2, 32 // factor, factor, 32 // factor, factor, 3).astype(np.float64)
    means = blocks.mean((2, 4)).transpose(0, 3, 1, 2)  # (N, C, H, W) by hand
    assert images.shape == (2, 3, 32 // factor, 32 // factor) and images.dtype == torch.uint8
    assert np.abs(images.numpy() - means).max() <= 0.5  # the block mean, rounded
    assert labels.tolist() == [-1, -1]


def test_the_source_resolution_is_read_unchanged(patterned_tree):
    root, originals = patterned_tree
    dm = ffhq(root, resolution=32)
    dm.setup()
    assert torch.equal(all_items(dm.dataset)[0], torch.from_numpy(originals).permute(0, 3, 1, 2))


def test_a_folder_reads_its_dataset_json_too(patterned_tree):
    root, _ = patterned_tree
    (root / "dataset.json").write_text(json.dumps({"labels": [["01000/01000.png", 1], ["00000/00000.png", 2]]}))
    dm = ffhq(root, labels=True, resolution=16)
    assert dm.num_classes == 3 and dm.source().labels.tolist() == [2, 1]


def test_zip_labels_follow_dataset_json(labelled_zip):
    dm = ffhq(labelled_zip, labels=True, resolution=8, batch_size=4)
    assert dm.num_classes == 6  # largest label + 1
    dm.setup()
    images, labels = all_items(dm.dataset)
    assert labels.tolist() == list(LABELS.values())  # matched by name, not by position in dataset.json
    assert images.shape == (4, 3, 8, 8) and (images == (40 * labels + 10)[:, None, None, None]).all()

    batch = next(iter(dm.train_dataloader()))
    x, y = dm.on_after_batch_transfer(dm.on_before_batch_transfer(batch, 0), 0)
    assert x.shape == (4, 3, 8, 8) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert -1 <= x.min() and x.max() <= 1 and sorted(y.tolist()) == [0, 1, 3, 5]
    assert torch.allclose(x, ((40 * y + 10) / 127.5 - 1)[:, None, None, None].expand_as(x))


def test_cache_matches_decoding(labelled_zip, tmp_path):
    decoded, _ = all_items(ffhq(labelled_zip, labels=True, resolution=16).decoded())
    dm = ffhq(labelled_zip, labels=True, resolution=16, cache=True, cache_dir=str(tmp_path / "cache"))
    dm.prepare_data()
    dm.setup()
    assert isinstance(dm.dataset, CachedImages)
    images, labels = all_items(dm.dataset)
    assert torch.equal(images, decoded) and labels.tolist() == list(LABELS.values())
    assert [p.name.split("-")[:2] for p in (tmp_path / "cache").glob("*.json")] == [["ffhq", "16px"]]


def test_workers_read_the_zip_like_the_main_process(labelled_zip):
    dm = ffhq(labelled_zip, resolution=8)
    dm.setup()
    assert isinstance(dm.dataset, DecodedImages) and dm.dataset.source.labels is None

    def images(workers):
        return torch.cat([x for x, _, _ in DataLoader(dm.dataset, batch_size=2, num_workers=workers)])

    assert torch.equal(images(2), images(0))


@pytest.mark.parametrize("dataset_json", [None, {"labels": None}])
def test_labels_without_dataset_json_labels_are_an_error(tmp_path, dataset_json):
    path = tmp_path / "unlabelled.zip"
    write_zip(path, dataset_json)
    assert len(ffhq(path, resolution=32).source()) == 4  # fine unconditionally
    with pytest.raises(ZooError, match=r"labels=True needs class labels in a dataset.json.*--data.labels false"):
        ffhq(path, labels=True, resolution=32)


def test_dataset_json_missing_a_file_is_an_error(tmp_path):
    path = tmp_path / "partial.zip"
    write_zip(path, {"labels": [["00000/img00000000.png", 3]]})
    with pytest.raises(ZooError, match=r"no label for 3 images, e.g. 00000/img00000001.png"):
        ffhq(path, labels=True, resolution=32)


@pytest.mark.parametrize("resolution", [12, 64])
def test_resolution_must_be_a_reachable_power_of_two(labelled_zip, resolution):
    dm = ffhq(labelled_zip, resolution=resolution)
    with pytest.raises(ZooError, match=rf"resolution {resolution} .*32x32 .*choose one of 4, 8, 16, 32$"):
        dm.setup()


def test_missing_root_names_the_path_and_the_sources(tmp_path):
    dm = ffhq(tmp_path / "nope")
    with pytest.raises(ZooError) as err:
        dm.setup()
    message = str(err.value)
    assert "FFHQ not found at" in message and str(tmp_path / "nope") in message
    assert "NVlabs ffhq-dataset repository" in message and "StyleGAN2-ADA's dataset_tool.py" in message
