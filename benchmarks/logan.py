"""LOGAN's claim at a CPU budget: latent optimisation (Wu et al. 2019, "LOGAN: Latent Optimisation for Generative
Adversarial Networks", arXiv 1912.00953; zoo/logan.py) improves the adversarial dynamics and so mode coverage
and sample quality, against the same model without it, at equal generator steps.

Two variants, the same everywhere else:

- ``baseline``: the model with the paper's U(-1, 1) latents (LOGAN's baseline carries its z prior, Sec. 5.2);
- ``logan``: the same with ``latent_optimisation`` (alpha 0.9, beta 5, 50% of z, w_r 300: the paper's defaults).

Two protocols:

- ``toy2d``: benchmarks/quality.py's ring-of-8 / grid-of-25 runs and scores (modes, % high quality), reused
  (``quality.train_and_score``). BigGAN's networks are image networks, so the toy model is the zoo's ``gan`` with
  PacGAN's toy networks (quality.TOY_NETS: G 4 x 400 with BN, maxout D, z of 2) playing BigGAN-deep's game:
  hinge loss, 1 D step, G lr 1e-4 / D lr 4e-4, Adam (0, 0.999) (``ToyLatentGAN``). With z of 2, 50% is 1 element.
- ``mnist``: zoo ``biggan`` at ``--width`` on class-conditional MNIST at 32 px with its own game (2 D steps,
  orthogonal regularization), scored by benchmarks/conditional.py (accuracy of the requested class, classes hit,
  KL from uniform) with the zoo's MNIST classifier. ``--device cuda`` trains and scores it on the GPU; toy2d
  stays on the CPU whatever ``--device`` (benchmarks/quality.py's toy runs: 2D nets too small for a GPU; their
  ``--jobs`` processes use the machine's cores).

    python benchmarks/quality.py logan --root ../shared/data --toy_kimg 10 --generator_steps 200 --record

Longer runs for a GPU machine (toy2d on its CPU cores, 12 runs at once; MNIST on the GPU, width 32, 10,000 G
steps); without a GPU, ``--record`` writes the command as not measured (block logan-gpu):

    python benchmarks/quality.py logan --root ../shared/data --toy_kimg 200 --jobs 12 --generator_steps 10000 \\
        --width 32 --eval_samples 10000 --device cuda --block logan-gpu --record
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.protocol_script import add_device_argument, report_protocol, where_it_ran
from zoo.gan import GAN
from zoo.logan import LatentOptimised

VARIANTS = {"baseline": {"latent_prior": "uniform"}, "logan": {"latent_optimisation": True}}
#: BigGAN-deep's game (launch_BigGAN_deep.sh) for the toy networks
TOY_GAME = {
    "objective": "hinge",
    "d_steps": 1,
    "g_lr": 1e-4,
    "d_lr": 4e-4,
    "g_betas": (0.0, 0.999),
    "d_betas": (0.0, 0.999),
}


class ToyLatentGAN(LatentOptimised, GAN):
    """The zoo's ``gan`` networks with LOGAN's switch (zoo/logan.py), for 2D points."""


def toy_model(variant: str, seed: int) -> ToyLatentGAN:
    """``variant`` of the toy LOGAN model: PacGAN's toy networks, BigGAN-deep's game."""
    from benchmarks.quality import TOY_NETS

    nets = {k: v for k, v in TOY_NETS["gan"].items() if k not in TOY_GAME and not k.endswith(("_lr", "_betas"))}
    return ToyLatentGAN(sample_shape=(2,), latent_dim=2, seed=seed, **nets, **TOY_GAME, **VARIANTS[variant])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parts", nargs="+", default=["toy2d", "mnist"], choices=["toy2d", "mnist"])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--mixtures", nargs="+", default=["ring", "grid"], choices=["ring", "grid"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="toy2d seeds")
    parser.add_argument("--toy_kimg", type=float, default=10, help="toy2d kimg per run (batch 100)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, one process and one thread each")
    parser.add_argument("--root", default="data", help="folder holding MNIST/raw/ (torchvision's layout)")
    parser.add_argument("--generator_steps", type=int, default=200, help="MNIST: G updates per variant")
    parser.add_argument("--width", type=int, default=8, help="MNIST: biggan's g_width = d_width")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--eval_samples", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0, help="MNIST seed")
    add_device_argument(parser)
    parser.add_argument("--record", action="store_true", help="write the table into benchmarks/RESULTS.md")
    parser.add_argument("--block", default="logan", help="the RESULTS.md block it replaces (one per budget)")


def toy2d(args) -> list[str]:
    """Table lines: one row per variant, ring and grid side by side (quality.describe's cells)."""
    from benchmarks import quality

    runs = [(variant, mixture, seed) for variant in args.variants for mixture in args.mixtures for seed in args.seeds]
    tasks = [
        (f"logan-{v}", m, s, args.toy_kimg, 1, 100_000, None, None, 0, functools.partial(toy_model, v))
        for v, m, s in runs
    ]
    results = iter(quality.run_all(tasks, args.jobs))
    scores = {(v, m): [next(results) for _ in args.seeds] for v in args.variants for m in args.mixtures}
    lines = [
        (
            f"toy2d: {args.toy_kimg:g} kimg per run (batch 100, {round(args.toy_kimg * 10)} G steps), seeds "
            f"{args.seeds}, {quality.SAMPLES} samples; modes and HQ mean±std over seeds. s/run: one thread."
        ),
        "",
        "| variant | mixture | modes | HQ % | rev-KL | modes per seed | s/run |",
        "|---|---|---|---|---|---|---|",
    ]
    for (variant, mixture), runs_ in scores.items():
        modes, hq, kl, per_seed = quality.describe([r.score for r in runs_])
        seconds = sum(r.seconds for r in runs_) / len(runs_)
        total = 8 if mixture == "ring" else 25
        lines.append(f"| {variant} | {mixture} | {modes} /{total} | {hq} | {kl} | {per_seed} | {seconds:.1f} |")
    return lines


def mnist_row(variant: str, args) -> str:
    """Trains and scores biggan's ``variant`` on class-conditional MNIST; its table row."""
    import pytorch_lightning as pl
    import torch

    from benchmarks import conditional
    from datamodules.mnist import MNISTDataModule
    from metrics.mnist_classifier import load_classifier

    torch.set_num_threads(1)
    classifier = load_classifier(args.root, device=args.device)
    resolution = conditional.RESOLUTION
    data = MNISTDataModule(root=args.root, resolution=resolution, batch_size=args.batch_size, seed=args.seed)
    pl.seed_everything(args.seed, verbose=False)
    options = argparse.Namespace(
        width=args.width, seed=args.seed, model_args={"biggan": VARIANTS[variant]},
        generator_steps=args.generator_steps, device=args.device,
    )  # fmt: skip
    model = conditional.build("biggan", options)
    seconds = conditional.train(model, data, options)
    s = conditional.conditional_score(model.to(args.device), classifier, args.eval_samples, seed=args.seed)
    print(json.dumps({"variant": variant, "accuracy": s.accuracy, "classes_hit": s.classes_hit}), flush=True)
    return (
        f"| {variant} | {model.generator_steps} | {model.images_seen / 1000:.0f} | {seconds / 60:.1f} | "
        f"{100 * s.accuracy:.1f} | {100 * s.worst_class_accuracy:.1f} | {s.classes_hit} | {s.kl:.3f} |"
    )


def mnist(args) -> list[str]:
    """Table lines: biggan with and without latent optimisation on class-conditional MNIST (``--jobs`` variants
    at once, one process and one thread each)."""
    from benchmarks import quality

    if args.jobs == 1:
        rows = [mnist_row(variant, args) for variant in args.variants]
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.jobs, mp_context=context, initializer=quality.pool_worker) as pool:
            rows = list(pool.map(mnist_row, args.variants, [args] * len(args.variants)))
    return [
        (
            f"MNIST: biggan at width {args.width}, batch {args.batch_size}, {args.generator_steps} G steps (its 2 D "
            f"steps each), seed {args.seed}; {args.eval_samples} samples with uniform labels read by the zoo's MNIST "
            f"classifier. train min: {where_it_ran(args.device)}."
        ),
        "",
        "| variant | G steps | kimg | train min | accuracy % | worst class % | classes hit /10 | KL |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
    ]


def run(args: argparse.Namespace) -> dict:
    """The table lines of the parts asked for."""
    import torch

    torch.set_num_threads(1)
    lines = []
    if "toy2d" in args.parts:
        lines += toy2d(args) + [""]
    if "mnist" in args.parts:
        lines += mnist(args)
    return {"lines": lines}


def title(args: argparse.Namespace) -> str:
    return "LOGAN: latent optimisation vs none at equal G steps"


def table(r: dict, args: argparse.Namespace) -> str:
    header = (
        "baseline: U(-1, 1) latents, no latent optimisation; logan: one natural-gradient step on z (alpha 0.9, "
        "beta 5, 50% of z, w_r 300). The paper's claim is at ImageNet 128 px on BigGAN-deep (abstract: IS 148 and "
        "FID 3.4, +17% IS and -32% FID against the BigGAN-deep baseline); it publishes nothing at this scale."
        + (" toy2d runs on the CPU (one thread per run)." if args.device == "cuda" and "toy2d" in args.parts else "")
    )
    return "\n".join([header, "", *r["lines"]])


def main_with(args: argparse.Namespace) -> None:
    report_protocol(sys.modules[__name__], args)


if __name__ == "__main__":
    from benchmarks.protocol_script import run_protocol

    run_protocol(sys.modules[__name__])
