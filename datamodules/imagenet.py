"""ImageNet ILSVRC-2012 (Russakovsky et al. 2015, "ImageNet Large Scale Visual Recognition Challenge",
IJCV; https://image-net.org) in the ImageFolder layout, preprocessed as BigGAN (Brock et al. 2019,
"Large Scale GAN Training for High Fidelity Natural Image Synthesis", ICLR) does: the largest central
square (BigGAN-PyTorch's CenterCropLongEdge), resized to 32, 64, 128 or 256 px.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from datamodules.base import found
from datamodules.images import FileSource, ImageDataModule, ImageSource, list_images
from zoo.errors import ZooError

IMAGENET_PAGE = "https://image-net.org"
SPLITS = ("train", "val")


def class_folders(folder: Path) -> list[str]:
    """The sorted sub-folder names of ``folder`` (torchvision's ImageFolder classes)."""
    return sorted(d.name for d in folder.iterdir() if d.is_dir())


class ImageNetDataModule(ImageDataModule):
    """ILSVRC-2012 as ``root/train/<wnid>/*.JPEG`` and ``root/val/<wnid>/*.JPEG`` (the layout
    torchvision.datasets.ImageNet and the usual valprep.sh script produce).

    Class labels follow the sorted wnids of train/ (of the split's own folder when train/ is absent),
    so val labels agree with train labels. A subset (``classes``) keeps that order, renumbered
    0..K-1; ``wnids[k]`` is the wnid of label k.
    """

    def __init__(
        self,
        root: str,
        split: str = "train",
        classes: list[str] | int | None = None,
        resolution: int = 128,
        **kwargs,
    ):
        """
        Args:
            root: the folder that holds train/ and val/, each with one sub-folder of images per wnid.
            split: train (1.28M images) or val (50,000).
            classes: all 1000 classes (None), the first N in sorted wnid order, or a list of wnids
                such as [n01440764, n02102040]; labels are renumbered 0..K-1 in sorted wnid order.
            resolution: training resolution (BigGAN trains at 128; 32, 64 and 256 are also common).
            **kwargs: batch_size, num_workers, hflip, cache, cache_dir, seed (see ImageDataModule).
        """
        super().__init__(root, resolution=resolution, **kwargs)
        if split not in SPLITS:
            raise ZooError(f"unknown ImageNet split '{split}'; choose one of: {', '.join(SPLITS)}")
        self.split = split
        self.wnids = self.select(classes)
        self.num_classes = len(self.wnids)

    def split_folder(self, split: str) -> Path:
        folder = self.root / split
        if not folder.is_dir():
            raise ZooError(
                f"ImageNet {split} folder not found: expected {folder}/<wnid>/*.JPEG; found in {self.root}: "
                f"{found(self.root)}. Get ILSVRC-2012 from {IMAGENET_PAGE} (after registering) and unpack it "
                f"into class folders, e.g. with torchvision.datasets.ImageNet('{self.root}', split='{split}')."
            )
        return folder

    def select(self, classes: list[str] | int | None) -> list[str]:
        """The wnids to train on, in label order."""
        index_folder = self.root / "train" if (self.root / "train").is_dir() else self.split_folder(self.split)
        wnids = class_folders(index_folder)
        if not wnids:
            raise ZooError(
                f"no class folders in {index_folder}: expected one <wnid>/ folder of images per class "
                "(val images in one flat folder must first be sorted into class folders, e.g. by "
                "torchvision.datasets.ImageNet or valprep.sh)"
            )
        if classes is None:
            return wnids
        if isinstance(classes, int):
            if not 0 < classes <= len(wnids):
                raise ZooError(f"--data.classes {classes} must be in 1..{len(wnids)} (the classes in {index_folder})")
            return wnids[:classes]
        unknown = sorted(set(classes) - set(wnids))
        if unknown:
            raise ZooError(
                f"unknown ImageNet class(es) {', '.join(unknown)} in --data.classes: no such folder in {index_folder} "
                f"(wnids look like {wnids[0]})"
            )
        return sorted(set(classes))

    def make_source(self) -> ImageSource:
        folder = self.split_folder(self.split)
        files = {wnid: list_images(folder / wnid) for wnid in self.wnids}
        empty = [wnid for wnid, images in files.items() if not images]
        if empty:
            raise ZooError(f"no images for {len(empty)} class(es) in {folder}, e.g. {folder / empty[0]}")
        labels = np.concatenate([np.full(len(images), k, dtype=np.int64) for k, images in enumerate(files.values())])
        return FileSource([f for images in files.values() for f in images], labels)
