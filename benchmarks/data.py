"""Data throughput: images/s each datamodule delivers from its raw on-disk format and from its cache.

For every format a synthetic dataset is written in the real layout (smooth random images, so the
codecs work as hard as on photographs): FFHQ's zip of 1024 px PNGs, CelebA's 178x218 JPEG folder,
an ImageNet-style tree of ~500x375 JPEGs and an LSUN LMDB of WebP images. Each is read with 2
DataLoader workers (300 images decoding on the fly, 2,000 from the resized uint8 cache, repeating
epochs as needed); beside them, the images/s the DCGAN training step (plain PyTorch loop of
benchmarks/speed.py) consumes at the same resolution on this machine.

    python benchmarks/data.py                      # 64 and 256 px, 192 images per format
    python benchmarks/data.py --record             # also writes the table into benchmarks/RESULTS.md
    python benchmarks/data.py --checksum_cost --images 5000 --resolutions 256 --record

Targets (issue 5): the cache delivers >= 5x the raw images/s, and more than DCGAN consumes.

``--checksum_cost`` measures instead what checking the cache against its checksums costs (issue 18) on the
CelebA-format dataset: the seconds spent in the checks of a sound cache (the index digest and a sample of
images, at open) beside the open and first-epoch times, read from the page cache (the worst case: reading from
disk makes the epoch slower and the share smaller), and the seconds the check of every image takes (after a
write to the .npy, and in ``prepare``). Target (issue 18): under 5% of open + one epoch.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results import record_block
from datamodules import get_datamodule
from datamodules import images as cache_module


def smooth_image(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """A photograph-like test image: a bicubic upsampling of coarse colour noise plus fine grain."""
    coarse = Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8))
    image = np.asarray(coarse.resize((width, height), Image.BICUBIC), dtype=np.int16)
    image = image + rng.integers(-8, 9, image.shape, dtype=np.int16)
    return Image.fromarray(image.clip(0, 255).astype(np.uint8))


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def write_ffhq(root: Path, n: int, rng) -> dict:
    path = root / "ffhq.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for i in range(n):
            png = encode(smooth_image(rng, 1024, 1024), "PNG", compress_level=1)
            z.writestr(f"{i // 1000:05d}/img{i:08d}.png", png)
    return {"root": str(path)}


def write_celeba(root: Path, n: int, rng) -> dict:
    folder = root / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    for name in names:
        smooth_image(rng, 178, 218).save(folder / name, quality=95)
    (root / "celeba" / "list_eval_partition.txt").write_text("".join(f"{name} 0\n" for name in names))
    return {"root": str(root)}


def write_imagenet(root: Path, n: int, rng) -> dict:
    for i in range(n):
        folder = root / "train" / f"n{i % 8:08d}"
        folder.mkdir(parents=True, exist_ok=True)
        smooth_image(rng, 500, 375).save(folder / f"img_{i}.JPEG", quality=90)
    return {"root": str(root)}


def write_lsun(root: Path, n: int, rng) -> dict:
    import lmdb

    env = lmdb.open(str(root / "bedroom_train_lmdb"), map_size=1 << 30)
    with env.begin(write=True) as txn:
        for i in range(n):
            txn.put(f"{i:040x}".encode(), encode(smooth_image(rng, 341, 256), "WEBP", quality=75))
    env.close()
    return {"root": str(root)}


FORMATS = {
    "ffhq": ("zip of 1024 px PNG", write_ffhq),
    "celeba": ("178x218 JPEG folder", write_celeba),
    "imagenet": ("~500x375 JPEG tree", write_imagenet),
    "lsun": ("LMDB of 341x256 WebP", write_lsun),
}


def images_per_second(dm, min_images: int = 2000) -> float:
    """Images/s delivered by the train loader over as many epochs as it takes to deliver
    ``min_images``, after the first batch (worker start-up)."""
    loader = dm.train_dataloader()
    start, seen = None, 0
    while seen < min_images:
        for images, *_ in loader:
            if start is None:
                start = time.perf_counter()
                continue
            seen += images.shape[0]
    return seen / (time.perf_counter() - start)


def dcgan_consumption(resolution: int) -> float:
    """Images/s the plain DCGAN training loop of benchmarks/speed.py consumes at ``resolution``."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from speed import plain_images_per_second, settings

    return plain_images_per_second(
        settings(model="dcgan", resolution=resolution, batch=16, iterations=3, warmup=1, device="cpu")
    )


def measure(name: str, root_kwargs: dict, resolution: int, cache_dir: Path, workers: int) -> dict:
    cls = get_datamodule(name)
    common = {**root_kwargs, "resolution": resolution, "batch_size": 16, "num_workers": workers, "hflip": False}
    raw = cls(**common, cache=False)
    raw.setup()
    cached = cls(**common, cache=True, cache_dir=str(cache_dir))
    start = time.perf_counter()
    cached.prepare_data()
    build = time.perf_counter() - start
    cached.setup()
    return {"raw": images_per_second(raw, min_images=300), "cache": images_per_second(cached), "build_s": build}


def timed(function, spent: list[float]):
    """``function``, adding the seconds each call takes to ``spent[0]``."""

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start

    return wrapper


def checksum_cost(root_kwargs: dict, resolution: int, cache_dir: Path, repeats: int = 3) -> dict:
    """Seconds spent in the cache's checks (``CachedImages.check_images`` and the index ``digest``) while a
    fresh CelebA datamodule opens its cache (``setup``) and reads one epoch, beside those two times: the median
    of ``repeats`` runs. Also the seconds the check of every image takes."""
    dm = get_datamodule("celeba")(
        **root_kwargs, resolution=resolution, batch_size=16, hflip=False, cache_dir=str(cache_dir)
    )
    dm.prepare_data()
    spent = [0.0]
    check, digest = cache_module.CachedImages.check_images, cache_module.digest
    cache_module.CachedImages.check_images, cache_module.digest = timed(check, spent), timed(digest, spent)
    runs = []
    try:
        for _ in range(repeats):
            dm.dataset, spent[0] = None, 0.0
            start = time.perf_counter()
            dm.setup()
            opened = time.perf_counter() - start
            for _ in dm.train_dataloader():
                pass
            runs.append({"open_s": opened, "epoch_s": time.perf_counter() - start - opened, "check_s": spent[0]})
    finally:
        cache_module.CachedImages.check_images, cache_module.digest = check, digest
    start = time.perf_counter()
    cache = cache_module.CachedImages(dm.cache_path(), None, check_all=True)
    median = sorted(runs, key=lambda r: r["check_s"] / (r["open_s"] + r["epoch_s"]))[len(runs) // 2]
    return {
        **median, "full_check_s": time.perf_counter() - start, "images": len(cache), "px": resolution,
        "cache_mb": cache.memmap().nbytes / 1e6,
    }  # fmt: skip


def checksum_table(rows: list[dict], machine: str, images: int) -> str:
    resolutions = " ".join(str(r["px"]) for r in rows)
    lines = [
        (
            f"`python benchmarks/data.py --checksum_cost --images {images} --resolutions {resolutions} --record` on "
            f"{machine}: a CelebA-format folder of {images} 178x218 JPEGs, its cache read with batch 16 from the "
            "page cache (median of 3 fresh opens). Checks of a sound cache: index digest and 64 sampled images at "
            "open; every image is checked only after a write to the .npy and by `prepare`"
        ),
        "",
        (
            "| px | images | cache MB | open s | first epoch s | checks s | checks / (open + epoch) | "
            "check of every image s | every image / (open + epoch) |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        share = r["check_s"] / (r["open_s"] + r["epoch_s"])
        lines.append(
            f"| {r['px']} | {r['images']} | {r['cache_mb']:.0f} | {r['open_s']:.3f} | {r['epoch_s']:.3f} | "
            f"{r['check_s']:.3f} | {100 * share:.1f}% | {r['full_check_s']:.3f} | "
            f"{100 * r['full_check_s'] / (r['open_s'] + r['epoch_s']):.0f}% |"
        )
    return "\n".join(lines)


def table(rows: list[dict], machine: str, images: int, workers: int) -> str:
    lines = [
        f"`python benchmarks/data.py --images {images} --workers {workers} --record` on {machine}",
        "",
        "| dataset (format) | px | raw img/s | cache img/s | cache / raw | cache build s | DCGAN step img/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} ({r['format']}) | {r['px']} | {r['raw']:.0f} | {r['cache']:.0f} | "
            f"{r['cache'] / r['raw']:.1f}x | {r['build_s']:.1f} | {r['dcgan']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=192, help="images per synthetic dataset")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=list(FORMATS))
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--checksum_cost", action="store_true", help="measure the cache checks' cost instead")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    machine = f"CPU x86_64 x{torch.get_num_threads()} threads"
    if args.checksum_cost:
        return record_checksum_cost(args, rng, machine)
    rows = []
    consumption = {px: dcgan_consumption(px) for px in args.resolutions}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.formats:
            description, write = FORMATS[name]
            root = Path(tmp) / name
            root.mkdir()
            root_kwargs = write(root, args.images, rng)
            for px in args.resolutions:
                result = measure(name, root_kwargs, px, Path(tmp) / "cache", args.workers)
                rows.append({"name": name, "format": description, "px": px, "dcgan": consumption[px], **result})
                print(json.dumps(rows[-1]), flush=True)
    text = table(rows, machine, args.images, args.workers)
    print(text)
    if args.record:
        record_block("data-throughput", "Data throughput: raw formats vs the resized cache", text)


def record_checksum_cost(args, rng, machine: str) -> None:
    """``--checksum_cost``: the table of ``checksum_cost`` per resolution, recorded with ``--record``."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "celeba"
        root.mkdir()
        root_kwargs = write_celeba(root, args.images, rng)
        rows = []
        for px in args.resolutions:
            rows.append(checksum_cost(root_kwargs, px, Path(tmp) / "cache"))
            print(json.dumps(rows[-1]), flush=True)
    text = checksum_table(rows, machine, args.images)
    print(text)
    if args.record:
        record_block("cache-checksums", "Dataset cache checks: cost of the checksums", text)


if __name__ == "__main__":
    main()
