"""Limited data: does adaptive discriminator augmentation keep D from overfitting 1k training images? A CPU-scale
version of StyleGAN2-ADA's experiment (Karras et al. 2020, "Training Generative Adversarial Networks with Limited
Data", arXiv 2006.06676, Fig. 1 and Sec. 3): one entry trains on a fixed, balanced subset of ``--per_class`` MNIST
training digits per class (the first ones of each class in the file; 1k in all by default) at ``--resolution`` px,
unconditionally, once with ``--model.augment none`` and once with ``ada`` (and any other ``--augments``), for the
same number of iterations (equal kimg), same seed. ADA uses the paper's target 0.6 and pipeline bgc but a smaller
``--ada_kimg`` (the paper's 500 would let p move by at most 0.1 in a CPU budget).

Scores, after training:

- class coverage of ``--eval_samples`` samples read by the zoo's MNIST classifier (metrics/mnist_classifier.py):
  classes hit /10 and KL(predicted class histogram || uniform) (metrics/mode_coverage.kl_from_uniform); and the
  classifier's mean confidence (mean max softmax probability), a proxy for how digit-like samples are. The same
  numbers for the held-out real digits are the ceiling;
- the overfitting signal of the paper's Fig. 1b: D's mean raw output on the training digits, on held-out real
  digits (the MNIST test split, balanced the same way) and on generated images, un-augmented, in batches of the
  training batch size (BatchNorm discriminators use batch statistics, as in training); and E[sign(D(x))] on the
  training and held-out digits (r_t of Sec. 3.1, the statistic ADA steers);
- the final p and the last r_t of ADA's controller.

    python benchmarks/quality.py limited_data --root ../shared/data --entry dcgan --iterations 2000 --record
    python benchmarks/limited_data.py --root ../shared/data --entry stylegan2 --iterations 300

``--device cuda`` trains and scores on the GPU; without one it trains nothing: with ``--record`` it writes the command
as not measured (as in block limited-data-dcgan-gpu), without it stops with one message
(``protocol_script.skipped_without_gpu``).

``add_arguments`` and ``main_with`` let ``benchmarks/quality.py limited_data`` run it; ``--record`` writes the table
into benchmarks/RESULTS.md (block ``--block``, limited-data-<entry> by default).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.conditional import train
from benchmarks.protocol_script import add_device_argument, machine, skipped_without_gpu
from benchmarks.results import record_block
from datamodules.base import TensorImages, to_unit_range
from datamodules.mnist import MNISTDataModule
from metrics.mode_coverage import kl_from_uniform
from zoo.sampling import sample_batches

NUM_CLASSES = 10
#: each entry's networks at CPU scale: (constructor arguments), widths set by --width
ENTRY_ARGS = {
    "dcgan": lambda width: {"ngf": width, "ndf": width, "latent_dim": 64},
    "stylegan2": lambda width: {"channel_base": width * 16, "channel_max": width, "latent_dim": 64, "w_dim": 64},
}


class BalancedMNIST(MNISTDataModule):
    """MNIST's first ``per_class`` digits of each class (train or test split), in file order."""

    def __init__(self, per_class: int, **kwargs):
        super().__init__(**kwargs)
        self.per_class = per_class

    def setup(self, stage: str | None = None) -> None:
        if self.dataset is not None:
            return
        super().setup(stage)
        labels = self.dataset.labels
        picks = torch.cat([(labels == c).nonzero()[: self.per_class, 0] for c in range(NUM_CLASSES)]).sort().values
        self.dataset = TensorImages(self.dataset.images[picks], labels[picks])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default="data", help="folder holding MNIST/raw/ (torchvision's layout)")
    parser.add_argument("--entry", default="dcgan", choices=sorted(ENTRY_ARGS), help="the zoo entry trained")
    parser.add_argument("--augments", nargs="+", default=["none", "ada"], help="--model.augment values compared")
    parser.add_argument("--per_class", type=int, default=100, help="training digits per class (100: 1k in all)")
    parser.add_argument("--resolution", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=2000, help="training iterations (D steps) per run")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--width", type=int, default=32, help="network width (dcgan: ngf = ndf; stylegan2: max)")
    parser.add_argument("--ada_kimg", type=float, default=10.0, help="ADA's speed (the paper's 500 is too slow)")
    parser.add_argument("--eval_samples", type=int, default=5000, help="generated samples scored per run")
    parser.add_argument("--seed", type=int, default=0)
    add_device_argument(parser)
    parser.add_argument("--record", action="store_true", help="write the table into benchmarks/RESULTS.md")
    parser.add_argument("--block", default=None, help="the RESULTS.md block it replaces (limited-data-<entry>)")


def build(args: argparse.Namespace, augment: str):
    from zoo import get_model

    kwargs = {"resolution": args.resolution, "channels": 1, "seed": args.seed, **ENTRY_ARGS[args.entry](args.width)}
    if args.entry == "stylegan2":
        kwargs["use_labels"] = False
    return get_model(args.entry)(augment=augment, ada_kimg=args.ada_kimg, **kwargs)


@torch.no_grad()
def coverage(classifier, images: torch.Tensor) -> dict:
    """Classes hit, KL from uniform and mean confidence of the classifier on ``images`` (N, 1, H, W)."""
    classifier.eval()
    probs = torch.cat([classifier(chunk).softmax(dim=1) for chunk in images.split(1000)])
    counts = torch.bincount(probs.argmax(dim=1), minlength=NUM_CLASSES)
    return {
        "classes_hit": int((counts > 0).sum()),
        "kl": kl_from_uniform(counts),
        "confidence": float(probs.max(dim=1).values.mean()),
    }


@torch.no_grad()
def d_outputs(model, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    """D's raw outputs on un-augmented ``images``, ``batch_size`` at a time, in training mode (BatchNorm with batch
    statistics, as D runs in training)."""
    net = model.discriminator.train()
    device = next(net.parameters()).device
    return torch.cat([net(to_unit_range(batch).to(device)).flatten().cpu() for batch in images.split(batch_size)])


def score(model, classifier, train_images, held_out, args) -> dict:
    generated = torch.cat([x for x, _ in sample_batches(model, args.eval_samples, 500, args.seed)])
    d_train = d_outputs(model, train_images, args.batch_size)
    d_held_out = d_outputs(model, held_out, args.batch_size)
    d_fake = d_outputs(model, generated[: len(held_out)], args.batch_size)
    augmentation = model.augmentation
    return {
        **coverage(classifier, generated),
        "d_train": float(d_train.mean()),
        "d_held_out": float(d_held_out.mean()),
        "d_fake": float(d_fake.mean()),
        "sign_train": float(d_train.sign().mean()),
        "sign_held_out": float(d_held_out.sign().mean()),
        "p": float(augmentation.p) if hasattr(augmentation, "p") else None,
        "rt": float(augmentation.rt) if hasattr(augmentation, "rt") else None,
    }


def run(args: argparse.Namespace, classifier=None) -> dict:
    """Trains and scores the entry with each augmentation; returns every number measured."""
    import pytorch_lightning as pl

    from metrics.mnist_classifier import load_classifier

    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    classifier = classifier or load_classifier(args.root, device=args.device)
    common = {"root": args.root, "resolution": args.resolution, "batch_size": args.batch_size, "seed": args.seed}
    data = BalancedMNIST(args.per_class, **common)
    held_out = BalancedMNIST(args.per_class, train=False, **common)
    data.setup(), held_out.setup()
    result = {
        "machine": machine(args.device),
        "train_digits": len(data.dataset),
        "real_held_out": coverage(classifier, to_unit_range(held_out.dataset.images)),
        "runs": {},
    }
    training = argparse.Namespace(generator_steps=args.iterations, device=args.device)
    for augment in args.augments:
        pl.seed_everything(args.seed, verbose=False)
        model = build(args, augment)
        train_s = train(model, data, training)
        run_score = score(model.to(args.device), classifier, data.dataset.images, held_out.dataset.images, args)
        result["runs"][augment] = {**run_score, "kimg": model.images_seen / 1000, "train_s": train_s}
        print(json.dumps({augment: result["runs"][augment]}), flush=True)
    result["total_s"] = time.perf_counter() - started
    if args.record:
        record_block(block_name(args), title(args), table(result, args))
    return result


def block_name(args: argparse.Namespace) -> str:
    return args.block or f"limited-data-{args.entry}"


def title(args: argparse.Namespace) -> str:
    """The block's heading; its digit count is ``per_class`` per class (MNIST's smallest training class has 5421)."""
    return (
        f"Limited data: {args.entry} on {NUM_CLASSES * args.per_class} MNIST digits, augment "
        f"{' vs '.join(args.augments)}, {args.iterations} iterations"
    )


def command(args: argparse.Namespace) -> str:
    """The command that reruns ``args`` and records it: ``--device`` only when not the CPU, ``--block`` when
    given."""
    return (
        f"python benchmarks/quality.py limited_data --root {args.root} --entry {args.entry} --augments "
        f"{' '.join(args.augments)} --per_class {args.per_class} --resolution {args.resolution} --iterations "
        f"{args.iterations} --batch_size {args.batch_size} --width {args.width} --ada_kimg {args.ada_kimg:g} "
        f"--eval_samples {args.eval_samples} --seed {args.seed}"
        + (f" --device {args.device}" if args.device != "cpu" else "")
        + (f" --block {args.block}" if args.block else "") + " --record"
    )  # fmt: skip


def table(r: dict, args: argparse.Namespace) -> str:
    real = r["real_held_out"]
    protocol = (
        f"`{command(args)}` on {r['machine']}: {r['total_s'] / 60:.1f} min in all. "
        f"{args.entry} (width {args.width}) trains unconditionally on {r['train_digits']} MNIST training digits "
        f"({args.per_class} per class) at "
        f"{args.resolution} px, batch {args.batch_size}, {args.iterations} iterations per run (equal kimg), one seed; "
        f"ada: target 0.6, pipeline bgc, ada_kimg {args.ada_kimg:g} (the paper's 500 would be too slow for this "
        f"budget). {args.eval_samples} samples read by the zoo's MNIST classifier: classes hit, KL(class histogram || "
        f"uniform), mean confidence; the held-out real digits score {real['classes_hit']}/10, KL {real['kl']:.3f}, "
        f"confidence {real['confidence']:.3f}. D columns: D's mean raw output on the training digits, on as many "
        "held-out test digits and on generated images (un-augmented); the train - held-out gap is the overfitting "
        "signal of the paper's Fig. 1b; E[sign D] on training and held-out digits is r_t of Sec. 3.1."
    )
    header = [
        (
            "| augment | kimg | train min | classes hit /10 | KL | confidence | D(train) | D(held-out) | D(fake) "
            "| gap | E[sign D] train | E[sign D] held-out | final p | last r_t |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = []
    for augment, e in r["runs"].items():
        p = "-" if e["p"] is None else f"{e['p']:.3f}"
        rt = "-" if e["rt"] is None else f"{e['rt']:.3f}"
        rows.append(
            f"| {augment} | {e['kimg']:.0f} | {e['train_s'] / 60:.1f} | {e['classes_hit']} | {e['kl']:.3f} "
            f"| {e['confidence']:.3f} | {e['d_train']:.2f} | {e['d_held_out']:.2f} | {e['d_fake']:.2f} "
            f"| {e['d_train'] - e['d_held_out']:.2f} | {e['sign_train']:.2f} | {e['sign_held_out']:.2f} | {p} | {rt} |"
        )
    return "\n".join([protocol, "", *header, *rows])


def main_with(args: argparse.Namespace) -> None:
    """Runs the benchmark for parsed ``add_arguments`` options and prints the table; ``--device cuda`` without a GPU
    trains nothing (``protocol_script.skipped_without_gpu``)."""
    if not skipped_without_gpu(args.device, command(args), block_name(args), title(args), args.record):
        torch.set_num_threads(1)
        print(table(run(args), args))


if __name__ == "__main__":
    from benchmarks.protocol_script import run_protocol

    run_protocol(sys.modules[__name__])
