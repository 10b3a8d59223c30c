"""Captioned MNIST: an offline text-to-image dataset written in StackGAN's layout (datamodules/captions.py).

Each MNIST digit (LeCun et al. 1998) gets 10 captions naming its digit and three attributes measured on the
image itself (datamodules/digit_attributes.py: stroke thickness, slant, size, 3 levels each), in varied
phrasings. Its class is the (digit, thickness, slant) combination, 90 classes written as CUB's are
(``007.seven_thick_right``, 1-based ids); as CUB holds 50 of its 200 species out of training, one
(thickness, slant) combination per digit, drawn from ``data_seed``, is held out: train (from MNIST's training
images) has none of them, test (from MNIST's test images) has all combinations. Everything is written to disk,
PNG images and protocol-2 pickles, so the real reader is what loads it.
"""

from __future__ import annotations

import json
import pickle
import random
from pathlib import Path

import torch
from PIL import Image

from datamodules.captions import CaptionsDataModule
from datamodules.digit_attributes import SIZE_WORDS, SLANT_WORDS, THICKNESS_WORDS, attribute_levels
from datamodules.mnist import MNISTDataModule

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
CAPTIONS_PER_IMAGE = 10
#: how each attribute level reads in a caption: (adjective, phrase)
THICKNESS_TEXT = {
    "thin": ("thin", "a thin stroke"),
    "medium": ("medium-weight", "a medium stroke"),
    "thick": ("thick", "a heavy stroke"),
}
SLANT_TEXT = {
    "left": ("leaning left", "a leftward slant"),
    "upright": ("standing upright", "no slant"),
    "right": ("leaning right", "a rightward slant"),
}
SIZE_TEXT = {"small": "small", "medium": "medium-sized", "large": "large"}
#: caption phrasings, filled with the digit word (d), its numeral (n) and the attribute texts
TEMPLATES = (
    "a {t} {d} {s}",
    "the digit {n}, written with {tp} and {sp}",
    "a {z} {t} {d}, {s}",
    "a handwritten {d} drawn with {tp}, {s}",
    "this is a {z} number {n} with {sp}",
    "{z} {d} in {tp}, {s}",
    "a {t} numeral {n} {s}",
    "the number {d}: {z}, {t} and {s}",
    "someone wrote a {z} {d} with {tp} and {sp}",
    "a {d} that is {t}, {z} and {s}",
    "a {z} digit {n} {s}, drawn with {tp}",
    "{n} written {t} and {z}, {s}",
)


def class_name(digit: int, thickness: int, slant: int) -> str:
    """The class folder of a combination, numbered from 1 like CUB's (``001.zero_thin_left``)."""
    words = f"{DIGIT_WORDS[digit]}_{THICKNESS_WORDS[thickness]}_{SLANT_WORDS[slant]}"
    return f"{class_id(digit, thickness, slant):03d}.{words}"


def class_id(digit: int, thickness: int, slant: int) -> int:
    return 1 + digit * 9 + thickness * 3 + slant


def held_out_classes(data_seed: int) -> set[int]:
    """One (thickness, slant) combination per digit, drawn from ``data_seed``: the classes test holds alone."""
    rng = random.Random(data_seed)
    return {class_id(digit, *divmod(rng.randrange(9), 3)) for digit in range(10)}


def captions_for(digit: int, levels: tuple[int, int, int], rng: random.Random) -> list[str]:
    """10 captions in different phrasings for a digit with (thickness, slant, size) ``levels``."""
    thickness, slant, size = THICKNESS_WORDS[levels[0]], SLANT_WORDS[levels[1]], SIZE_WORDS[levels[2]]
    fields = {
        "d": DIGIT_WORDS[digit],
        "n": str(digit),
        "t": THICKNESS_TEXT[thickness][0],
        "tp": THICKNESS_TEXT[thickness][1],
        "s": SLANT_TEXT[slant][0],
        "sp": SLANT_TEXT[slant][1],
        "z": SIZE_TEXT[size],
    }
    return [template.format(**fields) for template in rng.sample(TEMPLATES, CAPTIONS_PER_IMAGE)]


def write_split(out: Path, split: str, images: torch.Tensor, digits: torch.Tensor, held_out: set[int], rng) -> int:
    """Writes one split's PNGs, caption files and pickles; returns how many images it holds. Train leaves
    out the held-out classes."""
    levels = attribute_levels(images).tolist()
    keys, classes = [], []
    for i, (digit, level) in enumerate(zip(digits.tolist(), levels, strict=True)):
        cls = class_id(digit, level[0], level[1])
        if split == "train" and cls in held_out:
            continue
        key = f"{class_name(digit, level[0], level[1])}/mnist_{split}_{i:05d}"
        for folder, suffix, write in (
            ("images", ".png", lambda p, i=i: Image.fromarray(images[i].numpy(), mode="L").save(p)),
            ("text_c10", ".txt", lambda p, d=digit, lv=level: p.write_text("\n".join(captions_for(d, lv, rng)) + "\n")),
        ):
            path = out / folder / f"{key}{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            write(path)
        keys.append(key)
        classes.append(cls)
    (out / split).mkdir(parents=True, exist_ok=True)
    for name, values in (("filenames.pickle", keys), ("class_info.pickle", classes)):
        with open(out / split / name, "wb") as f:
            pickle.dump(values, f, protocol=2)  # as StackGAN's Python 2 files
    return len(keys)


def build(
    mnist_root: str | Path, out: str | Path, limit: int | None = None, data_seed: int = 0, download: bool = False
) -> dict:
    """Writes captioned MNIST to ``out`` from the MNIST idx files under ``mnist_root`` (MNIST/raw/, fetched by
    torchvision with ``download``), the first ``limit`` images of each MNIST split (all with None); returns
    what it wrote (also ``out``/build.json)."""
    out = Path(out)
    (out / "build.json").unlink(missing_ok=True)  # an interrupted rebuild must not pass for the old build
    rng = random.Random(data_seed)
    held_out = held_out_classes(data_seed)
    counts = {}
    for split, train in (("train", True), ("test", False)):
        images, digits = MNISTDataModule(root=str(mnist_root), train=train, download=download).read_split()
        counts[split] = write_split(out, split, images[:limit], digits[:limit], held_out, rng)
    meta = {"limit": limit, "data_seed": data_seed, "held_out": sorted(held_out), "counts": counts}
    (out / "build.json").write_text(json.dumps(meta))  # written last: its presence marks a complete build
    return meta


class CaptionedMNISTDataModule(CaptionsDataModule):
    """Captioned MNIST, built once into ``out`` from the MNIST files in ``root`` and read in StackGAN's layout."""

    def __init__(
        self,
        root: str = "data",
        download: bool = False,
        out: str = "data/captioned_mnist",
        limit: int | None = None,
        data_seed: int = 0,
        resolution: int = 32,
        **kwargs,
    ):
        """
        Args:
            root: the folder holding MNIST/raw/ with the idx files (torchvision's layout).
            download: fetch MNIST into root with torchvision when it is missing.
            out: where the captioned dataset is written (rebuilt when limit or data_seed change).
            limit: images taken from each MNIST split (None: all 70,000); tests build a few hundred.
            data_seed: seed of the held-out combinations and of the caption phrasings.
            resolution: output size in pixels.
            **kwargs: train, captions_per_image, text_length, batch_size, num_workers, seed.
        """
        super().__init__(root=out, resolution=resolution, channels=1, **kwargs)
        self.mnist_root, self.download, self.limit, self.data_seed = root, download, limit, data_seed

    def prepare_data(self) -> None:
        if not self.built():
            build(self.mnist_root, self.root, self.limit, self.data_seed, self.download)

    def built(self) -> bool:
        """True when ``out`` holds a complete build with this limit and seed."""
        meta = self.root / "build.json"
        if not meta.is_file():
            return False
        done = json.loads(meta.read_text())
        return done.get("limit") == self.limit and done.get("data_seed") == self.data_seed

    def validate(self) -> None:
        if self.built():
            super().validate()
        else:
            MNISTDataModule(root=self.mnist_root, download=self.download).validate()
