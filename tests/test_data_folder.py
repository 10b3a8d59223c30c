"""The shared real-image core (datamodules/images.py) through the folder/zip datamodule."""

import json
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from datamodules.folder import FolderDataModule
from datamodules.images import build_cache, center_square, decode
from zoo.errors import ZooError


def solid(path, value, size=(20, 12), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value).save(path)


def batches(dm):
    """Every batch of one epoch, as the model receives it."""
    dm.prepare_data()
    dm.setup()
    return [dm.on_after_batch_transfer(dm.on_before_batch_transfer(b, 0), 0) for b in dm.train_dataloader()]


@pytest.fixture
def two_classes(tmp_path):
    root = tmp_path / "data"
    for i in range(3):
        solid(root / "cats" / f"{i}.png", (255, 0, 0))
        solid(root / "dogs" / "deep" / f"{i}.jpg", (0, 0, 255))
    return root


@pytest.mark.parametrize("cache", [False, True])
def test_folder_images_labels_and_range(tmp_path, two_classes, cache):
    dm = FolderDataModule(str(two_classes), labels=True, resolution=8, batch_size=6, num_workers=0, hflip=False,
                          cache=cache, cache_dir=str(tmp_path / "cache"))  # fmt: skip
    [(images, labels)] = batches(dm)
    assert dm.classes == ["cats", "dogs"] and dm.num_classes == 2
    assert images.shape == (6, 3, 8, 8) and images.dtype == torch.float32
    red = labels == 0
    assert red.sum() == 3 and torch.all(images[red, 0] == 1) and torch.all(images[red, 2] == -1)
    assert torch.allclose(images[~red, 2], torch.ones(1), atol=0.02)  # blue JPEG, within compression error


def test_non_square_is_center_cropped_and_grayscale_becomes_rgb():
    image = Image.new("L", (30, 10), 0)
    image.paste(255, (10, 0, 20, 10))  # a white central square, black sides
    assert center_square(image).size == (10, 10)
    import io

    data = io.BytesIO()
    image.save(data, format="PNG")
    array = decode(data.getvalue(), resolution=10, channels=3)
    assert array.shape == (3, 10, 10) and array.min() == 255  # only the white centre survives


def test_rgba_png_loses_its_alpha(tmp_path):
    solid(tmp_path / "a.png", (10, 20, 30, 0), mode="RGBA")
    array = decode((tmp_path / "a.png").read_bytes(), resolution=12, channels=3)
    assert array[:, 0, 0].tolist() == [10, 20, 30]


def test_zip_of_images(tmp_path):
    archive = tmp_path / "faces.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as z:
        for i in range(4):
            solid(tmp_path / f"{i}.png", (60 * i, 0, 0), size=(16, 16))
            z.write(tmp_path / f"{i}.png", f"sub/{i}.png")
        z.writestr("readme.txt", "not an image")
    dm = FolderDataModule(str(archive), resolution=16, batch_size=4, num_workers=2, hflip=False, cache=False)
    [(images, _)] = batches(dm)
    reds = sorted(round((v.item() + 1) * 127.5) for v in images[:, 0, 0, 0])
    assert reds == [0, 60, 120, 180]


def test_corrupt_files_are_skipped_and_counted_then_left_out_of_the_cache(tmp_path, two_classes):
    (two_classes / "cats" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    live = FolderDataModule(str(two_classes), resolution=8, batch_size=7, num_workers=0, cache=False)
    with pytest.warns(UserWarning, match="skipping unreadable image .*broken.png"):
        [(images, _)] = batches(live)
    assert images.shape[0] == 7 and live.corrupt_skipped == 1
    cached = FolderDataModule(str(two_classes), resolution=8, batch_size=6, num_workers=0,
                              cache_dir=str(tmp_path / "cache"))  # fmt: skip
    with pytest.warns(UserWarning, match="1 of 7 images are unreadable"):
        cached.prepare_data()
    cached.setup()
    assert len(cached.dataset) == 6
    meta = json.loads(cached.cache_path().with_suffix(".json").read_text())
    assert meta["count"] == 6 and meta["unreadable"][0].endswith("broken.png")


def test_a_folder_of_only_unreadable_files_is_an_error(tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"nope")
    dm = FolderDataModule(str(tmp_path), resolution=8, cache_dir=str(tmp_path / "cache"))
    with pytest.raises(ZooError, match="none of the 1 images could be decoded"):
        dm.prepare_data()


def test_cache_is_reused_and_rebuilt_when_the_source_or_resolution_changes(tmp_path, two_classes):
    def cache_path(resolution=8):
        return FolderDataModule(str(two_classes), resolution=resolution, cache_dir=str(tmp_path / "c")).cache_path()

    first = cache_path()
    dm = FolderDataModule(str(two_classes), resolution=8, num_workers=0, cache_dir=str(tmp_path / "c"))
    dm.prepare_data()
    stamp = first.with_suffix(".npy").stat().st_mtime_ns
    build_cache(dm.decoded(), first)  # complete cache: reused, not rewritten
    assert first.with_suffix(".npy").stat().st_mtime_ns == stamp
    assert cache_path() == first and cache_path(16) != first
    solid(two_classes / "cats" / "new.png", (0, 255, 0))
    assert cache_path() != first


def test_missing_or_empty_root_names_the_path(tmp_path):
    with pytest.raises(ZooError, match=r"nowhere is neither a folder nor a zip"):
        FolderDataModule(str(tmp_path / "nowhere")).make_source()
    with pytest.raises(ZooError, match="no images"):
        FolderDataModule(str(tmp_path)).make_source()


def test_flips_are_per_image_reproducible_and_off_when_disabled(two_classes):
    dm = FolderDataModule(str(two_classes), resolution=8, hflip=True, cache=False)
    ramp = torch.arange(8.0).repeat(64, 3, 8, 1)  # every row reads 0..7 left to right
    a, b = dm.random_hflip(ramp), dm.random_hflip(ramp)
    assert torch.equal(a, b)
    flipped = a[:, 0, 0, 0] == 7
    assert 10 < flipped.sum() < 54 and torch.equal(a[flipped], ramp[flipped].flip(-1))
    dm.hflip = False
    assert torch.equal(
        dm.on_after_batch_transfer([ramp.to(torch.uint8), None], 0)[0][:, 0, 0, 0], torch.full((64,), -1.0)
    )


def test_two_ranks_get_disjoint_shards(two_classes):
    from datamodules.sampler import ResumableShuffleSampler

    shards = [set(ResumableShuffleSampler(6, 1, seed=0, rank=r, world_size=2)) for r in (0, 1)]
    assert shards[0].isdisjoint(shards[1]) and len(shards[0] | shards[1]) == 6
    assert np.array_equal(sorted(shards[0] | shards[1]), range(6))


def test_batched_cache_reads_equal_single_reads_in_the_sampler_order(tmp_path, two_classes):
    dm = FolderDataModule(str(two_classes), labels=True, resolution=8, num_workers=0, cache_dir=str(tmp_path / "c"))
    dm.setup()
    order = [4, 0, 5, 2]
    images, labels, skipped = dm.dataset.__getitems__(order)
    assert torch.equal(images, torch.stack([dm.dataset[i][0] for i in order]))
    assert labels.tolist() == [dm.dataset[i][1].item() for i in order] == [1, 0, 1, 0]
    assert skipped.tolist() == [0, 0, 0, 0]


def test_unreadable_images_are_reported_at_the_end_of_each_epoch(two_classes):
    from callbacks import CorruptImageReport
    from tests.helpers import make_trainer, tiny_dcgan

    (two_classes / "cats" / "broken.png").write_bytes(b"not a png")
    dm = FolderDataModule(str(two_classes), resolution=16, batch_size=7, num_workers=0, cache=False)
    model = tiny_dcgan(channels=3)
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable image file\(s\) this epoch"):
        make_trainer(2, callbacks=[CorruptImageReport()]).fit(model, dm)  # 1 batch per epoch: 2 epochs
    assert dm.corrupt_skipped == 2  # the broken file is met once per epoch
