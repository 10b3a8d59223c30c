"""Real image datasets: sources in their on-disk formats, decoding, and the resized uint8 cache.

A dataset is an ``ImageSource`` (encoded images in files, a zip or an LMDB, plus optional labels).
``DecodedImages`` decodes, squares and resizes them to uint8 CHW tensors on the fly; corrupt files
are replaced by the next readable one and counted. ``build_cache`` decodes a source once into one
memory-mapped uint8 array at the training resolution (``CachedImages`` reads it), so training at
64-256 px never decodes 1024 px files twice. ``ImageDataModule`` ties them together.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from datamodules.base import Batch, ZooDataModule
from zoo.errors import ZooError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".ppm", ".tif", ".tiff"}
CACHE_VERSION = 1
#: exceptions PIL raises for truncated, corrupt or non-image files
DECODE_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError, EOFError, zipfile.BadZipFile)


def is_image(name: str) -> bool:
    return Path(name).suffix.lower() in IMAGE_SUFFIXES


def list_images(folder: Path) -> list[Path]:
    """Every image file below ``folder`` (recursive), in a stable sorted order."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_image(p.name))


# ------------------------------------------------------------------------------------- sources


class ImageSource:
    """Encoded images addressed by index, with optional int64 labels (N,) or (N, K)."""

    labels: np.ndarray | None = None

    def __len__(self) -> int:
        raise NotImplementedError

    def read(self, i: int) -> bytes:
        raise NotImplementedError

    def describe(self, i: int) -> str:
        """Where image ``i`` lives, for messages."""
        return f"image {i}"

    def fingerprint(self) -> str:
        """Changes whenever the source's content may have changed (for cache invalidation)."""
        raise NotImplementedError


class FileSource(ImageSource):
    """Images as individual files."""

    def __init__(self, files: Sequence[Path], labels: np.ndarray | None = None):
        self.files, self.labels = list(files), labels
        self._fingerprint: str | None = None

    def __len__(self) -> int:
        return len(self.files)

    def read(self, i: int) -> bytes:
        return self.files[i].read_bytes()

    def describe(self, i: int) -> str:
        return str(self.files[i])

    def fingerprint(self) -> str:
        if self._fingerprint is None:  # one stat per file per run, however often it is asked
            h = hashlib.sha1()
            for f in self.files:
                st = f.stat()
                h.update(f"{f}:{st.st_size}:{st.st_mtime_ns}\n".encode())
            self._fingerprint = h.hexdigest()
        return self._fingerprint


class ZipSource(ImageSource):
    """Images as members of one zip file, opened lazily in every DataLoader worker."""

    def __init__(self, path: Path, members: Sequence[str], labels: np.ndarray | None = None):
        self.path, self.members, self.labels = Path(path), list(members), labels
        self._zip: zipfile.ZipFile | None = None
        self._pid = None

    def __len__(self) -> int:
        return len(self.members)

    def zip(self) -> zipfile.ZipFile:
        if self._zip is None or self._pid != os.getpid():  # one handle per process: file offsets are not shareable
            self._zip, self._pid = zipfile.ZipFile(self.path), os.getpid()
        return self._zip

    def read(self, i: int) -> bytes:
        return self.zip().read(self.members[i])

    def describe(self, i: int) -> str:
        return f"{self.path}:{self.members[i]}"

    def fingerprint(self) -> str:
        st = self.path.stat()
        return hashlib.sha1(f"{self.path}:{st.st_size}:{st.st_mtime_ns}:{len(self.members)}".encode()).hexdigest()

    def __getstate__(self):
        return {**self.__dict__, "_zip": None, "_pid": None}


# ------------------------------------------------------------------------------------ decoding


def center_square(image: Image.Image, crop: int | None = None) -> Image.Image:
    """The central ``crop`` x ``crop`` region (CelebA's 178/140 crops), or the largest central
    square when ``crop`` is None (non-square images are center-cropped)."""
    w, h = image.size
    side = min(w, h) if crop is None else min(crop, w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return image.crop((left, top, left + side, top + side))


def resize_square(image: Image.Image, resolution: int, box_downscale: bool = False) -> Image.Image:
    """Resizes a square image. ``box_downscale`` uses the box filter for power-of-two reductions
    (the StyleGAN dataset tool's FFHQ downscaling); otherwise antialiased bicubic (Lanczos when shrinking)."""
    side = image.size[0]
    if side == resolution:
        return image
    factor = side // resolution
    if box_downscale and side == factor * resolution and factor & (factor - 1) == 0:
        return image.reduce(factor)
    return image.resize((resolution, resolution), Image.LANCZOS if side > resolution else Image.BICUBIC)


def decode(
    data: bytes, resolution: int, channels: int, crop: int | None = None, box_downscale: bool = False
) -> np.ndarray:
    """Encoded bytes -> uint8 (C, H, W): converted to RGB or L (grayscale -> RGB, RGBA loses alpha),
    squared, resized."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        image = image.convert("RGB" if channels == 3 else "L")
    image = resize_square(center_square(image, crop), resolution, box_downscale)
    array = np.asarray(image, dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1).copy()


class DecodedImages(Dataset):
    """Decodes a source on the fly. A corrupt or truncated file is replaced by the next readable one;
    every item reports how many files it skipped, so the datamodule can count them per epoch."""

    def __init__(self, source: ImageSource, resolution: int, channels: int, crop: int | None, box_downscale: bool):
        self.source, self.resolution, self.channels = source, resolution, channels
        self.crop, self.box_downscale = crop, box_downscale
        self._warned: set[int] = set()

    def __len__(self) -> int:
        return len(self.source)

    def decode(self, i: int) -> np.ndarray:
        return decode(self.source.read(i), self.resolution, self.channels, self.crop, self.box_downscale)

    def __getitem__(self, i: int):
        n = len(self.source)
        if not 0 <= i < n:
            raise IndexError(i)
        for skipped in range(n):
            j = (i + skipped) % n
            try:
                image = self.decode(j)
            except DECODE_ERRORS as err:
                if j not in self._warned:
                    self._warned.add(j)
                    warnings.warn(f"skipping unreadable image {self.source.describe(j)}: {err}", stacklevel=2)
                continue
            return torch.from_numpy(image), label_of(self.source.labels, j), skipped
        raise ZooError(f"none of the {n} images could be decoded (first: {self.source.describe(0)})")


def label_of(labels: np.ndarray | None, i: int) -> torch.Tensor:
    return torch.tensor(-1 if labels is None else labels[i], dtype=torch.long)


# --------------------------------------------------------------------------------------- cache


def cache_key(name: str, source: ImageSource, resolution: int, channels: int, crop: int | None, box: bool) -> str:
    h = hashlib.sha1(f"v{CACHE_VERSION}:{source.fingerprint()}:{resolution}:{channels}:{crop}:{box}".encode())
    return f"{name}-{resolution}px-{h.hexdigest()[:12]}"


def build_cache(decoded: DecodedImages, path: Path, num_workers: int = 2) -> Path:
    """Decodes every image once into ``path``.npy (uint8 (N, C, H, W), memory-mappable) and writes
    ``path``.json last: the JSON's presence marks a complete cache, which is then reused as it is.
    Labels are not cached: they come from the source, so switching labels on or off reuses the cache.
    Unreadable files stay out of the readable index (``path``.index.npy), are listed in the JSON and
    counted in a warning; a source with no readable image is an error."""
    meta_path = path.with_suffix(".json")
    if meta_path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    n, c, r = len(decoded), decoded.channels, decoded.resolution
    tmp = f".tmp{os.getpid()}"
    images_path = path.with_suffix(".npy")
    images = np.lib.format.open_memmap(
        images_path.with_name(images_path.name + tmp), mode="w+", dtype=np.uint8, shape=(n, c, r, r)
    )
    readable = np.zeros(n, dtype=bool)
    for indices, batch, ok in DataLoader(_Indexed(decoded), batch_size=64, num_workers=num_workers):
        images[indices.numpy()] = batch.numpy()
        readable[indices.numpy()] = ok.numpy()
    images.flush()
    del images
    bad = [decoded.source.describe(i) for i in np.flatnonzero(~readable)]
    if len(bad) == n:
        images_path.with_name(images_path.name + tmp).unlink()
        raise ZooError(f"none of the {n} images could be decoded (first: {bad[0]})")
    if bad:
        warnings.warn(f"{len(bad)} of {n} images are unreadable and left out of the cache, e.g. {bad[0]}", stacklevel=2)
    os.replace(images_path.with_name(images_path.name + tmp), images_path)
    np.save(path.with_suffix(".index.npy"), np.flatnonzero(readable))
    meta = {"count": int(readable.sum()), "shape": [c, r, r], "unreadable": bad, "version": CACHE_VERSION}
    meta_path.with_name(meta_path.name + tmp).write_text(json.dumps(meta, indent=1))
    os.replace(meta_path.with_name(meta_path.name + tmp), meta_path)
    return path


class _Indexed(Dataset):
    """(index, image, readable) triples for building the cache: failures are reported, not replaced."""

    def __init__(self, decoded: DecodedImages):
        self.decoded = decoded

    def __len__(self) -> int:
        return len(self.decoded)

    def __getitem__(self, i: int):
        try:
            return i, self.decoded.decode(i), True
        except DECODE_ERRORS:
            c, r = self.decoded.channels, self.decoded.resolution
            return i, np.zeros((c, r, r), dtype=np.uint8), False


class CachedImages(Dataset):
    """Reads the cache written by ``build_cache``: a memory map opened lazily in every worker,
    addressed through the index of readable images; labels are the source's."""

    def __init__(self, path: Path, labels: np.ndarray | None):
        self.path, self.labels = path, labels
        self.index = np.load(path.with_suffix(".index.npy"))
        self._images: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.index)

    def memmap(self) -> np.ndarray:
        if self._images is None:
            self._images = np.load(self.path.with_suffix(".npy"), mmap_mode="r")
        return self._images

    def __getitem__(self, i: int):
        j = int(self.index[i])
        return torch.from_numpy(np.array(self.memmap()[j])), label_of(self.labels, j), 0

    def __getitems__(self, indices: list[int]) -> Batch:
        """A whole batch in one read (the DataLoader calls this instead of one ``__getitem__`` per
        image): rows are fetched in file order, then put back in the sampler's order."""
        rows = self.index[np.asarray(indices)]
        order = np.argsort(rows, kind="stable")
        images = np.empty((len(rows), *self.memmap().shape[1:]), dtype=np.uint8)
        images[order] = self.memmap()[rows[order]]  # numpy row copies (torch's uint8 index_put is ~10x slower)
        labels = (
            torch.full((len(rows),), -1, dtype=torch.long)
            if self.labels is None
            else torch.as_tensor(self.labels[rows])
        )
        return Batch((torch.from_numpy(images), labels, torch.zeros(len(rows), dtype=torch.long)))

    def __getstate__(self):
        return {**self.__dict__, "_images": None}


# ---------------------------------------------------------------------------------- datamodule


def default_cache_dir() -> Path:
    return Path(os.environ.get("GAN_ZOO_CACHE", Path.home() / ".cache" / "gan-zoo"))


class ImageDataModule(ZooDataModule):
    """Base of the real-image datamodules: subclasses implement ``make_source`` (which checks the
    layout and raises a ZooError naming what is missing) and may set ``crop``/``box_downscale``."""

    channels = 3
    crop: int | None = None
    box_downscale = False

    def __init__(
        self,
        root: str,
        resolution: int = 64,
        batch_size: int = 64,
        num_workers: int = 2,
        hflip: bool = True,
        cache: bool = True,
        cache_dir: str | None = None,
        seed: int | None = None,
    ):
        """
        Args:
            root: the dataset folder (or file) in its official layout.
            resolution: training resolution in pixels (images are center-cropped to a square, then resized).
            hflip: random horizontal flips (decided on the device, per image, from the run's seed).
            cache: decode the dataset once into a uint8 array at this resolution and train from it
                (built by rank 0 in prepare_data; reused while the source and settings are unchanged).
            cache_dir: where caches live (default: $GAN_ZOO_CACHE or ~/.cache/gan-zoo).
        """
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        if resolution < 4:
            raise ZooError(f"resolution must be >= 4, got {resolution}")
        self.root, self.resolution, self.hflip = Path(root), resolution, hflip
        self.cache, self.cache_dir = cache, Path(cache_dir) if cache_dir else default_cache_dir()
        self._source: ImageSource | None = None
        self.corrupt_skipped = 0  # files skipped while decoding on the fly (not with the cache)

    @property
    def name(self) -> str:
        from datamodules import data_name

        return data_name(type(self)) or type(self).__name__.lower()

    def make_source(self) -> ImageSource:
        raise NotImplementedError

    def validate(self) -> None:
        self.source()  # make_source checks the layout

    def loader_workers(self) -> int:
        """Workers decode; the cache needs none. A memory-mapped batch read in the main process costs
        less than handing a batch over from a worker process (benchmarks/data.py: at 256 px, about 3x
        the images/s of 2 workers), so the cache is read in-process and ``num_workers`` serves the
        cache build and decoding on the fly."""
        return 0 if self.cache else self.num_workers

    def source(self) -> ImageSource:
        if self._source is None:
            self._source = self.make_source()
        return self._source

    def decoded(self, source: ImageSource | None = None) -> DecodedImages:
        source = self.source() if source is None else source
        return DecodedImages(source, self.resolution, self.channels, self.crop, self.box_downscale)

    def cache_path(self, source: ImageSource | None = None, name: str | None = None) -> Path:
        source = self.source() if source is None else source
        key = cache_key(name or self.name, source, self.resolution, self.channels, self.crop, self.box_downscale)
        return self.cache_dir / key

    def cache_paths(self) -> list[Path]:
        """Every cache this datamodule trains from (``prepare`` reports each)."""
        return [self.cache_path()]

    def images(self, source: ImageSource, name: str) -> Dataset:
        """``source`` at the training resolution: decoded on the fly, or read from its cache (built
        first when missing; ``name`` starts the cache's file name)."""
        decoded = self.decoded(source)
        if not self.cache:
            return decoded
        path = build_cache(decoded, self.cache_path(source, name), num_workers=self.num_workers)
        return CachedImages(path, source.labels)

    def prepare_data(self) -> None:
        if self.cache:
            self.images(self.source(), self.name)

    def setup(self, stage: str | None = None) -> None:
        if self.dataset is None:
            self.dataset = self.images(self.source(), self.name)

    def on_before_batch_transfer(self, batch, dataloader_idx: int):
        images, labels, skipped = batch
        self.corrupt_skipped += int(skipped.sum())  # a CPU tensor: no device sync
        return [images, labels]
