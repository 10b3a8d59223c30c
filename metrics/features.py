"""Features of generated and real images, streamed in batches and sharded over DDP ranks.

Generated images go from the generator to the extractor in memory: quantized to uint8 (``to_uint8``),
clean-resized on the device (``clean_resize``) and passed to the extractor in batches, never written to disk.
Sample ``i`` always comes from the same latent: latents are drawn in blocks of ``SEED_BLOCK`` samples, each
block from its own seed, so any split of the samples over ranks or batches reproduces the same images.

Each rank takes a contiguous share of the samples; the shares are gathered in sample order, so every rank
ends with the features a single process would compute. Real-image features are computed the same way
from the datamodule's training dataset and cached on disk per (dataset, resolution, split, count, extractor).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Subset

from datamodules.base import collate
from metrics.inception import extractor_fingerprint
from metrics.resize import CLEAN_SIZE, clean_resize, to_uint8
from zoo.base import eval_mode
from zoo.errors import ZooError

#: latents are drawn in blocks of this many samples, block b from ``block_seed(seed, b)``
SEED_BLOCK = 64
#: bump when a change makes cached real features stale
CACHE_VERSION = 1


@dataclass(frozen=True)
class Shard:
    """This process's part of a computation split over ``world_size`` processes: rank r handles the
    contiguous range ``bounds(n)`` of n items, and ``gather`` puts the ranks' results back in item order."""

    rank: int = 0
    world_size: int = 1

    @classmethod
    def current(cls) -> Shard:
        """The torch.distributed process group's rank and size (one process when there is none)."""
        if dist.is_available() and dist.is_initialized():
            return cls(dist.get_rank(), dist.get_world_size())
        return cls()

    def bounds(self, n: int) -> tuple[int, int]:
        return n * self.rank // self.world_size, n * (self.rank + 1) // self.world_size

    def gather(self, local: Tensor, n: int) -> Tensor:
        """Every rank's ``local`` rows (its ``bounds(n)`` share), concatenated in rank order, on every rank."""
        if self.world_size == 1:
            return local
        shares = [Shard(rank, self.world_size).bounds(n) for rank in range(self.world_size)]
        longest = max(stop - start for start, stop in shares)
        padded = local.new_zeros((longest, *local.shape[1:]))
        padded[: len(local)] = local
        parts = [torch.empty_like(padded) for _ in shares]
        dist.all_gather(parts, padded)
        return torch.cat([part[: stop - start] for part, (start, stop) in zip(parts, shares)])

    def all(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on every rank."""
        if self.world_size == 1:
            return flag
        flags = [None] * self.world_size
        dist.all_gather_object(flags, flag)
        return all(flags)


def prepare_extractor(extractor, device: torch.device):
    """An extractor module moved to ``device`` in eval mode, without gradients; other callables as they are."""
    if isinstance(extractor, nn.Module):
        extractor.to(device).eval().requires_grad_(False)
    return extractor


def extract(extractor, images: Tensor, with_logits: bool = False) -> tuple[Tensor, Tensor | None]:
    """Features (and logits) of uint8 images (N, 1 or 3, H, W), clean-resized to the extractor's input size.
    The batch goes in channels-last layout unless the extractor says ``channels_last = False``: faster
    convolutions, with float32 rounding that differs from the contiguous layout's (FID within ~3e-7 relative,
    benchmarks/RESULTS.md eval-speed); the contiguous layout reproduces clean-fid's features exactly."""
    layout = torch.channels_last if getattr(extractor, "channels_last", True) else torch.contiguous_format
    x = clean_resize(images, getattr(extractor, "input_size", CLEAN_SIZE)).contiguous(memory_format=layout)
    features = extractor(x)
    return features.float(), extractor.logits(features).float() if with_logits else None


def block_seed(seed: int, block: int) -> int:
    """A 63-bit seed unique to (seed, block): the latents of samples [SEED_BLOCK b, SEED_BLOCK (b + 1))."""
    digest = hashlib.blake2b(f"metrics:{seed}:{block}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def seeded_inputs(model, start: int, stop: int, seed: int, truncation: float | None = None):
    """Latents (and labels, for conditional models) of samples [start, stop): the same for a sample
    whatever range it is asked in."""
    blocks = range(start // SEED_BLOCK, (stop - 1) // SEED_BLOCK + 1)
    latents, labels = [], []
    for block in blocks:
        rng = torch.Generator().manual_seed(block_seed(seed, block))
        latents.append(model.sample_latent(SEED_BLOCK, generator=rng, truncation=truncation))
        labels.append(model.sample_labels(SEED_BLOCK, generator=rng))
    first, last = start - blocks.start * SEED_BLOCK, stop - blocks.start * SEED_BLOCK
    y = None if labels[0] is None else torch.cat(labels)[first:last]
    return torch.cat(latents)[first:last], y


def generated_shard(
    model,
    net: nn.Module,
    start: int,
    stop: int,
    extractor,
    seed: int = 0,
    truncation: float | None = None,
    batch_size: int = 64,
    with_logits: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Features (and logits) of samples [start, stop) of generator ``net`` of GAN ``model`` (in eval mode),
    sample i from latent ``seeded_inputs(model, i, i + 1, seed)``, ``batch_size`` at a time."""
    features, logits = [], []
    with torch.inference_mode(), eval_mode(net):
        for first in range(start, stop, batch_size):
            z, y = seeded_inputs(model, first, min(first + batch_size, stop), seed, truncation)
            f, lg = extract(extractor, to_uint8(model.generate(net, z, y, truncation)), with_logits)
            features.append(f)
            logits.append(lg)
    return torch.cat(features), torch.cat(logits) if with_logits else None


def generated_features(
    model,
    net: nn.Module,
    num_samples: int,
    extractor,
    seed: int = 0,
    truncation: float | None = None,
    batch_size: int = 64,
    with_logits: bool = False,
    shard: Shard | None = None,
) -> tuple[Tensor, Tensor | None]:
    """``generated_shard`` of samples [0, num_samples), each rank of ``shard`` computing its share; every
    rank gets all of them, in sample order."""
    shard = shard or Shard.current()
    start, stop = shard.bounds(num_samples)
    features, logits = generated_shard(model, net, start, stop, extractor, seed, truncation, batch_size, with_logits)
    return shard.gather(features, num_samples), shard.gather(logits, num_samples) if with_logits else None


def dataset_images(dataset: Dataset, indices: list[int], batch_size: int, num_workers: int = 0) -> Iterator[Tensor]:
    """uint8 image batches (N, C, H, W) of ``dataset[indices]``; items may be images, (image, label) or
    (image, label, skipped) as the datamodules yield them."""
    loader = DataLoader(Subset(dataset, indices), batch_size=batch_size, collate_fn=collate, num_workers=num_workers)
    for batch in loader:
        images = batch[0] if isinstance(batch, (list, tuple)) else batch
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ZooError(
                f"image metrics need a dataset of uint8 images (N, C, H, W); this one yields {images.dtype} "
                f"{tuple(images.shape)}. Use an image dataset (--data NAME) with an image model."
            )
        yield images


def real_indices(size: int, count: int | None) -> list[int]:
    """Which real images are used: all of them, or a fixed random subset of ``count`` (seed 0), sorted."""
    if count is None or count >= size:
        return list(range(size))
    return sorted(np.random.default_rng(0).choice(size, count, replace=False).tolist())


def real_features(
    dataset: Dataset,
    count: int | None,
    extractor,
    device: torch.device,
    batch_size: int = 64,
    num_workers: int = 0,
    shard: Shard | None = None,
) -> Tensor:
    """Features of ``real_indices(len(dataset), count)`` of ``dataset``, sharded over ``shard``."""
    shard = shard or Shard.current()
    indices = real_indices(len(dataset), count)
    start, stop = shard.bounds(len(indices))
    with torch.inference_mode():
        features = [
            extract(extractor, images.to(device))[0]
            for images in dataset_images(dataset, indices[start:stop], batch_size, num_workers)
        ]
    return shard.gather(torch.cat(features), len(indices))


def data_description(datamodule, count: int | None) -> dict:
    """What identifies a datamodule's real images: name, resolution, channels, split, root, count."""
    from datamodules import data_name

    size = len(datamodule.dataset)
    return {
        "data": data_name(type(datamodule)) or type(datamodule).__name__,
        "resolution": datamodule.resolution,
        "channels": datamodule.channels,
        "split": "train" if getattr(datamodule, "train", True) else "test",
        "root": str(Path(datamodule.root).resolve()) if getattr(datamodule, "root", None) else None,
        "count": size if count is None else min(count, size),
    }


def cached_real_features(
    datamodule,
    count: int | None,
    extractor,
    device: torch.device,
    cache_dir: str | os.PathLike,
    batch_size: int = 64,
    shard: Shard | None = None,
) -> Tensor:
    """``real_features`` of the datamodule's (set-up) training dataset, read from
    ``cache_dir/<data>-<px>px-<split>-<count>-<key>.npy`` when an earlier run computed them (the key hashes
    the data description, the extractor's fingerprint and the preprocessing). Rank 0 writes the file."""
    shard = shard or Shard.current()
    description = {
        **data_description(datamodule, count),
        "extractor": extractor_fingerprint(extractor),
        "resize": f"clean-{getattr(extractor, 'input_size', CLEAN_SIZE)}",
        "version": CACHE_VERSION,
    }
    key = hashlib.sha1(json.dumps(description, sort_keys=True).encode()).hexdigest()[:12]
    d = description
    path = Path(cache_dir) / f"{d['data']}-{d['resolution']}px-{d['split']}-{d['count']}-{key}.npy"
    if shard.all(path.is_file()):
        return torch.from_numpy(np.load(path)).to(device)
    workers = datamodule.loader_workers()
    features = real_features(datamodule.dataset, count, extractor, device, batch_size, workers, shard)
    if shard.rank == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}.npy")
        np.save(tmp, features.cpu().numpy())
        os.replace(tmp, path)
        path.with_suffix(".json").write_text(json.dumps(description, indent=1))
    return features
