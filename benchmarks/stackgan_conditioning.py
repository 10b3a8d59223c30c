"""Diagnostic: does StackGAN's discriminator see the text? (issue 21: D AUC exactly 0.500 on captioned MNIST.)

Trains ``stackgan`` stage I (16 px) or ``stackgan2`` (8/16/32 px) on captioned MNIST with
benchmarks/stacked_text2image.py's widths and, every ``--every`` generator steps, prints one JSON line about the
conditioning augmentation's mean mu (Zhang et al. 2017, Sec. 3.1) for ``--probe`` fixed training captions, and about
D's conditional logit:

- ``text_std``: the per-dimension spread of the caption embeddings themselves (mean over dimensions of the std over
  captions);
- ``mu_zero``: the fraction of mu's entries that are exactly 0; ``mu_dead``: the fraction of mu's dimensions that
  are 0 for every caption (a ReLU unit that died); ``mu_std``: mu's spread across captions, as ``text_std``;
- ``logit_text_std``: for each of the probe images, the std of D's conditional logit over the probe captions (0:
  D ignores the text), averaged over images, with D in eval mode (what the AUC uses) and in train mode (batch
  statistics, what training sees; the running statistics are restored afterwards); ``logit_image_std``: the same
  over images for a fixed caption, for scale;
- ``auc``: benchmarks/text2image.py's matching-aware AUC on the probe set: D(image, its caption) against
  D(image, the caption of a probe image of another class).

    python benchmarks/stackgan_conditioning.py --root ../shared/data --out data/captioned_mnist --model stackgan \
        --generator_steps 300 --every 50
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import stacked_text2image, text2image


def add_arguments(parser: argparse.ArgumentParser) -> None:
    text2image.add_arguments(parser)
    parser.add_argument("--model", choices=("stackgan", "stackgan2"), default="stackgan")
    parser.add_argument("--every", type=int, default=50, help="generator steps between reports")
    parser.add_argument("--probe", type=int, default=128, help="training images whose captions are probed")
    parser.add_argument("--text_scale", type=float, default=1.0, help="multiply every caption embedding by this")
    parser.set_defaults(generator_steps=300)


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
def probe(model, images: torch.Tensor, text: torch.Tensor, classes: torch.Tensor, text_std: float) -> dict:
    """The numbers of the module docstring for the probe set."""
    from zoo.text_to_image import wrong_partners

    mu = model.generator.conditioning(text.to(model.device))[1].cpu()
    report = {
        "g_steps": model.generator_steps,
        "text_std": text_std,
        "mu_zero": float((mu == 0).double().mean()),
        "mu_dead": float((mu == 0).all(0).double().mean()),
        "mu_std": float(mu.std(0).mean()),
        "mu_abs": float(mu.abs().mean()),
    }
    for mode, train_mode in (("eval", False), ("train", True)):
        logits = logit_matrix(model, images.to(model.device), text.to(model.device), train_mode).cpu()
        report[f"logit_text_std_{mode}"] = float(logits.std(1).mean())
        report[f"logit_image_std_{mode}"] = float(logits.std(0).mean())
        wrong, _ = wrong_partners(classes, torch.Generator().manual_seed(0))
        index = torch.arange(len(images))
        report[f"auc_{mode}"] = text2image.auc(logits[index, index], logits[index, wrong])
    return report


def reporter(images: torch.Tensor, text: torch.Tensor, classes: torch.Tensor, every: int):
    """A callback printing ``probe`` every ``every`` generator steps (and before the first)."""
    import pytorch_lightning as pl

    from datamodules.base import to_unit_range

    images = to_unit_range(images)
    text_std = float(text.std(0).mean())

    class Report(pl.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if pl_module.generator_steps == 0 and batch_idx == 0:
                print(json.dumps(probe(pl_module, images, text, classes, text_std)), flush=True)

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if pl_module.generator_steps % every == 0:
                print(json.dumps(probe(pl_module, images, text, classes, text_std)), flush=True)

    return Report()


def main_with(args: argparse.Namespace) -> None:
    import pytorch_lightning as pl

    from datamodules.captioned_mnist import CaptionedMNISTDataModule
    from zoo import get_model

    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    pl.seed_everything(args.seed, verbose=False)
    resolution = stacked_text2image.STAGE_ONE_RESOLUTION if args.model == "stackgan" else text2image.RESOLUTION
    data = CaptionedMNISTDataModule(
        root=args.root, out=args.out, limit=args.limit, resolution=resolution, batch_size=args.batch_size,
        seed=args.seed, text_encoder_steps=args.text_encoder_steps,
    )  # fmt: skip
    data.setup()
    data.attach_text_embeddings()
    data.dataset.embeddings.table *= args.text_scale
    items = [data.dataset[i] for i in range(args.probe)]
    images = torch.stack([item[0] for item in items])
    text = torch.stack([item[1][0] for item in items]).float()  # each image's first caption
    classes = torch.stack([item[3] for item in items])
    common = {"text_dim": data.text_dim, "text_encoder": data.text_encoder, "channels": 1, "seed": args.seed}
    widths = stacked_text2image.STACKGAN_MNIST if args.model == "stackgan" else text2image.STACKGAN2_MNIST
    extra = args.model_args.get(args.model, {})
    model = get_model(args.model)(resolution=resolution, **{**common, **widths, **extra})
    trainer = pl.Trainer(
        accelerator=args.device, devices=1, max_epochs=-1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, use_distributed_sampler=False,
        callbacks=[text2image.stop_after(args.generator_steps), reporter(images, text, classes, args.every)],
    )  # fmt: skip
    trainer.fit(model, data)


if __name__ == "__main__":
    from benchmarks.protocol_script import run_protocol

    run_protocol(sys.modules[__name__])
