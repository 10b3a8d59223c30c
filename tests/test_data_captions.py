"""StackGAN's captioned-image layout (datamodules/captions.py), the digit attributes and captioned MNIST."""

from __future__ import annotations

import io
import json
import os
import pickle
import pickletools
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from datamodules import get_datamodule
from datamodules.captioned_mnist import (
    DIGIT_WORDS,
    SLANT_TEXT,
    THICKNESS_TEXT,
    CaptionedMNISTDataModule,
    build,
    held_out_classes,
)
from datamodules.captions import (
    ALPHABET,
    CaptionsDataModule,
    bird_crop,
    char_ids,
    crop_load_size,
    random_crops,
    read_legacy_pickle,
)
from datamodules.digit_attributes import SLANT_WORDS, THICKNESS_WORDS, attribute_levels, size, slant, thickness
from datamodules.mnist import MNISTDataModule
from tests.conftest import ROOT, SHARED_MNIST, run_cli
from zoo.errors import ZooError

KEYS = ["001.Black_footed_Albatross/Albatross_0001_\xe9", "002.Laysan_Albatross/Laysan_0002_1027"]
CAPTIONS = [["a bird with a black bill.", "Dark wings"], ["a white bird", "a long beak", "it flies"]]
EMBEDDINGS = np.arange(2 * 10 * 8, dtype=np.float32).reshape(2, 10, 8) / 7


class Py2Pickler(pickle._Pickler):
    """Writes str and bytes as Python 2's ``str`` (BINSTRING opcodes), as StackGAN's Python 2 files hold them."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_string(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = dispatch[bytes] = save_py2_string


def write_py2_pickle(path, obj) -> None:
    buffer = io.BytesIO()
    Py2Pickler(buffer, protocol=2).dump(obj)
    path.write_bytes(buffer.getvalue())


def coordinate_image(width: int, height: int) -> Image.Image:
    """RGB image whose red is the pixel's x and green its y: a crop shows where it was taken."""
    y, x = np.mgrid[:height, :width]
    return Image.fromarray(np.stack([x, y, np.zeros_like(x)], -1).astype(np.uint8))


@pytest.fixture
def cub_root(tmp_path):
    """Two CUB-like birds in StackGAN's layout: Python 2 pickles, text_c10/, CUB's images and boxes."""
    root = tmp_path / "birds"
    for key, lines in zip(KEYS, CAPTIONS, strict=True):
        (root / "text_c10" / key).parent.mkdir(parents=True, exist_ok=True)
        (root / "text_c10" / f"{key}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (root / "CUB_200_2011" / "images" / key).parent.mkdir(parents=True, exist_ok=True)
        coordinate_image(100, 80).save(root / "CUB_200_2011" / "images" / f"{key}.png")
    (root / "train").mkdir()
    write_py2_pickle(root / "train" / "filenames.pickle", KEYS)
    write_py2_pickle(root / "train" / "class_info.pickle", [1, 2])
    write_py2_pickle(root / "train" / "char-CNN-RNN-embeddings.pickle", EMBEDDINGS)
    (root / "CUB_200_2011" / "images.txt").write_text(f"1 {KEYS[0]}.png\n2 {KEYS[1]}.png\n", encoding="utf-8")
    (root / "CUB_200_2011" / "bounding_boxes.txt").write_text("1 10.0 20.0 30.0 20.0\n2 80.0 60.0 20.0 20.0\n")
    return root


def test_py2_pickles_read_as_latin1(cub_root):
    opcodes = {op.name for op, _, _ in pickletools.genops((cub_root / "train" / "filenames.pickle").read_bytes())}
    assert "SHORT_BINSTRING" in opcodes and "BINUNICODE" not in opcodes  # Python 2 str, as StackGAN's files
    assert read_legacy_pickle(cub_root / "train" / "filenames.pickle") == KEYS
    embeddings = read_legacy_pickle(cub_root / "train" / "char-CNN-RNN-embeddings.pickle")
    assert embeddings.dtype == np.float32 and np.array_equal(embeddings, EMBEDDINGS)


def test_reader_items_on_the_cub_layout(cub_root):
    data = CaptionsDataModule(root=str(cub_root), resolution=44, captions_per_image=3, text_length=12, batch_size=2)
    data.setup()
    image, embedding, characters, label = data.dataset[0]
    # bird 0: box (10, 20, 30, 20) -> half-side int(0.75 * 30) = 22 about (25, 30): x 3..47, y 8..52 (44 px)
    assert image.shape == (3, 44, 44) and image.dtype == torch.uint8
    assert image[0, 0, 0] == 3 and image[1, 0, 0] == 8 and image[0, 0, -1] == 46 and image[1, -1, 0] == 51
    assert torch.equal(embedding, torch.from_numpy(EMBEDDINGS[0])) and label == 1
    assert data.dataset.captions[0] == CAPTIONS[0]
    assert characters.shape == (3, 12)  # 2 captions repeated to 3
    first = "".join(ALPHABET[i - 1] for i in characters[0].tolist() if i)
    assert first == "a bird with " and torch.equal(characters[2], characters[0])
    images, embeddings, texts, labels = data.dataset.__getitems__([1, 0])
    assert images.shape == (2, 3, 44, 44) and embeddings.shape == (2, 10, 8) and labels.tolist() == [2, 1]
    assert torch.equal(texts[1], characters) and torch.equal(embeddings[0], torch.from_numpy(EMBEDDINGS[1]))


def test_random_crops_are_windows_within_bounds_drawn_from_the_generator():
    # coordinates: channel 0 holds the row, channel 1 the column, so a crop shows where it was taken
    rows, cols = torch.meshgrid(torch.arange(19.0), torch.arange(19.0), indexing="ij")
    images = torch.stack([rows, cols])[None].repeat(500, 1, 1, 1)
    crops = random_crops(images, 16, torch.Generator().manual_seed(0))
    top, left = crops[:, 0, 0, 0], crops[:, 1, 0, 0]
    assert crops.shape == (500, 2, 16, 16)
    assert torch.equal(crops[:, 0], top[:, None, None] + torch.arange(16.0)[None, :, None].expand(500, 16, 16))
    assert torch.equal(crops[:, 1], left[:, None, None] + torch.arange(16.0)[None, None, :].expand(500, 16, 16))
    assert set(top.long().tolist()) == set(left.long().tolist()) == {0, 1, 2, 3}  # every offset in [0, 19 - 16]
    assert torch.equal(crops, random_crops(images, 16, torch.Generator().manual_seed(0)))
    assert not torch.equal(crops, random_crops(images, 16, torch.Generator().manual_seed(1)))
    assert (crop_load_size(64), crop_load_size(256), crop_load_size(16)) == (76, 304, 19)
    with pytest.raises(ZooError, match="cannot crop 20 px from 19x19 images"):
        random_crops(images, 20)


def test_random_crop_and_flip_of_the_captions_datamodule_on_the_cub_layout(cub_root):
    def batch(seed: int, **options):
        data = CaptionsDataModule(root=str(cub_root), resolution=16, batch_size=2, seed=seed, **options)
        data.setup()
        items = data.dataset.__getitems__([0, 1])
        return items[0], data.on_after_batch_transfer(items, 0)[0]

    loaded, crops = batch(0, random_crop=True)
    assert loaded.shape == (2, 3, 19, 19) and crops.shape == (2, 3, 16, 16)  # StackGAN's 76 -> 64, scaled
    windows = (loaded.float() / 127.5 - 1).unfold(2, 16, 1).unfold(3, 16, 1)  # (2, 3, 4, 4, 16, 16)
    for image, crop in zip(windows, crops, strict=True):
        assert any(torch.allclose(image[:, i, j], crop) for i in range(4) for j in range(4))
    assert torch.equal(crops, batch(0, random_crop=True)[1])  # (seed, iteration) decide the crop
    assert not torch.equal(crops, batch(1, random_crop=True)[1])
    _, flipped = batch(0, random_crop=True, hflip=True)
    assert all(torch.equal(f, c) or torch.equal(f, c.flip(-1)) for f, c in zip(flipped, crops, strict=True))
    plain, unchanged = batch(0)
    assert plain.shape == (2, 3, 16, 16) and torch.equal(unchanged, plain.float() / 127.5 - 1)


@pytest.mark.parametrize("entry", ["stackgan", "stackgan2"])
def test_the_stackgan_recipes_for_cub_crop_and_flip_as_the_ports(entry, cub_root):
    import yaml

    options = yaml.safe_load((ROOT / "configs" / entry / "captions.yaml").read_text())["data"]
    data = CaptionsDataModule(root=str(cub_root), **options)
    assert data.random_crop and data.hflip


def test_bird_crop_by_hand():
    assert bird_crop((10.0, 20.0, 30.0, 20.0), 100, 80) == (3, 8, 47, 52)
    # box (80, 60, 20, 20): half-side 15 about (90, 70), clipped to the 100 x 80 image
    assert bird_crop((80.0, 60.0, 20.0, 20.0), 100, 80) == (75, 55, 100, 80)


def test_characters():
    assert char_ids("Ab, Z!", 8).tolist() == [1, 2, 38, 70, 26, 41, 0, 0]
    assert char_ids("abcdef", 3).tolist() == [1, 2, 3]
    # reedscot/icml2016 lists "-" twice; its Lua table keeps the later position, and "=" follows it
    assert len(ALPHABET) == 70 and char_ids("-= ", 3).tolist() == [60, 61, 70]


def test_without_embeddings_batches_hold_none(cub_root):
    (cub_root / "train" / "char-CNN-RNN-embeddings.pickle").unlink()
    data = CaptionsDataModule(root=str(cub_root), resolution=16, batch_size=2)
    data.setup()
    batch = next(iter(data.train_dataloader()))
    assert batch[0].shape == (2, 3, 16, 16) and batch[1] is None and batch[2].shape == (2, 10, 201)


class Payload:
    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_code_in_a_pickle_is_refused_and_nothing_runs(tmp_path):
    payload = Payload()
    payload.marker = tmp_path / "ran"
    path = tmp_path / "filenames.pickle"
    path.write_bytes(pickle.dumps([payload], protocol=2))
    with pytest.raises(ZooError, match=r"refusing to load (posix|os|nt)\.system"):
        read_legacy_pickle(path)
    assert not payload.marker.exists()


@pytest.mark.parametrize(
    "remove, named",
    [
        ("train/filenames.pickle", "train/filenames.pickle"),
        ("train/class_info.pickle", "train/class_info.pickle"),
        ("text_c10", "text_c10"),
    ],
)
def test_missing_files_are_one_line_errors(cub_root, remove, named):
    target = cub_root / remove
    if target.is_dir():
        for f in sorted(target.rglob("*"), reverse=True):
            f.unlink() if f.is_file() else f.rmdir()
        target.rmdir()
    else:
        target.unlink()
    data = CaptionsDataModule(root=str(cub_root))
    with pytest.raises(ZooError) as err:
        data.validate()
    message = str(err.value)
    assert str(cub_root / named) in message and "\n" not in message
    assert "StackGAN" in message and "captioned_mnist" in message


def test_missing_image_is_named(cub_root):
    (cub_root / "CUB_200_2011" / "images" / f"{KEYS[1]}.png").unlink()
    with pytest.raises(ZooError, match="Laysan_0002_1027.jpg is missing"):
        CaptionsDataModule(root=str(cub_root)).setup()


# ------------------------------------------------------------------------------- attributes


def bar(width: int, length: int = 20, shear: float = 0.0) -> torch.Tensor:
    """A white vertical bar on black (1, 28, 28) uint8, its top shifted right by ``shear`` px per row."""
    image = torch.zeros(1, 28, 28, dtype=torch.uint8)
    for row in range(4, 4 + length):
        left = 11 + round(shear * (4 + length - 1 - row))
        image[0, row, left : left + width] = 255
    return image


def test_thickness_of_thin_and_thick_bars():
    values = thickness(torch.cat([bar(2), bar(6)]))
    # 2 area / perimeter = 2 w L / (2 L + 2 w)
    assert torch.allclose(values, torch.tensor([40 / 22, 120 / 26]))
    assert attribute_levels(torch.cat([bar(1), bar(6)]))[:, 0].tolist() == [0, 2]
    # the same bar at 56 px measures alike in 28 px units
    big = bar(6).repeat_interleave(2, 1).repeat_interleave(2, 2)
    assert thickness(big).item() == pytest.approx(120 / 26)


def test_slant_of_upright_and_slanted_bars():
    values = slant(torch.cat([bar(3), bar(3, shear=0.5), bar(3, shear=-0.5)]))
    assert values[0].item() == 0.0
    assert values[1].item() == pytest.approx(0.5, abs=0.03) and values[2].item() == pytest.approx(-0.5, abs=0.03)
    assert attribute_levels(torch.cat([bar(3, shear=-0.5), bar(3), bar(3, shear=0.5)]))[:, 1].tolist() == [0, 1, 2]


def test_size_is_the_ink_box_area():
    assert size(torch.cat([bar(6), bar(3, length=8)])).tolist() == pytest.approx([120 / 784, 24 / 784])
    assert size(torch.zeros(1, 28, 28)).item() == 0.0


# ---------------------------------------------------------------------------- captioned MNIST

needs_mnist = pytest.mark.skipif(not (SHARED_MNIST / "MNIST" / "raw").is_dir(), reason="../shared/data absent")


@pytest.fixture(scope="module")
def captioned(tmp_path_factory):
    if not (SHARED_MNIST / "MNIST" / "raw").is_dir():
        pytest.skip("../shared/data/MNIST/raw absent")
    out = tmp_path_factory.mktemp("captioned_mnist")
    meta = build(SHARED_MNIST, out, limit=300, data_seed=3)
    return out, meta


@needs_mnist
def test_captions_name_the_true_digit_and_measured_attributes(captioned):
    out, _ = captioned
    data = CaptionedMNISTDataModule(root=str(SHARED_MNIST), out=str(out), limit=300, data_seed=3, resolution=28)
    data.setup()
    mnist, digits = MNISTDataModule(root=str(SHARED_MNIST), train=True).read_split()
    indices = [int(key.rsplit("_", 1)[1]) for key in data.dataset.keys]
    stored = torch.stack([data.dataset.image(i) for i in range(len(indices))])
    assert torch.equal(stored[:, 0], mnist[indices])  # the reader gives back the very MNIST pixels
    levels = attribute_levels(stored).tolist()
    for i, (index, lines) in enumerate(zip(indices, data.dataset.captions, strict=True)):
        digit = int(digits[index])
        assert len(lines) == 10 and len(set(lines)) == 10
        assert all(DIGIT_WORDS[digit] in line or str(digit) in line for line in lines)
        assert data.dataset.classes[i] == 1 + digit * 9 + levels[i][0] * 3 + levels[i][1]
        thick, lean = THICKNESS_TEXT[THICKNESS_WORDS[levels[i][0]]], SLANT_TEXT[SLANT_WORDS[levels[i][1]]]
        assert all(lean[0] in line or lean[1] in line for line in lines)  # every phrasing names the slant
        assert sum(thick[0] in line or thick[1] in line for line in lines) >= 8  # 11 of 12 name the thickness


@needs_mnist
def test_held_out_combinations_are_only_in_test(captioned):
    out, meta = captioned
    held = held_out_classes(3)
    assert sorted(held) == meta["held_out"] and len(held) == 10
    assert len({(c - 1) // 9 for c in held}) == 10  # one per digit
    train = set(read_legacy_pickle(out / "train" / "class_info.pickle"))
    test = set(read_legacy_pickle(out / "test" / "class_info.pickle"))
    assert not train & held and test & held
    assert meta["counts"]["test"] == 300 and meta["counts"]["train"] < 300


@needs_mnist
def test_the_build_is_deterministic_and_registered(captioned, tmp_path):
    out, _ = captioned
    again = tmp_path / "again"
    build(SHARED_MNIST, again, limit=300, data_seed=3)
    keys = read_legacy_pickle(again / "train" / "filenames.pickle")
    assert keys == read_legacy_pickle(out / "train" / "filenames.pickle")
    for key in keys[:20]:
        assert (again / "text_c10" / f"{key}.txt").read_text() == (out / "text_c10" / f"{key}.txt").read_text()
    assert get_datamodule("captioned_mnist") is CaptionedMNISTDataModule
    assert get_datamodule("captions") is CaptionsDataModule


def test_captioned_mnist_without_mnist_names_the_files(tmp_path):
    data = CaptionedMNISTDataModule(root=str(tmp_path / "none"), out=str(tmp_path / "out"))
    with pytest.raises(ZooError) as err:
        data.validate()
    assert "train-images-idx3-ubyte" in str(err.value) and "\n" not in str(err.value)
    assert "--data.download true" in str(err.value)


@needs_mnist
def test_captioned_mnist_trains_from_the_cli(tmp_path):
    """The CLI builds the set (its size unknown before) and a GAN trains on the reader's batches."""
    done = run_cli(
        "fit", "--model", "dcgan", "--data", "captioned_mnist", "--data.root", str(SHARED_MNIST),
        "--data.out", str(tmp_path / "cm"), "--data.limit", "100", "--data.batch_size", "16",
        "--model.ngf", "8", "--model.ndf", "8", "--trainer.accelerator", "cpu", "--trainer.max_steps", "2",
        "--trainer.enable_model_summary", "false", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    meta = json.loads((tmp_path / "cm" / "build.json").read_text())
    assert meta["counts"]["test"] == 100 and 80 < meta["counts"]["train"] < 100
