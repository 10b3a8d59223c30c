"""Stacked MNIST mode coverage of DCGAN at a CPU budget (the VEEGAN/PacGAN protocol of REFERENCES.md).

DCGAN (zoo/dcgan.py) trains on the stacked_mnist datamodule (128,000 stacked images at 32 px, as VEEGAN)
with VEEGAN's DCGAN settings (batch 64, Adam 2e-4, beta1 0.5, z 100) for ``--iterations`` iterations
instead of 50 epochs; then 26,000 samples are classified channel by channel with the zoo's MNIST
classifier (metrics/mnist_classifier.py, trained on first use and cached) and scored: modes hit out of
1,000 and KL(generated mode histogram || uniform). The same scoring of 26,000 real Stacked MNIST images
gives the best score the metric can show with this classifier.

    python benchmarks/quality.py stacked_mnist --root ../shared/data --iterations 2000 --record
    python benchmarks/stacked_mnist.py --root ../shared/data --iterations 1500

``--device cuda`` trains and scores on the GPU; without one it trains nothing: with ``--record`` it writes the
command as not measured, without it stops with one message (``protocol_script.skipped_without_gpu``).

``add_arguments`` and ``main_with`` let ``benchmarks/quality.py stacked_mnist`` run it; ``--record`` writes the
table into benchmarks/RESULTS.md (block ``--block``, stacked-mnist by default).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.protocol_script import add_device_argument, report_protocol, where_it_ran
from benchmarks.training import timed_fit

#: REFERENCES.md, Stacked MNIST: (source, method, modes /1000, KL), full 50-epoch budgets
PUBLISHED = [
    ("VEEGAN T2", "DCGAN", "99", "3.4"),
    ("VEEGAN T2", "VEEGAN", "150", "2.95"),
    ("PacGAN T2", "DCGAN (own run)", "78.9±6.5", "4.50"),
    ("PacGAN T2", "PacDCGAN2", "1000", "0.06"),
    ("GDPP T3 (stronger nets)", "WGAN-GP", "995", "0.148"),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default="data", help="folder holding MNIST/raw/ (torchvision's layout)")
    parser.add_argument("--iterations", type=int, default=1500, help="D+G iterations (VEEGAN: 50 epochs = 100k)")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--width", type=int, default=32, help="DCGAN ngf = ndf (64 in the DCGAN paper)")
    parser.add_argument("--train_images", type=int, default=128_000, help="stacked training images (VEEGAN: 128k)")
    parser.add_argument("--eval_samples", type=int, default=26_000, help="generated samples scored (protocol: 26k)")
    parser.add_argument("--seed", type=int, default=0)
    add_device_argument(parser)
    parser.add_argument("--record", action="store_true", help="write the table into benchmarks/RESULTS.md")
    parser.add_argument("--block", default="stacked-mnist", help="the RESULTS.md block it replaces")


def run(args: argparse.Namespace) -> dict:
    """Trains DCGAN and scores it and the real images; returns every number measured (``report_protocol``
    times, prints and records it)."""
    import pytorch_lightning as pl

    from datamodules.stacked_mnist import StackedMNISTDataModule
    from metrics.mnist_classifier import load_classifier, mnist_test_accuracy
    from metrics.stacked_mnist import classify_stacked, coverage, stacked_mnist_coverage
    from zoo.dcgan import DCGAN

    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    classifier = load_classifier(args.root, device=args.device)
    classifier_s = time.perf_counter() - started
    result = {
        "classifier_accuracy_28px": mnist_test_accuracy(classifier, args.root),
        "classifier_accuracy_32px": mnist_test_accuracy(classifier, args.root, resolution=32),
        "classifier_s": classifier_s,
    }

    pl.seed_everything(args.seed, verbose=False)
    data = StackedMNISTDataModule(
        root=args.root, resolution=32, batch_size=args.batch_size, num_samples=args.train_images, data_seed=args.seed
    )
    data.setup("fit")
    real = data.dataset.images[: args.eval_samples]
    real_modes = torch.cat([classify_stacked(chunk, classifier) for chunk in real.split(2000)])
    result["real"] = vars(coverage(real_modes))
    true_modes = data.dataset.labels[: args.eval_samples]
    result["real_mode_accuracy"] = float((real_modes == true_modes).double().mean())  # all 3 digits right

    model = DCGAN(resolution=32, channels=3, ngf=args.width, ndf=args.width, latent_dim=100, seed=args.seed)
    result["train_s"] = timed_fit(model, data, args.device, max_steps=2 * args.iterations)
    result["iterations"], result["kimg"] = model.iterations, model.images_seen / 1000
    result["dcgan"] = vars(stacked_mnist_coverage(model.to(args.device), classifier, args.eval_samples, seed=args.seed))
    result["threads"] = torch.get_num_threads()
    return result


def title(args: argparse.Namespace) -> str:
    """The block's RESULTS.md heading."""
    return "Stacked MNIST mode coverage (DCGAN)"


def table(r: dict, args: argparse.Namespace) -> str:
    """The block under ``report_protocol``'s command and timing line: the minutes of its parts, the protocol, the
    rows beside the published ones and the caveat."""
    ours, real = r["dcgan"], r["real"]
    timing = (
        f"Of those, {r['train_s'] / 60:.1f} min of GAN training, {r['classifier_s'] / 60:.1f} min loading (or "
        "training, on first use) the classifier."
    )
    epochs = r["kimg"] * 1000 / args.train_images
    protocol = (
        f"Protocol: DCGAN (ngf = ndf = {args.width}, z 100, batch {args.batch_size}, Adam 2e-4, beta1 0.5) trained "
        f"for {r['iterations']} iterations ({r['kimg']:.0f} kimg, {epochs:.2f} epochs of {args.train_images} "
        f"stacked images; the papers train 50 epochs), {where_it_ran(args.device, r['threads'])}; "
        f"{ours['samples']} samples, each channel labelled by the zoo's MNIST classifier (test accuracy "
        f"{100 * r['classifier_accuracy_28px']:.2f}% at 28 px, {100 * r['classifier_accuracy_32px']:.2f}% on digits "
        "resized to 32 px as the datamodule stores them; all three digits of a real stacked image right: "
        f"{100 * r['real_mode_accuracy']:.2f}%). The real-data row scores as many real Stacked MNIST images: the "
        "best this metric can report at this sample count."
    )
    caveat = (
        "One seed, 1/50 of the papers' budget, and the published DCGAN rows were not reproduced here: their setups "
        "differ from the zoo's DCGAN (Unrolled GAN's Stacked MNIST experiment, which PacGAN also reports, shrinks "
        "the discriminator to 1/4 or 1/2 of the generator's width to provoke collapse; here both have width "
        f"{args.width}). Read the gap as a statement about setups, not about implementations."
    )
    rows = [
        f"| this repo | DCGAN | {r['iterations']} it. | {ours['modes']} | {ours['kl']:.2f} |",
        f"| this repo | real Stacked MNIST (metric floor) | - | {real['modes']} | {real['kl']:.3f} |",
        *(f"| {source} | {method} | 50 epochs | {modes} | {kl} |" for source, method, modes, kl in PUBLISHED),
    ]
    header = ["| source | method | budget | modes /1000 | KL |", "|---|---|---|---|---|"]
    return "\n".join([timing, "", protocol, "", *header, *rows, "", caveat])


def main_with(args: argparse.Namespace) -> None:
    """Runs the protocol for parsed ``add_arguments`` options through the device gate (``report_protocol``)."""
    report_protocol(sys.modules[__name__], args)


if __name__ == "__main__":
    from benchmarks.protocol_script import run_protocol

    run_protocol(sys.modules[__name__])
