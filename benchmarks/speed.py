"""Training throughput and peak memory of a zoo model: the Lightning loop against a plain PyTorch loop.

Both loops play the entry's own game, through the same module methods as ``GANModule.training_step``: the same
networks (same seed), optimizers, DataLoader, ``generate`` (style mixing for style entries), D and G losses,
penalties (lazy ones on their schedules, path length included) and per-step hooks (weight clipping, ...): per
iteration one G forward and a D update on the detached fakes, and every ``d_steps``-th iteration a G update
through the updated D; conditional models get the batch's labels for the real images and uniform labels for
the fakes. So the ratio measures what Lightning and the zoo's bookkeeping (logging, counters, seeding) cost.
Entries that extend ``training_step`` itself (progressive growing, dropout reseeding) play their base game in
the plain loop; StyleGAN2 plays its ``schedule: shared`` game (the plain loop has no NVlabs phases). Data is
synthetic uint8 images (with random labels) held in memory: this measures the training step, not decoding. No
EMA in either loop.

    python benchmarks/speed.py --model dcgan --resolution 64 --batch 64
    python benchmarks/speed.py --model dcgan --batch 128 --device cuda --precision bf16-mixed --channels_last
    python benchmarks/speed.py --model biggan --resolution 128 --batch 8 --num_classes 1000
    python benchmarks/speed.py --model sagan --resolution 64 --model_args '{"g_width": 32}'
    python benchmarks/speed.py --model stylegan2 --device cuda --precision bf16-mixed --model_args '{"compile": true}'
    python benchmarks/speed.py ... --record      # also writes the row into benchmarks/RESULTS.md

Prints images/s of both loops (median of ``--repeats`` timed runs after ``--warmup`` iterations), their
ratio and each loop's peak memory: on CUDA the most memory allocated by tensors (torch.cuda.max_memory_
allocated), on CPU the process's peak resident set size (resource.getrusage), which also counts Python,
the libraries and the data. Every timed run is a fresh process, alternating between the loops, so no run
inherits another's allocator state, threads or leftover objects; a loop's peak is the largest of its runs'.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import platform
import resource
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import torch
from pytorch_lightning.callbacks import Callback

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.training import benchmark_trainer
from datamodules.base import TensorImages, ZooDataModule, to_unit_range
from zoo import get_model
from zoo.base import make_optimizer
from zoo.registry import init_parameters

RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SPEED_HEADER = (
    "| model | px | batch | device | precision | channels_last | Lightning img/s | plain img/s | ratio "
    "| Lightning peak MB | plain peak MB | memory |"
)


class SyntheticImages(ZooDataModule):
    """Random uint8 images with random labels in [0, num_classes), held in memory."""

    def __init__(self, resolution: int, channels: int, batch_size: int, num_images: int, num_classes: int):
        super().__init__(batch_size=batch_size)
        self.resolution, self.channels, self.num_classes = resolution, channels, num_classes
        gen = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (num_images, channels, resolution, resolution), dtype=torch.uint8, generator=gen)
        self.dataset = TensorImages(images, torch.randint(0, num_classes, (num_images,), generator=gen))

    def setup(self, stage: str | None = None) -> None:
        pass


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Stopwatch(Callback):
    """Times the iterations after ``warmup``."""

    def __init__(self, warmup: int):
        self.warmup, self.start, self.stop = warmup, None, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if pl_module.iterations == self.warmup:
            synchronize(pl_module.device)
            self.start = time.perf_counter()

    def on_train_end(self, trainer, pl_module):
        synchronize(pl_module.device)
        self.stop = time.perf_counter()


def peak_memory_mb(device: torch.device) -> float:
    """CUDA: the most memory tensors held at once; CPU: the peak resident set size of this process."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def build(args):
    torch.manual_seed(0)
    cls = get_model(args.model)
    classes = {"num_classes": args.num_classes} if getattr(cls, "conditional", False) else {}
    model_args = json.loads(args.model_args)
    # StyleGAN2: both loops play the shared loop's game
    if "schedule" in init_parameters(cls) and model_args.setdefault("schedule", "shared") != "shared":
        raise SystemExit("speed.py times the shared loop's game; leave out --model_args' schedule")
    model = cls(
        resolution=args.resolution,
        channels=args.channels,
        channels_last=args.channels_last,
        **classes,
        **model_args,
    )
    num_images = args.batch * (args.warmup + args.iterations)
    data = SyntheticImages(args.resolution, args.channels, args.batch, num_images, args.num_classes)
    return model, data


def lightning_images_per_second(args) -> float:
    model, data = build(args)
    watch = Stopwatch(args.warmup)
    total = args.warmup + args.iterations
    max_steps = total + total // model.hparams.d_steps
    benchmark_trainer(args.device, [watch], precision=args.precision, max_steps=max_steps).fit(model, data)
    return args.batch * args.iterations / (watch.stop - watch.start)


def plain_images_per_second(args) -> float:
    """The entry's game in a plain PyTorch loop: its own ``generate``, losses, penalties and per-step hooks (style
    mixing, path length, weight clipping, ...), with plain optimizers, backward passes and autocast."""
    model, data = build(args)
    device = torch.device("cuda" if args.device == "cuda" else "cpu")
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    model.to(device)
    model.on_fit_start()  # the module's own set-up: channels_last layout, the latent noise stream
    G, D, h = model.generator, model.discriminator, model.hparams
    d_opt = make_optimizer(h.optimizer, D.parameters(), h.d_lr, h.d_betas)
    g_opt = make_optimizer(h.optimizer, G.parameters(), h.g_lr, h.g_betas)
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16)
        if args.precision == "bf16-mixed"
        else contextlib.nullcontext()
    )
    start = None
    for i, (images, labels) in enumerate(data.train_dataloader()):
        if i == args.warmup:
            synchronize(device)
            start = time.perf_counter()
        real = to_unit_range(images.to(device, non_blocking=True)).contiguous(memory_format=memory_format)
        y_real = None if model.num_classes is None else labels.to(device, non_blocking=True)
        z, y_fake = model.sample_latent(real.shape[0]), model.sample_fake_labels(real.shape[0])
        g_turn = (i + 1) % h.d_steps == 0
        with autocast:
            with torch.set_grad_enabled(g_turn):
                fake = model.generate(G, z, y_fake)
            d_loss, logs = model.discriminator_loss(real, y_real, fake.detach(), y_fake)
            d_loss = d_loss + model.penalty_terms("d", i, real, y_real, fake.detach(), z, logs)
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        model.after_discriminator_step()
        if g_turn:
            D.requires_grad_(False)
            with autocast:
                g_loss, logs = model.generator_loss(fake, y_fake, real, y_real)
                g_loss = g_loss + model.penalty_terms("g", model.generator_steps, real, y_real, fake, z, logs)
            g_opt.zero_grad(set_to_none=True)
            g_loss.backward()
            g_opt.step()
            model.after_generator_step()
            model.generator_steps += 1
            D.requires_grad_(True)
    synchronize(device)
    return args.batch * args.iterations / (time.perf_counter() - start)


def device_name(args) -> str:
    if args.device == "cuda":
        return torch.cuda.get_device_name(0)
    return f"CPU {platform.machine()} x{torch.get_num_threads()} threads"


def record(row: str) -> None:
    """Writes ``row`` into the speed table of RESULTS.md, replacing a row with the same settings."""
    text = RESULTS.read_text() if RESULTS.exists() else ""
    if SPEED_HEADER not in text:
        raise SystemExit(f"{RESULTS} has no speed table header; expected:\n{SPEED_HEADER}")
    key = "|".join(row.split("|")[1:7])
    lines = [line for line in text.splitlines() if "|".join(line.split("|")[1:7]) != key]
    at = lines.index(SPEED_HEADER) + 2  # after the header and its separator
    while at < len(lines) and lines[at].startswith("|"):
        at += 1
    lines.insert(at, row)
    RESULTS.write_text("\n".join(lines) + "\n")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="dcgan")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--num_classes", type=int, default=10, help="classes of a conditional model and of the data")
    parser.add_argument(
        "--model_args", default="{}", help="more constructor arguments of the model, as JSON: '{\"g_width\": 32}'"
    )
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=30, help="timed iterations per run")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed runs of each loop, interleaved; the median counts"
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--precision", default="32-true", choices=["32-true", "bf16-mixed"])
    parser.add_argument("--channels_last", action="store_true")
    parser.add_argument("--record", action="store_true", help="write the result into benchmarks/RESULTS.md")
    parser.add_argument("--single", choices=["lightning", "plain"], help=argparse.SUPPRESS)  # one timed run
    return parser


def settings(**values) -> argparse.Namespace:
    """The options of a run, defaults overridden by ``values``: how other benchmarks call the loops."""
    args = make_parser().parse_args([])
    vars(args).update(values)
    return args


def main() -> None:
    args = make_parser().parse_args()
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    if args.single:
        loop = lightning_images_per_second if args.single == "lightning" else plain_images_per_second
        images_per_second = loop(args)
        peak_mb = peak_memory_mb(torch.device("cuda" if args.device == "cuda" else "cpu"))  # over the whole run
        print(json.dumps({"images_per_second": images_per_second, "peak_mb": peak_mb}))
        return

    def timed_run(loop: str) -> dict:
        argv = [a for a in sys.argv[1:] if a != "--record"]
        command = [sys.executable, __file__, *argv, "--single", loop]
        out = subprocess.run(command, capture_output=True, text=True, check=False)
        if out.returncode:
            raise SystemExit(f"the {loop} run failed:\n{out.stderr[-3000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    lightning, plain = [], []
    for _ in range(args.repeats):  # interleaved, so drifts in machine load hit both loops alike
        plain.append(timed_run("plain"))
        lightning.append(timed_run("lightning"))
    for name, runs in (("lightning", lightning), ("plain    ", plain)):
        print(f"{name} img/s: {', '.join(format(r['images_per_second'], '.1f') for r in runs)}")
    lit, pln = (statistics.median(r["images_per_second"] for r in runs) for runs in (lightning, plain))
    lit_mb, pln_mb = (max(r["peak_mb"] for r in runs) for runs in (lightning, plain))
    memory = "CUDA max allocated" if args.device == "cuda" else "CPU peak RSS of the process"
    model = args.model + "".join(f" {k}={v}" for k, v in json.loads(args.model_args).items())
    row = (
        f"| {model} | {args.resolution} | {args.batch} | {device_name(args)} | {args.precision} | "
        f"{'yes' if args.channels_last else 'no'} | {lit:.1f} | {pln:.1f} | {lit / pln:.3f} | "
        f"{lit_mb:.0f} | {pln_mb:.0f} | {memory} |"
    )
    print(row)
    if args.record:
        record(row)


if __name__ == "__main__":
    main()
