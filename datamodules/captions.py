"""Captioned images in StackGAN's on-disk layout (Zhang et al. 2017, hanzhanggit/StackGAN's ``Data/birds``,
``Data/flowers``, ``Data/coco``), the layout the text-to-image entries train on:

    <root>/text_c10/<class>/<name>.txt      captions of image <class>/<name>, one per line (``text/`` also read)
    <root>/train/filenames.pickle           the split's image keys, e.g. 002.Laysan_Albatross/Laysan_Albatross_0002_1027
    <root>/train/class_info.pickle          one class id per key
    <root>/train/char-CNN-RNN-embeddings.pickle   optional: (N, 10, 1024) caption embeddings (Reed et al. 2016)
    <root>/test/...                         the same for the test split
    <root>/images/<key>.jpg|.png            the images (CUB: <root>/CUB_200_2011/images/)
    <root>/CUB_200_2011/images.txt, bounding_boxes.txt   CUB only: each bird is cropped around its box

The pickles were written by Python 2: they are read with ``encoding='latin1'`` by an ``AllowListUnpickler``
(zoo/allowlist_pickle.py), which rebuilds only lists, strings, numbers and numpy arrays and refuses every other
global, so a crafted file runs nothing. Items are ``(image uint8 CHW, embeddings (K, D) float or None, caption
characters (K, L) int64, class)``; the captions as text are ``CaptionedImages.captions``.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from datamodules.base import Batch, DataExtent, ZooDataModule
from datamodules.images import DECODE_ERRORS, center_square, resize_square
from datamodules.text_embeddings import EncoderSettings, IndexedEmbeddings, load_or_build
from zoo.allowlist_pickle import AllowListUnpickler
from zoo.errors import ZooError
from zoo.importers.nvlabs import _numpy_scalar

#: where a user gets the data, for 'not found' messages
GET_DATA = (
    "get StackGAN's preprocessed data (hanzhanggit/StackGAN's README: birds/flowers metadata with "
    "char-CNN-RNN embeddings, plus the CUB-200-2011 or Oxford-102 images) or build one with --data captioned_mnist"
)
TEXT_FOLDERS = ("text_c10", "text")  # StackGAN's CUB and flowers use text_c10/, AttnGAN's copies text/
IMAGE_FOLDERS = ("images", "CUB_200_2011/images", "jpg", ".")
IMAGE_SUFFIXES = (".jpg", ".png", ".jpeg")
EMBEDDINGS = "char-CNN-RNN-embeddings.pickle"
TEXT_EMBEDDINGS = ("auto", "zoo", "none")
#: characters of Reed et al.'s char-CNN-RNN input, as reedscot/icml2016's data loader lists them: lowercase
#: letters, digits, punctuation and space, "-" twice (positions 37 and 60, 1-based: 70 in all); id 0 pads,
#: characters outside it are dropped
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-,;.!?:'\"/\\|_@#$%^&*~`+-=<>()[]{} "
#: the loader's Lua table keeps the last position of a repeated character ("-" is 60), as this dict does
CHAR_IDS = {c: i + 1 for i, c in enumerate(ALPHABET)}
#: random-crop augmentation: images are loaded at int(resolution * 76 / 64) and a resolution window is cropped
#: (StackGAN-Pytorch code/miscc/datasets.py get_img ``load_size`` with main.py's RandomCrop; StackGAN-v2's Scale to
#: imsize * 76 / 64; Reed et al.'s 76 -> 64)
CROP_LOAD_RATIO = (76, 64)
#: ``augmentation_generator`` stream of the crops (1 is the flips')
CROP_STREAM = 2


# ------------------------------------------------------------------------------------ pickles


def _reconstruct_array(cls, shape, typecode):
    """numpy's ``multiarray._reconstruct`` restricted to plain ndarrays (what numpy arrays pickle to)."""
    if cls is not np.ndarray:
        raise ZooError(f"refusing to rebuild an array of class {cls!r}")
    return np.ndarray.__new__(np.ndarray, shape, typecode)


def _encode_latin1(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as Python 3 pickles bytes at protocol 2, for latin1 text only."""
    if not isinstance(text, str) or encoding != "latin1":
        raise ZooError(f"refusing _codecs.encode with {type(text).__name__}, {encoding!r} in a data pickle")
    return text.encode("latin1")


#: every global a StackGAN pickle may name, mapped to what builds it here
LEGACY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct_array,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct_array,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _encode_latin1,
}


def read_legacy_pickle(path: Path):
    """The object in the Python 2 pickle ``path``, strings decoded as latin1, built from ``LEGACY_GLOBALS`` only."""
    try:
        with open(path, "rb") as f:
            return AllowListUnpickler(f, LEGACY_GLOBALS, "a StackGAN data pickle", encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as err:
        raise ZooError(f"{path} is not a readable data pickle ({err}); get it again: {GET_DATA}") from None


# ------------------------------------------------------------------------------------- layout


def missing(path: Path, what: str) -> ZooError:
    return ZooError(f"{what} not found: {path} is missing; {GET_DATA}, then pass its folder as --data.root")


def text_folder(root: Path) -> Path:
    """The captions' folder: ``text_c10/`` (StackGAN) or ``text/``."""
    for name in TEXT_FOLDERS:
        if (root / name).is_dir():
            return root / name
    raise missing(root / TEXT_FOLDERS[0], "the captions folder")


def image_path(root: Path, key: str) -> Path:
    """The image file of ``key`` in one of the layouts' image folders."""
    for folder in IMAGE_FOLDERS:
        for suffix in IMAGE_SUFFIXES:
            path = root / folder / f"{key}{suffix}"
            if path.is_file():
                return path
    raise missing(root / IMAGE_FOLDERS[0] / f"{key}.jpg", "an image")


def cub_boxes(root: Path) -> dict[str, tuple[float, float, float, float]]:
    """CUB's bird boxes (x, y, width, height) by image key (its path in images.txt without the suffix);
    empty where the dataset has no ``CUB_200_2011/bounding_boxes.txt`` (flowers, COCO, captioned MNIST)."""
    cub = root / "CUB_200_2011"
    boxes_file, images_file = cub / "bounding_boxes.txt", cub / "images.txt"
    if not boxes_file.is_file():
        return {}
    if not images_file.is_file():
        raise missing(images_file, "CUB's image list")
    paths = dict(line.split(maxsplit=1) for line in images_file.read_text().splitlines() if line.strip())
    boxes = {}
    for line in boxes_file.read_text().splitlines():
        if line.strip():
            image_id, *box = line.split()
            boxes[str(Path(paths[image_id].strip()).with_suffix(""))] = tuple(float(v) for v in box)
    return boxes


def bird_crop(box: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int]:
    """The crop (left, top, right, bottom) StackGAN takes around a CUB box (StackGAN-Pytorch's
    ``TextDataset.get_img``): a square of half-side int(0.75 max(w, h)) about the box centre, clipped to the
    image, so that the bird fills more than 0.75 of it (StackGAN paper Sec. 4)."""
    x, y, w, h = box
    r = int(max(w, h) * 0.75)
    cx, cy = int((2 * x + w) / 2), int((2 * y + h) / 2)
    return max(0, cx - r), max(0, cy - r), min(width, cx + r), min(height, cy + r)


def char_ids(caption: str, length: int) -> Tensor:
    """The caption's characters (lowercased) as ids into ``ALPHABET``, cut or zero-padded to ``length``."""
    ids = [CHAR_IDS[c] for c in caption.lower() if c in CHAR_IDS][:length]
    return torch.tensor(ids + [0] * (length - len(ids)), dtype=torch.long)


@dataclass
class Split:
    """One split of the layout as its pickles and text files hold it."""

    keys: list[str]
    classes: list[int]
    captions: list[list[str]]
    embeddings: np.ndarray | None


def read_split(root: Path, split: str) -> Split:
    """The keys, class ids, captions and (where the file exists) embeddings of ``split``."""
    folder = root / split
    for name in ("filenames.pickle", "class_info.pickle"):
        if not (folder / name).is_file():
            raise missing(folder / name, f"the {split} split's {name}")
    keys = [str(k) for k in read_legacy_pickle(folder / "filenames.pickle")]
    classes = [int(c) for c in read_legacy_pickle(folder / "class_info.pickle")]
    if len(classes) != len(keys):
        raise ZooError(f"{folder}: class_info.pickle has {len(classes)} entries for {len(keys)} filenames")
    texts = text_folder(root)
    captions = []
    for key in keys:
        path = texts / f"{key}.txt"
        if not path.is_file():
            raise missing(path, "a caption file")
        captions.append([line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()])
    embeddings = None
    if (folder / EMBEDDINGS).is_file():
        embeddings = np.asarray(read_legacy_pickle(folder / EMBEDDINGS), dtype=np.float32)
        if embeddings.ndim == 2:  # one embedding per image (some COCO files)
            embeddings = embeddings[:, None]
        if len(embeddings) != len(keys):
            raise ZooError(f"{folder / EMBEDDINGS} has {len(embeddings)} rows for {len(keys)} filenames")
    return Split(keys, classes, captions, embeddings)


def crop_load_size(resolution: int) -> int:
    """The size images are loaded at before a random ``resolution`` crop: int(resolution * 76 / 64) (76 for 64,
    304 for 256)."""
    load, crop = CROP_LOAD_RATIO
    return int(resolution * load / crop)


def random_crops(images: Tensor, size: int, generator: torch.Generator | None = None) -> Tensor:
    """A ``size`` x ``size`` window of each image of (B, C, H, W), its top-left corner uniform over the
    (H - size + 1) x (W - size + 1) positions (torchvision's RandomCrop, one draw per image), on the device."""
    b, _, height, width = images.shape
    if height < size or width < size:
        raise ZooError(f"cannot crop {size} px from {height}x{width} images")
    device = images.device
    top = torch.randint(height - size + 1, (b,), generator=generator, device=device)
    left = torch.randint(width - size + 1, (b,), generator=generator, device=device)
    steps = torch.arange(size, device=device)
    rows, cols = (top[:, None] + steps)[:, :, None], (left[:, None] + steps)[:, None, :]
    batch = torch.arange(b, device=device)[:, None, None]
    return images.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


# ------------------------------------------------------------------------------------ dataset


class CaptionedImages(Dataset):
    """The images of one split with their captions: items ``(image uint8 (C, R, R), embeddings (K, D) float32
    or None, characters (K, L) int64, class id)``, K = ``captions_per_image`` (an image with fewer captions
    repeats them). Batches keep None for the embeddings when the split has none."""

    def __init__(
        self, root: Path, split: str, resolution: int, channels: int, captions_per_image: int, text_length: int
    ):
        self.root, self.resolution, self.channels = Path(root), resolution, channels
        data = read_split(self.root, split)
        self.split_data = data
        self.keys, self.captions, self.embeddings = data.keys, data.captions, data.embeddings
        self.classes = torch.tensor(data.classes, dtype=torch.long)
        self.files = [image_path(self.root, key) for key in self.keys]
        boxes = cub_boxes(self.root)
        self.boxes = [boxes.get(key) for key in self.keys]
        for key, lines in zip(self.keys, self.captions, strict=True):
            if not lines:
                raise ZooError(f"{text_folder(self.root) / key}.txt holds no caption; {GET_DATA}")
        self.captions_per_image, self.text_length = captions_per_image, text_length

    def __len__(self) -> int:
        return len(self.keys)

    def image(self, i: int) -> Tensor:
        """Image ``i`` as uint8 (C, R, R): CUB's birds cropped around their box and resized to a square as
        StackGAN does; other images center-squared and resized."""
        try:
            with Image.open(io.BytesIO(self.files[i].read_bytes())) as image:
                image.load()
                image = image.convert("RGB" if self.channels == 3 else "L")
        except DECODE_ERRORS as err:
            raise ZooError(f"cannot decode {self.files[i]} ({err}); get the image again: {GET_DATA}") from None
        box = self.boxes[i]
        if box is None:
            image = resize_square(center_square(image), self.resolution)
        else:
            image = image.crop(bird_crop(box, *image.size)).resize((self.resolution,) * 2, Image.BICUBIC)
        array = np.asarray(image, dtype=np.uint8)
        return torch.from_numpy(array[None].copy() if array.ndim == 2 else array.transpose(2, 0, 1).copy())

    def characters(self, i: int) -> Tensor:
        """Image ``i``'s captions as character ids (K, L), encoded when read (all of CUB's would take 140 MB)."""
        lines = self.captions[i]
        return torch.stack([char_ids(lines[k % len(lines)], self.text_length) for k in range(self.captions_per_image)])

    def __getitem__(self, i: int):
        embedding = None if self.embeddings is None else torch.from_numpy(np.asarray(self.embeddings[i]))
        return self.image(i), embedding, self.characters(i), self.classes[i]

    def __getitems__(self, indices: list[int]) -> Batch:
        """A whole batch, stacked here so that missing embeddings stay None (PyTorch's collate refuses None)."""
        items = [self[i] for i in indices]
        images, embeddings, characters, classes = zip(*items, strict=True)
        stacked = None if embeddings[0] is None else torch.stack(embeddings)
        return Batch((torch.stack(images), stacked, torch.stack(characters), torch.stack(classes)))


class CaptionsDataModule(ZooDataModule):
    """A dataset in StackGAN's layout (CUB-200-2011 birds, Oxford-102 flowers, COCO, captioned MNIST) as
    ``(image, embeddings or None, caption characters, class)`` batches. Without a char-CNN-RNN-embeddings.pickle,
    the embeddings are the zoo's own text encoder's (datamodules/text_embeddings.py), trained once and cached, once
    a text-to-image model asks for them (``attach_text_embeddings``); until then, and with ``text_embeddings:
    none``, such batches hold None."""

    #: the char-CNN-RNN's settings where the zoo trains it (``text_embeddings: zoo``)
    encoder_settings = EncoderSettings()

    def __init__(
        self,
        root: str = "data/birds",
        train: bool = True,
        resolution: int = 64,
        channels: int = 3,
        captions_per_image: int = 10,
        text_length: int = 201,
        text_embeddings: str = "auto",
        text_encoder_steps: int = 1500,
        random_crop: bool = False,
        hflip: bool = False,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int | None = None,
    ):
        """
        Args:
            root: the folder holding text_c10/ (or text/), train/ and test/ and the images.
            train: the train split (False: the test split; in CUB its classes are held out of train).
            resolution: output size in pixels (StackGAN: 64 at stage I, 256 at stage II).
            channels: 3 (RGB) or 1 (grayscale).
            captions_per_image: captions returned per image (10 in CUB and flowers, 5 in COCO).
            text_length: characters per caption, cut or zero-padded (201 in Reed et al.'s char-CNN-RNN).
            text_embeddings: where the caption embeddings come from: auto (the dataset's
                char-CNN-RNN-embeddings.pickle when it exists, else the zoo's encoder), zoo (the zoo's encoder even
                where the pickle exists) or none (no embeddings: the batches hold None).
            text_encoder_steps: training steps of the zoo's char-CNN-RNN (trained once, cached in the root).
            random_crop: load images at int(resolution * 76 / 64) and train on a random resolution crop of each
                (``random_crops``; StackGAN-Pytorch's datasets.py and main.py, StackGAN-v2 and Reed et al. alike;
                on in configs/stackgan*/captions.yaml). Items read from the dataset stay at the load size; the
                crop is drawn per training batch from (seed, iteration).
            hflip: flip each training image left-right with probability 1/2 (the same codes' RandomHorizontalFlip;
                on in configs/stackgan*/captions.yaml). Off for captioned MNIST: a mirrored digit's slant is the
                opposite of its caption's (and a mirrored digit is not that digit).
        """
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        if channels not in (1, 3):
            raise ZooError(f"--data.channels must be 1 or 3, got {channels}")
        self.root, self.train, self.resolution, self.channels = Path(root), train, resolution, channels
        self.captions_per_image, self.text_length = captions_per_image, text_length
        self.random_crop, self.hflip = random_crop, hflip
        if text_embeddings not in TEXT_EMBEDDINGS:
            raise ZooError(f"--data.text_embeddings must be one of {', '.join(TEXT_EMBEDDINGS)}, got {text_embeddings}")
        self.text_embeddings = text_embeddings
        self.encoder_settings = replace(self.encoder_settings, steps=text_encoder_steps)
        self.text_cache: dict | None = None

    @property
    def split(self) -> str:
        return "train" if self.train else "test"

    def validate(self) -> None:
        for name in ("filenames.pickle", "class_info.pickle"):
            if not (self.root / self.split / name).is_file():
                raise missing(self.root / self.split / name, f"the {self.split} split's {name}")
        text_folder(self.root)

    def extent(self) -> DataExtent | None:
        """The split's image count (no resolution limit: images are resized); None before a dataset exists."""
        path = self.root / self.split / "filenames.pickle"
        return DataExtent(len(read_legacy_pickle(path))) if path.is_file() else None

    def setup(self, stage: str | None = None) -> None:
        if self.dataset is None:
            self.prepare_data()
            self.validate()
            self.dataset = self.split_dataset(self.split)

    def split_dataset(self, split: str) -> CaptionedImages:
        size = crop_load_size(self.resolution) if self.random_crop else self.resolution
        return CaptionedImages(self.root, split, size, self.channels, self.captions_per_image, self.text_length)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        """With ``random_crop``, a random crop of each image, then the base's [-1, 1] scaling and flips (the
        port's order: RandomCrop, RandomHorizontalFlip)."""
        if self.random_crop:
            rng = self.augmentation_generator(batch[0].device, CROP_STREAM)
            batch = [random_crops(batch[0], self.resolution, rng), *batch[1:]]
        return super().on_after_batch_transfer(batch, dataloader_idx)

    @property
    def has_pretrained_embeddings(self) -> bool:
        return (self.root / self.split / EMBEDDINGS).is_file()

    @property
    def uses_zoo_encoder(self) -> bool:
        """Whether the embeddings are the zoo's char-CNN-RNN's (no pickle, or ``text_embeddings: zoo``)."""
        return self.text_embeddings == "zoo" or (self.text_embeddings == "auto" and not self.has_pretrained_embeddings)

    @property
    def text_dim(self) -> int | None:
        """The size of a caption embedding (linked to the text-to-image models' ``text_dim``): the pickle's (1024
        in StackGAN's files; read from it) or the zoo encoder's; None with ``text_embeddings: none``."""
        if self.text_embeddings == "none":
            return None
        if self.uses_zoo_encoder:
            return self.encoder_settings.architecture["embedding_dim"]
        return int(np.asarray(read_legacy_pickle(self.root / self.split / EMBEDDINGS)).shape[-1])

    @property
    def text_encoder(self) -> dict | None:
        """The zoo encoder's architecture (linked to the models' ``text_encoder``, which then stores the encoder in
        its checkpoints for ``sample --text``); None where the embeddings are the pretrained pickle's."""
        if not self.uses_zoo_encoder:
            return None
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.encoder_settings.architecture.items()}

    def prepare_embeddings(self) -> dict:
        """The zoo encoder's cache for this dataset (train and, where it exists, test), built when missing, stale
        or damaged (``python cli.py prepare`` calls it)."""
        splits = [s for s in ("train", "test") if (self.root / s / "filenames.pickle").is_file()]
        if "train" not in splits:
            raise missing(self.root / "train" / "filenames.pickle", "the train split (the text encoder learns on it)")
        datasets = {s: self.split_dataset(s) for s in splits}
        return load_or_build(self.root, datasets, self.encoder_settings, getattr(self, "mnist_root", "data"))

    def attach_text_embeddings(self) -> dict | None:
        """Makes the dataset (after ``setup``) yield caption embeddings: the pickle's, or the zoo encoder's from its
        cache (built when needed); returns the zoo encoder's weights (None: the pickle's embeddings). The
        text-to-image models call it in their ``setup``, so other models on captioned data train no encoder."""
        if self.text_embeddings == "none":
            raise ZooError("a text-to-image model needs caption embeddings: drop --data.text_embeddings none")
        if not self.uses_zoo_encoder:
            return None
        if self.text_cache is None:
            self.text_cache = self.prepare_embeddings()
        self.dataset.embeddings = IndexedEmbeddings(self.text_cache["table"], self.text_cache["index"][self.split])
        return self.text_cache["encoder"]
