"""Any folder or zip of images: recursive, with optional labels from class subfolders."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import numpy as np

from datamodules.images import (
    DECODE_ERRORS,
    FileSource,
    ImageDataModule,
    ImageSource,
    ZipSource,
    image_size,
    is_image,
    list_images,
)
from zoo.errors import ZooError


def class_labels(relative_paths: list[str]) -> tuple[np.ndarray, list[str]]:
    """Labels from each path's first folder (sorted class names -> 0..K-1), as torchvision's ImageFolder."""
    parts = [Path(p).parts for p in relative_paths]
    if any(len(p) < 2 for p in parts):
        raise ZooError("class labels need every image inside a class subfolder (root/<class>/<image>)")
    classes = sorted({p[0] for p in parts})
    index = {name: i for i, name in enumerate(classes)}
    return np.array([index[p[0]] for p in parts], dtype=np.int64), classes


def folder_or_zip_source(root: Path, labels: bool) -> tuple[ImageSource, list[str] | None]:
    """Every image under a folder (recursive) or in a zip; with ``labels`` the first subfolder is the class."""
    is_zip = root.is_file() and zipfile.is_zipfile(root)
    if is_zip:
        with zipfile.ZipFile(root) as z:
            relative = sorted(m for m in z.namelist() if is_image(m))
    elif root.is_dir():
        files = list_images(root)
        relative = [str(f.relative_to(root)) for f in files]
    else:
        raise ZooError(f"{root} is neither a folder nor a zip file of images; set --data.root to one")
    if not relative:
        raise ZooError(f"no images (.jpg, .png, .webp, ...) found in {root}")
    y, classes = class_labels(relative) if labels else (None, None)
    return (ZipSource(root, relative, y) if is_zip else FileSource(files, y)), classes


def warn_if_upscaled(source: ImageSource, resolution: int) -> None:
    """One warning when the first image is smaller than ``resolution``: the images get upscaled (blurred)."""
    try:
        width, height = image_size(source)
    except DECODE_ERRORS:
        return  # an unreadable file is skipped and reported when it is decoded
    if min(width, height) < resolution:
        warnings.warn(
            f"--data.resolution {resolution} is larger than the images, which are upscaled ({source.describe(0)} "
            f"is {width}x{height}); pass --data.resolution {min(width, height)} or less to train on them unscaled",
            stacklevel=2,
        )


class FolderDataModule(ImageDataModule):
    """Every image below a folder, or inside a zip, at any size: center-cropped to a square and resized."""

    def __init__(self, root: str, labels: bool = False, **kwargs):
        """
        Args:
            root: a folder (searched recursively) or a .zip of PNG/JPEG/WebP images.
            labels: class labels from the first subfolder (root/<class>/...), as torchvision's ImageFolder.
            **kwargs: resolution, batch_size, num_workers, hflip, cache, cache_dir, seed (see ImageDataModule).
        """
        super().__init__(root, **kwargs)
        self.labels = labels
        self.classes: list[str] | None = None
        if labels:
            self.num_classes = len(self._ensure_classes())

    def _ensure_classes(self) -> list[str]:
        self.source()
        return self.classes or []

    def make_source(self) -> ImageSource:
        source, self.classes = folder_or_zip_source(self.root, self.labels)
        warn_if_upscaled(source, self.resolution)
        return source
