"""CelebA in torchvision's on-disk layout (aligned JPEGs, partition and attribute lists) and CelebA-HQ folders."""

import socket

import numpy as np
import pytest
import torch
from PIL import Image

from datamodules import get_datamodule
from datamodules.celeba import CelebADataModule, CelebAHQDataModule
from tests.helpers import ATTRIBUTE_HEADER, attributes_of, write_celeba
from zoo.errors import ZooError


@pytest.fixture
def celeba_root(tmp_path):
    return write_celeba(tmp_path)


def celeba(root, **kwargs) -> CelebADataModule:
    return get_datamodule("celeba")(root=str(root), **{"num_workers": 0, "cache": False, **kwargs})


@pytest.mark.parametrize(("split", "size"), [("train", 4), ("valid", 1), ("test", 1), ("all", 6)])
def test_splits_follow_the_partition_file_with_root_at_either_level(celeba_root, split, size):
    for root in (celeba_root, celeba_root / "celeba"):
        dm = celeba(root, split=split)
        dm.setup()
        assert len(dm.dataset) == size


@pytest.mark.parametrize("cache", [False, True])
def test_batches_are_unit_range_images_with_their_attribute_vectors(celeba_root, tmp_path, cache):
    dm = celeba(
        celeba_root,
        attributes=True,
        resolution=16,
        batch_size=4,
        seed=0,
        cache=cache,
        cache_dir=str(tmp_path / "cache"),
    )
    dm.prepare_data()
    dm.setup("fit")
    host = dm.on_before_batch_transfer(next(iter(dm.train_dataloader())), 0)
    uint8, labels = host
    assert uint8.shape == (4, 3, 16, 16) and uint8.dtype == torch.uint8
    ids = (uint8[:, 2, 8, 8].float() / 40).round().long()  # blue channel of the centre = 40 * k
    assert sorted(ids.tolist()) == [1, 2, 3, 4]  # the train split, shuffled
    assert labels.dtype == torch.int64 and labels.shape == (4, 40)
    assert labels.tolist() == [[(v + 1) // 2 for v in attributes_of(k)] for k in ids.tolist()]
    images, _ = dm.on_after_batch_transfer(host, 0)
    assert images.dtype == torch.float32 and images.min() >= -1 and images.max() <= 1 and images.min() < -0.8
    assert (
        dm.attribute_names == ATTRIBUTE_HEADER.split()
        and dm.attribute_names[31] == "Smiling"
        and dm.num_classes is None
    )
    assert dm.corrupt_skipped == 0
    assert len(list((tmp_path / "cache").glob("celeba-16px-*.json"))) == (1 if cache else 0)


def test_named_attributes_keep_only_those_columns_in_that_order(celeba_root):
    chosen = ["Young", "Black_Hair", "Male"]  # columns 39, 8, 20 of the file
    dm = celeba(celeba_root, attributes=chosen, resolution=16, split="all")
    assert dm.domains == chosen  # known before setup, for the model's link
    dm.setup()
    assert dm.attribute_names == chosen
    for i in range(len(dm.dataset)):
        image, labels, _ = dm.dataset[i]
        k = round(image[2, 8, 8].item() / 40)
        assert labels.tolist() == [(attributes_of(k)[j] + 1) // 2 for j in (39, 8, 20)]
    with pytest.raises(ZooError, match="unknown CelebA attribute.*Blue_Hair.*choose from: 5_o_Clock_Shadow"):
        celeba(celeba_root, attributes=["Blue_Hair"]).setup()


def test_crop_140_keeps_only_the_face_square_and_178_the_full_width(celeba_root, tmp_path):
    tight = celeba(celeba_root, crop=140, resolution=16)
    tight.setup()
    image = tight.dataset[0][0].int()
    assert image.shape == (3, 16, 16)
    assert (image[0] < 60).all() and (image[1] > 200).all()  # all green: no red border left
    wide = celeba(celeba_root, crop=178, resolution=16, cache=True, cache_dir=str(tmp_path / "cache"))
    wide.setup()
    image = wide.dataset[0][0].int()
    assert image[0, 0, 0] > 200 and image[1, 0, 0] < 60  # corners hold the red border
    assert image[0, 8, 8] < 60 and image[1, 8, 8] > 200
    assert wide.dataset[0][1].item() == -1  # no labels without attributes


def test_missing_dataset_names_the_path_what_is_there_and_where_to_get_it(tmp_path):
    with pytest.raises(ZooError, match="CelebA not found") as err:
        celeba(tmp_path / "nope").validate()  # what the CLI calls before a run folder exists
    message = str(err.value)
    assert f"img_align_celeba/, list_eval_partition.txt in {tmp_path / 'nope' / 'celeba'}" in message
    assert "found in" in message and "no such folder" in message
    assert "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html" in message and "--data.download true" in message
    (tmp_path / "celeba").mkdir()
    (tmp_path / "celeba" / "img_align_celeba.zip").write_bytes(b"")
    with pytest.raises(
        ZooError, match=r"expected img_align_celeba/, list_eval_partition.txt, list_attr_celeba.txt in "
    ):
        celeba(tmp_path, attributes=True).setup()
    with pytest.raises(ZooError, match=r"found in .*celeba: img_align_celeba\.zip\."):
        celeba(tmp_path).setup()


def test_incomplete_files_and_bad_knobs_are_clear_errors(celeba_root):
    (celeba_root / "celeba" / "img_align_celeba" / "000003.jpg").unlink()
    with pytest.raises(
        ZooError, match=r"1 of the 4 train images listed in list_eval_partition.txt are missing .*000003"
    ):
        celeba(celeba_root).setup()
    celeba(celeba_root, split="valid").setup()  # other splits are complete
    attr = celeba_root / "celeba" / "list_attr_celeba.txt"
    attr.write_text("\n".join(attr.read_text().splitlines()[:-1]) + "\n")  # drop 000006.jpg's row
    with pytest.raises(ZooError, match=r"list_attr_celeba.txt has no row for 1 images, e.g. 000006.jpg"):
        celeba(celeba_root, split="test", attributes=True).setup()
    with pytest.raises(ZooError, match="choose one of: train, valid, test, all"):
        celeba(celeba_root, split="val")
    with pytest.raises(ZooError, match=r"crop must be in 1..178"):
        celeba(celeba_root, crop=200)


def test_prepare_data_never_fetches_unless_asked(celeba_root, monkeypatch):
    """Without --data.download true, torchvision's CelebA (replaced here by a stub that fails) is never called and
    no socket is opened: the files on disk are used as they are. The download path itself is not exercised by the
    suite, which runs offline."""
    monkeypatch.setattr(socket.socket, "connect", lambda *args: pytest.fail("the test tried to reach the network"))
    monkeypatch.setattr("torchvision.datasets.CelebA", lambda *args, **kwargs: pytest.fail("CelebA was fetched"))
    data = celeba(celeba_root, split="train")
    data.prepare_data()
    data.setup()
    assert len(data.dataset) == 4  # images 1-4 of the partition file


def test_celeba_hq_box_downscales_a_folder_at_256_by_default(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "celeba_hq"
    folder.mkdir()
    faces = [Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)) for _ in range(3)]
    for k, image in enumerate(faces):
        image.save(folder / f"{k:05d}.png")
    assert get_datamodule("celeba_hq") is CelebAHQDataModule
    assert CelebAHQDataModule(root=str(folder)).resolution == 256
    dm = CelebAHQDataModule(root=str(folder), resolution=16, cache=False, num_workers=0)
    dm.setup()
    assert len(dm.dataset) == 3 and dm.num_classes is None
    expected = np.asarray(faces[1].reduce(4)).transpose(2, 0, 1)  # the 4x4 box average, not Lanczos
    assert np.array_equal(dm.dataset[1][0].numpy(), expected)


def test_turning_attributes_on_does_not_reuse_a_label_free_cache(celeba_root, tmp_path):
    for attributes in (False, True):
        dm = celeba(celeba_root, attributes=attributes, resolution=8, cache=True, cache_dir=str(tmp_path / "cache"))
        dm.setup()
    assert dm.dataset[0][1].shape == (40,)
