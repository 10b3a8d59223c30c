"""FFHQ, Flickr-Faces-HQ (Karras et al. 2019, "A Style-Based Generator Architecture for Generative
Adversarial Networks"): 70k aligned 1024x1024 face PNGs.

Smaller resolutions are box-filter downscales by a power of two (the mean of each 2x2, 4x4, ... block),
as the StyleGAN dataset tool builds FFHQ's lower resolutions (dataset_tool.py, TFRecordExporter.add_image).
PIL's ``Image.reduce`` rounds the means half up where the tool's ``np.rint`` rounds half to even: exact ties
can differ by one level.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from datamodules.base import DataExtent
from datamodules.folder import folder_or_zip_source
from datamodules.images import ImageDataModule, ImageSource, ZipSource, image_size
from zoo.errors import ZooError


def relative_names(source: ImageSource, root: Path) -> list[str]:
    """Each image's path relative to the dataset root with "/" separators, as dataset.json names them."""
    if isinstance(source, ZipSource):
        return source.members
    return [f.relative_to(root).as_posix() for f in source.files]


DATASET_JSON_FORMAT = '{"labels": [["00000/img00000000.png", 6], ...]}'


def read_dataset_json(source: ImageSource, root: Path) -> tuple[bytes | None, str]:
    """The bytes of the zip's (or folder's) ``dataset.json`` (None without one) and where it is, for messages."""
    if isinstance(source, ZipSource):
        archive = source.zip()  # the source's own handle: dropped when the source is pickled to workers
        return (archive.read("dataset.json") if "dataset.json" in archive.NameToInfo else None), f"{root}:dataset.json"
    path = root / "dataset.json"
    return (path.read_bytes() if path.is_file() else None), str(path)


def parse_dataset_json(text: bytes, where: str) -> dict[str, int] | None:
    """dataset.json's labels as {relative file name: class}, None for {"labels": null}; a ZooError naming the
    file and the line, the image or the value for anything else than StyleGAN2-ADA's class-label format."""
    try:
        content = json.loads(text)
    except json.JSONDecodeError as err:
        raise ZooError(
            f"{where} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}; fix it "
            f"(StyleGAN2-ADA's format: {DATASET_JSON_FORMAT}) or remove it"
        ) from None
    except ValueError as err:  # not UTF-8 text
        raise ZooError(f"{where} is not JSON text ({err}); fix it or remove it") from None
    pairs = content.get("labels") if isinstance(content, dict) else []
    if pairs is None:
        return None
    if not isinstance(pairs, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str) for pair in pairs
    ):
        raise ZooError(f'{where}: "labels" must be a list of [file name, class] pairs, e.g. {DATASET_JSON_FORMAT}')
    for name, label in pairs:
        if not isinstance(label, int) or isinstance(label, bool) or label < 0:
            raise ZooError(f"{where} gives {name} the label {json.dumps(label)}; class labels must be integers >= 0")
    return dict(pairs)


def dataset_json_labels(source: ImageSource, root: Path) -> np.ndarray | None:
    """Class labels from a StyleGAN2-ADA ``dataset.json`` ({"labels": [["00000/img00000000.png", 6], ...]}),
    in the source's image order; None without the file or with {"labels": null}. Listed files that are not in
    the dataset are counted in a warning; an image without a label is an error."""
    text, where = read_dataset_json(source, root)
    by_name = None if text is None else parse_dataset_json(text, where)
    if by_name is None:
        return None
    names = relative_names(source, root)
    absent = sorted(set(by_name) - set(names))
    if absent:
        warnings.warn(
            f"{where} lists {len(absent)} files that are not in the dataset (e.g. {absent[0]}); "
            "their labels are ignored",
            stacklevel=2,
        )
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ZooError(f"{root}: dataset.json has no label for {len(missing)} images, e.g. {missing[0]}")
    return np.array([by_name[n] for n in names], dtype=np.int64)


def largest_power_of_two(source: ImageSource) -> int:
    """The largest power of two no larger than the first image's shorter side, read from its header."""
    width, height = image_size(source)
    return 2 ** (min(width, height).bit_length() - 1)


class FFHQDataModule(ImageDataModule):
    """FFHQ from the official PNG tree or a StyleGAN2-ADA dataset zip, box-downscaled to ``resolution``."""

    box_downscale = True

    def __init__(self, root: str, labels: bool = False, resolution: int = 256, **kwargs):
        """
        Args:
            root: the official ``images1024x1024`` folder (``NNNNN/NNNNN.png``, searched recursively) or a zip
                written by StyleGAN2-ADA's dataset_tool.py (uncompressed PNGs, optional dataset.json);
                the zip is read lazily by every DataLoader worker.
            labels: class labels from the zip's (or folder's) dataset.json; num_classes is the largest + 1.
            resolution: a power of two no larger than the source images (4, 8, ..., 1024 for the official PNGs).
            **kwargs: batch_size, num_workers, hflip, cache, cache_dir, seed (see ImageDataModule).
        """
        super().__init__(root, resolution=resolution, **kwargs)
        self.labels = labels
        if labels:  # the labels, not the resolution: the CLI may still fit the resolution to the images
            self.num_classes = int(self.read_labels(self.unchecked_source()).max()) + 1

    def make_source(self) -> ImageSource:
        source = self.unchecked_source()
        self.check_resolution(source)
        if self.labels:
            source.labels = self.read_labels(source)
        return source

    def read_labels(self, source: ImageSource) -> np.ndarray:
        """The class labels of ``source`` from its dataset.json, which labels=True requires."""
        labels = dataset_json_labels(source, self.root)
        if labels is None:
            raise ZooError(
                f"labels=True needs class labels in a dataset.json next to the images (StyleGAN2-ADA's "
                f'dataset_tool.py format, {{"labels": [["00000/img00000000.png", 6], ...]}}); {self.root} has '
                "none. Set --data.labels false to train unconditionally."
            )
        return labels

    def unchecked_source(self) -> ImageSource:
        """The PNG tree or zip at ``root``, its resolution not yet checked."""
        if not self.root.exists():
            raise ZooError(
                f"FFHQ not found at {self.root}: set --data.root to the images1024x1024 folder of the official "
                "dataset (the NVlabs ffhq-dataset repository, https://github.com/NVlabs/ffhq-dataset: "
                "python download_ffhq.py --images) or to a zip made by StyleGAN2-ADA's dataset_tool.py "
                "(https://github.com/NVlabs/stylegan2-ada-pytorch)."
            )
        return folder_or_zip_source(self.root, labels=False)[0]

    def extent(self) -> DataExtent:
        """The number of images and the largest power of two their size provides (the first image's header)."""
        source = self.unchecked_source()
        return DataExtent(len(source), largest_power_of_two(source))

    def check_resolution(self, source: ImageSource) -> None:
        """The resolution must be a power of two no larger than the images (the first one's size, read from
        its header without decoding it)."""
        valid = [2**k for k in range(2, largest_power_of_two(source).bit_length())]
        if self.resolution not in valid:
            width, height = image_size(source)
            raise ZooError(
                f"FFHQ --data.resolution {self.resolution} is not a power of two no larger than the {width}x{height} "
                f"source images ({source.describe(0)}): choose one of {', '.join(map(str, valid))}"
            )
