"""MSGAN's claim on MNIST at a CPU budget: does the mode-seeking term make a class-conditional generator more
diverse within each class without losing the class (Mao et al. 2019, Sec. 4.2, Table 1: CIFAR-10 FID 29.65 ->
28.73, NDB 49.60 -> 46.80 with the term)? The missing-systems brief's offline check (8.4).

The msgan entry trains twice on MNIST at 32 px with the same seed, batch and generator steps: with its mode-seeking
term (lambda_ms ``--weight``, 1 in the paper) and without it (lambda_ms 0: the same conditional DCGAN, the same two
fakes per real image). For each class, ``--per_class`` samples of that class are scored:

- accuracy: the fraction the zoo's MNIST classifier (metrics/mnist_classifier.py) reads as the requested class;
- diversity: the mean pairwise distance between the samples of one class, averaged over the classes, in pixels
  (mean |x_i - x_j| over pixels, images in [-1, 1]) and in the classifier's 128 features (Euclidean), the same for
  real test digits as the reference value.

    python benchmarks/quality.py mode_seeking --root ../shared/data --generator_steps 300 --record
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

from benchmarks.conditional import RESOLUTION, conditional_score, train
from benchmarks.protocol_script import add_device_argument, report_protocol, where_it_ran
from benchmarks.text2image import classifier_features, mean_pairwise_distance

NUM_CLASSES = 10


def mean_pairwise_distances(images: torch.Tensor, classifier) -> tuple[float, float]:
    """(mean pixel L1, mean classifier-feature L2) over all pairs of ``images`` (N, 1, H, W) in [-1, 1]."""
    pixel = torch.pdist(images.flatten(1).double(), p=1).mean() / images[0].numel()
    return float(pixel), mean_pairwise_distance(classifier_features(classifier, images))


def class_diversity(sample_class, classifier, per_class: int) -> dict:
    """Accuracy and per-class diversity of ``sample_class(c, n)`` -> (n, 1, H, W) images of class c."""
    right, pixel, feature = 0, [], []
    for c in range(NUM_CLASSES):
        images = sample_class(c, per_class)
        right += int((classifier.predict(images) == c).sum())
        p, f = mean_pairwise_distances(images, classifier)
        pixel.append(p)
        feature.append(f)
    return {
        "class_accuracy": right / (NUM_CLASSES * per_class),
        "pixel_diversity": sum(pixel) / NUM_CLASSES,
        "feature_diversity": sum(feature) / NUM_CLASSES,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default="data", help="folder holding MNIST/raw/ (torchvision's layout)")
    parser.add_argument("--generator_steps", type=int, default=300, help="generator updates per run")
    parser.add_argument("--batch_size", type=int, default=32, help="real images per step (32 in the paper)")
    parser.add_argument("--width", type=int, default=32, help="ngf = ndf (128 in the paper)")
    parser.add_argument("--weight", type=float, default=1.0, help="lambda_ms of the run with the term")
    parser.add_argument("--per_class", type=int, default=100, help="samples scored per class")
    parser.add_argument("--eval_samples", type=int, default=2000, help="samples with uniform labels for accuracy")
    parser.add_argument("--seed", type=int, default=0)
    add_device_argument(parser)
    parser.add_argument("--record", action="store_true", help="write the table into benchmarks/RESULTS.md")
    parser.add_argument("--block", default="msgan-mnist", help="the RESULTS.md block it replaces (one per budget)")


def run(args: argparse.Namespace) -> dict:
    import pytorch_lightning as pl

    from datamodules.base import resize_to_uint8, to_unit_range
    from datamodules.mnist import MNISTDataModule
    from metrics.mnist_classifier import load_classifier, read_mnist
    from zoo import get_model

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    classifier = load_classifier(args.root, device=args.device)
    test_images, test_labels = read_mnist(args.root, train=False)
    test_images = to_unit_range(resize_to_uint8(test_images, RESOLUTION, 255))  # as the datamodule serves them
    real = {c: test_images[test_labels == c][: args.per_class] for c in range(NUM_CLASSES)}
    result = {"real": class_diversity(lambda c, n: real[c][:n], classifier, args.per_class)}
    data = MNISTDataModule(root=args.root, resolution=RESOLUTION, batch_size=args.batch_size, seed=args.seed)
    result["runs"] = {}
    for weight in (args.weight, 0.0):
        pl.seed_everything(args.seed, verbose=False)
        model = get_model("msgan")(
            resolution=RESOLUTION, channels=1, num_classes=NUM_CLASSES, ngf=args.width, ndf=args.width,
            mode_seeking_weight=weight, seed=args.seed,
        )  # fmt: skip
        train_s = train(model, data, args)
        model = model.to(args.device)

        def sample_class(c: int, n: int, model=model) -> torch.Tensor:
            return model.sample(n, torch.full((n,), c, device=model.device), seed=args.seed + c).cpu()

        score = conditional_score(model, classifier, args.eval_samples, seed=args.seed)
        result["runs"][weight] = {
            "accuracy": score.accuracy,
            "classes_hit": score.classes_hit,
            **class_diversity(sample_class, classifier, args.per_class),
            "generator_steps": model.generator_steps,
            "kimg": model.images_seen / 1000,
            "train_s": train_s,
        }
        print(json.dumps({f"lambda_ms={weight}": result["runs"][weight]}), flush=True)
    return result


def title(args: argparse.Namespace) -> str:
    return f"MSGAN on MNIST: class diversity with and without mode seeking ({args.generator_steps} G steps)"


def table(r: dict, args: argparse.Namespace) -> str:
    protocol = (
        f"Protocol: the msgan entry (HelenMao/MSGAN's conditional DCGAN, two latents per real image, Adam with weight "
        f"decay 1e-4) on MNIST at {RESOLUTION} px, ngf = ndf = {args.width}, batch {args.batch_size}, "
        f"{args.generator_steps} generator steps, {where_it_ran(args.device)}, one seed; "
        f"once with lambda_ms = {args.weight} and once "
        f"with 0. Accuracy: {args.eval_samples} samples with uniform labels read by the zoo's MNIST classifier; class "
        f"accuracy and diversity: {args.per_class} samples per class, diversity the mean pairwise distance within a "
        "class averaged over the 10 classes (pixel L1 per pixel in [-1, 1]; Euclidean in the classifier's 128 "
        f"features); the real row is {args.per_class} MNIST test digits per class."
    )
    header = [
        "| run | train min | accuracy % | class accuracy % | classes hit | pixel diversity | feature diversity |",
        "|---|---|---|---|---|---|---|",
    ]
    real = r["real"]
    rows = [
        f"| real test digits | | | {100 * real['class_accuracy']:.1f} | | {real['pixel_diversity']:.3f} | "
        + f"{real['feature_diversity']:.2f} |"
    ]
    rows += [
        f"| msgan lambda_ms {w:g} | {e['train_s'] / 60:.1f} | {100 * e['accuracy']:.1f} "
        f"| {100 * e['class_accuracy']:.1f} | {e['classes_hit']} | {e['pixel_diversity']:.3f} "
        f"| {e['feature_diversity']:.2f} |"
        for w, e in r["runs"].items()
    ]
    return "\n".join([protocol, "", *header, *rows])


def main_with(args: argparse.Namespace) -> None:
    report_protocol(sys.modules[__name__], args)


if __name__ == "__main__":
    from benchmarks.protocol_script import run_protocol

    run_protocol(sys.modules[__name__])
