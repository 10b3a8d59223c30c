"""Sample quality of the zoo's entries on the protocols of ../shared/REFERENCES.md.

``toy2d``: mode coverage on 2D mixtures, the VEEGAN/PacGAN protocol (Srivastava et al. 2017, Sec. 5.1; Lin et
al. 2018, Sec. 5.1 and Table 1): ring of 8 (std 0.01) and grid of 25 (std 0.05) Gaussians, 100k training points,
PacGAN's networks (G 2 -> 400x4 -> 2 with BatchNorm, z of 2 dims; D of 3 maxout layers, 200 units, 5 pieces;
weights from N(0, 0.02)), batch 100; 2,500 samples scored for modes captured, % high quality (within 3 std) and
reverse KL, over >= 5 seeds. Every entry trains with its own paper's game (objective, penalties, critic steps,
optimizer); ``gan`` uses PacGAN's optimizer (Adam 1e-4, beta1 0.8), as in its GAN row. PacGAN's budget is 400
epochs (40,000 kimg).

    python benchmarks/quality.py toy2d                                   # PacGAN's budget: hours per run on a CPU
    python benchmarks/quality.py toy2d --budget_kimg 200 --record        # 2 epochs per run, into RESULTS.md
    python benchmarks/quality.py toy2d --entries gan wgan_gp --packed gan --seeds 0 1 2 3 4

``--curve_every_kimg K`` also scores every run every K kimg of training (printed as it goes, averaged over
seeds under the table); ``--jobs N`` trains N runs at once, one process and one thread each (same results).

``stacked_mnist``: modes /1000 and KL of DCGAN on Stacked MNIST (benchmarks/stacked_mnist.py):

    python benchmarks/quality.py stacked_mnist --root ../shared/data --iterations 2000 --record

``conditional``: class accuracy and class coverage of the conditional entries on MNIST (benchmarks/conditional.py):

    python benchmarks/quality.py conditional --root ../shared/data --generator_steps 2000 --record

``translation``: cyclegan and stargan on MNIST translation tasks with known answers (benchmarks/translation.py):

    python benchmarks/quality.py translation --root ../shared/data --record

``limited_data``: augment none vs ada on 1k MNIST digits (benchmarks/limited_data.py):

    python benchmarks/quality.py limited_data --root ../shared/data --entry dcgan --iterations 2000 --record

``semi_supervised``: Triple-GAN's classifier vs the same classifier alone, MNIST with 100 labels
(benchmarks/semi_supervised.py):

    python benchmarks/quality.py semi_supervised --root ../shared/data --record

``infogan``: InfoGAN's categorical code as a digit classifier and its continuous codes on MNIST
(benchmarks/infogan.py):

    python benchmarks/quality.py infogan --root ../shared/data --record

``lapgan`` and ``cocogan``: LAPGAN vs a single-scale GAN of equal time, COCO-GAN's parts and wholes, on MNIST
(benchmarks/lapgan.py, benchmarks/cocogan.py):

    python benchmarks/quality.py lapgan --root ../shared/data --minutes 5 --record
    python benchmarks/quality.py cocogan --root ../shared/data --minutes 5 --record

``mode_seeking``: msgan's class diversity with and without its term on MNIST (benchmarks/mode_seeking.py):

    python benchmarks/quality.py mode_seeking --root ../shared/data --generator_steps 300 --record

``stacked_text2image``: stackgan and stackgan2 stage by stage on captioned MNIST (benchmarks/stacked_text2image.py):

    python benchmarks/quality.py stacked_text2image --root ../shared/data --generator_steps 300 --record

``text2image``: digit and attribute accuracy, matching-aware AUC and diversity of the text-to-image entries on
captioned MNIST (benchmarks/text2image.py):

    python benchmarks/quality.py text2image --root ../shared/data --generator_steps 300 --record

``logan``: LOGAN's latent optimisation against none at equal G steps, toy2d modes and MNIST classes
(benchmarks/logan.py):

    python benchmarks/quality.py logan --root ../shared/data --record
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pytorch_lightning as pl
import torch

from benchmarks import (
    cocogan,
    conditional,
    infogan,
    lapgan,
    limited_data,
    logan,
    mode_seeking,
    semi_supervised,
    stacked_mnist,
    stacked_text2image,
    text2image,
    translation,
)
from benchmarks.results import record_block
from benchmarks.training import benchmark_trainer
from datamodules.toy2d import Toy2DDataModule
from metrics.mode_coverage import ModeCoverage, mode_coverage
from zoo import get_model

ENTRIES = ["gan", "lsgan", "wgan", "wgan_gp", "dragan", "fgan", "relativistic", "ebgan", "began", "improved_gan"]

#: the protocols other modules implement (``add_arguments`` and ``main_with``): name -> (module, help)
DELEGATED = {
    "stacked_mnist": (stacked_mnist, "DCGAN's mode coverage on Stacked MNIST"),
    "conditional": (conditional, "class accuracy and coverage of conditional entries"),
    "translation": (translation, "image-to-image entries on tasks with known answers"),
    "limited_data": (limited_data, "augment none vs ada on 1k MNIST digits"),
    "semi_supervised": (semi_supervised, "Triple-GAN's classifier, 100 MNIST labels"),
    "infogan": (infogan, "InfoGAN's codes on MNIST: clustering accuracy, sweeps"),
    "lapgan": (lapgan, "LAPGAN vs a single-scale GAN of equal time on MNIST"),
    "cocogan": (cocogan, "COCO-GAN's coordinates, seams and recognisability on MNIST"),
    "text2image": (text2image, "text-to-image entries on captioned MNIST"),
    "logan": (logan, "LOGAN's latent optimisation vs none, toy2d and MNIST"),
    "mode_seeking": (mode_seeking, "msgan's class diversity with and without its term"),
    "stacked_text2image": (stacked_text2image, "stackgan/stackgan2 stage by stage"),
}
PACGAN_KIMG = 40_000  # 400 epochs over 100k points
SAMPLES = 2500
ITERATION_PACKS = 100  # PacGAN's batch: 100 examples (packs of m points when packed) per iteration

#: PacGAN's toy networks, in each family's knobs (Lin et al. 2018, App. C)
TOY_NETS = {
    "gan": {
        "g_hidden": (400,) * 4,
        "g_batch_norm": True,
        "d_hidden": (200,) * 3,
        "maxout_pieces": 5,
        "d_dropout": 0.0,
        "output_activation": "identity",
        "init_std": 0.02,
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


@dataclass
class ToyRun:
    score: ModeCoverage  # at the end of training
    curve: dict[float, ModeCoverage]  # kimg -> score during training (empty without ``curve_every_kimg``)
    seconds: float  # wall-clock seconds of training and scoring


class CoverageCurve(pl.Callback):
    """Scores the generator every ``every`` iterations (batches of 100 packs) into ``curve``, keyed by kimg, and
    prints each point as a JSON line tagged with ``run`` (hours-long runs show their progress).

    Sampling goes through ``sample(seed=...)``: its own seeded latents and the generator in eval mode, so the
    training run's random streams and BatchNorm statistics are untouched and the run ends as it would without
    the curve."""

    def __init__(self, every: int, means: torch.Tensor, std: float, seed: int, run: str):
        self.every, self.means, self.std, self.seed, self.run = every, means, std, seed, run
        self.curve: dict[float, ModeCoverage] = {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        iteration = pl_module.iterations
        kimg = iteration * ITERATION_PACKS / 1000
        if iteration % self.every == 0 and kimg not in self.curve:
            samples = pl_module.sample(SAMPLES, seed=self.seed).float()
            score = self.curve[kimg] = mode_coverage(samples, self.means, self.std)
            print(
                json.dumps({"run": self.run, "kimg": kimg, "modes": score.modes, "hq": score.hq_fraction}), flush=True
            )


def train_and_score(
    entry: str,
    mixture: str,
    seed: int,
    budget_kimg: float,
    packing: int = 1,
    num_points: int = 100_000,
    width: int | None = None,
    std: float | None = None,
    curve_every_kimg: float = 0,
    build: Callable[[int], pl.LightningModule] | None = None,
) -> ToyRun:
    """Trains ``entry`` on one mixture with the project's Lightning loop and scores 2,500 samples, at the end
    and every ``curve_every_kimg`` during training. ``width`` and ``std`` shrink the networks and widen the
    modes for the test-sized version. ``build(seed)``, when given, makes the model instead of ``entry``'s toy
    networks (benchmarks/logan.py's latent-optimised toy GAN).

    The budget is counted in iterations of batch 100, as PacGAN's epochs are: a packed run (PacGAN m) keeps
    100 packs per batch, so it draws m * 100 real points and as many fakes per iteration (the data streams of
    the authors' code, fjxmlzn/PacGAN, batch 100 of m-point examples) for the same number of iterations."""
    start = time.perf_counter()
    pl.seed_everything(seed, workers=True, verbose=False)
    data = Toy2DDataModule(
        mixture=mixture, num_points=num_points, std=std, batch_size=ITERATION_PACKS * packing, seed=seed
    )
    model = toy_model(entry, packing, seed, width) if build is None else build(seed)
    iterations = max(1, round(budget_kimg * 1000 / ITERATION_PACKS))
    curve = (
        [
            CoverageCurve(
                max(1, round(curve_every_kimg * 1000 / ITERATION_PACKS)),
                data.means,
                data.std,
                seed=10_000 + seed,
                run=f"{entry} pack {packing} {mixture} seed {seed}",
            )
        ]
        if curve_every_kimg
        else []
    )
    d_steps = model.hparams.d_steps
    # one optimizer step per D update plus one per G update
    benchmark_trainer(callbacks=curve, max_steps=iterations + iterations // d_steps).fit(model, data)
    samples = model.sample(SAMPLES, seed=10_000 + seed).float()
    score = mode_coverage(samples, data.means, data.std)
    return ToyRun(score, curve[0].curve if curve else {}, time.perf_counter() - start)


@dataclass
class Row:
    entry: str
    packing: int
    runs: dict[str, list[ToyRun]]  # mixture -> one run per seed


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
    cells = [describe([run.score for run in r.runs[m]]) if m in r.runs else ("-",) * 4 for m in ("ring", "grid")]
    seconds = statistics.mean(run.seconds for runs in r.runs.values() for run in runs)
    return f"| {r.entry} | {r.packing} | {' | '.join(cells[0])} | {' | '.join(cells[1])} | {seconds:.1f} |"


def curve_lines(r: Row) -> list[str]:
    """One line per mixture: mean modes and mean HQ % over seeds at each curve point."""
    lines = []
    for mixture, runs in r.runs.items():
        points = [
            f"{kimg:g}: {statistics.mean(run.curve[kimg].modes for run in runs):.1f} "
            f"({statistics.mean(100 * run.curve[kimg].hq_fraction for run in runs):.1f}%)"
            for kimg in runs[0].curve
        ]
        if points:
            lines.append(f"- {r.entry}, pack {r.packing}, {mixture}: " + ", ".join(points))
    return lines


def table(rows: list[Row], args) -> str:
    command = " ".join(["python benchmarks/quality.py", *sys.argv[1:]])
    lines = [
        (
            f"Command: `{command}`. Machine: {args.machine}. Budget: {args.budget_kimg:g} kimg per run "
            f"({args.budget_kimg / PACGAN_KIMG:.2%} of PacGAN's 400 epochs), batch 100 (100 packs of m points "
            f"when packed, for as many iterations), seeds {args.seeds}, "
            f"{SAMPLES} samples per run. Modes and HQ are mean±std over seeds; 'per seed' lists the modes of every "
            f"run, so collapsed runs stay visible. s/run: one run's wall time on one thread, {args.jobs} run(s) at a "
            "time."
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
    curves = [line for r in rows for line in curve_lines(r)]
    if curves:
        lines += [
            "",
            f"During training, modes (mean over seeds) and HQ % (mean) by kimg, {SAMPLES} samples per point:",
            "",
        ]
        lines += curves
    return "\n".join(lines)


def quiet_lightning() -> None:
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")


def single_thread_worker() -> None:
    """One intra-op thread per toy run: its matmuls are tiny, so runs in parallel (--jobs) scale better."""
    torch.set_num_threads(1)
    quiet_lightning()


def die_with_parent() -> None:
    """On Linux, asks the kernel to send this process SIGTERM when its parent exits (prctl PR_SET_PDEATHSIG), so
    --jobs workers stop when the benchmark is killed instead of training on unseen; elsewhere, nothing."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def pool_worker() -> None:
    """Initializer of the --jobs worker processes."""
    die_with_parent()
    single_thread_worker()


def run_all(tasks: list[tuple], jobs: int) -> list[ToyRun]:
    """``train_and_score(*task)`` for every task, in order, on ``jobs`` processes. Every run seeds itself and
    uses one thread, so its result does not depend on ``jobs``."""
    if jobs == 1:
        return [train_and_score(*task) for task in tasks]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=pool_worker) as pool:
        return list(pool.map(train_and_score, *zip(*tasks)))


def toy2d(args) -> None:
    runs = [(entry, 1) for entry in args.entries] + [(entry, args.pack_degree) for entry in args.packed]
    tasks = [
        (entry, mixture, seed, args.budget_kimg, packing, args.num_points, None, None, args.curve_every_kimg)
        for entry, packing in runs
        for mixture in args.mixtures
        for seed in args.seeds
    ]
    results = iter(run_all(tasks, args.jobs))
    rows = [
        Row(entry, packing, {mixture: [next(results) for _ in args.seeds] for mixture in args.mixtures})
        for entry, packing in runs
    ]
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
    toy.add_argument("--curve_every_kimg", type=float, default=0, help="also score every N kimg of training (0: off)")
    toy.add_argument("--jobs", type=int, default=1, help="runs trained at once, one process and one thread each")
    toy.add_argument("--machine", default="the project's 2-core x86_64 CPU machine, no GPU")
    toy.add_argument("--record", action="store_true", help="write the table into benchmarks/RESULTS.md")
    toy.add_argument("--block", default="toy2d", help="the RESULTS.md block it replaces (one per budget)")
    for name, (module, help_text) in DELEGATED.items():
        module.add_arguments(sub.add_parser(name, help=help_text))
    args = parser.parse_args()
    quiet_lightning()
    if args.protocol in DELEGATED:
        DELEGATED[args.protocol][0].main_with(args)
        return
    single_thread_worker()
    toy2d(args)


if __name__ == "__main__":
    main()
