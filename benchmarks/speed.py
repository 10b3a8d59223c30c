"""Training throughput of a zoo model: the Lightning loop against a plain PyTorch loop.

Both loops use the same networks (same seed), optimizers, objective, DataLoader and the same
iteration structure as ``GANModule.training_step`` (one G forward, a D update on the detached fakes,
a G update through the updated D), so the ratio measures what Lightning and the zoo's bookkeeping
cost. Data is synthetic uint8 images held in memory: this measures the training step, not decoding.

    python benchmarks/speed.py --model dcgan --resolution 64 --batch 64
    python benchmarks/speed.py --model dcgan --batch 128 --device cuda --precision bf16-mixed --channels_last
    python benchmarks/speed.py ... --record      # also writes the row into benchmarks/RESULTS.md

Prints images/s of both loops (median of ``--repeats`` timed runs after ``--warmup`` iterations)
and their ratio. Every timed run is a fresh process, alternating between the loops, so no run
inherits another's allocator state, threads or leftover objects.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import platform
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datamodules.base import TensorImages, ZooDataModule, to_unit_range
from zoo import get_model
from zoo.base import make_optimizer

RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SPEED_HEADER = "| model | px | batch | device | precision | channels_last | Lightning img/s | plain img/s | ratio |"


class SyntheticImages(ZooDataModule):
    """Random uint8 images held in memory."""

    def __init__(self, resolution: int, channels: int, batch_size: int, num_images: int):
        super().__init__(batch_size=batch_size)
        self.resolution, self.channels = resolution, channels
        gen = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (num_images, channels, resolution, resolution), dtype=torch.uint8, generator=gen)
        self.dataset = TensorImages(images, torch.zeros(num_images, dtype=torch.long))

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


def build(args):
    torch.manual_seed(0)
    cls = get_model(args.model)
    model = cls(resolution=args.resolution, channels=args.channels, channels_last=args.channels_last)
    data = SyntheticImages(args.resolution, args.channels, args.batch, args.batch * (args.warmup + args.iterations))
    return model, data


def lightning_images_per_second(args) -> float:
    model, data = build(args)
    watch = Stopwatch(args.warmup)
    total = args.warmup + args.iterations
    trainer = pl.Trainer(
        accelerator=args.device,
        devices=1,
        precision=args.precision,
        max_steps=total + total // model.hparams.d_steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,
        callbacks=[watch],
    )
    trainer.fit(model, data)
    return args.batch * args.iterations / (watch.stop - watch.start)


def plain_images_per_second(args) -> float:
    model, data = build(args)
    device = torch.device("cuda" if args.device == "cuda" else "cpu")
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    G, D = (
        model.generator.to(device, memory_format=memory_format),
        model.discriminator.to(device, memory_format=memory_format),
    )
    h = model.hparams
    d_opt = make_optimizer(h.optimizer, D.parameters(), h.d_lr, h.d_betas)
    g_opt = make_optimizer(h.optimizer, G.parameters(), h.g_lr, h.g_betas)
    objective = model.objective
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16)
        if args.precision == "bf16-mixed"
        else contextlib.nullcontext()
    )
    start = None
    for i, (images, _) in enumerate(data.train_dataloader()):
        if i == args.warmup:
            synchronize(device)
            start = time.perf_counter()
        real = to_unit_range(images.to(device, non_blocking=True)).contiguous(memory_format=memory_format)
        z = torch.randn(real.shape[0], model.latent_dim, device=device)
        g_turn = (i + 1) % h.d_steps == 0
        with autocast:
            with torch.set_grad_enabled(g_turn):
                fake = G(z)
            d_loss = objective.d_loss(D(real), D(fake.detach()))
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        if g_turn:
            for p in D.parameters():
                p.requires_grad_(False)
            with autocast:
                g_loss = objective.g_loss(D(fake))
            g_opt.zero_grad(set_to_none=True)
            g_loss.backward()
            g_opt.step()
            for p in D.parameters():
                p.requires_grad_(True)
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
    lines = [line for line in text.splitlines() if "|".join(line.split("|")[1:7]) != key or line == SPEED_HEADER]
    at = lines.index(SPEED_HEADER) + 2  # after the header and its separator
    while at < len(lines) and lines[at].startswith("|"):
        at += 1
    lines.insert(at, row)
    RESULTS.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="dcgan")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--channels", type=int, default=3)
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
    args = parser.parse_args()
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    if args.single:
        loop = lightning_images_per_second if args.single == "lightning" else plain_images_per_second
        print(loop(args))
        return

    def timed_run(loop: str) -> float:
        argv = [a for a in sys.argv[1:] if a != "--record"]
        out = subprocess.run(
            [sys.executable, __file__, *argv, "--single", loop], capture_output=True, text=True, check=True
        )
        return float(out.stdout.strip().splitlines()[-1])

    lightning, plain = [], []
    for _ in range(args.repeats):  # interleaved, so drifts in machine load hit both loops alike
        plain.append(timed_run("plain"))
        lightning.append(timed_run("lightning"))
    lit, pln = statistics.median(lightning), statistics.median(plain)
    print(f"lightning img/s: {', '.join(f'{v:.1f}' for v in lightning)}")
    print(f"plain     img/s: {', '.join(f'{v:.1f}' for v in plain)}")
    row = (
        f"| {args.model} | {args.resolution} | {args.batch} | {device_name(args)} | {args.precision} | "
        f"{'yes' if args.channels_last else 'no'} | {lit:.1f} | {pln:.1f} | {lit / pln:.3f} |"
    )
    print(row)
    if args.record:
        record(row)


if __name__ == "__main__":
    main()
