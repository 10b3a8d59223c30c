"""Text-to-image quality on captioned MNIST at a CPU budget: do samples show what their caption says?

Each entry trains on captioned MNIST at 32 px (datamodules/captioned_mnist.py: real MNIST digits, 10 captions each
naming the digit and its measured thickness, slant and size; one (thickness, slant) combination per digit held out
of training) with the zoo's char-CNN-RNN embeddings (datamodules/text_embeddings.py, built by ``python cli.py
prepare --data captioned_mnist``), for ``--generator_steps`` generator updates at batch 64 with its paper's game,
G and D widths ``--width``. Then, for ``--eval_images`` images of the test split (every combination, the held-out
ones included), one sample per image from that image's text input (the entry's rule: the mean of 4 of its caption
embeddings for gan_t2i) is scored:

- digit accuracy: the zoo's MNIST classifier (metrics/mnist_classifier.py) reads the caption's digit (target >= 90%);
- attribute accuracy: thickness, slant and size measured on the sample with the functions that wrote the captions
  (datamodules/digit_attributes.py) equal the caption's (chance 33%); split into seen and held-out combinations;
- matching-aware D: the AUC of D(real image, its text) against D(real image, the text of an image of another class)
  (0.5: D ignores the text);
- diversity: the mean pairwise distance, in the classifier's 128-d feature space, of ``--diversity_samples``
  samples of one caption, averaged over one caption per digit; the same for real test digits of that caption's
  class is the reference.

The baseline is Reed et al.'s plain text-conditional GAN (gan_t2i ``variant: gan``): the same networks and
embeddings without the matching-aware term or interpolated texts. ``baseline_one_caption`` is that baseline given
one random caption per image instead of the mean of 4, the text input stackgan and stackgan2 take: the baseline they
are measured against (benchmarks/stacked_text2image.py). ``ENTRIES`` maps a row name to a registered model
and its arguments; other text-to-image entries add their rows there.

    python benchmarks/quality.py text2image --root ../shared/data --out data/captioned_mnist --generator_steps 300
    python benchmarks/text2image.py --root ../shared/data --entries gan_t2i baseline --generator_steps 2000 \
        --width 16 --block text2image-mnist-2000 --record

gan_t2i with its paper's game and optimizer reaches the digit target at 2000 generator steps at width 16 (1000 steps
are not enough; RESULTS.md, blocks text2image-mnist-*).

``add_arguments`` and ``main_with`` let ``benchmarks/quality.py text2image`` run it; ``--record`` writes the table
into benchmarks/RESULTS.md (block ``--block``, text2image-mnist by default).
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

from benchmarks.protocol_script import add_device_argument, report_protocol
from benchmarks.training import timed_fit
from datamodules.digit_attributes import attribute_levels
from datamodules.text_embeddings import image_feature_extractor

RESOLUTION = 32
TARGET_ACCURACY = 0.9
#: configs/stackgan2/captioned_mnist.yaml's: the Ds read the caption embedding (d_condition text, the StackGAN-v1
#: TF original's; under v2's mu the KL term leaves them no text here, benchmarks/stackgan_conditioning.py)
STACKGAN2_MNIST = {
    "scales": 3, "ngf": 32, "ndf": 16, "condition_dim": 16, "latent_dim": 32, "residual_blocks": 1,
    "d_condition": "text",
}  # fmt: skip
#: row name -> the registered model, its arguments and its G EMA decay per step, if any (other text-to-image
#: entries add theirs)
ENTRIES: dict[str, dict] = {
    "gan_t2i": {"model": "gan_t2i", "args": {"variant": "int_cls"}},
    "gan_t2i_cls": {"model": "gan_t2i", "args": {"variant": "cls"}},
    "gan_t2i_int": {"model": "gan_t2i", "args": {"variant": "int"}},
    "baseline": {"model": "gan_t2i", "args": {"variant": "gan"}},
    # the same baseline given one random caption per image, the text input of stackgan and stackgan2: the baseline
    # they are measured against (the mean of 4 captions names every attribute more often than one caption does)
    "baseline_one_caption": {"model": "gan_t2i", "args": {"variant": "gan", "num_captions": 1}},
    # StackGAN++ at 8/16/32 px with configs/stackgan2/captioned_mnist.yaml's widths and G EMA; "_ms": MSGAN's term
    "stackgan2": {"model": "stackgan2", "args": STACKGAN2_MNIST, "ema_decay": 0.999},
    "stackgan2_ms": {"model": "stackgan2", "args": {**STACKGAN2_MNIST, "mode_seeking_weight": 1.0}, "ema_decay": 0.999},
    # the same G sampled without the average: at 0.999 per step over a budget of ~1000 steps the average still holds
    # 0.999^1000 = 37% of the initial weights (StackGAN-v2 trains ~100k steps)
    "stackgan2_no_ema": {"model": "stackgan2", "args": STACKGAN2_MNIST},
}
DEFAULT_ENTRIES = ["gan_t2i", "baseline"]
#: (generator, discriminator) width arguments ``--width`` sets, and the text-feature size ``--text_features`` sets
WIDTH_ARGUMENTS = ("ngf", "ndf")
TEXT_FEATURE_ARGUMENT = "nt"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default="data", help="folder holding MNIST/raw/ (torchvision's layout)")
    parser.add_argument("--out", default="data/captioned_mnist", help="where captioned MNIST is (or is built)")
    parser.add_argument("--limit", type=int, default=None, help="MNIST images per split in captioned MNIST (all)")
    parser.add_argument("--text_encoder_steps", type=int, default=1500, help="the zoo char-CNN-RNN's training steps")
    parser.add_argument("--entries", nargs="+", default=DEFAULT_ENTRIES, help=f"rows of: {', '.join(ENTRIES)}")
    parser.add_argument("--generator_steps", type=int, default=300, help="generator updates per entry")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--width", type=int, default=32, help="G and D width (ngf = ndf)")
    parser.add_argument("--text_features", type=int, default=32, help="projected text features (gan_t2i's nt)")
    parser.add_argument(
        "--model_args", type=json.loads, default={},
        help='JSON of extra constructor arguments per row, e.g. \'{"gan_t2i": {"num_captions": 1}}\'',
    )  # fmt: skip
    parser.add_argument("--eval_images", type=int, default=2000, help="test images whose texts are sampled")
    parser.add_argument("--diversity_samples", type=int, default=64, help="samples per caption for diversity")
    parser.add_argument("--seed", type=int, default=0)
    add_device_argument(parser)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (measurements: 1)")
    parser.add_argument("--record", action="store_true", help="write the table into benchmarks/RESULTS.md")
    parser.add_argument("--block", default="text2image-mnist", help="the RESULTS.md block it replaces (one per budget)")


# --------------------------------------------------------------------------------------------- scores


def auc(positive: torch.Tensor, negative: torch.Tensor) -> float:
    """P(a positive scores above a negative), ties counted half (the area under the ROC curve)."""
    diff = positive[:, None] - negative[None, :]
    return float((diff > 0).double().mean() + 0.5 * (diff == 0).double().mean())


def mean_pairwise_distance(features: torch.Tensor) -> float:
    return float(torch.pdist(features.double()).mean())


def caption_targets(classes: torch.Tensor, real: torch.Tensor) -> dict[str, torch.Tensor]:
    """What each caption says: the digit, thickness and slant of its class (``captioned_mnist.class_id``) and the
    size level measured on its image."""
    index = classes - 1
    return {
        "digit": index // 9,
        "thickness": (index % 9) // 3,
        "slant": index % 3,
        "size": attribute_levels(real)[:, 2],
    }


def attribute_scores(images: torch.Tensor, targets: dict, held: torch.Tensor, classifier) -> dict[str, float]:
    """Digit and attribute accuracies of ``images`` against ``targets``, on seen and held-out combinations."""
    measured = {"digit": classifier.predict(images)}
    levels = attribute_levels(images)
    measured.update({"thickness": levels[:, 0], "slant": levels[:, 1], "size": levels[:, 2]})
    scores = {}
    for name, value in measured.items():
        right = (value == targets[name]).double()
        scores[f"{name}_seen"] = float(right[~held].mean()) if (~held).any() else float("nan")
        scores[f"{name}_held_out"] = float(right[held].mean()) if held.any() else float("nan")
    return scores


class EvaluationSet:
    """``n`` test images of captioned MNIST (a seeded draw) with their captions' embeddings and targets."""

    def __init__(self, data, n: int, seed: int):
        from datamodules.captioned_mnist import held_out_classes

        dataset = data.dataset
        rng = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(dataset), generator=rng)[:n].tolist()
        items = [dataset[i] for i in order]
        self.real = torch.stack([item[0] for item in items])  # uint8
        self.embeddings = torch.stack([item[1] for item in items]).float()  # (n, K, D)
        self.classes = torch.stack([item[3] for item in items])
        self.targets = caption_targets(self.classes, self.real)
        held = torch.tensor(sorted(held_out_classes(data.data_seed)))
        self.held = torch.isin(self.classes, held)


def score_entry(model, evaluation: EvaluationSet, classifier, args) -> dict:
    """Every number of one trained entry on ``evaluation``."""
    from datamodules.base import to_unit_range
    from zoo.text_to_image import choose_text, wrong_partners

    rng = torch.Generator().manual_seed(args.seed + 1)
    text = choose_text(evaluation.embeddings, model.num_captions, rng)
    samples = torch.cat([model.sample_text(t, 1, seed=args.seed + i) for i, t in enumerate(text.split(500))])
    scores = attribute_scores(samples, evaluation.targets, evaluation.held, classifier)
    real = to_unit_range(evaluation.real)
    wrong, _ = wrong_partners(evaluation.classes, rng)
    right_scores = torch.cat([model.text_scores(x, t) for x, t in zip(real.split(500), text.split(500), strict=True)])
    wrong_text = text[wrong]
    wrong_scores = torch.cat(
        [model.text_scores(x, t) for x, t in zip(real.split(500), wrong_text.split(500), strict=True)]
    )
    scores["auc"] = auc(right_scores, wrong_scores)
    distances = []
    for digit in range(10):
        first = int((evaluation.targets["digit"] == digit).nonzero()[0])
        caption = evaluation.embeddings[first, :1]  # one caption
        images = model.sample_text(caption, args.diversity_samples, seed=args.seed + 100 + digit)
        distances.append(mean_pairwise_distance(classifier_features(classifier, images)))
    scores["diversity"] = sum(distances) / len(distances)
    return scores


@torch.no_grad()
def classifier_features(classifier, images: torch.Tensor) -> torch.Tensor:
    was_training = classifier.training
    classifier.eval()
    features = classifier.features(images)
    classifier.train(was_training)
    return features


def encoder_probe(evaluation: EvaluationSet, image_features: torch.Tensor) -> dict[str, float]:
    """How much of each caption fact the text embeddings carry: every eval image gets the class whose captions'
    mean embedding is most compatible with its ``image_features`` (N, D), the features the encoder was trained
    against (DS-SJE zero-shot classification, Reed et al. 2016 CVPR Eq. 1); the fraction whose predicted class has
    the right class, digit, thickness and slant."""
    labels, inverse = evaluation.classes.unique(return_inverse=True)
    per_image = evaluation.embeddings.mean(1)
    sums = torch.zeros(len(labels), per_image.shape[1]).index_add_(0, inverse, per_image)
    class_text = sums / torch.bincount(inverse, minlength=len(labels))[:, None]
    predicted = labels[(image_features.float() @ class_text.T).argmax(1)]
    truth, guess = caption_targets(evaluation.classes, evaluation.real), caption_targets(predicted, evaluation.real)
    probe = {"class": float((predicted == evaluation.classes).double().mean())}
    probe.update({k: float((truth[k] == guess[k]).double().mean()) for k in ("digit", "thickness", "slant")})
    return probe


def real_reference(evaluation: EvaluationSet, classifier, args) -> dict:
    """The numbers real test digits at 32 px get: the ceiling of each column."""
    real = evaluation.real  # uint8 at 32 px, as the datamodule resized them
    scores = attribute_scores(real, evaluation.targets, evaluation.held, classifier)
    distances = []
    for digit in range(10):
        first = int((evaluation.targets["digit"] == digit).nonzero()[0])
        same = (evaluation.classes == evaluation.classes[first]).nonzero().flatten()[: args.diversity_samples]
        distances.append(mean_pairwise_distance(classifier_features(classifier, real[same])))
    scores["diversity"] = sum(distances) / len(distances)
    return scores


# ------------------------------------------------------------------------------------------ training


def build(row: str, data, args: argparse.Namespace):
    """Row ``row`` of ``ENTRIES`` for 32 px captioned MNIST, widths from the flags, plus ``--model_args``."""
    from zoo import get_model
    from zoo.registry import init_parameters

    spec = ENTRIES[row]
    cls = get_model(spec["model"])
    params = init_parameters(cls)
    kwargs = {
        "resolution": RESOLUTION, "channels": 1, "text_dim": data.text_dim, "text_encoder": data.text_encoder,
        "seed": args.seed,
    }  # fmt: skip
    kwargs.update({name: args.width for name in WIDTH_ARGUMENTS if name in params})
    if TEXT_FEATURE_ARGUMENT in params:
        kwargs[TEXT_FEATURE_ARGUMENT] = args.text_features
    return cls(**{**kwargs, **spec.get("args", {}), **args.model_args.get(row, {})})


def train(model, data, args: argparse.Namespace, ema_decay: float | None = None) -> float:
    """Trains ``model`` for ``args.generator_steps`` generator updates (averaging G's weights with ``ema_decay`` per
    step when given); returns the seconds it took."""
    from callbacks import EMA

    averaging = [EMA(decay=ema_decay)] if ema_decay else []
    return timed_fit(model, data, args.device, averaging, generator_steps=args.generator_steps)


def datamodule(args: argparse.Namespace, train: bool):
    from datamodules.captioned_mnist import CaptionedMNISTDataModule

    data = CaptionedMNISTDataModule(
        root=args.root, out=args.out, limit=args.limit, resolution=RESOLUTION, batch_size=args.batch_size,
        seed=args.seed, train=train, text_encoder_steps=args.text_encoder_steps,
    )  # fmt: skip
    data.setup()
    return data


def run(args: argparse.Namespace, classifier=None) -> dict:
    """Trains and scores every row (with ``classifier``, or the zoo's MNIST classifier); returns every number."""
    import pytorch_lightning as pl

    from metrics.mnist_classifier import load_classifier

    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    unknown = [row for row in args.entries if row not in ENTRIES]
    if unknown:
        raise SystemExit(f"unknown rows {unknown}; choose from: {', '.join(ENTRIES)}")
    classifier = classifier or load_classifier(args.root, device=args.device)
    train_data, test_data = datamodule(args, train=True), datamodule(args, train=False)
    test_data.attach_text_embeddings()
    evaluation = EvaluationSet(test_data, args.eval_images, args.seed)
    feature_name = test_data.text_cache["settings"]["image_features"]
    features = image_feature_extractor(feature_name, args.root)
    result = {
        "image_features": feature_name,
        "encoder_zero_shot": test_data.text_cache["scores"].get("test"),
        "encoder_probe": encoder_probe(evaluation, features(evaluation.real)),
        "eval_images": len(evaluation.classes),
        "held_out_images": int(evaluation.held.sum()),
        "real": real_reference(evaluation, classifier, args),
        "entries": {},
    }
    for row in args.entries:
        pl.seed_everything(args.seed, verbose=False)
        model = build(row, train_data, args)
        train_s = train(model, train_data, args, ENTRIES[row].get("ema_decay"))
        model.to(args.device)
        result["entries"][row] = {
            **score_entry(model, evaluation, classifier, args),
            "generator_steps": model.generator_steps,
            "num_captions": model.num_captions,
            "kimg": model.images_seen / 1000,
            "train_s": train_s,
        }
        print(json.dumps({row: result["entries"][row]}), flush=True)
    return result


def title(args: argparse.Namespace) -> str:
    return f"Text to image on captioned MNIST ({args.generator_steps} G steps)"


def table(r: dict, args: argparse.Namespace) -> str:
    zero_shot = r["encoder_zero_shot"]
    stacked = [row for row in args.entries if ENTRIES[row]["model"] == "stackgan2"]
    stacked_note = (
        f" Rows {', '.join(stacked)}: StackGAN++ at 8/16/32 px with {STACKGAN2_MNIST} (not --width), G EMA 0.999 "
        "sampled (stackgan2_no_ema: the raw G); stackgan2_ms adds MSGAN's mode-seeking term (lambda 1, two latents "
        "per caption)."
        if stacked
        else ""
    )
    protocol = (
        f"Protocol: each row trains on captioned MNIST at {RESOLUTION} px with the zoo's char-CNN-RNN embeddings "
        f"(zero-shot class accuracy of the embedding on the test split, Reed et al. 2016 CVPR Eq. 1: "
        f"{100 * zero_shot:.1f}% over 90 classes), G and D widths {args.width}, text features {args.text_features}, "
        f"batch {args.batch_size}, for {args.generator_steps} generator steps; baseline: gan_t2i variant gan (no "
        f"matching-aware term, no interpolation). Then one sample per test image ({r['eval_images']} images, "
        f"{r['held_out_images']} of held-out combinations) from its text input is read by the zoo's MNIST "
        f"classifier (digit, target >= {100 * TARGET_ACCURACY:.0f}%) and measured for thickness, slant and size by "
        "the functions that wrote the captions (chance 33%), on seen / held-out combinations. AUC: D(real, its "
        "text) vs D(real, a text of another class). Diversity: mean pairwise distance of "
        f"{args.diversity_samples} samples of one caption in the classifier's feature space, mean over one caption "
        f"per digit (real row: real test digits of that caption's class). {text_inputs(r)} One seed.{stacked_note}"
        if zero_shot is not None
        else "Protocol: see benchmarks/text2image.py."
    )
    probe = r["encoder_probe"]
    probe_line = (
        f"Text embedding, zero-shot on the {r['eval_images']} eval images (class / digit / thickness / slant of the "
        f"class predicted from the image features the encoder was trained against, {r['image_features']}; chance "
        f"1.1 / 10 / 33 / 33%): {100 * probe['class']:.1f} / "
        f"{100 * probe['digit']:.1f} / {100 * probe['thickness']:.1f} / {100 * probe['slant']:.1f}%."
    )
    header = [
        "| row | G steps | train min | digit % seen / held | thickness % | slant % | size % | D AUC | diversity |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def pair(e, name):
        return f"{100 * e[f'{name}_seen']:.1f} / {100 * e[f'{name}_held_out']:.1f}"

    def row_line(name, e, steps="", minutes="", auc_value="-"):
        return (
            f"| {name} | {steps} | {minutes} | {pair(e, 'digit')} | {pair(e, 'thickness')} | {pair(e, 'slant')} | "
            f"{pair(e, 'size')} | {auc_value} | {e['diversity']:.2f} |"
        )

    rows = [row_line("real test digits", r["real"])]
    for name, e in r["entries"].items():
        rows.append(row_line(name, e, e["generator_steps"], f"{e['train_s'] / 60:.1f}", f"{e['auc']:.3f}"))
    return "\n".join([protocol, "", probe_line, "", *header, *rows])


def text_inputs(r: dict) -> str:
    """The protocol's sentence on each row's text input: the mean of n of the image's caption embeddings, or one."""
    by_count: dict[int, list[str]] = {}
    for name, e in r["entries"].items():
        by_count.setdefault(e["num_captions"], []).append(name)
    parts = [
        f"{'one random caption' if n == 1 else f'the mean of {n} random captions'} ({', '.join(names)})"
        for n, names in sorted(by_count.items())
    ]
    return f"Text input per image, in training and sampling: {'; '.join(parts)}."


def main_with(args: argparse.Namespace) -> None:
    report_protocol(sys.modules[__name__], args)


if __name__ == "__main__":
    from benchmarks.protocol_script import run_protocol

    run_protocol(sys.modules[__name__])
