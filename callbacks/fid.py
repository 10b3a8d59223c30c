"""FID (and optionally KID, IS, precision/recall) during training, every N thousand real images."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.utilities import rank_zero_info

from callbacks.kimg import next_grid_point
from metrics.image_metrics import ImageMetrics, parse_metrics
from metrics.inception import load_extractor
from zoo.errors import ZooError

#: interval used by ``--fid.enabled true``; ``max_overhead`` stretches it where evaluation would cost more
DEFAULT_EVERY_N_KIMG = 500.0


class PeriodicFID(Callback):
    """Every ``every_n_kimg`` thousand real images (``images_seen``) and at the end of training, computes the
    chosen metrics of the EMA generator (``generator_ema``, when the model has one) and of the raw generator,
    logs them to the trainer's loggers as ``fid/ema``, ``fid/raw``, ``kid/ema``, ... (plus ``fid/eval_seconds``)
    and saves ``best_fid.ckpt`` beside the other checkpoints whenever the FID (of the EMA generator when there
    is one) improves.

    Off unless ``enabled`` or ``every_n_kimg`` is given, so training never needs the Inception weights unless
    asked. Real features come from the datamodule's training dataset, computed once and cached on disk; the
    networks live in this callback, never in the LightningModule (so never in checkpoints). Under DDP every
    rank generates and extracts its share of the samples.

    Cost: one evaluation extracts ``num_samples`` images per generator, and the Inception network costs more
    per image than training a small GAN does (benchmarks/RESULTS.md, eval-speed: at 10k samples x 2 generators
    every 500 kimg, a 64 px DCGAN would spend more time evaluating than training). So evaluations stay on the
    ``every_n_kimg`` grid but skip grid points while the last evaluation took more than ``max_overhead`` (10%)
    of the training time it would be amortized over, measured on this run; big models, where an evaluation is
    cheap next to 500 kimg of training, are evaluated at every grid point.
    """

    def __init__(
        self,
        enabled: bool = False,
        every_n_kimg: float | None = None,
        metrics: str = "fid",
        num_samples: int = 10_000,
        num_real: int | None = None,
        batch_size: int = 100,
        seed: int = 0,
        raw: bool = True,
        weights: str | None = None,
        extractor: str | None = None,
        cache_dir: str | None = None,
        max_overhead: float | None = 0.1,
    ):
        """
        Args:
            enabled: evaluate every ``DEFAULT_EVERY_N_KIMG`` (500) kimg unless ``every_n_kimg`` says otherwise.
            every_n_kimg: interval in thousands of real images shown to D (giving it enables the callback).
            metrics: comma-separated, from fid, kid, is, pr.
            num_samples: generated images per evaluation and generator.
            num_real: real images for the reference features (None: the whole training set).
            batch_size: images per generator/extractor batch on each device.
            seed: seed of the fixed evaluation latents (the same images at every evaluation).
            raw: also evaluate the raw generator when the model has an EMA generator.
            weights: the Inception weights file (default: $GAN_ZOO_INCEPTION, the caches, or a download).
            extractor: ``module:callable`` returning another feature extractor (for tests and custom features).
            cache_dir: where real features are cached (default: $GAN_ZOO_CACHE/fid-stats).
            max_overhead: most evaluation time per training time; later grid points are skipped to keep to it
                (None: every grid point, whatever it costs).
        """
        self.active = enabled or every_n_kimg is not None
        self.every_n_kimg = DEFAULT_EVERY_N_KIMG if every_n_kimg is None else every_n_kimg
        if self.every_n_kimg <= 0:
            raise ZooError(f"--fid.every_n_kimg must be > 0, got {every_n_kimg}")
        self.metric_names = parse_metrics(metrics)
        self.settings = {"num_samples": num_samples, "num_real": num_real, "batch_size": batch_size, "seed": seed}
        self.raw, self.weights, self.extractor_spec, self.cache_dir = raw, weights, extractor, cache_dir
        self.max_overhead = max_overhead
        self.best_fid, self.best_kimg = math.inf, None
        self.last_scores: dict[str, float] = {}
        self._image_metrics: ImageMetrics | None = None
        self._real = None
        self._next_kimg = self.every_n_kimg
        self._evaluated_at = -1
        self._clock = (0.0, 0)  # (time, images_seen) when training resumed after the last evaluation

    def next_kimg(self, images_seen: int, gap_kimg: float = 0.0) -> float:
        """The first multiple of ``every_n_kimg`` strictly after ``images_seen / 1000 + gap_kimg``."""
        return next_grid_point(images_seen / 1000 + gap_kimg, self.every_n_kimg)

    def overhead_gap_kimg(self, eval_seconds: float, train_seconds: float, trained_kimg: float) -> float:
        """kimg of training, at the speed of the last interval, that ``eval_seconds`` of evaluation must be
        spread over to cost at most ``max_overhead`` of the training time."""
        if self.max_overhead is None or trained_kimg <= 0:
            return 0.0
        return eval_seconds / self.max_overhead / (train_seconds / trained_kimg)

    def on_fit_start(self, trainer: pl.Trainer, pl_module) -> None:
        if not self.active:
            return
        if getattr(pl_module, "translates_images", False):
            raise pl_module.refuse_latents("--fid")
        if trainer.datamodule is None:
            raise ZooError("PeriodicFID needs a datamodule for its real images: pass one to trainer.fit")
        extractor = load_extractor(self.weights, self.extractor_spec)
        self._image_metrics = ImageMetrics(extractor, self.metric_names, cache_dir=self.cache_dir, **self.settings)
        real = self._image_metrics.real_features(trainer.datamodule, pl_module.device)
        self._real = None if real is None else real.cpu()

    def on_train_start(self, trainer: pl.Trainer, pl_module) -> None:
        self._next_kimg = self.next_kimg(pl_module.images_seen)
        self._clock = (time.perf_counter(), pl_module.images_seen)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if self.active and pl_module.images_seen >= self._next_kimg * 1000:
            train_seconds = time.perf_counter() - self._clock[0]
            trained_kimg = (pl_module.images_seen - self._clock[1]) / 1000
            eval_seconds = self.evaluate(trainer, pl_module)["fid/eval_seconds"]
            gap = self.overhead_gap_kimg(eval_seconds, train_seconds, trained_kimg)
            # ranks time differently: rank 0's schedule for all, or they would evaluate at different points
            self._next_kimg = trainer.strategy.broadcast(self.next_kimg(pl_module.images_seen, gap))
            self._clock = (time.perf_counter(), pl_module.images_seen)

    def on_train_end(self, trainer: pl.Trainer, pl_module) -> None:
        if self.active and pl_module.images_seen != self._evaluated_at:
            self.evaluate(trainer, pl_module)

    def evaluate(self, trainer: pl.Trainer, pl_module) -> dict[str, float]:
        """Scores every generator, logs them, and saves ``best_fid.ckpt`` when the headline FID improved."""
        start = time.perf_counter()
        ema = getattr(pl_module, "generator_ema", None)
        generators = ([("ema", ema)] if ema is not None else []) + (
            [("raw", pl_module.generator)] if self.raw or ema is None else []
        )
        scores = {}
        for tag, net in generators:
            for key, value in self._image_metrics.scores(pl_module, net, self._real).items():
                scores[f"{key}/{tag}"] = value
        scores["fid/eval_seconds"] = time.perf_counter() - start
        self.last_scores, self._evaluated_at = scores, pl_module.images_seen
        kimg = pl_module.images_seen / 1000
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.log_metrics(scores, step=trainer.global_step)
            rank_zero_info(f"{kimg:.1f} kimg: " + ", ".join(f"{k} {v:.4g}" for k, v in scores.items()))
        headline = scores.get(f"fid/{generators[0][0]}")
        if trainer.strategy.broadcast(headline is not None and headline < self.best_fid):  # one decision for all ranks
            self.best_fid, self.best_kimg = headline, kimg
            trainer.save_checkpoint(self.best_path(trainer))
        return scores

    @staticmethod
    def best_path(trainer: pl.Trainer) -> Path:
        """``best_fid.ckpt`` in the checkpoint callback's folder (``<run>/checkpoints`` without one)."""
        callback = trainer.checkpoint_callback
        folder = Path(callback.dirpath) if callback is not None and callback.dirpath else None
        return (folder or Path(trainer.default_root_dir) / "checkpoints") / "best_fid.ckpt"

    def state_dict(self) -> dict:
        return {"best_fid": self.best_fid, "best_kimg": self.best_kimg}

    def load_state_dict(self, state_dict: dict) -> None:
        self.best_fid, self.best_kimg = state_dict["best_fid"], state_dict["best_kimg"]
