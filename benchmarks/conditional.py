"""Class-conditional sample quality on MNIST at a CPU budget: does each conditional entry draw the class it is
asked for, and does it cover every class?

Each entry (default: cgan, acgan, sngan_projection) trains on MNIST at 32 px (the DCGAN nets' power-of-two size)
for ``--generator_steps`` generator updates (the unit SNGAN and BigGAN count budgets in; an entry with d_steps
n sees n real batches per update), batch 64, each with its own paper's game and defaults, its generator and
discriminator widths set to ``--width`` (ngf/ndf or g_width/d_width). Then ``--eval_samples`` samples with
uniformly drawn labels are read by the zoo's MNIST classifier (metrics/mnist_classifier.py, trained on first use
and cached) and scored:

- accuracy: the fraction classified as the class they were drawn for (target: >= 90%), and the worst class's;
- coverage, as Stacked MNIST scores modes (VEEGAN/PacGAN; REFERENCES.md) over the 10 classes: classes hit by at
  least one sample and KL(predicted class histogram || uniform) (metrics/mode_coverage.kl_from_uniform).

The classifier's accuracy on the real MNIST test digits at 32 px is the ceiling the accuracy column can reach.
``--curve_every N`` also scores ``--curve_samples`` samples every N generator steps during training (the same
seeded latents each time, so the training itself is unchanged) and records the accuracy curve under the table.

    python benchmarks/quality.py conditional --root ../shared/data --generator_steps 2000 --record
    python benchmarks/conditional.py --root ../shared/data --entries cgan acgan --generator_steps 200

``--device cuda`` trains and scores on the GPU; without one it trains nothing: with ``--record`` it writes the command
as not measured (as in block conditional-mnist-gpu), without it stops with one message
(``protocol_script.skipped_without_gpu``).

``add_arguments`` and ``main_with`` let ``benchmarks/quality.py conditional`` run it; ``--record`` writes the
table into benchmarks/RESULTS.md (block ``--block``, conditional-mnist by default).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.protocol_script import add_device_argument, machine, skipped_without_gpu
from benchmarks.results import record_block
from benchmarks.training import timed_fit
from metrics.mode_coverage import kl_from_uniform
from zoo.sampling import sample_batches

ENTRIES = ["cgan", "acgan", "sngan_projection"]
NUM_CLASSES = 10
RESOLUTION = 32
TARGET_ACCURACY = 0.9
#: the (generator, discriminator) width arguments ``--width`` sets: DCGAN-style entries', SNGAN-style entries'
WIDTH_ARGUMENTS = (("ngf", "ndf"), ("g_width", "d_width"))


@dataclass(frozen=True)
class ConditionalScore:
    accuracy: float  # fraction of samples classified as their requested class
    worst_class_accuracy: float  # the same, for the class it is lowest for
    classes_hit: int  # classes predicted for at least one sample
    kl: float  # KL(predicted class histogram || uniform)
    samples: int


def class_coverage(predicted: torch.Tensor) -> tuple[int, float]:
    """Classes hit by at least one of the ``predicted`` class indices, and KL(their histogram || uniform)."""
    counts = torch.bincount(predicted, minlength=NUM_CLASSES)
    return int((counts > 0).sum()), kl_from_uniform(counts)


def scoring_classifier(root: str, device: str = "cpu"):
    """The zoo's MNIST classifier on ``device`` (trained and cached on first use) and its accuracy on the real
    test digits at ``RESOLUTION``: the ceiling a sample's class accuracy can reach."""
    from metrics.mnist_classifier import load_classifier, mnist_test_accuracy

    classifier = load_classifier(root, device=device)
    return classifier, mnist_test_accuracy(classifier, root, resolution=RESOLUTION)


def conditional_score(model, classifier, num_samples: int, batch_size: int = 500, seed: int = 0) -> ConditionalScore:
    """Scores ``num_samples`` samples of a class-conditional ``model`` (labels drawn uniformly, as
    ``model.sample`` draws them) with ``classifier.predict``."""
    requested, predicted = [], []
    for images, labels in sample_batches(model, num_samples, batch_size, seed):
        requested.append(labels.cpu())
        predicted.append(classifier.predict(images).cpu())
    requested, predicted = torch.cat(requested), torch.cat(predicted)
    right = (predicted == requested).double()
    per_class = [right[requested == c].mean() for c in range(NUM_CLASSES) if (requested == c).any()]
    return ConditionalScore(float(right.mean()), float(min(per_class)), *class_coverage(predicted), len(requested))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default="data", help="folder holding MNIST/raw/ (torchvision's layout)")
    parser.add_argument("--entries", nargs="+", default=ENTRIES, help="class-conditional zoo entries")
    parser.add_argument("--generator_steps", type=int, default=2000, help="generator updates per entry")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--width", type=int, default=32, help="G and D width: ngf = ndf, or g_width = d_width")
    parser.add_argument(
        "--model_args", type=json.loads, default={},
        help='JSON of extra constructor arguments per entry, e.g. \'{"sngan_projection": {"d_steps": 1}}\'',
    )  # fmt: skip
    parser.add_argument("--eval_samples", type=int, default=10_000, help="generated samples scored per entry")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--curve_every", type=int, default=0, help="score during training every N G steps (0: off)")
    parser.add_argument("--curve_samples", type=int, default=1000, help="samples scored at each curve point")
    add_device_argument(parser)
    parser.add_argument("--record", action="store_true", help="write the table into benchmarks/RESULTS.md")
    parser.add_argument(
        "--block", default="conditional-mnist", help="the RESULTS.md block it replaces (one per budget)"
    )


def build(entry: str, args: argparse.Namespace):
    """``entry`` for 32 px MNIST with 10 classes, its G and D widths set to ``--width``, plus ``--model_args``."""
    from zoo import get_model
    from zoo.registry import init_parameters

    cls = get_model(entry)
    kwargs = {"resolution": RESOLUTION, "channels": 1, "num_classes": NUM_CLASSES, "seed": args.seed}
    for names in WIDTH_ARGUMENTS:
        if set(names) <= init_parameters(cls):
            kwargs.update(dict.fromkeys(names, args.width))
    return cls(**{**kwargs, **args.model_args.get(entry, {})})


def accuracy_curve_callback(classifier, every: int, num_samples: int, seed: int):
    """A Lightning callback that scores the model every ``every`` generator steps and keeps
    ``{generator step: accuracy}`` in its ``curve``. Sampling draws from its own seeded generator and runs the
    generator in eval mode, so it leaves the training run's random streams and BN statistics untouched."""
    import pytorch_lightning as pl

    class AccuracyCurve(pl.Callback):
        def __init__(self):
            self.curve: dict[int, float] = {}

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            step = pl_module.generator_steps
            if step > 0 and step % every == 0 and step not in self.curve:
                self.curve[step] = conditional_score(pl_module, classifier, num_samples, seed=seed).accuracy
                print(json.dumps({"generator_steps": step, "accuracy": self.curve[step]}), flush=True)

    return AccuracyCurve()


def train(model, data, args: argparse.Namespace, callbacks=()) -> float:
    """Trains ``model`` on ``args.device`` for ``args.generator_steps`` generator updates (counted by the model, not
    by Lightning's optimizer steps: ``benchmarks.training.stop_after``); returns the seconds it took."""
    return timed_fit(model, data, args.device, callbacks, generator_steps=args.generator_steps)


def run(args: argparse.Namespace, classifier=None) -> dict:
    """Trains and scores every entry (with ``classifier``, or the zoo's MNIST classifier); returns every number
    measured and, with ``--record``, writes the table."""
    import pytorch_lightning as pl

    from datamodules.mnist import MNISTDataModule
    from metrics.mnist_classifier import load_classifier, mnist_test_accuracy

    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    classifier = classifier or load_classifier(args.root, device=args.device)
    result = {
        "machine": machine(args.device),
        "classifier_accuracy_32px": mnist_test_accuracy(classifier, args.root, resolution=RESOLUTION),
        "classifier_s": time.perf_counter() - started,
        "entries": {},
    }
    data = MNISTDataModule(root=args.root, resolution=RESOLUTION, batch_size=args.batch_size, seed=args.seed)
    for entry in args.entries:
        pl.seed_everything(args.seed, verbose=False)
        model = build(entry, args)
        curve = (
            [accuracy_curve_callback(classifier, args.curve_every, args.curve_samples, args.seed)]
            if args.curve_every
            else []
        )
        train_s = train(model, data, args, curve)
        score = conditional_score(model.to(args.device), classifier, args.eval_samples, seed=args.seed)
        result["entries"][entry] = {
            **asdict(score),
            "generator_steps": model.generator_steps,
            "kimg": model.images_seen / 1000,
            "train_s": train_s,
            "curve": curve[0].curve if curve else {},
        }
        print(json.dumps({entry: result["entries"][entry]}), flush=True)
    result["total_s"] = time.perf_counter() - started
    if args.record:
        record_block(args.block, title(args), table(result, args))
    return result


def title(args: argparse.Namespace) -> str:
    return f"Class-conditional MNIST: accuracy and class coverage ({args.generator_steps} G steps)"


def command(args: argparse.Namespace) -> str:
    """The command that reruns ``args`` and records block ``--block`` (``--device`` only when not the CPU)."""
    extra = f" --model_args '{json.dumps(args.model_args)}'" if args.model_args else ""
    return (
        f"python benchmarks/quality.py conditional --root {args.root} --entries {' '.join(args.entries)} "
        f"--generator_steps {args.generator_steps} --batch_size {args.batch_size} --width {args.width}{extra} "
        f"--eval_samples {args.eval_samples} --seed {args.seed}"
        + (f" --curve_every {args.curve_every} --curve_samples {args.curve_samples}" if args.curve_every else "")
        + (f" --device {args.device}" if args.device != "cpu" else "")
        + f" --block {args.block} --record"
    )


def table(r: dict, args: argparse.Namespace) -> str:
    timing = f"`{command(args)}` on {r['machine']}: {r['total_s'] / 60:.1f} min in all."
    protocol = (
        f"Protocol: each entry trains on MNIST at {RESOLUTION} px (60k digits) with its own defaults"
        f"{' except the --model_args of the command' if args.model_args else ''}, G and D "
        f"widths (ngf/ndf or g_width/d_width) {args.width}, batch {args.batch_size}, for {args.generator_steps} "
        f"generator steps; {args.eval_samples} samples with uniform labels are read by the zoo's MNIST classifier "
        f"(accuracy on the real test digits at {RESOLUTION} px: {100 * r['classifier_accuracy_32px']:.2f}%, the "
        f"ceiling of the accuracy column). Accuracy: samples classified as their requested class (target >= "
        f"{100 * TARGET_ACCURACY:.0f}%); worst class: the lowest per-class accuracy; classes hit and KL(predicted "
        "class histogram || uniform) measure coverage as Stacked MNIST measures modes (0 is perfect, log 10 = 2.30 "
        "is one class). One seed."
    )
    header = [
        "| entry | G steps | kimg | train min | accuracy % | worst class % | classes hit /10 | KL |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = [
        f"| {entry} | {e['generator_steps']} | {e['kimg']:.0f} | {e['train_s'] / 60:.1f} | {100 * e['accuracy']:.1f} "
        f"| {100 * e['worst_class_accuracy']:.1f} | {e['classes_hit']} | {e['kl']:.3f} |"
        for entry, e in r["entries"].items()
    ]
    curves = [
        f"- {entry}: " + ", ".join(f"{step}: {100 * acc:.1f}%" for step, acc in e["curve"].items())
        for entry, e in r["entries"].items()
        if e["curve"]
    ]
    if curves:
        curves.insert(0, f"\nAccuracy during training ({args.curve_samples} samples per point, by G step):\n")
    return "\n".join([timing, "", protocol, "", *header, *rows, *curves])


def main_with(args: argparse.Namespace) -> None:
    """Runs the benchmark for parsed ``add_arguments`` options and prints the table; ``--device cuda`` without a GPU
    trains nothing (``protocol_script.skipped_without_gpu``)."""
    if not skipped_without_gpu(args.device, command(args), args.block, title(args), args.record):
        print(table(run(args), args))


if __name__ == "__main__":
    from benchmarks.protocol_script import run_protocol

    run_protocol(sys.modules[__name__])
