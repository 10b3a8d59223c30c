"""StackGAN and StackGAN++ on captioned MNIST stage by stage (the missing-systems brief, 2.5): the numbers of
benchmarks/text2image.py for the last stage, the digit and attribute accuracies at every stage, and StackGAN++'s
scale consistency.

``stackgan`` trains stage I at 16 px for ``--generator_steps`` G updates, saves it, then trains stage II at 32 px on
that frozen stage I for as many updates (the paper's order, Sec. 4), with configs/stackgan/captioned_mnist.yaml's
widths; ``stackgan_no_ca`` the same without conditioning augmentation (the paper's ablation, Sec. 5.2, Table 3:
diversity for one caption and accuracy with and without CA); ``stackgan_port_encoder`` with the port's stage-II
encoder (two halvings of the stage-I image, a 4x4 grid here, instead of the recipe's one). Any row of
text2image.ENTRIES trains as text2image trains it (``stackgan2``: 8/16/32 px jointly, G EMA;
``baseline_one_caption``: the plain baseline given the same one caption per image, the bar both are measured
against).
Every row is then scored on text2image's evaluation set of test images (``EvaluationSet``, ``score_entry``), and
the samples of every stage, drawn from the same latents and texts, are scored for digit and attributes
(``attribute_scores``), with the digit each stage keeps from the stage below (``digit_kept``, against what
independent stages would share); for three or more scales, scale consistency: mean |downsample(x_{k+1}) - x_k| between
adjacent scales, pixels in [-1, 1].

    python benchmarks/quality.py stacked_text2image --root ../shared/data --out data/captioned_mnist \
        --generator_steps 300 --record
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import text2image
from benchmarks.protocol_script import report_protocol, where_it_ran

#: configs/stackgan/captioned_mnist.yaml's widths, D conditioning and conditioning augmentation, the TF original's:
#: D reads the caption embedding (under the PyTorch port's mu the KL term leaves D no text on captioned MNIST,
#: benchmarks/stackgan_conditioning.py) and the CA's activation is leaky (under the port's ReLU half of mu's
#: dimensions are 0 for every caption after 300 steps, stackgan_conditioning's d_reads_text row); stage I at 16 px,
#: stage II at 32 px with configs/stackgan/presets/mnist_stage2.yaml's encoder: one halving of the 16 px stage-I
#: image (an 8x8 grid) where the port's two leave 4x4, too coarse to keep a digit's extent (the
#: stackgan_port_encoder row)
STACKGAN_MNIST = {
    "ngf": 16, "ndf": 16, "condition_dim": 16, "latent_dim": 32, "residual_blocks": 2, "d_condition": "text",
    "ca_activation": "leaky_relu", "encoder_halvings": 1,
}  # fmt: skip
STAGE_ONE_RESOLUTION = 16
#: stackgan rows: name -> arguments over STACKGAN_MNIST (no_ca: the paper's ablation, Sec. 5.2 Table 3;
#: port_encoder: stage II's encoder as the port has it, two halvings)
STACKGAN_ROWS = {
    "stackgan": {},
    "stackgan_no_ca": {"conditioning_augmentation": False},
    "stackgan_port_encoder": {"encoder_halvings": 2},
}


def scale_consistency(stages: list[torch.Tensor]) -> list[float]:
    """Mean |downsample(x_{k+1}) - x_k| for each pair of adjacent scales, smallest pair first."""
    return [
        float((F.interpolate(high, size=low.shape[-1], mode="bilinear", antialias=True) - low).abs().mean())
        for low, high in itertools.pairwise(stages)
    ]


def digit_kept(low: torch.Tensor, high: torch.Tensor) -> tuple[float, float]:
    """(kept, independent) for the digits the classifier reads on two stages of the same samples: the fraction
    whose digit the higher stage keeps, and the fraction two independent stages with these digit frequencies would
    share, sum_d p_low(d) p_high(d): a stage that ignores what the stage below drew keeps about that many."""
    kept = float((low == high).double().mean())
    frequencies = [torch.bincount(x, minlength=10).double() / len(x) for x in (low, high)]
    return kept, float(frequencies[0] @ frequencies[1])


def stage_scores(model, evaluation, classifier, args) -> dict:
    """Digit and attribute accuracies of every stage, the digit each stage keeps from the one below
    (``digit_kept``), and scale consistency, for samples drawn from the latents and texts text2image.score_entry
    draws (its last stage is what score_entry scored)."""
    from zoo.text_to_image import choose_text

    text = choose_text(evaluation.embeddings, model.num_captions, torch.Generator().manual_seed(args.seed + 1))
    chunks = []
    for i, t in enumerate(text.split(500)):
        z = model.sample_latent(len(t), generator=torch.Generator().manual_seed(args.seed + i))
        chunks.append(model.sample_stages(z, t))
    stages = [torch.cat(parts) for parts in zip(*chunks, strict=True)]
    scores = [
        {"px": x.shape[-1], **text2image.attribute_scores(x, evaluation.targets, evaluation.held, classifier)}
        for x in stages
    ]
    digits = [classifier.predict(x) for x in stages]
    return {
        "stages": scores,
        "digit_kept": [digit_kept(low, high) for low, high in itertools.pairwise(digits)],
        "scale_consistency": scale_consistency(stages) if len(stages) > 2 else None,
    }


def train_stackgan(train_data, args, folder: Path, row: str = "stackgan"):
    """Stage I at 16 px, then stage II at 32 px on it, with ``STACKGAN_ROWS[row]``; (the stage-II model,
    seconds)."""
    from datamodules.captioned_mnist import CaptionedMNISTDataModule
    from zoo import get_model

    common = {"text_dim": train_data.text_dim, "text_encoder": train_data.text_encoder, "channels": 1}
    common.update(seed=args.seed, **{**STACKGAN_MNIST, **STACKGAN_ROWS[row]})
    low_data = CaptionedMNISTDataModule(
        root=args.root, out=args.out, limit=args.limit, resolution=STAGE_ONE_RESOLUTION, batch_size=args.batch_size,
        seed=args.seed, text_encoder_steps=args.text_encoder_steps,
    )  # fmt: skip
    stage_one = get_model("stackgan")(resolution=STAGE_ONE_RESOLUTION, **common)
    first = text2image.train(stage_one, low_data, args)
    path = folder / f"{row}-stage1.ckpt"
    stage_one.trainer.save_checkpoint(path)
    model = get_model("stackgan")(
        resolution=text2image.RESOLUTION, stage=2, stage1_resolution=STAGE_ONE_RESOLUTION, stage1_ckpt=str(path),
        **common,
    )  # fmt: skip
    return model, first + text2image.train(model, train_data, args)


def run(args: argparse.Namespace, classifier=None) -> dict:
    import pytorch_lightning as pl

    from metrics.mnist_classifier import load_classifier

    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    unknown = [row for row in args.entries if row not in STACKGAN_ROWS and row not in text2image.ENTRIES]
    if unknown:
        raise SystemExit(
            f"unknown rows {unknown}; choose {', '.join(STACKGAN_ROWS)} or rows of: {', '.join(text2image.ENTRIES)}"
        )
    classifier = classifier or load_classifier(args.root, device=args.device)
    train_data, test_data = text2image.datamodule(args, train=True), text2image.datamodule(args, train=False)
    test_data.attach_text_embeddings()
    evaluation = text2image.EvaluationSet(test_data, args.eval_images, args.seed)
    result = {"entries": {}}
    with tempfile.TemporaryDirectory() as folder:
        for row in args.entries:
            pl.seed_everything(args.seed, verbose=False)
            if row in STACKGAN_ROWS:
                model, train_s = train_stackgan(train_data, args, Path(folder), row)
            else:
                model = text2image.build(row, train_data, args)
                train_s = text2image.train(model, train_data, args, text2image.ENTRIES[row].get("ema_decay"))
            model.to(args.device)
            result["entries"][row] = {
                **text2image.score_entry(model, evaluation, classifier, args),
                **stage_scores(model, evaluation, classifier, args),
                "generator_steps": model.generator_steps,
                "num_captions": model.num_captions,
                "train_s": train_s,
            }
            print(json.dumps({row: result["entries"][row]}), flush=True)
    return result


def title(args: argparse.Namespace) -> str:
    return f"StackGAN and StackGAN++ on captioned MNIST, stage by stage ({args.generator_steps} G steps)"


def table(r: dict, args: argparse.Namespace) -> str:
    protocol = (
        "Protocol: benchmarks/text2image.py's (captioned MNIST with the zoo's char-CNN-RNN embeddings, one sample "
        f"per test image, {args.eval_images} test images; accuracies on seen / held-out combinations), batch "
        f"{args.batch_size}, {where_it_ran(args.device, args.threads)}, one seed. stackgan: stage I at 16 px for "
        f"{args.generator_steps} G steps, "
        f"then stage II at 32 px on it for {args.generator_steps} more, {STACKGAN_MNIST}; stackgan_no_ca: the same "
        "without conditioning augmentation (c = mu, no KL; the paper's Table 3 ablation); stackgan_port_encoder: "
        "stage II's encoder halves the stage-I image twice (the port's, a 4x4 grid) instead of once; stackgan2 rows: "
        f"text2image's (8/16/32 px jointly, {text2image.STACKGAN2_MNIST}, G EMA 0.999 sampled, "
        "stackgan2_no_ema the raw G; stackgan2_ms with MSGAN's term). Every stage's samples come from the same "
        "latents and texts; digit kept: the share of samples whose classified digit a stage keeps from the stage "
        "below; scale consistency: mean |downsample(x_k+1) - x_k| between adjacent scales. "
        f"{text2image.text_inputs(r)}"
    )

    def pair(s, name):
        return f"{100 * s[f'{name}_seen']:.1f} / {100 * s[f'{name}_held_out']:.1f}"

    header = [
        "| row | stage | px | digit % seen / held | thickness % | slant % | size % |",
        "|---|---|---|---|---|---|---|",
    ]
    rows, notes = [], []
    for name, e in r["entries"].items():
        for i, s in enumerate(e["stages"], 1):
            rows.append(
                f"| {name} | {i} | {s['px']} | {pair(s, 'digit')} | {pair(s, 'thickness')} | {pair(s, 'slant')} "
                f"| {pair(s, 'size')} |"
            )
        consistency = e["scale_consistency"]
        notes.append(
            f"- {name}: {e['generator_steps']} G steps (last stage), {e['train_s'] / 60:.1f} min training; "
            f"matching-aware D AUC {e['auc']:.3f}; diversity {e['diversity']:.2f}"
            + (
                "; digit kept from the stage below "
                + ", ".join(
                    f"{100 * kept:.1f}% (independent stages: {100 * chance:.1f}%)" for kept, chance in e["digit_kept"]
                )
                if e["digit_kept"]
                else ""
            )
            + (f"; scale consistency {', '.join(f'{v:.3f}' for v in consistency)}" if consistency else "")
        )
    return "\n".join([protocol, "", *header, *rows, "", *notes])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """text2image's options; the rows default to stackgan and stackgan2."""
    text2image.add_arguments(parser)
    parser.set_defaults(entries=["stackgan", "stackgan2"], block="stacked-text2image")


def main_with(args: argparse.Namespace) -> None:
    report_protocol(sys.modules[__name__], args)


if __name__ == "__main__":
    from benchmarks.protocol_script import run_protocol

    run_protocol(sys.modules[__name__])
