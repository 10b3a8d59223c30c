"""Evaluation speed: images/s of GAN Zoo's FID pipeline vs clean-fid's ``compute_fid(gen=...)``.

End to end: both pipelines score the same ``--num`` generated images of a 64 px RGB DCGAN (random weights;
sample i from the same latent in both) against the same ``--num`` real images (smooth random 64 px images;
clean-fid reads them as PNG files from a folder, as it must, GAN Zoo from memory as the datamodules hold
them), with the same extractor instance and batch size, and must give the same FID (to 1e-4). Timed: real
features, generated features and the FID.

The FID Inception weights cannot be downloaded here, so the extractor is a stand-in of the same cost:
torchvision's ``inception_v3(weights=None, aux_logits=False)`` truncated to its 2048-d pool features, random
weights (seed 0), BatchNorm statistics from one pass over 16 of the benchmark's images (so FIDs have the usual
magnitude), eval mode, fed (x - 128) / 128 like the real one.

Preprocessing only: the generator's output computed beforehand and replayed, with a nearly free extractor
(per-channel means), through clean-fid's ``get_model_features`` (what ``compute_fid(gen=...)`` runs for
generated images) and GAN Zoo's batched ``extract``: what each pipeline costs besides the networks, which is
what bounds clean-fid on a GPU.

The last line estimates what PeriodicFID's defaults cost against DCGAN training on this machine (the plain
DCGAN loop's images/s at 64 px, benchmarks/speed.py, vs the end-to-end images/s with the stand-in) and the
interval its max_overhead guard settles on.

    python benchmarks/eval_speed.py              # 64 + 64 images, batch 32: about 5 minutes on 2 busy cores
    python benchmarks/eval_speed.py --record     # also writes the table into benchmarks/RESULTS.md
    python benchmarks/eval_speed.py --device cuda --num 1024 --preprocess_num 2048 --record   # on a GPU

With ``--device cuda`` the generator, the extractor, GAN Zoo's resizing and clean-fid's feature passes run on the
GPU; clean-fid still resizes every generated image on the CPU, as compute_fid(gen=...) does.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
from PIL import Image
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from benchmarks.results import record_block
from callbacks.fid import DEFAULT_EVERY_N_KIMG, PeriodicFID
from datamodules.base import TensorImages
from metrics.features import Shard, extract, generated_features, real_features, seeded_inputs
from metrics.resize import clean_resize, to_uint8
from metrics.scores import fid_from_features
from zoo.base import eval_mode
from zoo.dcgan import DCGAN


class StandInInception(nn.Module):
    """Inception-v3's architecture and cost at 299x299 with random weights: 2048-d pool features. BatchNorm
    statistics come from one train-mode pass over ``calibration`` (uint8 images, clean-resized), so the
    features of such images have a moderate scale and FIDs land in the usual range."""

    name = "stand-in Inception-v3 (torchvision, random weights), 2048-d"
    input_size = 299

    def __init__(self, calibration: torch.Tensor):
        from torchvision.models import inception_v3

        super().__init__()
        torch.manual_seed(0)
        self.net = inception_v3(weights=None, aux_logits=False, init_weights=True)
        self.net.fc = nn.Identity()
        for module in self.net.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.reset_running_stats()
                module.momentum = None  # a plain average over the calibration pass
        with torch.no_grad():
            self.net.train()
            self(clean_resize(calibration))
        self.eval()

    def forward(self, images):
        return self.net((images - 128) / 128)


class ChannelMeans(nn.Module):
    """A nearly free extractor: the mean of each channel (3-d features)."""

    name = "per-channel means (nearly free)"
    input_size = 299

    def forward(self, images):
        return images.mean(dim=(2, 3))


def real_images(n: int, seed: int = 1) -> torch.Tensor:
    """Smooth random uint8 RGB images, 64 px."""
    coarse = torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(seed))
    return (torch.nn.functional.interpolate(coarse, size=64, mode="bicubic").clamp(0, 1) * 255).round().byte()


def ours(model: DCGAN, real: torch.Tensor, extractor, batch_size: int) -> tuple[float, float]:
    start = time.perf_counter()
    dataset = TensorImages(real, torch.zeros(len(real), dtype=torch.long))
    real_feats = real_features(dataset, None, extractor, model.device, batch_size, shard=Shard())
    fake_feats, _ = generated_features(
        model, model.generator, len(real), extractor, batch_size=batch_size, shard=Shard()
    )
    return fid_from_features(real_feats, fake_feats), time.perf_counter() - start


def generated_images(model: DCGAN, start: int, stop: int) -> torch.Tensor:
    """uint8 images of samples [start, stop), exactly as GAN Zoo's pipeline generates them."""
    latents, labels = seeded_inputs(model, start, stop, seed=0)
    with torch.no_grad(), eval_mode(model.generator):
        return to_uint8(model.generate(model.generator, latents, labels))


def replay(images: torch.Tensor, batch_size: int):
    """A clean-fid ``gen`` that returns the next batch of precomputed uint8 ``images`` (as [0, 255] floats)."""
    batches = iter(images.float().split(batch_size))
    return lambda z: next(batches)


def cleanfid_gen(model: DCGAN):
    """clean-fid's ``gen``: z -> images in [0, 255]. It ignores clean-fid's z and returns the images GAN Zoo
    generates for the same sample indices (same latents, eval mode, uint8 quantization)."""
    position = 0

    def gen(z: torch.Tensor) -> torch.Tensor:
        nonlocal position
        position += len(z)
        return generated_images(model, position - len(z), position).float()

    return gen


def cleanfid(model: DCGAN, folder: Path, n: int, extractor, batch_size: int, workers: int) -> tuple[float, float]:
    from cleanfid import fid

    start = time.perf_counter()
    value = fid.compute_fid(
        gen=cleanfid_gen(model), fdir2=str(folder), custom_feat_extractor=extractor, num_gen=n, z_dim=model.latent_dim,
        batch_size=batch_size, num_workers=workers, device=model.device, verbose=False,
    )  # fmt: skip
    return float(value), time.perf_counter() - start


def end_to_end(model, real, folder, extractor, args) -> dict:
    """One run of each pipeline: real features, generated features and FID."""
    fid_ours, ours_s = ours(model, real, extractor, args.batch_size)
    print(f"  end to end: GAN Zoo {ours_s:.1f} s, FID {fid_ours:.6f}", flush=True)
    fid_clean, clean_s = cleanfid(model, folder, len(real), extractor, args.batch_size, args.workers)
    print(f"  end to end: clean-fid {clean_s:.1f} s, FID {fid_clean:.6f}", flush=True)
    extractor.channels_last = False  # GAN Zoo with clean-fid's memory layout: the same arithmetic
    try:
        fid_contiguous, _ = ours(model, real, extractor, args.batch_size)
    finally:
        extractor.channels_last = True
    difference, contiguous = abs(fid_ours - fid_clean), abs(fid_contiguous - fid_clean)
    return {
        "measurement": "end to end: real + generated features, FID",
        "extractor": extractor.name,
        "cleanfid_ips": 2 * len(real) / clean_s,
        "ours_ips": 2 * len(real) / ours_s,
        "agreement": f"FID {fid_clean:.6f} vs {fid_ours:.6f}: difference {difference:.1e} "
        f"({difference / abs(fid_clean):.1e} relative); with channels_last off, {fid_contiguous:.6f}: "
        f"difference {contiguous:.1e}",
    }


def preprocessing(model, args) -> dict:
    """Generated-image preprocessing alone: the generator's uint8 output computed beforehand and replayed, a
    nearly free extractor; the median of ``--repeats`` interleaved runs of clean-fid's get_model_features (what
    compute_fid(gen=...) runs for generated images) and of GAN Zoo's batched extraction."""
    from cleanfid.fid import get_model_features

    images = generated_images(model, 0, args.preprocess_num)
    extractor = ChannelMeans()
    times = {"ours": [], "cleanfid": []}
    for _ in range(args.repeats):
        start = time.perf_counter()
        theirs = get_model_features(replay(images, args.batch_size), extractor, mode="clean", z_dim=model.latent_dim,
                                    num_gen=len(images), batch_size=args.batch_size, device=model.device,
                                    verbose=False)  # fmt: skip
        times["cleanfid"].append(time.perf_counter() - start)
        start = time.perf_counter()
        with torch.inference_mode():
            mine = torch.cat([extract(extractor, batch)[0] for batch in images.split(args.batch_size)]).cpu()
        times["ours"].append(time.perf_counter() - start)
    difference = float((mine - torch.from_numpy(theirs)).abs().max())
    return {
        "measurement": f"generated-image preprocessing only ({len(images)} precomputed images)",
        "extractor": extractor.name,
        "cleanfid_ips": len(images) / statistics.median(times["cleanfid"]),
        "ours_ips": len(images) / statistics.median(times["ours"]),
        "agreement": f"features differ by at most {difference:.1e}",
    }


def dcgan_training_images_per_second(device: str) -> float:
    """Images/s of the plain DCGAN training loop of benchmarks/speed.py at 64 px, batch 64 (its RESULTS.md row)."""
    from speed import plain_images_per_second, settings

    return plain_images_per_second(
        settings(model="dcgan", resolution=64, batch=64, iterations=5, warmup=1, device=device)
    )


def callback_schedule(train_ips: float, eval_ips: float) -> dict:
    """What PeriodicFID's defaults do against training at ``train_ips``: one evaluation (two generators x
    num_samples images at ``eval_ips``), its cost at every DEFAULT_EVERY_N_KIMG grid point, and the interval
    and cost that its max_overhead guard settles on."""
    callback = PeriodicFID(enabled=True)
    eval_seconds = 2 * callback.settings["num_samples"] / eval_ips
    seconds_per_kimg = 1000 / train_ips
    interval = callback.next_kimg(0, callback.overhead_gap_kimg(eval_seconds, seconds_per_kimg, 1.0))
    return {
        "eval_seconds": eval_seconds,
        "grid_cost": eval_seconds / (DEFAULT_EVERY_N_KIMG * seconds_per_kimg),
        "interval": interval,
        "cost": eval_seconds / (interval * seconds_per_kimg),
    }


def table(rows: list[dict], args, machine: str, train_ips: float) -> str:
    from importlib.metadata import version

    command = (
        f"python benchmarks/eval_speed.py --num {args.num} --batch_size {args.batch_size} "
        f"--preprocess_num {args.preprocess_num} --repeats {args.repeats} --device {args.device} --record"
    )
    where = "this CPU" if args.device == "cpu" else "this GPU"
    end_to_end_row, preprocess_row = rows
    lines = [
        (
            f"`{command}` on {machine}; clean-fid "
            f"{version('clean-fid')} compute_fid(gen=..., fdir2=..., num_workers={args.workers}) vs GAN Zoo's "
            f"metrics.features; {args.num} generated + {args.num} real 64 px RGB images (a random-weight DCGAN, "
            f"smooth random images), batch {args.batch_size}, the same extractor instance in both pipelines."
        ),
        "",
        "| measurement | extractor | clean-fid img/s | GAN Zoo img/s | speed-up | agreement |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['measurement']} | {r['extractor']} | {r['cleanfid_ips']:.2f} | {r['ours_ips']:.2f} | "
            f"{r['ours_ips'] / r['cleanfid_ips']:.2f}x | {r['agreement']} |"
        )
    plan = callback_schedule(train_ips, end_to_end_row["ours_ips"])
    speedup = end_to_end_row["ours_ips"] / end_to_end_row["cleanfid_ips"]
    why = ". "
    if args.device == "cpu":
        why = ": the network is nearly all of the time in both pipelines, and the gain is its channels-last layout. "
    lines += [
        "",
        (
            f"The 3x target is {'met' if speedup >= 3 else 'not met'} on {where} ({speedup:.2f}x end to end){why}"
            f"clean-fid resizes generated images on the CPU, one at a time in the main process, at "
            f"{preprocess_row['cleanfid_ips']:.0f} img/s here, which caps compute_fid(gen=...) near that rate on any "
            f"GPU; GAN Zoo does the same arithmetic as batched matrix products on the generator's device."
        ),
        "",
        (
            f"PeriodicFID defaults (10k samples x EMA and raw generator, a {DEFAULT_EVERY_N_KIMG:.0f} kimg grid, "
            f"max_overhead 0.1) vs DCGAN 64 px training (plain loop of benchmarks/speed.py, batch 64: "
            f"{train_ips:.1f} img/s on {where}, same session): one evaluation takes {plan['eval_seconds']:.0f} s at "
            f"{end_to_end_row['ours_ips']:.2f} img/s; at every grid point it would cost {plan['grid_cost']:.0%} "
            f"of training time, so the guard evaluates every {plan['interval']:.0f} kimg ({plan['cost']:.1%}). "
            f"Both are convolution-bound, so the ratio carries over to a GPU roughly; bigger models train slower "
            f"per image and are evaluated at every grid point."
        ),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num", type=int, default=64, help="generated images, and as many real ones")
    parser.add_argument("--batch_size", type=int, default=32, help="both pipelines (32 is compute_fid's default)")
    parser.add_argument("--workers", type=int, default=2, help="clean-fid's DataLoader workers for the real folder")
    parser.add_argument("--preprocess_num", type=int, default=512, help="images of the preprocessing-only runs")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved preprocessing-only runs (median)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where both pipelines compute")
    parser.add_argument("--record", action="store_true", help="write the table into benchmarks/RESULTS.md")
    args = parser.parse_args()
    if args.num % args.batch_size or args.preprocess_num % args.batch_size:
        parser.error("--num and --preprocess_num must be multiples of --batch_size (clean-fid makes whole batches)")
    warnings.filterwarnings("ignore")
    torch.set_num_threads(2)
    if args.device == "cuda":
        machine = (
            f"{torch.cuda.get_device_name(0)} (clean-fid's resizing on CPU x86_64 x{torch.get_num_threads()} threads)"
        )
    else:
        machine = f"CPU x86_64 x{torch.get_num_threads()} threads (2-core CPU, no GPU; shared, so timings vary)"
    model = DCGAN(resolution=64, channels=3).to(args.device)
    real = real_images(args.num)
    train_ips = dcgan_training_images_per_second(args.device)
    print(f"DCGAN 64 px training: {train_ips:.1f} img/s", flush=True)
    extractor = StandInInception(torch.cat([real[:8], generated_images(model, 0, 8).cpu()])).to(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for i, image in enumerate(real):
            Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i:06d}.png")
        rows = [end_to_end(model, real, folder, extractor, args), preprocessing(model, args)]
    text = table(rows, args, machine, train_ips)
    print(text)
    if args.record:
        if args.device == "cpu":
            record_block("eval-speed", "Evaluation speed: FID pipeline vs clean-fid", text)
        else:  # its own block, beside the CPU table
            record_block("eval-speed-cuda", "Evaluation speed on a GPU: FID pipeline vs clean-fid", text)


if __name__ == "__main__":
    main()
