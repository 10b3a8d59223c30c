"""``ImageMetrics``: one evaluation protocol (sample counts, seed, preprocessing, extractor, metric settings)
for FID, KID, IS and precision/recall, shared by ``cli.py evaluate`` and the ``PeriodicFID`` callback."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor, nn

from metrics.features import (
    Shard,
    cached_real_features,
    data_description,
    generated_features,
    prepare_extractor,
)
from metrics.inception import extractor_fingerprint, extractor_name
from metrics.resize import CLEAN_SIZE
from metrics.scores import fid_from_features, inception_score, kernel_inception_distance, precision_recall
from zoo.errors import ZooError

#: metric name -> the keys it reports
METRICS = {"fid": ("fid",), "kid": ("kid",), "is": ("is", "is_std"), "pr": ("precision", "recall")}


def parse_metrics(names: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``"fid,kid"`` or ``["fid", "kid"]`` -> ("fid", "kid"); unknown names raise a ZooError listing the valid ones."""
    names = [n.strip().lower() for n in (names.split(",") if isinstance(names, str) else names) if n.strip()]
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        raise ZooError(f"unknown metric(s) {', '.join(unknown) or '(none given)'}; choose from: {', '.join(METRICS)}")
    return tuple(dict.fromkeys(names))


def default_stats_dir() -> Path:
    from datamodules.images import default_cache_dir

    return default_cache_dir() / "fid-stats"


class ImageMetrics:
    """FID (Heusel et al. 2017), KID (Bińkowski et al. 2018), IS (Salimans et al. 2016) and improved
    precision/recall (Kynkäänniemi et al. 2019) of a generator against a datamodule's training images.

    ``num_samples`` generated images (sample i from a fixed seed, see metrics/features.py) and ``num_real``
    real ones (None: all; fewer: a fixed random subset) go through clean-fid's clean preprocessing and the
    extractor; real features are cached in ``cache_dir``. Under DDP every rank computes a share.
    """

    def __init__(
        self,
        extractor,
        metrics: str | tuple[str, ...] = ("fid",),
        num_samples: int = 50_000,
        num_real: int | None = None,
        batch_size: int = 64,
        seed: int = 0,
        truncation: float | None = None,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        is_splits: int = 10,
        pr_k: int = 3,
        cache_dir: str | os.PathLike | None = None,
    ):
        self.metrics = parse_metrics(metrics)
        if num_samples < 2 or (num_real is not None and num_real < 2):
            raise ZooError(f"num_samples and num_real must be >= 2, got {num_samples} and {num_real}")
        if batch_size < 1:
            raise ZooError(f"batch_size must be >= 1, got {batch_size}")
        self.extractor, self.num_samples, self.num_real = extractor, num_samples, num_real
        self.batch_size, self.seed, self.truncation = batch_size, seed, truncation
        self.kid_subsets, self.kid_subset_size, self.is_splits, self.pr_k = (
            kid_subsets,
            kid_subset_size,
            is_splits,
            pr_k,
        )
        self.cache_dir = Path(cache_dir) if cache_dir else default_stats_dir()

    @property
    def needs_real(self) -> bool:
        return any(m in self.metrics for m in ("fid", "kid", "pr"))

    def real_features(self, datamodule, device: torch.device, shard: Shard | None = None) -> Tensor | None:
        """Features of the datamodule's real images (set up first if needed), from the cache when it has them;
        None when no chosen metric needs real images."""
        if not self.needs_real:
            return None
        if datamodule.dataset is None:
            datamodule.setup("fit")
        prepare_extractor(self.extractor, device)
        return cached_real_features(
            datamodule, self.num_real, self.extractor, device, self.cache_dir, self.batch_size, shard
        )

    def scores(self, model, net: nn.Module, real: Tensor | None, shard: Shard | None = None) -> dict[str, float]:
        """The chosen metrics of generator ``net`` of GAN ``model`` (on the model's device); ``real`` from
        ``real_features``. Every rank returns the same values."""
        prepare_extractor(self.extractor, model.device)
        fake, logits = generated_features(
            model, net, self.num_samples, self.extractor, self.seed, self.truncation, self.batch_size,
            with_logits="is" in self.metrics, shard=shard,
        )  # fmt: skip
        if real is not None:
            real = real.to(fake.device)
        scores = {}
        if "fid" in self.metrics:
            scores["fid"] = fid_from_features(real, fake)
        if "kid" in self.metrics:
            scores["kid"] = kernel_inception_distance(real, fake, self.kid_subsets, self.kid_subset_size, self.seed)
        if "is" in self.metrics:
            scores["is"], scores["is_std"] = inception_score(logits, self.is_splits)
        if "pr" in self.metrics:
            scores["precision"], scores["recall"] = precision_recall(real, fake, self.pr_k)
        return scores

    def protocol(self, datamodule=None) -> dict:
        """Everything a number depends on, for reports next to it."""
        real = data_description(datamodule, self.num_real) if datamodule is not None and self.needs_real else None
        weights = getattr(self.extractor, "path", None)
        size = getattr(self.extractor, "input_size", CLEAN_SIZE)
        protocol = {
            "metrics": list(self.metrics),
            "num_generated": self.num_samples,
            "num_real": real["count"] if real else None,
            "real_data": real,
            "seed": self.seed,
            "truncation": self.truncation,
            "quantization": "uint8, round((x + 1) * 127.5)",
            "resize": f"clean (clean-fid): PIL bicubic on float32 to {size}x{size}, clipped to [0, 255]",
            "extractor": extractor_name(self.extractor),
            "extractor_sha256": extractor_fingerprint(self.extractor),
            "weights": str(weights) if weights else None,
        }
        if "kid" in self.metrics:
            protocol["kid"] = {"subsets": self.kid_subsets, "max_subset_size": self.kid_subset_size, "kernel": "cubic"}
        if "is" in self.metrics:
            protocol["is_splits"] = self.is_splits
        if "pr" in self.metrics:
            protocol["pr_k"] = self.pr_k
        return protocol
