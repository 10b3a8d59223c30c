"""StackGAN and StackGAN++ on captioned MNIST at a CPU budget, stage by stage (the missing-systems brief, 2.5).

``stackgan`` trains stage I at 16 px for ``--generator_steps`` G updates, saves it, then trains stage II at 32 px
on that frozen stage I for as many updates (the paper's order, Sec. 4). ``stackgan2`` trains its three scales
(8/16/32 px) jointly for ``--generator_steps`` updates with G's weights averaged (decay 0.999, its recipe). Both
use the configs/<entry>/captioned_mnist.yaml widths and the zoo's char-CNN-RNN caption embeddings (trained once
on captioned MNIST's train split and cached, datamodules/text_embeddings.py).

Scores on ``--eval_items`` test images (MNIST's test digits; their (digit, thickness, slant) classes include the
combinations train holds out), one sample per image from one of its captions (the first):

- digit accuracy at every stage/scale: the zoo's MNIST classifier reads the caption's digit;
- attribute accuracy at every stage/scale: thickness and slant measured on the sample with the functions that wrote
  the captions (datamodules/digit_attributes.py) equal the caption's (chance 33%), on seen and held-out classes;
- matching-aware D: the AUC of D(real, its caption) against D(real, a caption of another class);
- diversity for one caption: mean pairwise distance of ``--per_caption`` samples in the classifier's features,
  averaged over 10 captions;
- stackgan2's scale consistency: mean |downsample(x_{k+1}) - x_k| between adjacent scales (pixels in [-1, 1]).

    python benchmarks/quality.py stacked_text2image --root ../shared/data --out data/captioned_mnist \
        --generator_steps 300 --record
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.mode_seeking import mean_pairwise_distances
from benchmarks.results import record_block
from benchmarks.stacked_mnist import machine

ENTRIES = ("stackgan", "stackgan2")
#: the widths of configs/<entry>/captioned_mnist.yaml
WIDTHS = {
    "stackgan": {"ngf": 16, "ndf": 16, "condition_dim": 16, "latent_dim": 32, "residual_blocks": 2},
    "stackgan2": {"ngf": 32, "ndf": 16, "condition_dim": 16, "latent_dim": 32, "residual_blocks": 1, "scales": 3},
}


def class_attributes(classes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(digit, thickness level, slant level) of captioned MNIST class ids (datamodules/captioned_mnist.class_id)."""
    index = classes - 1
    return index // 9, (index % 9) // 3, index % 3


def auc(positive: torch.Tensor, negative: torch.Tensor) -> float:
    """P(positive score > negative score) + P(equal) / 2 over all pairs (the Mann-Whitney form of the ROC AUC)."""
    greater = (positive[:, None] > negative[None, :]).double().mean()
    equal = (positive[:, None] == negative[None, :]).double().mean()
    return float(greater + equal / 2)


def scale_consistency(stages: list[torch.Tensor]) -> list[float]:
    """Mean |downsample(x_{k+1}) - x_k| for each pair of adjacent scales, smallest pair first."""
    return [
        float((F.interpolate(high, size=low.shape[-1], mode="bilinear", antialias=True) - low).abs().mean())
        for low, high in itertools.pairwise(stages)
    ]


def evaluate(model, test, classifier, held_out: set[int], args) -> dict:
    """Every score of the module docstring for a trained ``model`` on the ``test`` split."""
    from datamodules.base import to_unit_range
    from datamodules.digit_attributes import attribute_levels

    n = min(args.eval_items, len(test))
    images, embeddings, _, classes = test.__getitems__(list(range(n)))
    text = embeddings[:, 0].float()
    digit, thick, slant = class_attributes(classes)
    z = model.sample_latent(n, generator=torch.Generator().manual_seed(args.seed)).cpu()
    stages = model.sample_stages(z, text)
    seen = torch.tensor([int(c) not in held_out for c in classes])
    out = {"stages": []}
    for x in stages:
        levels = attribute_levels(x)
        right_digit = classifier.predict(x) == digit
        right_attributes = ((levels[:, 0] == thick).double() + (levels[:, 1] == slant).double()) / 2
        out["stages"].append({
            "px": x.shape[-1],
            "digit_seen": float(right_digit[seen].double().mean()),
            "digit_held_out": float(right_digit[~seen].double().mean()),
            "attributes_seen": float(right_attributes[seen].mean()),
            "attributes_held_out": float(right_attributes[~seen].mean()),
        })  # fmt: skip
    real = to_unit_range(images)
    wrong = torch.roll(torch.arange(n), 1)
    other = classes[wrong] != classes
    out["auc"] = auc(model.text_scores(real, text), model.text_scores(real[other], text[wrong][other]))
    per_caption = []
    for i in range(10):
        repeated = text[i : i + 1].expand(args.per_caption, -1)
        zs = model.sample_latent(args.per_caption, generator=torch.Generator().manual_seed(args.seed + i)).cpu()
        per_caption.append(mean_pairwise_distances(model.sample_stages(zs, repeated)[-1], classifier)[1])
    out["diversity"] = sum(per_caption) / len(per_caption)
    if len(stages) > 2:
        out["scale_consistency"] = scale_consistency(stages)
    return out


def captioned_data(args, resolution: int):
    from datamodules.captioned_mnist import CaptionedMNISTDataModule

    data = CaptionedMNISTDataModule(
        root=args.root, out=args.out, limit=args.limit, resolution=resolution, batch_size=args.batch_size,
        seed=args.seed, text_encoder_steps=args.text_encoder_steps,
    )  # fmt: skip
    data.prepare_data()
    data.setup()
    return data


def test_split(data):
    """The test split with the zoo encoder's cached embeddings (built with the train split's)."""
    from datamodules.text_embeddings import IndexedEmbeddings

    data.attach_text_embeddings()
    test = data.split_dataset("test")
    test.embeddings = IndexedEmbeddings(data.text_cache["table"], data.text_cache["index"]["test"])
    return test


def fit(model, data, args, callbacks=()):
    """Trains ``model`` for ``--generator_steps`` G updates; (seconds, trainer)."""
    import pytorch_lightning as pl

    trainer = pl.Trainer(
        accelerator=args.device, devices=1, max_steps=2 * args.generator_steps, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        use_distributed_sampler=False, callbacks=list(callbacks),
    )  # fmt: skip
    start = time.perf_counter()
    trainer.fit(model, data)
    return time.perf_counter() - start, trainer


def train(entry: str, args, folder: Path):
    """The trained model of ``entry`` and its training seconds."""
    import pytorch_lightning as pl

    from callbacks import EMA
    from zoo import get_model

    cls = get_model(entry)
    pl.seed_everything(args.seed, verbose=False)
    if entry == "stackgan2":
        data = captioned_data(args, 32)
        model = cls(text_dim=data.text_dim, text_encoder=data.text_encoder, resolution=32, channels=1,
                    seed=args.seed, **WIDTHS[entry])  # fmt: skip
        seconds, _ = fit(model, data, args, [EMA(decay=0.999)])
        return model, seconds, data
    data = captioned_data(args, 16)
    stage_one = cls(text_dim=data.text_dim, text_encoder=data.text_encoder, resolution=16, channels=1,
                    seed=args.seed, **WIDTHS[entry])  # fmt: skip
    first, trainer = fit(stage_one, data, args)
    path = folder / "stage1.ckpt"
    trainer.save_checkpoint(path)
    data = captioned_data(args, 32)
    model = cls(text_dim=data.text_dim, text_encoder=data.text_encoder, resolution=32, channels=1, stage=2,
                stage1_resolution=16, stage1_ckpt=str(path), seed=args.seed, **WIDTHS[entry])  # fmt: skip
    second, _ = fit(model, data, args)
    return model, first + second, data


def run(args) -> dict:
    from datamodules.captioned_mnist import held_out_classes
    from metrics.mnist_classifier import load_classifier

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    started = time.perf_counter()
    classifier = load_classifier(args.root, device="cpu")
    result = {"machine": machine(args.device), "entries": {}}
    with tempfile.TemporaryDirectory() as folder:
        for entry in args.entries:
            model, seconds, data = train(entry, args, Path(folder))
            scores = evaluate(model.cpu().eval(), test_split(data), classifier, held_out_classes(0), args)
            result["entries"][entry] = {**scores, "train_s": seconds, "generator_steps": model.generator_steps}
            print(json.dumps({entry: result["entries"][entry]}), flush=True)
    result["total_s"] = time.perf_counter() - started
    if args.record:
        title = f"StackGAN and StackGAN++ on captioned MNIST, stage by stage ({args.generator_steps} G steps)"
        record_block(args.block, title, table(result, args))
    return result


def table(r: dict, args) -> str:
    command = (
        f"python benchmarks/quality.py stacked_text2image --root {args.root} --out {args.out} "
        + (f"--limit {args.limit} " if args.limit else "")
        + f"--text_encoder_steps {args.text_encoder_steps} --entries "
        f"{' '.join(args.entries)} --generator_steps {args.generator_steps} --batch_size {args.batch_size} "
        f"--eval_items {args.eval_items} --per_caption {args.per_caption} --seed {args.seed} --block {args.block} "
        "--record"
    )
    digits = f"the first {args.limit} digits of each MNIST split" if args.limit else "all 70k digits"
    protocol = (
        f"Protocol: captioned MNIST ({digits}, data_seed 0), the zoo's char-CNN-RNN embeddings, batch "
        f"{args.batch_size}, one thread, one seed; stackgan: stage I at 16 px for {args.generator_steps} G steps, then "
        f"stage II at 32 px on it for {args.generator_steps} more; stackgan2: 8/16/32 px jointly for "
        f"{args.generator_steps} G steps, G EMA 0.999 (sampled). Widths of configs/<entry>/captioned_mnist.yaml. "
        f"Scores on the first {args.eval_items} test digits, one sample each from its first caption: digit accuracy "
        "(the zoo's MNIST classifier) and attribute accuracy (thickness and slant measured on the sample, the mean "
        "of the two; chance 33%) on seen and held-out (digit, thickness, slant) classes; AUC of D(real, its caption) "
        f"vs D(real, another class's caption); diversity: mean pairwise classifier-feature distance of "
        f"{args.per_caption} samples per caption over 10 captions; scale consistency: mean |downsample(x_k+1) - x_k|."
    )
    header = [
        "| entry | stage | px | digit % seen | digit % held-out | attributes % seen | attributes % held-out |",
        "|---|---|---|---|---|---|---|",
    ]
    rows, notes = [], []
    for entry, e in r["entries"].items():
        for i, s in enumerate(e["stages"], 1):
            rows.append(
                f"| {entry} | {i} | {s['px']} | {100 * s['digit_seen']:.1f} | {100 * s['digit_held_out']:.1f} "
                f"| {100 * s['attributes_seen']:.1f} | {100 * s['attributes_held_out']:.1f} |"
            )
        consistency = e.get("scale_consistency")
        notes.append(
            f"- {entry}: {e['generator_steps']} G steps, {e['train_s'] / 60:.1f} min training; matching-aware D AUC "
            f"{e['auc']:.3f}; diversity {e['diversity']:.2f}"
            + (f"; scale consistency {', '.join(f'{v:.3f}' for v in consistency)}" if consistency else "")
        )
    timing = f"`{command}` on {r['machine']}: {r['total_s'] / 60:.1f} min in all."
    return "\n".join([timing, "", protocol, "", *header, *rows, "", *notes])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default="data", help="folder holding MNIST/raw/ (torchvision's layout)")
    parser.add_argument("--out", default="data/captioned_mnist", help="where captioned MNIST is built (once)")
    parser.add_argument("--limit", type=int, default=None, help="digits taken from each MNIST split (None: all)")
    parser.add_argument("--text_encoder_steps", type=int, default=1500, help="the zoo char-CNN-RNN's training steps")
    parser.add_argument("--entries", nargs="+", default=list(ENTRIES), choices=ENTRIES)
    parser.add_argument("--generator_steps", type=int, default=300, help="G updates per stage (stackgan) or run")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--eval_items", type=int, default=2000, help="test digits scored")
    parser.add_argument("--per_caption", type=int, default=20, help="samples per caption for the diversity")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--record", action="store_true", help="write the table into benchmarks/RESULTS.md")
    parser.add_argument("--block", default="stacked-text2image", help="the RESULTS.md block it replaces")


def main_with(args: argparse.Namespace) -> None:
    print(table(run(args), args))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    main_with(parser.parse_args())


if __name__ == "__main__":
    main()
