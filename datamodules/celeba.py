"""CelebA (Liu et al. 2015, "Deep Learning Face Attributes in the Wild", ICCV;
https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html) in torchvision's layout, and CelebA-HQ
(Karras et al. 2018, "Progressive Growing of GANs", ICLR) or any pre-aligned face set as images.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from datamodules.base import download, found
from datamodules.folder import FolderDataModule
from datamodules.images import FileSource, ImageDataModule, ImageSource
from zoo.errors import ZooError

CELEBA_PAGE = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"
IMAGES, PARTITION, ATTRIBUTES = "img_align_celeba", "list_eval_partition.txt", "list_attr_celeba.txt"
#: split name -> its number in list_eval_partition.txt (None: every image)
SPLITS = {"train": 0, "valid": 1, "test": 2, "all": None}
ALIGNED_WIDTH = 178  # the aligned images are 178 x 218


def read_partition(path: Path) -> dict[str, int]:
    """list_eval_partition.txt: one "000001.jpg 0" line per image (0 train, 1 valid, 2 test)."""
    return {
        name: int(split) for name, split in (line.split() for line in path.read_text().splitlines() if line.strip())
    }


def read_attributes(path: Path) -> tuple[list[str], dict[str, np.ndarray]]:
    """list_attr_celeba.txt: the image count, the 40 attribute names, then "000001.jpg -1  1 ..." rows.
    Returns the names and each image's attributes as int64 0/1 (torchvision's mapping of -1/1)."""
    lines = path.read_text().splitlines()
    rows = [line.split() for line in lines[2:] if line.strip()]
    values = (np.array([row[1:] for row in rows], dtype=np.int64) + 1) // 2
    return lines[1].split(), dict(zip((row[0] for row in rows), values))


class CelebADataModule(ImageDataModule):
    """CelebA's 202,599 aligned 178x218 faces, center-cropped to ``crop`` x ``crop`` and resized.

    The crops in common GAN use are 178 (the full width: what resizing the short side to 64 and
    center-cropping 64, as in the PyTorch DCGAN tutorial, amounts to) and the tighter face crop 140
    (e.g. NCSN, Song & Ermon 2019). Labels are the 40 binary attributes with ``attributes``, or the ones it
    names (``domains``: StarGAN's target domains); they are not classes, so ``num_classes`` stays None.
    """

    #: the attributes named by ``attributes`` (None: all 40 or none), linked to an image-to-image model's domains
    domains: list[str] | None = None

    def __init__(
        self,
        root: str,
        split: str = "train",
        crop: int = ALIGNED_WIDTH,
        attributes: bool | list[str] = False,
        download: bool = False,
        resolution: int = 64,
        crop_box: tuple[int, int, int] | None = None,
        **kwargs,
    ):
        """
        Args:
            root: the folder that holds celeba/ (torchvision's layout), or that celeba/ folder itself:
                img_align_celeba/*.jpg, list_eval_partition.txt and (for ``attributes``) list_attr_celeba.txt.
            split: train (162,770 images), valid (19,867), test (19,962) or all, from list_eval_partition.txt.
            crop: side of the central square cut from each 178x218 image before resizing (178 or 140 in common use).
            attributes: labels are the 40 attributes as an int64 0/1 vector (names in ``attribute_names``
                after setup) instead of none; a list of attribute names keeps only those, in that order (StarGAN:
                [Black_Hair, Blond_Hair, Brown_Hair, Male, Young]).
            download: fetch CelebA into root/celeba with torchvision (from Google Drive; needs gdown).
            crop_box: (top, left, side) of the square cut instead of the central ``crop``; COCO-GAN's face box is
                [50, 25, 128], rows 50:178 and columns 25:153 (hubert0527/COCO-GAN, img_utils.py ``get_celeba_image``).
            **kwargs: batch_size, num_workers, hflip, cache, cache_dir, seed (see ImageDataModule).
        """
        super().__init__(root, resolution=resolution, **kwargs)
        if split not in SPLITS:
            raise ZooError(f"unknown CelebA split '{split}'; choose one of: {', '.join(SPLITS)}")
        if not 0 < crop <= ALIGNED_WIDTH:
            raise ZooError(f"crop must be in 1..{ALIGNED_WIDTH} (the aligned images are 178x218 px), got {crop}")
        self.split, self.crop, self.attributes, self.download = split, crop, attributes, download
        if crop_box is not None:
            top, left, side = crop_box
            if not (side > 0 and 0 <= top and 0 <= left and left + side <= ALIGNED_WIDTH and top + side <= 218):
                raise ZooError(f"crop_box (top, left, side) must lie inside the 178x218 aligned images, got {crop_box}")
            self.crop = (top, left, side)
        self.attribute_names: list[str] | None = None
        self.domains = list(attributes) if isinstance(attributes, (list, tuple)) else None

    def validate(self) -> None:
        if not self.download:  # otherwise prepare_data fetches the files first
            super().validate()

    def prepare_data(self) -> None:
        if self.download:
            from torchvision.datasets import CelebA

            layout = f"celeba/ ({IMAGES}/ and the list files from {CELEBA_PAGE})"
            download(lambda: CelebA(str(self.root), split="all", download=True), "CelebA", self.root, layout)
        super().prepare_data()

    def make_source(self) -> ImageSource:
        folder = self.root / "celeba" if (self.root / "celeba").is_dir() else self.root
        needed = [PARTITION, ATTRIBUTES] if self.attributes else [PARTITION]
        missing = [name for name in (f"{IMAGES}/", *needed) if not (folder / name).exists()]
        if missing:
            where = folder if folder != self.root else f"{self.root / 'celeba'} (or {self.root} itself)"
            raise ZooError(
                f"CelebA not found: expected {', '.join(missing)} in {where}; found in {folder}: {found(folder)}. "
                f"Get the aligned images (img_align_celeba.zip, unpacked) and the list files from {CELEBA_PAGE}, "
                "or pass --data.download true to fetch them with torchvision (needs gdown)."
            )
        split = SPLITS[self.split]
        names = [name for name, s in read_partition(folder / PARTITION).items() if split in (None, s)]
        present = set(os.listdir(folder / IMAGES))
        absent = [name for name in names if name not in present]
        if absent:
            raise ZooError(
                f"{len(absent)} of the {len(names)} {self.split} images listed in {PARTITION} are missing from "
                f"{folder / IMAGES} (e.g. {absent[0]}); the download or unpacking is incomplete"
            )
        labels = None
        if self.attributes:
            self.attribute_names, table = read_attributes(folder / ATTRIBUTES)
            unlisted = [name for name in names if name not in table]
            if unlisted:
                raise ZooError(f"{ATTRIBUTES} has no row for {len(unlisted)} images, e.g. {unlisted[0]}")
            labels = np.stack([table[name] for name in names])
            if self.domains is not None:
                unknown = [a for a in self.domains if a not in self.attribute_names]
                if unknown:
                    raise ZooError(
                        f"unknown CelebA attribute(s) {', '.join(unknown)} in --data.attributes; choose from: "
                        f"{', '.join(self.attribute_names)}"
                    )
                labels = labels[:, [self.attribute_names.index(a) for a in self.domains]]
                self.attribute_names = list(self.domains)
        return FileSource([folder / IMAGES / name for name in names], labels)


class CelebAHQDataModule(FolderDataModule):
    """CelebA-HQ (Karras et al. 2018: 30,000 faces at 1024x1024, built from CelebA by their dataset
    tool) or any pre-aligned face set, as a folder or zip of PNG/JPEG. Power-of-two reductions use the
    box filter, as that dataset tool's 2x2 averaging does for every lower resolution."""

    box_downscale = True

    def __init__(self, root: str, resolution: int = 256, **kwargs):
        """
        Args:
            root: a folder (searched recursively) or a .zip of the 1024x1024 (or any square) face images.
            resolution: training resolution in pixels.
            **kwargs: labels, batch_size, num_workers, hflip, cache, cache_dir, seed (see FolderDataModule).
        """
        super().__init__(root, resolution=resolution, **kwargs)
