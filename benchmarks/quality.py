"""Sample quality of the zoo's entries on the protocols of ../shared/REFERENCES.md.

``toy2d``: mode coverage on 2D mixtures, the VEEGAN/PacGAN protocol (Srivastava et al. 2017, Sec. 5.1; Lin et
al. 2018, Sec. 5.1 and Table 1): ring of 8 (std 0.01) and grid of 25 (std 0.05) Gaussians, 100k training points,
PacGAN's networks (G 2 -> 400x4 -> 2 with BatchNorm, z of 2 dims; D of 3 maxout layers, 200 units, 5 pieces),
batch 100; 2,500 samples scored for modes captured, % high quality (within 3 std) and reverse KL, over >= 5 seeds.
Every entry trains with its own paper's game (objective, penalties, critic steps, optimizer); ``gan`` uses
PacGAN's optimizer (Adam 1e-4, beta1 0.8), as in its GAN row. PacGAN's budget is 400 epochs (40,000 kimg).

    python benchmarks/quality.py toy2d                                   # PacGAN's budget: hours per run on a CPU
    python benchmarks/quality.py toy2d --budget_kimg 200 --record        # 2 epochs per run, into RESULTS.md
    python benchmarks/quality.py toy2d --entries gan wgan_gp --packed gan --seeds 0 1 2 3 4

``stacked_mnist``: modes /1000 and KL of DCGAN on Stacked MNIST (benchmarks/stacked_mnist.py):

    python benchmarks/quality.py stacked_mnist --root ../shared/data --iterations 2000 --record

``conditional``: class accuracy and class coverage of the conditional entries on MNIST (benchmarks/conditional.py):

    python benchmarks/quality.py conditional --root ../shared/data --generator_steps 2000 --record
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pytorch_lightning as pl
import torch

from benchmarks import conditional, stacked_mnist
from benchmarks.results import record_block
from datamodules.toy2d import Toy2DDataModule
from metrics.mode_coverage import ModeCoverage, mode_coverage
from zoo import get_model

ENTRIES = ["gan", "lsgan", "wgan", "wgan_gp", "dragan", "fgan", "relativistic", "ebgan", "began", "improved_gan"]
PACGAN_KIMG = 40_000  # 400 epochs over 100k points
SAMPLES = 2500

#: PacGAN's toy networks, in each family's knobs (Lin et al. 2018, App. C)
TOY_NETS = {
    "gan": {
        "g_hidden": (400,) * 4,
        "g_batch_norm": True,
        "d_hidden": (200,) * 3,
        "maxout_pieces": 5,
        "d_dropout": 0.0,
        "output_activation": "identity",
        "g_lr": 1e-4,
        "d_lr": 1e-4,
        "g_betas": (0.8, 0.999),
        "d_betas": (0.8, 0.999),
    },
    "standard": {"ngf": 400, "ndf": 200},
}

#: published rows of REFERENCES.md: (source, method, ring modes, ring HQ %, grid modes, grid HQ %)
PUBLISHED = [
    ("VEEGAN T1", "GAN", "1", "99.3", "3.3", "0.5"),
    ("VEEGAN T1", "Unrolled GAN", "7.6", "35.6", "23.6", "16"),
    ("VEEGAN T1", "VEEGAN", "8", "52.9", "24.6", "40"),
    ("PacGAN T1", "GAN (PacGAN's nets)", "6.3±0.5", "98.2±0.2", "17.3±0.8", "94.8±0.7"),
    ("PacGAN T1", "PacGAN4", "7.8±0.1", "95.9±1.4", "24.8±0.2", "93.6±0.6"),
    ("GDPP T1", "WGAN-GP", "6.8", "59.6", "24.2", "28.7"),
]


def toy_model(entry: str, packing: int, seed: int, width: int | None = None) -> pl.LightningModule:
    """``entry`` with PacGAN's toy networks, or with every hidden layer ``width`` units wide (fast tests)."""
    nets = dict(TOY_NETS["gan" if entry == "gan" else "standard"])
    if width is not None:
        for key, value in nets.items():
            if key in ("ngf", "ndf"):
                nets[key] = width
            elif key in ("g_hidden", "d_hidden"):
                nets[key] = (width,) * len(value)
    return get_model(entry)(sample_shape=(2,), latent_dim=2, packing=packing, seed=seed, **nets)


def train_and_score(
    entry: str,
    mixture: str,
    seed: int,
    budget_kimg: float,
    packing: int = 1,
    num_points: int = 100_000,
    width: int | None = None,
    std: float | None = None,
) -> ModeCoverage:
    """Trains ``entry`` on one mixture with the project's Lightning loop and scores 2,500 samples.
    ``width`` and ``std`` shrink the networks and widen the modes for the test-sized version.

    The budget is counted in iterations of batch 100, as PacGAN's epochs are: a packed run (PacGAN m) keeps
    100 packs per batch, so it draws m * 100 real points and as many fakes per iteration (the data streams of
    the authors' code, fjxmlzn/PacGAN, batch 100 of m-point examples) for the same number of iterations."""
    pl.seed_everything(seed, workers=True, verbose=False)
    batch_packs = 100
    data = Toy2DDataModule(mixture=mixture, num_points=num_points, std=std, batch_size=batch_packs * packing, seed=seed)
    model = toy_model(entry, packing, seed, width)
    iterations = max(1, round(budget_kimg * 1000 / batch_packs))
    d_steps = model.hparams.d_steps
    trainer = pl.Trainer(
        accelerator="cpu",
        max_steps=iterations + iterations // d_steps,  # one optimizer step per D update plus one per G update
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,
    )
    trainer.fit(model, data)
    samples = model.sample(SAMPLES, seed=10_000 + seed).float()
    return mode_coverage(samples, data.means, data.std)


@dataclass
class Row:
    entry: str
    packing: int
    scores: dict  # mixture -> list of ModeCoverage, one per seed
    seconds: float


def describe(scores: list[ModeCoverage]) -> tuple[str, str, str, str]:
    """(modes mean±std, HQ % mean±std, reverse KL mean, modes per seed)."""
    modes = [s.modes for s in scores]
    hq = [100 * s.hq_fraction for s in scores]
    kl = [s.reverse_kl for s in scores]

    def pm(values, digits):
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.{digits}f}±{spread:.{digits}f}"

    return pm(modes, 1), pm(hq, 1), f"{statistics.mean(kl):.2f}", ",".join(map(str, modes))


def row_line(r: Row) -> str:
    ring = describe(r.scores["ring"]) if "ring" in r.scores else ("-",) * 4
    grid = describe(r.scores["grid"]) if "grid" in r.scores else ("-",) * 4
    runs = sum(len(v) for v in r.scores.values())
    return f"| {r.entry} | {r.packing} | {' | '.join(ring)} | {' | '.join(grid)} | {r.seconds / runs:.1f} |"


def table(rows: list[Row], args) -> str:
    command = " ".join(["python benchmarks/quality.py", *sys.argv[1:]])
    lines = [
        (
            f"Command: `{command}`. Machine: {args.machine}. Budget: {args.budget_kimg:g} kimg per run "
            f"({args.budget_kimg / PACGAN_KIMG:.2%} of PacGAN's 400 epochs), batch 100 (100 packs of m points "
            f"when packed, for as many iterations), seeds {args.seeds}, "
            f"{SAMPLES} samples per run. Modes and HQ are mean±std over seeds; 'per seed' lists the modes of every "
            "run, so collapsed runs stay visible."
        ),
        "",
        (
            "| entry | pack | ring modes /8 | ring HQ % | ring rev-KL | ring per seed | grid modes /25 | grid HQ % "
            "| grid rev-KL | grid per seed | s/run |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [row_line(r) for r in rows]
    lines += ["", "Published rows (REFERENCES.md), at their full budgets:", ""]
    lines += [
        "| source | method | ring modes /8 | ring HQ % | grid modes /25 | grid HQ % |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {' | '.join(p)} |" for p in PUBLISHED]
    return "\n".join(lines)


def toy2d(args) -> None:
    rows = []
    runs = [(entry, 1) for entry in args.entries] + [(entry, args.pack_degree) for entry in args.packed]
    for entry, packing in runs:
        start, scores = time.perf_counter(), {}
        for mixture in args.mixtures:
            scores[mixture] = [
                train_and_score(entry, mixture, seed, args.budget_kimg, packing, args.num_points) for seed in args.seeds
            ]
        rows.append(Row(entry, packing, scores, time.perf_counter() - start))
        print(row_line(rows[-1]), flush=True)
    text = table(rows, args)
    print(text)
    if args.record:
        title = f"Mode coverage on 2D mixtures (VEEGAN/PacGAN protocol), {args.budget_kimg:g} kimg per run"
        record_block(args.block, title, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="protocol", required=True)
    toy = sub.add_parser("toy2d", help="mode coverage on the ring and grid mixtures")
    toy.add_argument("--entries", nargs="*", default=ENTRIES, choices=ENTRIES, help="entries run unpacked")
    toy.add_argument("--mixtures", nargs="+", default=["ring", "grid"], choices=["ring", "grid"])
    toy.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    toy.add_argument("--packed", nargs="*", default=["gan"], choices=ENTRIES, help="entries also run with packing")
    toy.add_argument("--pack_degree", type=int, default=4, help="PacGAN's m for --packed (PacGAN4: 4)")
    toy.add_argument(
        "--budget_kimg", type=float, default=PACGAN_KIMG, help="kimg per unpacked run (packed: same iterations)"
    )
    toy.add_argument("--num_points", type=int, default=100_000)
    toy.add_argument("--machine", default="the project's 2-core x86_64 CPU machine, no GPU")
    toy.add_argument("--record", action="store_true", help="write the table into benchmarks/RESULTS.md")
    toy.add_argument("--block", default="toy2d", help="the RESULTS.md block it replaces (one per budget)")
    stacked_mnist.add_arguments(sub.add_parser("stacked_mnist", help="DCGAN's mode coverage on Stacked MNIST"))
    conditional.add_arguments(sub.add_parser("conditional", help="class accuracy and coverage of conditional entries"))
    args = parser.parse_args()
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    if args.protocol == "stacked_mnist":
        stacked_mnist.main_with(args)
        return
    if args.protocol == "conditional":
        conditional.main_with(args)
        return
    torch.set_num_threads(1)
    toy2d(args)


if __name__ == "__main__":
    main()
