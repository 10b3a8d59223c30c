"""Diagnostic: does StackGAN's discriminator see the text? (issue 21: D AUC exactly 0.500 on captioned MNIST.)

Each variant trains ``stackgan`` stage I (16 px) or ``stackgan2`` (8/16/32 px) on captioned MNIST with
benchmarks/stacked_text2image.py's widths and, every ``--every`` generator steps, prints one JSON line about the
conditioning augmentation's mean mu (Zhang et al. 2017, Sec. 3.1) for ``--probe`` fixed training captions (each
image's first), and about D's conditional logit:

- ``text_std``: the per-dimension spread of the caption embeddings themselves (mean over dimensions of the std over
  captions);
- ``mu_zero``: the fraction of mu's entries that are exactly 0; ``mu_dead``: the fraction of mu's dimensions that
  are 0 for every caption (a ReLU unit that died); ``mu_std``: mu's spread across captions, as ``text_std``;
- ``logit_text_std``: for each probe image, the std of D's conditional logit over the probe captions (0: D ignores
  the text), averaged over images, with D in eval mode (what text2image's AUC uses) and in train mode (batch
  statistics, as training sees them; the running statistics are restored afterwards);
- ``auc``: text2image's matching-aware AUC on the probe set, D(image, its caption) against D(image, the caption of
  a probe image of another class), in eval and train mode.

Variants (``VARIANTS``): the PyTorch port as the zoo had it (CA with ReLU, D reads G's mu, detached); the TF
original's leaky ReLU CA; the port with every caption embedding scaled to unit per-dimension std (the embedding
scale hypothesis); D reading the caption itself (``d_condition text``, the TF original's D); StackGAN++ with its
GLU CA and D on mu; StackGAN++ with ``d_condition text``. ``--record`` writes the last report of every variant.

    python benchmarks/stackgan_conditioning.py --root ../shared/data --out data/captioned_mnist \
        --generator_steps 300 --every 50 --record
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

from benchmarks import stacked_text2image, text2image
from benchmarks.protocol_script import machine
from benchmarks.results import record_block
from benchmarks.training import benchmark_trainer

#: name -> (model, constructor arguments over the benchmark widths, embedding scale: a factor or "unit", which
#: scales every embedding to unit per-dimension std over the probe captions); the stackgan variants name their CA
#: activation: the stacked_text2image recipe's is the TF original's leaky one
VARIANTS: dict[str, tuple[str, dict, float | str]] = {
    "port": ("stackgan", {"d_condition": "mu", "ca_activation": "relu"}, 1.0),
    "port_leaky_ca": ("stackgan", {"d_condition": "mu", "ca_activation": "leaky_relu"}, 1.0),
    "port_unit_text": ("stackgan", {"d_condition": "mu", "ca_activation": "relu"}, "unit"),
    "d_reads_text": ("stackgan", {"d_condition": "text", "ca_activation": "relu"}, 1.0),
    "v2_port": ("stackgan2", {"d_condition": "mu"}, 1.0),
    "v2_d_reads_text": ("stackgan2", {"d_condition": "text"}, 1.0),
}


PROTOCOL = (
    "What D's conditional logit sees of the text (benchmarks/stackgan_conditioning.py): stackgan stage I at 16 px or "
    "stackgan2 at 8/16/32 px with the stacked_text2image widths, {probe} training captions probed. mu: G's "
    "conditioning-augmentation mean (fraction of entries exactly 0, of dimensions 0 for every caption, spread across "
    "captions); D text spread: std of D's logit for one image over the captions, mean over images; AUC: D(image, its "
    "caption) vs D(image, another class's caption); eval: D's running BN statistics (what text2image reports), "
    "train: batch statistics. Variants: port (ReLU CA, D on G's mu, detached: the PyTorch port), port_leaky_ca (the "
    "TF original's leaky ReLU CA), port_unit_text (every embedding scaled to unit per-dimension std), d_reads_text (D "
    "reads the caption through its own FC + leaky ReLU: the TF original's D), v2_port (StackGAN++ GLU CA, D on mu), "
    "v2_d_reads_text."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    text2image.add_arguments(parser)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), help=f"of: {', '.join(VARIANTS)}")
    parser.add_argument("--every", type=int, default=50, help="generator steps between reports")
    parser.add_argument("--probe", type=int, default=128, help="training images whose captions are probed")
    parser.set_defaults(generator_steps=300, block="stackgan-conditioning")


def bn_state(net: torch.nn.Module) -> dict:
    return {k: v.clone() for k, v in net.state_dict().items() if "running" in k or "num_batches" in k}


@torch.no_grad()
def logit_matrix(model, images: torch.Tensor, text: torch.Tensor, train_mode: bool) -> torch.Tensor:
    """D's conditional logits (images, texts): entry (i, j) for image i with caption j."""
    d = model.discriminator
    saved, was_training = bn_state(d), d.training
    d.train(train_mode)
    try:
        n, m = len(images), len(text)
        logits = model.discriminate(images.repeat_interleave(m, 0), text.repeat(n, 1))
    finally:
        d.train(was_training)
        d.load_state_dict(saved, strict=False)
    return logits.view(n, m)


@torch.no_grad()
def probe(model, images: torch.Tensor, text: torch.Tensor, classes: torch.Tensor) -> dict:
    """The numbers of the module docstring for the probe set (images in [-1, 1])."""
    from zoo.text_to_image import wrong_partners

    mu = model.generator.conditioning(text.to(model.device))[1].cpu()
    report = {
        "g_steps": model.generator_steps,
        "text_std": float(text.std(0).mean()),
        "mu_zero": float((mu == 0).double().mean()),
        "mu_dead": float((mu == 0).all(0).double().mean()),
        "mu_std": float(mu.std(0).mean()),
    }
    wrong, _ = wrong_partners(classes, torch.Generator().manual_seed(0))
    index = torch.arange(len(images))
    for mode, train_mode in (("eval", False), ("train", True)):
        logits = logit_matrix(model, images.to(model.device), text.to(model.device), train_mode).cpu()
        report[f"logit_text_std_{mode}"] = float(logits.std(1).mean())
        report[f"auc_{mode}"] = text2image.auc(logits[index, index], logits[index, wrong])
    return report


def reporter(images: torch.Tensor, text: torch.Tensor, classes: torch.Tensor, every: int, reports: list):
    """A callback appending (and printing) ``probe`` before the first step and every ``every`` generator steps."""
    import pytorch_lightning as pl

    def report(model):
        reports.append(probe(model, images, text, classes))
        print(json.dumps(reports[-1]), flush=True)

    class Report(pl.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if pl_module.generator_steps == 0 and batch_idx == 0:
                report(pl_module)

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if pl_module.generator_steps % every == 0:
                report(pl_module)

    return Report()


def run_variant(name: str, args: argparse.Namespace) -> list[dict]:
    """Trains variant ``name`` for ``--generator_steps`` and returns its reports."""
    import pytorch_lightning as pl

    from datamodules.base import to_unit_range
    from datamodules.captioned_mnist import CaptionedMNISTDataModule
    from zoo import get_model

    entry, options, scale = VARIANTS[name]
    pl.seed_everything(args.seed, verbose=False)
    resolution = stacked_text2image.STAGE_ONE_RESOLUTION if entry == "stackgan" else text2image.RESOLUTION
    data = CaptionedMNISTDataModule(
        root=args.root, out=args.out, limit=args.limit, resolution=resolution, batch_size=args.batch_size,
        seed=args.seed, text_encoder_steps=args.text_encoder_steps,
    )  # fmt: skip
    data.setup()
    data.attach_text_embeddings()
    items = [data.dataset[i] for i in range(args.probe)]
    text = torch.stack([item[1][0] for item in items]).float()
    factor = float(1 / text.std(0).mean()) if scale == "unit" else scale
    data.dataset.embeddings.table *= factor  # the training captions, scaled as the probe's
    images = to_unit_range(torch.stack([item[0] for item in items]))
    classes = torch.stack([item[3] for item in items])
    widths = stacked_text2image.STACKGAN_MNIST if entry == "stackgan" else text2image.STACKGAN2_MNIST
    common = {"text_dim": data.text_dim, "text_encoder": data.text_encoder, "channels": 1, "seed": args.seed}
    model = get_model(entry)(resolution=resolution, **{**common, **widths, **options})
    reports: list[dict] = []
    report = reporter(images, text * factor, classes, args.every, reports)
    benchmark_trainer(args.device, [report], generator_steps=args.generator_steps).fit(model, data)
    return reports


def table(results: dict, args: argparse.Namespace, seconds: float) -> str:
    command = (
        f"python benchmarks/stackgan_conditioning.py --root {args.root} --out {args.out} --text_encoder_steps "
        f"{args.text_encoder_steps} --variants {' '.join(args.variants)} --generator_steps {args.generator_steps} "
        f"--every {args.every} --probe {args.probe} --batch_size {args.batch_size} --seed {args.seed} --block "
        f"{args.block} --record"
    )
    lines = [
        f"`{command}` on {machine(args.device)}: {seconds / 60:.1f} min in all.",
        "",
        PROTOCOL.format(probe=args.probe),
        "",
        "| variant | G steps | text std | mu = 0 % | mu dead dims % | mu spread | D text spread eval / train | AUC "
        + "eval / train | AUC eval per report |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, reports in results.items():
        r = reports[-1]
        trace = ", ".join(f"{x['auc_eval']:.2f}" for x in reports)
        lines.append(
            f"| {name} | {r['g_steps']} | {r['text_std']:.3f} | {100 * r['mu_zero']:.1f} | {100 * r['mu_dead']:.1f} "
            f"| {r['mu_std']:.4f} | {r['logit_text_std_eval']:.4f} / {r['logit_text_std_train']:.4f} | "
            f"{r['auc_eval']:.3f} / {r['auc_train']:.3f} | {trace} |"
        )
    return "\n".join(lines)


def main_with(args: argparse.Namespace) -> None:
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; choose from: {', '.join(VARIANTS)}")
    started = time.perf_counter()
    results = {name: run_variant(name, args) for name in args.variants}
    text = table(results, args, time.perf_counter() - started)
    print(text)
    if args.record:
        record_block(args.block, "StackGAN: what the discriminator sees of the text", text)


if __name__ == "__main__":
    from benchmarks.protocol_script import run_protocol

    run_protocol(sys.modules[__name__])
