"""Unpaired domains A and B in the CycleGAN datasets' layout (trainA/trainB/testA/testB) or as explicit roots."""

import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from datamodules import get_datamodule
from datamodules.unpaired import UnpairedDataModule
from zoo.errors import ZooError

COUNTS = {"trainA": 3, "trainB": 5, "testA": 1, "testB": 2}


def picture(side: str, k: int) -> Image.Image:
    """16x16, bright green on the left half only (so flips show); image k of A has red 10 (k + 1), of B blue."""
    array = np.zeros((16, 16, 3), dtype=np.uint8)
    array[:, :8, 1] = 200
    array[..., 0 if side == "A" else 2] = 10 * (k + 1)
    return Image.fromarray(array)


def identity(image: torch.Tensor, side: str) -> int:
    return int(image[0 if side == "A" else 2, 0, 0]) // 10 - 1


@pytest.fixture
def cyclegan_root(tmp_path):
    root = tmp_path / "horse2zebra"
    for folder, n in COUNTS.items():
        (root / folder).mkdir(parents=True)
        for k in range(n):
            picture(folder[-1], k).save(root / folder / f"{k}.png")
    return root


def unpaired(**kwargs) -> UnpairedDataModule:
    return get_datamodule("unpaired")(**{"resolution": 16, "num_workers": 0, "cache": False, "seed": 0, **kwargs})


def pairs(dm) -> list[tuple[int, int]]:
    dm.setup()
    return [(identity(a, "A"), identity(b, "B")) for a, b, _ in (dm.dataset[i] for i in range(len(dm.dataset)))]


def test_every_image_of_the_larger_side_once_with_a_fixed_permutation_of_b(cyclegan_root):
    dm = unpaired(root=str(cyclegan_root))
    got = pairs(dm)
    assert len(dm.dataset) == 5 and [a for a, _ in got] == [0, 1, 2, 0, 1]
    assert dm.extent().count == 5  # what the recipe fitting (zoo/recipe_fit.py) sizes batches by
    b_order = [b for _, b in got]
    assert b_order == dm.dataset.perm.tolist() != [0, 1, 2, 3, 4] and sorted(b_order) == [0, 1, 2, 3, 4]
    assert pairs(unpaired(root=str(cyclegan_root))) == got  # the same seed: the same pairs (resumable)
    assert pairs(unpaired(root=str(cyclegan_root), seed=1)) != got
    test = unpaired(root=str(cyclegan_root), split="test")
    assert pairs(test) == [(0, test.dataset.perm[0].item()), (0, test.dataset.perm[1].item())]
    assert dm.num_classes is None and dm.sample_shape == (3, 16, 16) and UnpairedDataModule(root="x").resolution == 256


@pytest.mark.parametrize("hflip", [False, True])
def test_batches_are_two_unit_range_image_sets_flipped_independently(cyclegan_root, hflip):
    dm = unpaired(root=str(cyclegan_root), batch_size=4, hflip=hflip)
    dm.setup("fit")
    host = dm.on_before_batch_transfer(next(iter(dm.train_dataloader())), 0)
    assert [(x.shape, x.dtype) for x in host] == [((4, 3, 16, 16), torch.uint8)] * 2
    device = dm.on_after_batch_transfer(host, 0)
    assert len(device) == 2 and all(x.dtype == torch.float32 and x.min() == -1 and x.max() <= 1 for x in device)
    flipped = []
    for before, after in zip(host, device):
        unit = before.float() / 127.5 - 1
        for original, image in zip(unit, after):
            assert torch.equal(image, original) or torch.equal(image, original.flip(-1))
            flipped.append(not torch.equal(image, original))
    assert any(flipped) == hflip and all(flipped) is False
    assert flipped[:4] != flipped[4:] or not hflip  # A and B get their own coins (seed 0)


def test_cache_holds_each_side_under_its_own_key(cyclegan_root, tmp_path):
    cache_dir = tmp_path / "cache"
    cached = unpaired(root=str(cyclegan_root), cache=True, cache_dir=str(cache_dir))
    cached.prepare_data()
    assert [len(list(cache_dir.glob(f"unpaired-{side}-16px-*.json"))) for side in "AB"] == [1, 1]
    assert pairs(cached) == pairs(unpaired(root=str(cyclegan_root)))
    images = np.load(next(cache_dir.glob("unpaired-B-16px-*[0-9a-f].npy")))
    assert images.shape == (5, 3, 16, 16) and images[:, 2, 0, 0].tolist() == [10, 20, 30, 40, 50]


def test_explicit_roots_take_a_folder_and_a_zip(cyclegan_root, tmp_path):
    zipped = tmp_path / "b.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        for k in range(2):
            z.write(cyclegan_root / "testB" / f"{k}.png", f"zebras/{k}.png")
    dm = unpaired(root_a=str(cyclegan_root / "trainA"), root_b=str(zipped))
    got = pairs(dm)
    assert [a for a, _ in got] == [0, 1, 2] and [b for _, b in got] == [dm.dataset.perm[i % 2].item() for i in range(3)]


def test_missing_and_empty_domains_are_clear_errors(cyclegan_root):
    with pytest.raises(ZooError, match="set --data.root to a CycleGAN dataset folder .* or both --data.root_a and"):
        unpaired(root_a=str(cyclegan_root / "trainA"))
    with pytest.raises(ZooError, match="choose one of: train, test"):
        unpaired(root=str(cyclegan_root), split="val")
    (cyclegan_root / "trainB").rename(cyclegan_root / "zebras")
    with pytest.raises(ZooError, match="domain B not found") as err:
        unpaired(root=str(cyclegan_root)).validate()
    message = str(err.value)
    assert f"expected {cyclegan_root / 'trainB'}; found in {cyclegan_root}: testA/, testB/, trainA/, zebras/" in message
    assert "trainA/ and trainB/ (the CycleGAN datasets' layout)" in message and "--data.root_b" in message
    (cyclegan_root / "trainB").mkdir()
    with pytest.raises(ZooError, match=r"no images \(.jpg, .png, .webp, ...\) found in .*trainB"):
        unpaired(root=str(cyclegan_root)).validate()
    with pytest.raises(ZooError, match=r"no images \(.jpg, .png, .webp, ...\) found in .*trainB"):
        unpaired(root=str(cyclegan_root)).setup()
