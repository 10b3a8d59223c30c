"""InfoGAN on MNIST (Chen et al. 2016, Sec. 7.1, Fig. 2): does the categorical code find the digits, and do the
continuous codes control rotation and width?

Each seed trains the zoo's ``infogan`` on MNIST at 28 px with App. C.1's codes and settings (its defaults: one
10-way categorical code, two continuous codes U(-1, 1) with Q's fixed unit variance, 62 noise dims U(-1, 1),
Table 1's nets at width ``--width``, lambda 1, Adam 2e-4 for D / 1e-3 for G, beta1 0.5) for ``--iterations``
iterations of batch ``--batch_size`` (the authors' launcher: 5,000 x 128, width 64), then measures:

- clustering accuracy of the categorical code: Q's most likely category for each of the 10,000 MNIST test digits,
  against the true digit, under the best one-to-one mapping of the 10 categories to the 10 digits (the Hungarian
  method on the confusion matrix, metrics/clustering.py). The paper: "c1 can be used as a classifier that achieves
  5% error rate in classifying MNIST digits" (Sec. 7.1), i.e. 95%;
- each continuous code's effect: Pearson correlations, over ``--samples`` generated digits (random latents), of the
  code's value with the digit's slant, stroke thickness and ink-box width as datamodules/digit_attributes.py
  measures them (a code the paper would call "rotation" correlates with slant, "width" with box width), and a
  sweep picture per code for the first seed: rows are the 10 categories (ordered by the digit each one is mapped
  to), columns the code from -2 to 2 with the noise and the other code fixed (Fig. 2 c-d), written to
  ``--out_dir`` and linked from the RESULTS.md block.

    python benchmarks/quality.py infogan --root ../shared/data --seeds 0 1 --iterations 3000 --width 32 --record
    python benchmarks/infogan.py --root ../shared/data --seeds 0 --iterations 50

The authors' budget at the authors' width, five seeds, on a GPU (without one, ``--record`` writes the command as not
measured, block infogan-mnist-gpu):

    python benchmarks/quality.py infogan --root ../shared/data --seeds 0 1 2 3 4 --iterations 5000 --width 64 \\
        --samples 10000 --out_dir benchmarks/outputs/infogan-gpu --device cuda --block infogan-mnist-gpu --record

``add_arguments`` and ``main_with`` let ``benchmarks/quality.py infogan`` run it; ``--record`` writes the table into
benchmarks/RESULTS.md (block ``--block``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.protocol_script import add_device_argument, report_protocol
from benchmarks.results import RESULTS
from benchmarks.training import timed_fit

ATTRIBUTES = ("slant", "thickness", "box width")
SWEEP_VALUES = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default="data", help="folder holding MNIST/raw/ (torchvision's layout)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, default=600, help="D+G iterations per run (authors: 5,000)")
    parser.add_argument("--batch_size", type=int, default=128, help="images per iteration (authors: 128)")
    parser.add_argument("--width", type=int, default=64, help="ngf = ndf (Table 1: 64)")
    parser.add_argument("--samples", type=int, default=2000, help="generated digits for the correlations")
    parser.add_argument(
        "--out_dir", default="benchmarks/outputs/infogan", help="for the sweep pictures (relative: to where it runs)"
    )
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at once, one process and one thread each")
    add_device_argument(parser)
    parser.add_argument("--record", action="store_true", help="write the table into benchmarks/RESULTS.md")
    parser.add_argument("--block", default="infogan-mnist", help="the RESULTS.md block it replaces")


def box_width(images: torch.Tensor) -> torch.Tensor:
    """Width (N,) of each digit's ink bounding box, in pixels of a 28 px image."""
    from datamodules.digit_attributes import REFERENCE_SIDE, extent, ink_mask

    ink = ink_mask(images)
    return extent(ink.amax(1)) * (REFERENCE_SIDE / ink.shape[-1])


def attributes(images: torch.Tensor) -> torch.Tensor:
    """(N, 3) slant, thickness and box width of each image."""
    from datamodules.digit_attributes import slant, thickness

    return torch.stack([slant(images), thickness(images), box_width(images)], dim=1)


def correlations(codes: torch.Tensor, measured: torch.Tensor) -> list[list[float]]:
    """Pearson correlation of each code (columns of ``codes``) with each measured attribute: [code][attribute]."""
    joint = torch.cat([codes, measured], dim=1).T.double()
    r = torch.corrcoef(joint)[: codes.shape[1], codes.shape[1] :]
    return r.tolist()


def sweep_picture(model, code: str, category_order: list[int], seed: int, path: Path) -> None:
    """Rows: the categories in ``category_order``; columns: ``code`` from -2 to 2; noise and other codes fixed."""
    from torchvision.utils import save_image

    from callbacks.samples import sample_picture
    from zoo.infogan_sampling import CONTINUOUS_RANGE, vary_code_latents
    from zoo.sampling import render

    values = torch.linspace(*CONTINUOUS_RANGE, SWEEP_VALUES).tolist()
    row = vary_code_latents(model, code, values, rows=1, seed=seed)  # (values, latent): one latent, code swept
    latents = row.repeat(len(category_order), 1)
    columns = model.code_columns("categorical")
    one_hot = torch.eye(model.categorical_dim)[torch.tensor(category_order)].repeat_interleave(len(values), dim=0)
    latents[:, columns] = one_hot
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(sample_picture(render(model, latents), nrow=len(values)), path)


def train_and_score(seed: int, args: argparse.Namespace) -> dict:
    """One run: clustering accuracy of the categorical code on the test digits, the continuous codes'
    correlations, and (first seed) the sweep pictures."""
    import logging

    import pytorch_lightning as pl

    from datamodules.base import to_unit_range
    from datamodules.mnist import MNISTDataModule
    from metrics.clustering import clustering_accuracy, confusion_matrix
    from zoo.base import eval_mode
    from zoo.infogan import InfoGAN
    from zoo.sampling import render, seeded

    torch.set_num_threads(1)
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    pl.seed_everything(seed, verbose=False)
    model = InfoGAN(resolution=28, channels=1, architecture="mnist", ngf=args.width, ndf=args.width, seed=seed)
    data = MNISTDataModule(root=args.root, resolution=28, batch_size=args.batch_size, seed=seed)
    train_s = timed_fit(model, data, args.device, max_steps=2 * args.iterations)
    model.to(args.device)  # Lightning hands it back on the host; Q reads the test digits where it trained

    images, labels = data.evaluation_split()
    categorical = model.code_columns("categorical")
    with torch.no_grad(), eval_mode(model.discriminator):
        q = torch.cat(
            [model.discriminator(to_unit_range(chunk.to(args.device)))[1].cpu() for chunk in images.split(1000)]
        )
    clusters = q[:, : model.categorical_dim].argmax(1)
    accuracy, mapping = clustering_accuracy(confusion_matrix(clusters, labels, model.categorical_dim, 10))

    latents = model.sample_latent(args.samples, generator=seeded(seed + 1000))
    generated = render(model, latents)
    continuous = latents[:, categorical.stop : categorical.stop + model.continuous_dim]
    r = correlations(continuous, attributes(generated))
    pictures = []
    if seed == args.seeds[0]:
        order = sorted(mapping, key=mapping.get)  # the category mapped to digit 0 first
        for code in [f"c{j + 1}" for j in range(model.continuous_dim)]:
            path = Path(args.out_dir) / f"sweep_{code}_seed{seed}.png"
            sweep_picture(model, code, order, seed, path)
            pictures.append(str(path))
    result = {
        "seed": seed, "iterations": model.iterations, "accuracy": accuracy, "mapping": mapping,
        "correlations": r, "train_s": train_s, "pictures": pictures,
    }  # fmt: skip
    print(json.dumps(result), flush=True)
    return result


def run(args: argparse.Namespace) -> dict:
    if args.jobs == 1:
        runs = [train_and_score(seed, args) for seed in args.seeds]
    else:
        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            runs = list(pool.map(train_and_score, args.seeds, [args] * len(args.seeds)))
    torch.set_num_threads(1)
    return {"runs": runs}


def title(args: argparse.Namespace) -> str:
    return "InfoGAN on MNIST: the categorical code as a digit classifier, the continuous codes"


def table(r: dict, args: argparse.Namespace) -> str:
    runs = r["runs"]
    accuracies = [x["accuracy"] for x in runs]
    spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
    protocol = (
        f"Protocol: infogan with App. C.1's MNIST codes and settings (1 x 10-way categorical, 2 continuous, 62 noise "
        f"dims U(-1, 1); Table 1's nets at width {args.width} (the authors': 64); lambda 1; Adam 2e-4 D / 1e-3 G), "
        f"MNIST at 28 px, batch {args.batch_size}, {args.iterations} iterations per seed (the authors: 5,000 x 128), "
        "one thread. Clustering accuracy: "
        "Q's most likely category on the 10,000 test digits vs the true digit, best one-to-one mapping by the "
        "Hungarian method; paper: about 95% (5% error, Sec. 7.1). Correlations: Pearson r of each continuous code "
        f"with the slant, stroke thickness and ink-box width (datamodules/digit_attributes.py) of {args.samples} "
        "generated digits."
    )
    header = ["| seed | clustering accuracy % | " + " | ".join(
        f"r(c{j}, {a})" for j in (1, 2) for a in ATTRIBUTES
    ) + " | train min | s / iteration |", "|---" * 10 + "|"]  # fmt: skip
    rows = [
        f"| {x['seed']} | {100 * x['accuracy']:.1f} | "
        + " | ".join(f"{v:+.2f}" for code in x["correlations"] for v in code)
        + f" | {x['train_s'] / 60:.1f} | {x['train_s'] / x['iterations']:.2f} |"
        for x in runs
    ]
    summary = f"Clustering accuracy over seeds: {100 * statistics.mean(accuracies):.1f}% +- {100 * spread:.1f}."
    links = [f"[{Path(p).stem}]({os.path.relpath(p, RESULTS.parent)})" for x in runs for p in x["pictures"]]
    sweeps = (
        f"Sweeps (seed {args.seeds[0]}; rows: the categories mapped to digits 0-9; columns: the code from -2 to 2): "
        + ", ".join(links)
        + "."
    )
    return "\n".join([protocol, "", *header, *rows, "", summary, sweeps])


def main_with(args: argparse.Namespace) -> None:
    """Runs the benchmark for parsed ``add_arguments`` options, prints the table and records it with --record."""
    report_protocol(sys.modules[__name__], args)


if __name__ == "__main__":
    from benchmarks.protocol_script import run_protocol

    run_protocol(sys.modules[__name__])
