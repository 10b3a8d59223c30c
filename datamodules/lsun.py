"""LSUN scene categories (Yu et al. 2015, "LSUN: Construction of a Large-scale Image Dataset using Deep
Learning with Humans in the Loop") read from the official LMDB databases.

Each image is center-cropped to its short side and resized to the training resolution with the antialiased
Lanczos filter: Progressive GAN's dataset_tool.py create_lsun (Karras et al. 2018) does exactly this, and
the DCGAN LSUN setup (Radford et al. 2016; PyTorch's example: Resize + CenterCrop) is equivalent up to the filter.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import lmdb
import numpy as np

from datamodules.images import ImageDataModule, ImageSource
from zoo.errors import ZooError

SCENE_CATEGORIES = (
    "bedroom",
    "bridge",
    "church_outdoor",
    "classroom",
    "conference_room",
    "dining_room",
    "kitchen",
    "living_room",
    "restaurant",
    "tower",
)
SPLITS = ("train", "val")


#: this process's read-only handle on each database, by (process id, resolved path): py-lmdb refuses to
#: open a database twice in one process, so every LMDBSource shares one handle per database
_HANDLES: dict[tuple[int, Path], lmdb.Environment] = {}


def open_database(path: Path) -> lmdb.Environment:
    """The process's handle on the LMDB database folder ``path`` (resolved), opened on first use without the
    lock file, readahead or meminit (read-only, random access). A forked child (a DataLoader worker) first
    closes the handles it inherited: LMDB forbids using them after a fork, and py-lmdb will not open a
    database again while they keep it open."""
    key = (os.getpid(), path)
    if key not in _HANDLES:
        for inherited in [k for k in _HANDLES if k[0] != key[0]]:
            _HANDLES.pop(inherited).close()
        _HANDLES[key] = lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False)
    return _HANDLES[key]


def list_keys(path: Path) -> np.ndarray:
    """Every key of the database in key order, as one fixed-width bytes array. Only the B-tree's branch and
    leaf pages are read: LSUN's JPEGs live on overflow pages, which a key-only cursor does not read."""
    with open_database(path).begin() as txn:
        return np.array(list(txn.cursor().iternext(keys=True, values=False)), dtype=bytes)


class LMDBSource(ImageSource):
    """Encoded images stored as the values of one or more LMDB databases (the LSUN format), in key order.
    With several databases, an image's label is the index of its database.

    The source holds no handle (``open_database`` keeps one per process and database), so it pickles to
    DataLoader workers as it is and every worker opens the databases itself, once, on its first read.

    The keys (millions in a full category: 3M in bedroom) are listed once, on first use, which is the
    main process's ``len()`` when it builds the DataLoader or the cache, before any worker starts:
    workers inherit the listing instead of repeating it. They are kept as one fixed-width numpy bytes
    array (3M x 40 B = 120 MB, no Python object per key), whose pages forked workers share without
    copying. A finished cache needs no decoding, so training from it never lists the keys. Keys must
    not end in NUL bytes (numpy strips them); LSUN's are hexadecimal ids.
    """

    def __init__(self, paths: Sequence[Path]):
        self.paths = [Path(p).resolve() for p in paths]
        self._index: tuple[np.ndarray, np.ndarray] | None = None

    def index(self) -> tuple[np.ndarray, np.ndarray]:
        """(key, database index) of every image: the keys are listed on the first call."""
        if self._index is None:
            keys = [list_keys(path) for path in self.paths]
            database = np.repeat(np.arange(len(keys), dtype=np.int64), [len(k) for k in keys])
            self._index = np.concatenate(keys), database
        return self._index

    @property
    def labels(self) -> np.ndarray | None:
        """The database index of every image, from each database's entry count (no key listing)."""
        if len(self.paths) == 1:
            return None
        counts = [open_database(path).stat()["entries"] for path in self.paths]
        return np.repeat(np.arange(len(counts), dtype=np.int64), counts)

    def __len__(self) -> int:
        return len(self.index()[0])

    def read(self, i: int) -> bytes:
        keys, database = self.index()
        with open_database(self.paths[database[i]]).begin() as txn:
            return txn.get(keys[i])

    def describe(self, i: int) -> str:
        keys, database = self.index()
        return f"{self.paths[database[i]]}:{keys[i].decode(errors='replace')}"

    def fingerprint(self) -> str:
        h = hashlib.sha1()
        for path in self.paths:
            st = (path / "data.mdb").stat()
            h.update(f"{path}:{st.st_size}:{st.st_mtime_ns}\n".encode())
        return h.hexdigest()


class LSUNDataModule(ImageDataModule):
    """LSUN scenes from ``<root>/<category>_<split>_lmdb/`` (data.mdb and lock.mdb, as the LSUN project's
    download.py unpacks them), center-cropped to a square and resized. Several categories are read at
    once with the category's index in ``categories`` as the label."""

    def __init__(
        self,
        root: str,
        categories: Sequence[str] = ("bedroom",),
        split: str = "train",
        stretch: bool = False,
        **kwargs,
    ):
        """
        Args:
            root: the folder holding the unzipped ``<category>_<split>_lmdb`` folders.
            categories: scene categories to train on (bedroom, bridge, church_outdoor, classroom,
                conference_room, dining_room, kitchen, living_room, restaurant, tower); with more than one,
                each image is labelled with its category's index in this list.
            split: "train" or "val" (300 images per category).
            stretch: resize each whole image to a square instead of cutting its central square (the aspect ratio
                is not kept), as COCO-GAN prepares LSUN (hubert0527/COCO-GAN, img_utils.py ``transform``).
            **kwargs: resolution (default 64), batch_size, num_workers, hflip, cache, cache_dir, seed
                (see ImageDataModule).
        """
        super().__init__(root, **kwargs)
        unknown = [c for c in categories if c not in SCENE_CATEGORIES]
        if unknown or not categories:
            raise ZooError(
                f"unknown LSUN category {', '.join(unknown) or '(none given)'}: "
                f"choose from the ten scene categories {', '.join(SCENE_CATEGORIES)}"
            )
        if split not in SPLITS:
            raise ZooError(f"LSUN split must be one of {', '.join(SPLITS)}, got {split!r}")
        self.categories, self.split = list(categories), split
        if stretch:
            self.crop = "stretch"
        self.num_classes = len(self.categories) if len(self.categories) > 1 else None

    def make_source(self) -> ImageSource:
        paths = [self.root / f"{c}_{self.split}_lmdb" for c in self.categories]
        missing = [str(p) for p in paths if not (p / "data.mdb").is_file()]
        if missing:
            found = sorted(p.name for p in self.root.glob("*_lmdb") if p.is_dir()) if self.root.is_dir() else []
            raise ZooError(
                f"LSUN database not found: expected {', '.join(missing)} (a folder holding data.mdb); "
                f"lmdb folders in {self.root}: {', '.join(found) or 'none'}. Get the official files with the "
                "LSUN project's download.py (https://github.com/fyu/lsun; zips at http://dl.yf.io/lsun/scenes/), "
                f"e.g. python download.py -c {self.categories[0]}, and unzip them into --data.root."
            )
        return LMDBSource(paths)
