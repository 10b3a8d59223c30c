"""Real image datasets: sources in their on-disk formats, decoding, and the resized uint8 cache.

A dataset is an ``ImageSource`` (encoded images in files, a zip or an LMDB, plus optional labels).
``DecodedImages`` decodes, squares and resizes them to uint8 CHW tensors on the fly; corrupt files
are replaced by the next readable one and counted. ``build_cache`` decodes a source once into one
memory-mapped uint8 array at the training resolution (``CachedImages`` reads it), so training at
64-256 px never decodes 1024 px files twice. ``ImageDataModule`` ties them together.

The cache is checked, never trusted: its ``.json`` records the .npy's size and write times, the index's
digest and one checksum per image. Opening a cache checks the files and a sample of images, and every image
when the .npy was written to since the build; a damaged cache is rebuilt with a warning saying why.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from datamodules.base import Batch, DataExtent, ZooDataModule
from zoo.errors import ZooError
from zoo.temporaries import remove_abandoned, temporaries, temporary

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".ppm", ".tif", ".tiff"}
CACHE_VERSION = 2  # 2: per-image checksums, the .npy's size and the index's digest in the .json
#: bytes per block of an image's checksum (each block's word sum is weighted by its position)
CHECKSUM_BLOCK = 4096
#: images checked when a cache is opened, spread evenly over the file
OPEN_SAMPLE = 64
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


def image_size(source: ImageSource, i: int = 0) -> tuple[int, int]:
    """Image ``i``'s (width, height), read from its header without decoding it."""
    with Image.open(io.BytesIO(source.read(i))) as image:
        return image.size


def center_square(image: Image.Image, crop: int | tuple[int, int, int] | str | None = None) -> Image.Image:
    """The central ``crop`` x ``crop`` region (CelebA's 178/140 crops), the square (top, left, side) when ``crop``
    is a triple (COCO-GAN's CelebA face box), the whole image resized to a square of its shorter side when ``crop``
    is "stretch" (aspect not kept: COCO-GAN's LSUN), or the largest central square when ``crop`` is None
    (non-square images are center-cropped)."""
    if crop == "stretch":
        side = min(image.size)
        return image.resize((side, side), Image.LANCZOS)
    if isinstance(crop, (tuple, list)):
        top, left, side = crop
        return image.crop((left, top, left + side, top + side))
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


def row_checksums(images: np.ndarray) -> np.ndarray:
    """One uint64 checksum per image of a uint8 batch (N, ...): the 64-bit word sum of each 4 KiB block,
    weighted by the block's position, summed modulo 2**64. Zeroed, random, truncated, shifted or swapped
    blocks change it (only changes that cancel out exactly, such as two words swapped inside one block, do
    not); numpy computes it at ~50 GB/s."""
    flat = np.asarray(images).reshape(len(images), -1)
    if flat.shape[1] % CHECKSUM_BLOCK:  # a padded copy only for images that are not whole blocks
        flat = np.pad(flat, ((0, 0), (0, -flat.shape[1] % CHECKSUM_BLOCK)))
    blocks = flat.view("<u8").reshape(len(images), -1, CHECKSUM_BLOCK // 8).sum(axis=2)
    return (blocks * np.arange(1, blocks.shape[1] + 1, dtype=np.uint64)).sum(axis=1)


def written_stamp(path: Path) -> list[int]:
    """When ``path`` was last written, as the filesystem records it (modification and change times in ns):
    any write, truncation or replacement changes it, and no tool can set the change time back."""
    status = path.stat()
    return [status.st_mtime_ns, status.st_ctime_ns]


def digest(array: np.ndarray) -> str:
    """A content digest of a small array (the cache's index)."""
    return hashlib.blake2b(np.ascontiguousarray(array).tobytes(), digest_size=16).hexdigest()


def read_failure(err: Exception) -> str:
    """Why a cache file could not be read, in a few words (without repeating its path)."""
    if isinstance(err, FileNotFoundError):
        return "missing"
    return f"unreadable: {err.strerror if isinstance(err, OSError) and err.strerror else err}"


class CacheDamage(ZooError):
    """A cache whose files are missing, truncated, overwritten or do not match each other."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"dataset cache {path.with_suffix('.npy')} is damaged ({reason})")
        self.reason = reason


#: a cache file, <name>-<px>px-<key><suffix>, or its temporary while it is written, <file>.tmp<pid>-<host>
#: (cache version 1 wrote <file>.tmp<pid>); nothing else in a cache folder is ever touched
CACHE_TARGET = re.compile(r"(?P<stem>.+-\d+px-[0-9a-f]{12})(?P<suffix>\.index\.npy|\.npy|\.json)")
CACHE_FILE = re.compile(CACHE_TARGET.pattern + r"(?:\.tmp(?P<pid>\d+)(?:-(?P<host>.+))?)?")


def build_temporaries(folder: Path) -> dict[Path, bool]:
    """The cache builds' temporary files in ``folder``, each with whether its build is dead."""
    return temporaries(folder, CACHE_TARGET)


def remove_abandoned_temporaries(folder: Path) -> None:
    """Deletes the temporaries of killed cache builds in ``folder``; live builds' files are left alone."""
    remove_abandoned(folder, CACHE_TARGET)


@contextmanager
def cache_writes(folder: Path) -> Iterator[None]:
    """Turns a failure to write into the cache folder into one ZooError naming it and the ways around it."""
    try:
        yield
    except OSError as err:
        reason = "a file has that name" if isinstance(err, FileExistsError) else err.strerror or err
        raise ZooError(
            f"cannot write the dataset cache in {folder} ({reason}): point --data.cache_dir "
            "(or $GAN_ZOO_CACHE) at a writable folder, or pass --data.cache false to decode images on the fly"
        ) from None


def make_cache_folder(folder: Path) -> None:
    """Creates the cache folder, or raises one ZooError naming it and the fix."""
    with cache_writes(folder):
        folder.mkdir(parents=True, exist_ok=True)


def write_replacing(path: Path, data: bytes) -> None:
    """Writes ``path`` under a temporary name and renames it into place: readers never see half a file."""
    tmp = temporary(path)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def build_cache(decoded: DecodedImages, path: Path, num_workers: int = 2, check_all: bool = False) -> CachedImages:
    """The cache of ``decoded`` at ``path``, opened for reading: reused when it is complete and sound (every
    image checked with ``check_all``, a sample otherwise), built or rebuilt otherwise (``write_cache``).
    Killed builds' temporaries in its folder are removed first."""
    remove_abandoned_temporaries(path.parent)
    return sound_cache(path, decoded.source.labels, check_all) or write_cache(decoded, path, num_workers)


def sound_cache(path: Path, labels: np.ndarray | None, check_all: bool) -> CachedImages | None:
    """The complete cache at ``path`` if ``CachedImages`` finds it sound; None when there is none or it is
    damaged (then with a warning saying why, and its .json removed: incomplete until rebuilt)."""
    meta_path = path.with_suffix(".json")
    if not meta_path.is_file():
        return None
    try:
        return CachedImages(path, labels, check_all=check_all)
    except CacheDamage as damage:
        warnings.warn(f"{damage}; rebuilding it", stacklevel=3)
        meta_path.unlink(missing_ok=True)
        return None


def write_cache(decoded: DecodedImages, path: Path, num_workers: int) -> CachedImages:
    """Decodes every image once into ``path``.npy (uint8 (N, C, H, W), memory-mappable), with the readable
    rows and their checksums in ``path``.index.npy, and writes ``path``.json last: the JSON's presence marks
    a complete cache. Files are written under temporary names and renamed into place. Labels are not
    cached: they come from the source, so switching labels on or off reuses the cache. Unreadable files stay
    out of the index, are listed in the JSON and counted in a warning; a source with no readable image is an
    error."""
    make_cache_folder(path.parent)
    images_path, meta_path = path.with_suffix(".npy"), path.with_suffix(".json")
    images_tmp = temporary(images_path)
    try:
        readable, sums = decode_into(decoded, images_tmp, num_workers)
        bad = [decoded.source.describe(i) for i in np.flatnonzero(~readable)]
        if len(bad) == len(decoded):
            raise ZooError(f"none of the {len(bad)} images could be decoded (first: {bad[0]})")
        if bad:
            warnings.warn(
                f"{len(bad)} of {len(decoded)} images are unreadable and left out of the cache, e.g. {bad[0]}",
                stacklevel=3,
            )
        rows = np.flatnonzero(readable)
        index = np.stack([rows.astype(np.uint64), sums[rows]], axis=1)
        index_bytes = io.BytesIO()
        np.save(index_bytes, index)
        with cache_writes(path.parent):
            os.replace(images_tmp, images_path)
            meta = {
                "version": CACHE_VERSION, "count": len(rows), "rows": len(decoded),
                "shape": [decoded.channels, decoded.resolution, decoded.resolution],
                "npy_bytes": images_path.stat().st_size, "npy_written": written_stamp(images_path),
                "index_digest": digest(index), "source": decoded.source.describe(0), "unreadable": bad,
            }  # fmt: skip
            write_replacing(path.with_suffix(".index.npy"), index_bytes.getvalue())
            write_replacing(meta_path, json.dumps(meta, indent=1).encode())
    finally:
        images_tmp.unlink(missing_ok=True)  # gone after a successful build
    return CachedImages(path, decoded.source.labels)


def reserve_disk_space(path: Path) -> None:
    """Allocates a sparse file's blocks now: a full disk is then an OSError here, not a SIGBUS that kills the
    process when a page of the memory map is first written."""
    if hasattr(os, "posix_fallocate"):
        fd = os.open(path, os.O_RDWR)
        try:
            os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
        finally:
            os.close(fd)


def decode_into(decoded: DecodedImages, images_path: Path, num_workers: int) -> tuple[np.ndarray, np.ndarray]:
    """Decodes every image of ``decoded`` into a new .npy at ``images_path``; returns which images were
    readable and every image's checksum."""
    n, c, r = len(decoded), decoded.channels, decoded.resolution
    with cache_writes(images_path.parent):
        images = np.lib.format.open_memmap(images_path, mode="w+", dtype=np.uint8, shape=(n, c, r, r))
        reserve_disk_space(images_path)
    readable, sums = np.zeros(n, dtype=bool), np.zeros(n, dtype=np.uint64)
    for indices, batch, ok in DataLoader(_Indexed(decoded), batch_size=64, num_workers=num_workers):
        images[indices.numpy()] = batch.numpy()
        readable[indices.numpy()] = ok.numpy()
        sums[indices.numpy()] = row_checksums(batch.numpy())
    images.flush()
    return readable, sums


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


#: what a version-2 cache's .json holds, and of which type
CACHE_META = {
    "version": int, "count": int, "rows": int, "shape": list, "npy_bytes": int, "npy_written": list,
    "index_digest": str, "unreadable": list,
}  # fmt: skip


def read_cache_meta(path: Path) -> dict:
    """The .json of the cache at ``path``, checked to be a complete description of this version's cache."""
    meta_path = path.with_suffix(".json")
    try:
        meta = json.loads(meta_path.read_bytes())
    except (OSError, ValueError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise CacheDamage(path, f"{meta_path.name} is {read_failure(err)}") from None
    if not isinstance(meta, dict) or meta.get("version") != CACHE_VERSION:
        raise CacheDamage(path, f"{meta_path.name} is not a version {CACHE_VERSION} cache description")
    garbled = [key for key, kind in CACHE_META.items() if not isinstance(meta.get(key), kind)]
    if garbled or len(meta["shape"]) != 3 or meta["count"] < 1:
        raise CacheDamage(path, f"{meta_path.name} lacks or garbles {', '.join(garbled) or 'shape or count'}")
    return meta


class CachedImages(Dataset):
    """Reads the cache written by ``write_cache``: a memory map opened lazily in every worker, addressed
    through the index of readable images; labels are the source's. Opening it checks the files (the .json,
    the .npy's size and header, the index's digest and range) and compares images with their checksums:
    ``OPEN_SAMPLE`` of them spread over the file while the .npy's write times are those recorded at the build,
    every one when the file was written to since (or with ``check_all``); damage raises ``CacheDamage``.
    Reading a sound cache costs no checks (``python benchmarks/data.py --checksum_cost``)."""

    def __init__(self, path: Path, labels: np.ndarray | None, check_all: bool = False):
        self.path, self.labels = path, labels
        self.meta = read_cache_meta(path)
        self._images: np.ndarray | None = self.open_images()
        self.index, self.sums = self.read_index()
        written = written_stamp(path.with_suffix(".npy"))
        touched = written != self.meta["npy_written"]
        self.check_images(every=check_all or touched, touched=touched)
        if touched:
            self.restamp(written)

    def open_images(self) -> np.ndarray:
        """The .npy as a read-only memory map, after checking its size and header against the .json."""
        npy, meta = self.path.with_suffix(".npy"), self.meta
        expected = (meta["rows"], *meta["shape"])
        try:
            size = npy.stat().st_size
            if size != meta["npy_bytes"]:
                raise CacheDamage(self.path, f"{npy.name} has {size} bytes, {meta['npy_bytes']} were written")
            images = np.load(npy, mmap_mode="r")
        except (OSError, ValueError) as err:
            raise CacheDamage(self.path, f"{npy.name} is {read_failure(err)}") from None
        if images.dtype != np.uint8 or images.shape != expected:
            raise CacheDamage(self.path, f"{npy.name} holds {images.dtype} {images.shape}, not uint8 {expected}")
        return images

    def read_index(self) -> tuple[np.ndarray, np.ndarray]:
        """The readable rows (int64) and their checksums (uint64), after checking the index's digest and range."""
        index_path = self.path.with_suffix(".index.npy")
        try:
            table = np.load(index_path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise CacheDamage(self.path, f"{index_path.name} is {read_failure(err)}") from None
        expected = (self.meta["count"], 2)
        if table.shape != expected or table.dtype != np.uint64 or digest(table) != self.meta["index_digest"]:
            raise CacheDamage(self.path, f"{index_path.name} differs from the index that was written")
        if table[:, 0].max() >= self.meta["rows"]:
            raise CacheDamage(self.path, f"{index_path.name} points past the {self.meta['rows']} rows of the .npy")
        return table[:, 0].astype(np.int64), table[:, 1].copy()

    def __len__(self) -> int:
        return len(self.index)

    def memmap(self) -> np.ndarray:
        if self._images is None:
            self._images = self.open_images()
        return self._images

    def check_images(self, every: bool, touched: bool) -> None:
        """Compares images with their checksums, every one or ``OPEN_SAMPLE`` spread evenly over the file."""
        n = len(self.index)
        positions = np.arange(n) if every else np.unique(np.linspace(0, n - 1, OPEN_SAMPLE).astype(np.int64))
        for start in range(0, len(positions), 32):  # 6 MB at 256 px: checksummed while in the CPU cache
            chunk = positions[start : start + 32]
            rows = self.index[chunk]  # ascending
            contiguous = rows[-1] - rows[0] == len(rows) - 1
            images = self.memmap()[rows[0] : rows[-1] + 1] if contiguous else self.memmap()[rows]
            wrong = row_checksums(images) != self.sums[chunk]
            if wrong.any():
                since = f"; {self.path.name}.npy was written to after the build" if touched else ""
                raise CacheDamage(self.path, f"image row {rows[wrong][0]} differs from its checksum{since}")

    def restamp(self, written: list[int]) -> None:
        """Records the .npy's new write times once every image matched its checksum, so that the next open
        checks a sample again."""
        self.meta["npy_written"] = written
        with suppress(OSError):  # a read-only cache folder: every open checks every image again
            write_replacing(self.path.with_suffix(".json"), json.dumps(self.meta, indent=1).encode())

    def __getitem__(self, i: int):
        images, labels, _ = self.__getitems__([i])
        return images[0], labels[0], 0

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
    #: check every image of an existing cache when it is opened, not only a sample (``prepare`` sets it)
    check_whole_cache = False

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
        if self.cache:
            make_cache_folder(self.cache_dir)

    def loader_workers(self) -> int:
        """Workers decode; the cache needs none. A memory-mapped batch read in the main process costs
        less than handing a batch over from a worker process (benchmarks/data.py: at 256 px, about 3x
        the images/s of 2 workers), so the cache is read in-process and ``num_workers`` serves the
        cache build and decoding on the fly."""
        return 0 if self.cache else self.num_workers

    def extent(self) -> DataExtent:
        """The number of images (the files are listed, not decoded); any resolution, as images are resized."""
        return DataExtent(len(self.source()))

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
        return build_cache(decoded, self.cache_path(source, name), self.num_workers, self.check_whole_cache)

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
