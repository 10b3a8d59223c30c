"""LAPGAN against a single-scale conditional GAN of equal time on class-conditional MNIST (Denton et al. 2015's
claim, Sec. 4: the pyramid's samples beat the GAN baseline's; here measured by a classifier).

Both models are the ``lapgan`` entry with eyescream's class-conditional networks and training (SGD lr 0.02,
momentum 0 + 0.0008 per epoch, batch 128, non-saturating BCE): ``lapgan`` is the 8 -> 16 -> 32 px pyramid (an MLP
pair at 8 px, conv levels at 16 and 32 px of ``--width`` channels), ``single-scale`` the same entry with one level,
base_resolution 32: eyescream's class-conditional MLP GAN on the whole 32 px image (train_cifar_classcond.lua, the
paper's GAN baseline), with the same hidden sizes. Each trains on MNIST at 32 px for ``--minutes`` of CPU time on
one thread (``TimeBudget``: equal compute on a shared machine; with ``--device cuda``, minutes of wall time on the
GPU), then ``--eval_samples`` samples with uniform labels
are read by the zoo's MNIST classifier (benchmarks/conditional.py ``conditional_score``): accuracy (classified as
the class drawn for), the worst class's accuracy, classes hit and KL(predicted class histogram || uniform).

    python benchmarks/quality.py lapgan --root ../shared/data --minutes 5 --record
    python benchmarks/quality.py lapgan --root ../shared/data --minutes 10 --block lapgan-mnist-10min --record

On a GPU (``--device cuda``; without one, ``--record`` writes the command as not measured), one GPU-hour: the
paper's conv width, 25 min of wall time per model (block lapgan-mnist-gpu):

    python benchmarks/quality.py lapgan --root ../shared/data --minutes 25 --width 64 --eval_samples 10000 \\
        --device cuda --block lapgan-mnist-gpu --record
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.conditional import RESOLUTION, TARGET_ACCURACY, conditional_score, scoring_classifier
from benchmarks.protocol_script import add_device_argument, report_protocol
from benchmarks.training import benchmark_trainer

#: entry name -> the lapgan arguments that make it
MODELS = {"lapgan": {"base_resolution": 8}, "single-scale": {"base_resolution": RESOLUTION}}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default="data", help="folder holding MNIST/raw/ (torchvision's layout)")
    parser.add_argument(
        "--minutes", type=float, default=5.0, help="training budget of each model: CPU time (1 thread); cuda: wall time"
    )
    parser.add_argument("--batch_size", type=int, default=128, help="eyescream's 128")
    parser.add_argument("--width", type=int, default=16, help="channels of the conv levels' G and D (paper: 64)")
    parser.add_argument("--base_g_hidden", type=int, default=1200, help="units of the MLP G's hidden layers")
    parser.add_argument("--base_d_hidden", type=int, default=600, help="units of the MLP D's hidden layers")
    parser.add_argument(
        "--model_args", type=json.loads, default={},
        help='JSON of extra lapgan arguments for both models, e.g. \'{"optimizer": "adam", "g_lr": 2e-4}\'',
    )  # fmt: skip
    parser.add_argument("--eval_samples", type=int, default=10_000, help="generated samples scored per model")
    parser.add_argument("--seed", type=int, default=0)
    add_device_argument(parser)
    parser.add_argument("--record", action="store_true", help="write the table into benchmarks/RESULTS.md")
    parser.add_argument("--block", default="lapgan-mnist", help="the RESULTS.md block it replaces (one per budget)")


def build(name: str, args: argparse.Namespace):
    from zoo.lapgan import LAPGAN

    return LAPGAN(
        resolution=RESOLUTION, channels=1, num_classes=10, ngf=args.width, ndf=args.width, seed=args.seed,
        base_g_hidden=args.base_g_hidden, base_d_hidden=args.base_d_hidden, **MODELS[name], **args.model_args,
    )  # fmt: skip


def budget_clock(device: str):
    """The clock a training budget is counted on: this process's CPU time on the CPU (with one thread, the same
    compute for every model however loaded the shared machine is; wall time is not, when other jobs come and go),
    wall time on a GPU (the host's CPU time there is not the GPU's work)."""
    return time.perf_counter if device == "cuda" else time.process_time


class TimeBudget:
    """A Lightning callback that stops training once ``minutes`` have passed on ``clock`` since the fit started."""

    def __new__(cls, minutes: float, clock=time.process_time):
        import pytorch_lightning as pl

        class Budget(pl.Callback):
            def on_train_start(self, trainer, pl_module):
                self.start = clock()

            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
                if clock() - self.start >= 60 * minutes:
                    trainer.should_stop = True

        return Budget()


def train(model, data, minutes: float, device: str = "cpu") -> tuple[float, float]:
    """Trains ``model`` on ``device`` for ``minutes`` of its ``budget_clock``; returns the (CPU, wall) seconds it
    took."""
    trainer = benchmark_trainer(device, [TimeBudget(minutes, budget_clock(device))])
    cpu, wall = time.process_time(), time.perf_counter()
    trainer.fit(model, data)
    return time.process_time() - cpu, time.perf_counter() - wall


def run(args: argparse.Namespace) -> dict:
    import pytorch_lightning as pl

    from datamodules.mnist import MNISTDataModule

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    result = {"models": {}}
    data = MNISTDataModule(root=args.root, resolution=RESOLUTION, batch_size=args.batch_size, seed=args.seed)
    trained = {}
    for name in MODELS:
        pl.seed_everything(args.seed, verbose=False)
        model = build(name, args)
        trained[name] = model, *train(model, data, args.minutes, args.device)
    # after training: a first use trains the classifier, outside the budgets
    classifier, result["classifier_accuracy_32px"] = scoring_classifier(args.root, args.device)
    for name, (model, train_s, wall_s) in trained.items():
        score = conditional_score(model.to(args.device), classifier, args.eval_samples, seed=args.seed)
        result["models"][name] = {
            **asdict(score), "generator_steps": model.generator_steps, "kimg": model.images_seen / 1000,
            "train_s": train_s, "wall_s": wall_s, "parameters": sum(p.numel() for p in model.generator.parameters()),
        }  # fmt: skip
        print(json.dumps({name: result["models"][name]}), flush=True)
    return result


def title(args: argparse.Namespace) -> str:
    return f"LAPGAN vs a single-scale GAN on MNIST ({args.minutes:g} min each)"


def table(r: dict, args: argparse.Namespace) -> str:
    budget = (
        f"{args.minutes:g} min of wall time each on the GPU"
        if args.device == "cuda"
        else f"{args.minutes:g} min of CPU time each on one thread (equal compute on the shared machine; wall minutes "
        "in the table)"
    )
    protocol = (
        f"Protocol: both models are the lapgan entry with eyescream's class-conditional nets and training"
        f"{' (except the --model_args of the command)' if args.model_args else ''}, on MNIST at {RESOLUTION} px, "
        f"batch {args.batch_size}, {budget}: lapgan is the 8 -> 16 -> 32 "
        f"pyramid (MLP pair of {args.base_g_hidden}/{args.base_d_hidden} units at 8 px, conv levels of "
        f"{args.width} channels at 16 and 32 px), single-scale the same MLP pair on the whole 32 px image (the "
        f"paper's GAN baseline). {args.eval_samples} samples with uniform labels are read by the zoo's MNIST "
        f"classifier (accuracy on the real test digits at {RESOLUTION} px: {100 * r['classifier_accuracy_32px']:.2f}%"
        f"). Accuracy: samples classified as their class (target >= {100 * TARGET_ACCURACY:.0f}%); worst class: the "
        "lowest per-class accuracy; classes hit and KL(predicted class histogram || uniform), 0 is perfect. One seed."
    )
    header = [
        "| model | G params | G steps | kimg | CPU min | wall min | accuracy % | worst class % | classes hit | KL |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = [
        f"| {name} | {m['parameters']:,} | {m['generator_steps']} | {m['kimg']:.1f} | {m['train_s'] / 60:.1f} | "
        f"{m['wall_s'] / 60:.1f} | {100 * m['accuracy']:.1f} "
        f"| {100 * m['worst_class_accuracy']:.1f} | {m['classes_hit']} | {m['kl']:.3f} |"
        for name, m in r["models"].items()
    ]
    return "\n".join([protocol, "", *header, *rows])


def main_with(args: argparse.Namespace) -> None:
    report_protocol(sys.modules[__name__], args)


if __name__ == "__main__":
    from benchmarks.protocol_script import run_protocol

    run_protocol(sys.modules[__name__])
