"""Caption embeddings for a captioned dataset that has no ``char-CNN-RNN-embeddings.pickle``: the zoo trains its
own char-CNN-RNN (zoo/text_encoder.py) once and caches it, with the embedding of every caption, in
``<root>/zoo-char-cnn-rnn.pt``. ``python cli.py prepare --data captioned_mnist`` builds it (``fit`` too, when it is
missing); the captions datamodule then yields these embeddings as it would the pickle's. Where the pickle exists,
it wins (that is what StackGAN users hold) and nothing is trained.

The file holds the encoder's weights and settings, each distinct caption's embedding (a table: captioned MNIST's
700,000 captions have a few thousand distinct phrasings, so each is encoded once) and, per split, the (N, K) rows
of that table of each image's K captions; an image's (K, D) embeddings are ``table[index[i]]``. It is written to a
temporary file and renamed, and carries a key (a hash of the encoder settings, the split's image keys, classes
and captions) and a checksum of its tensors: a file for other settings or data (stale) or one whose tensors do not
match their checksum or that cannot be read (damaged) is rebuilt, saying why.

Image features (the other side of the joint embedding loss), for digit data: ``mnist_classifier_attributes`` (the
default), the 128-unit hidden layer of the zoo's MNIST classifier (metrics/mnist_classifier.py) followed by the
image's measured thickness, slant and size (datamodules/attribute_features.py: 131-d, so the embedding carries the
attributes the captions name), or ``mnist_classifier``, the 128 classifier features alone (the zoo's first encoder:
its embedding barely tells thick from thin). For other data, train an encoder with
``zoo.text_encoder.train_text_encoder`` against the features of an image encoder of your choice and pass
``build_cache(..., image_features=...)``, or use the dataset's pretrained pickle.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from datamodules.attribute_features import with_attributes
from zoo.errors import ZooError
from zoo.text_encoder import DEFAULT_ARCHITECTURE, CharCNNRNN, train_text_encoder

CACHE_FILE = "zoo-char-cnn-rnn.pt"
#: 2: the default image features became ``mnist_classifier_attributes`` (caches of version 1 are stale)
VERSION = 2
IMAGE_FEATURES = ("mnist_classifier_attributes", "mnist_classifier")
#: the size of the classifier's hidden layer (metrics/mnist_classifier.py) and of the attributes appended to it
CLASSIFIER_FEATURES, ATTRIBUTE_FEATURES = 128, 3


@dataclass(frozen=True)
class EncoderSettings:
    """What the zoo's text encoder is trained with; every field is part of the cache key."""

    steps: int = 1500
    batch_size: int = 40
    lr: float = 4e-4
    seed: int = 0
    image_features: str = "mnist_classifier_attributes"
    architecture: dict = field(
        default_factory=lambda: {**DEFAULT_ARCHITECTURE, "embedding_dim": CLASSIFIER_FEATURES + ATTRIBUTE_FEATURES}
    )  # the embedding has the image features' size (image_noop)

    def as_dict(self) -> dict:
        settings = asdict(self)
        settings["architecture"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.architecture.items()}
        return settings


class IndexedEmbeddings:
    """Per-image caption embeddings ``table[index[i]]`` (K, D) float32 numpy, indexable like the pickle's array."""

    def __init__(self, table: Tensor, index: Tensor):
        self.table, self.index = table.float().numpy(), index.long().numpy()

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.table[self.index[i]]


def cache_path(root: Path) -> Path:
    return Path(root) / CACHE_FILE


def data_fingerprint(splits: dict) -> str:
    """A hash of each split's image keys, classes and captions (``datamodules.captions.Split``)."""
    digest = hashlib.sha256()
    for name in sorted(splits):
        split = splits[name]
        digest.update(json.dumps([name, split.keys, split.classes, split.captions]).encode())
    return digest.hexdigest()


def cache_key(settings: EncoderSettings, fingerprint: str, text_length: int, captions_per_image: int) -> str:
    blob = json.dumps([VERSION, settings.as_dict(), fingerprint, text_length, captions_per_image], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def tensor_checksum(tensors: list[Tensor]) -> str:
    digest = hashlib.sha256()
    for t in tensors:
        digest.update(t.contiguous().numpy().tobytes())
    return digest.hexdigest()


def checked_tensors(cache: dict) -> list[Tensor]:
    """The tensors the checksum covers, in a fixed order."""
    return [cache["table"], *(cache["index"][s] for s in sorted(cache["index"])), *cache["encoder"].values()]


def read_cache(path: Path, key: str) -> tuple[dict | None, str]:
    """(the cache, "ok"), or (None, why it cannot be used: missing, damaged or stale)."""
    if not path.is_file():
        return None, "missing"
    try:
        cache = torch.load(path, map_location="cpu", weights_only=True)
        intact = tensor_checksum(checked_tensors(cache)) == cache["checksum"]
    except (RuntimeError, OSError, EOFError, KeyError, TypeError, ValueError, pickle.UnpicklingError) as err:
        return None, f"damaged ({type(err).__name__})"
    if not intact:
        return None, "damaged (its tensors do not match their checksum)"
    if cache.get("key") != key:
        return None, "stale (built with other encoder settings or data)"
    return cache, "ok"


def write_cache(path: Path, cache: dict) -> None:
    """Writes ``cache`` with its checksum atomically (a temporary file renamed over the old one)."""
    cache["checksum"] = tensor_checksum(checked_tensors(cache))
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        torch.save(cache, partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def mnist_classifier_features(mnist_root: str) -> Callable[[Tensor], Tensor]:
    """The 128-unit hidden layer of the zoo's MNIST classifier (trained on first use from ``mnist_root``)."""
    from metrics.mnist_classifier import load_classifier

    classifier = load_classifier(mnist_root)

    @torch.no_grad()
    def features(images: Tensor) -> Tensor:
        return torch.cat([classifier.features(chunk) for chunk in images.split(1024)])

    return features


def image_feature_extractor(name: str, mnist_root: str) -> Callable[[Tensor], Tensor]:
    """The image features ``name`` (one of ``IMAGE_FEATURES``) the encoder is trained and probed against."""
    features = mnist_classifier_features(mnist_root)
    return with_attributes(features) if name == "mnist_classifier_attributes" else features


def encode_captions(encoder: CharCNNRNN, captions: list[str], text_length: int, chunk: int = 512) -> Tensor:
    """Embeddings (U, D) of ``captions`` in ``chunk``s."""
    return torch.cat([encoder.encode(captions[i : i + chunk], text_length) for i in range(0, len(captions), chunk)])


def build_cache(
    datasets: dict,
    settings: EncoderSettings,
    key: str,
    image_features: Callable[[Tensor], Tensor],
    path: Path,
) -> dict:
    """Trains the encoder on the ``train`` dataset (``CaptionedImages``), encodes every distinct caption of all
    ``datasets`` and writes the cache to ``path``."""
    train = datasets["train"]
    characters = torch.stack([train.characters(i) for i in range(len(train))])
    encoder = train_text_encoder(
        characters, train.classes, image_features(all_images(train)), settings.architecture, settings.steps,
        settings.batch_size, settings.lr, settings.seed,
    )  # fmt: skip
    distinct = sorted({line for dataset in datasets.values() for lines in dataset.captions for line in lines})
    row = {line: i for i, line in enumerate(distinct)}
    index = {}
    for name, dataset in datasets.items():
        k = dataset.captions_per_image
        index[name] = torch.tensor(
            [[row[lines[j % len(lines)]] for j in range(k)] for lines in dataset.captions], dtype=torch.int32
        )
    table = encode_captions(encoder, distinct, train.text_length)
    scores = {}
    for name, dataset in datasets.items():
        if name != "train":  # held-out images: how well the embedding tells their classes apart
            scores[name] = zero_shot_accuracy(
                image_features(all_images(dataset)), dataset.classes, table[index[name].long()]
            )
    cache = {
        "key": key,
        "scores": scores,
        "settings": settings.as_dict(),
        "encoder": {k: v.cpu() for k, v in encoder.state_dict().items()},
        "table": table,
        "index": index,
    }
    write_cache(path, cache)
    return cache


def all_images(dataset) -> Tensor:
    """Every image of a ``CaptionedImages`` split, uint8 (N, C, R, R)."""
    return torch.stack([dataset.image(i) for i in range(len(dataset))])


def zero_shot_accuracy(image_features: Tensor, classes: Tensor, text: Tensor) -> float:
    """Reed et al. 2016 (CVPR) Eq. 1 and Sec. 5.2: each image is given the class whose captions' mean embedding is
    most compatible with it, <image feature, mean text embedding of the class>; the fraction given their own class.
    ``text`` holds each image's caption embeddings (N, K, D)."""
    labels, inverse = classes.unique(return_inverse=True)
    per_image = text.float().mean(1)
    sums = torch.zeros(len(labels), per_image.shape[1]).index_add_(0, inverse, per_image)
    class_text = sums / torch.bincount(inverse, minlength=len(labels))[:, None]
    predicted = (image_features.float() @ class_text.T).argmax(1)
    return float((predicted == inverse).double().mean())


def load_or_build(root: Path, datasets: dict, settings: EncoderSettings, mnist_root: str = "data") -> dict:
    """The cache of ``root`` for these datasets and settings: read when valid, else (re)built, saying why."""
    if settings.image_features not in IMAGE_FEATURES:
        raise ZooError(
            f"unknown text-encoder image features '{settings.image_features}'; choose one of: "
            f"{', '.join(IMAGE_FEATURES)} (other data: use its char-CNN-RNN-embeddings.pickle, see "
            "datamodules/text_embeddings.py)"
        )
    some = next(iter(datasets.values()))
    splits = {name: d.split_data for name, d in datasets.items()}
    key = cache_key(settings, data_fingerprint(splits), some.text_length, some.captions_per_image)
    path = cache_path(root)
    cache, status = read_cache(path, key)
    if cache is not None:
        return cache
    if status != "missing":
        print(f"note: {path} is {status}: training the text encoder again", file=sys.stderr)
    if some.channels != 1:
        raise ZooError(
            f"{root} has no char-CNN-RNN-embeddings.pickle, and the zoo's text encoder learns from MNIST classifier "
            "features (digit data only); get the dataset's pretrained embeddings (StackGAN's README)"
        )
    return build_cache(datasets, settings, key, image_feature_extractor(settings.image_features, mnist_root), path)
