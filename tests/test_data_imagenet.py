"""ImageNet in the ImageFolder layout: wnid -> label mapping, class subsets, BigGAN's central square."""

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from datamodules import get_datamodule
from datamodules.imagenet import ImageNetDataModule
from zoo.errors import ZooError

TRAIN = {"n01440764": 3, "n01443537": 2, "n02102040": 2}  # wnid -> images; labels 0, 1, 2 in sorted order


def photo(green: int) -> Image.Image:
    """48x32 (W x H): red 8-pixel bands left and right, a central 32x32 square whose green is ``green``."""
    array = np.zeros((32, 48, 3), dtype=np.uint8)
    array[:, :8, 0] = array[:, 40:, 0] = 255
    array[:, 8:40, 1] = green
    return Image.fromarray(array)


def green_of(wnid: str) -> int:
    """Each class's colour: 50 * (its label in the full set + 1); val's extra class gets 250."""
    return 50 * (sorted(TRAIN).index(wnid) + 1) if wnid in TRAIN else 250


@pytest.fixture
def imagenet_root(tmp_path):
    """train/ with TRAIN's images; val/ with one image per class plus a class train lacks (sorting first)."""
    for split, counts in (("train", TRAIN), ("val", {"n00000001": 1, **dict.fromkeys(TRAIN, 1)})):
        for wnid, n in counts.items():
            (tmp_path / "imagenet" / split / wnid).mkdir(parents=True)
            for i in range(n):
                photo(green_of(wnid)).save(
                    tmp_path / "imagenet" / split / wnid / f"{wnid}_{i}.JPEG", quality=95, subsampling=0
                )
    return tmp_path / "imagenet"


def imagenet(root, **kwargs) -> ImageNetDataModule:
    return get_datamodule("imagenet")(root=str(root), **{"num_workers": 0, "cache": False, **kwargs})


def full_set_label(image: torch.Tensor) -> int:
    """The label of an image's class in the full set, read from its colour (see ``green_of``)."""
    return round(int(image[1, 8, 8]) / 50) - 1


def items(dm) -> list[tuple[int, int]]:
    """(full-set label from the colour, label) of every item, sorted."""
    dm.setup()
    return sorted(
        (full_set_label(image), label.item()) for image, label, _ in (dm.dataset[i] for i in range(len(dm.dataset)))
    )


@pytest.mark.parametrize("cache", [False, True])
def test_train_labels_are_sorted_wnid_positions_and_batches_unit_range(imagenet_root, tmp_path, cache):
    dm = imagenet(imagenet_root, resolution=16, batch_size=7, seed=0, cache=cache, cache_dir=str(tmp_path / "cache"))
    assert dm.num_classes == 3 and dm.wnids == sorted(TRAIN) and dm.sample_shape == (3, 16, 16)
    dm.prepare_data()
    assert items(dm) == [(0, 0)] * 3 + [(1, 1)] * 2 + [(2, 2)] * 2
    images, labels = dm.on_before_batch_transfer(next(iter(dm.train_dataloader())), 0)
    assert images.shape == (7, 3, 16, 16) and images.dtype == torch.uint8 and labels.dtype == torch.int64
    assert (images[:, 0] < 30).all()  # the largest central square: no trace of the red side bands
    assert labels.tolist() == [full_set_label(image) for image in images]
    unit, _ = dm.on_after_batch_transfer([images, labels], 0)
    assert unit.dtype == torch.float32 and unit.min() == -1 and unit.max() <= 1
    assert len(list((tmp_path / "cache").glob("imagenet-16px-*.json"))) == (1 if cache else 0)


def test_val_labels_agree_with_train_and_the_default_is_biggan_128(imagenet_root):
    dm = imagenet(imagenet_root, split="val", resolution=32)
    assert items(dm) == [(0, 0), (1, 1), (2, 2)]  # val's extra n00000001 shifts nothing
    image = dm.dataset[0][0]
    assert image.shape == (3, 32, 32) and image[0].max() == 0  # the 32x32 centre of the 48x32 photo, unresized
    assert imagenet(imagenet_root).resolution == 128


def test_class_subsets_are_renumbered_in_sorted_wnid_order(imagenet_root):
    first_two = imagenet(imagenet_root, classes=2, resolution=16)
    assert first_two.num_classes == 2 and first_two.wnids == ["n01440764", "n01443537"]
    assert items(first_two) == [(0, 0)] * 3 + [(1, 1)] * 2
    listed = imagenet(imagenet_root, classes=["n02102040", "n01440764"], resolution=16, split="val")
    assert listed.num_classes == 2 and listed.wnids == ["n01440764", "n02102040"]
    assert items(listed) == [(0, 0), (2, 1)]  # n02102040: label 2 of the full set -> 1


def test_unknown_classes_and_classes_without_images_are_clear_errors(imagenet_root):
    with pytest.raises(ZooError, match=r"unknown ImageNet class\(es\) n09999999 in --data.classes: no such folder"):
        imagenet(imagenet_root, classes=["n01440764", "n09999999"])
    with pytest.raises(ZooError, match=r"--data.classes 4 must be in 1..3"):
        imagenet(imagenet_root, classes=4)
    with pytest.raises(ZooError, match="choose one of: train, val"):
        imagenet(imagenet_root, split="test")
    for image in (imagenet_root / "val" / "n01443537").iterdir():
        image.unlink()
    with pytest.raises(ZooError, match=r"no images for 1 class\(es\) in .*val, e.g. .*n01443537"):
        imagenet(imagenet_root, split="val").setup()
    imagenet(imagenet_root, split="val", classes=["n02102040"]).setup()  # a subset without that class is fine


def test_missing_or_flat_folders_name_the_path_what_is_there_and_the_source(imagenet_root, tmp_path):
    with pytest.raises(ZooError, match="ImageNet train folder not found") as err:
        imagenet(tmp_path / "nope")
    assert f"expected {tmp_path / 'nope' / 'train'}/<wnid>/*.JPEG; found in {tmp_path / 'nope'}: no such folder" in str(
        err.value
    )
    assert "https://image-net.org" in str(err.value) and "torchvision.datasets.ImageNet" in str(err.value)
    flat = tmp_path / "flat"
    (flat / "val").mkdir(parents=True)
    photo(50).save(flat / "val" / "ILSVRC2012_val_00000001.JPEG")  # val as its archive unpacks: no class folders
    with pytest.raises(ZooError, match=r"no class folders in .*val: expected one <wnid>/ folder .* sorted into class"):
        imagenet(flat, split="val")
    shutil.rmtree(imagenet_root / "val")
    dm = imagenet(imagenet_root, split="val")  # the labels need train/ alone
    with pytest.raises(ZooError, match=r"ImageNet val folder not found: .*; found in .*imagenet: train/\."):
        dm.validate()
