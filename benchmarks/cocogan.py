"""COCO-GAN on MNIST (32 px images, 16 px macro patches, 8 px micro patches): does generation by parts give
coherent images (Lin et al. 2019, Sec. 4: spatial consistency, no seams, globally coherent samples)?

``cocogan`` trains on MNIST at 32 px for ``--minutes`` of CPU time on one thread (with ``--device cuda``: of wall
time on the GPU, benchmarks/lapgan.py ``budget_clock``; the entry's defaults: WGAN-GP
10, coordinate loss 100, Adam (0, 0.999), G 1e-4 / D 4e-4, z 128; widths ``--width``, batch 64). Then, on
``--eval_samples`` assembled full samples and as many real MNIST test digits:

- coordinate regression: the mean squared error of the macro coordinate regressed from macro patches cut at
  random positions of the real digits and of the samples, (a) by the model's own spatial head and (b) by an
  independent regressor trained on real training crops only (a small CNN, ``--regressor_steps`` Adam steps); a
  fake/real ratio near 1 means the samples' parts sit where they belong;
- seam score: the mean |pixel difference| between neighbours across micro-patch borders over the mean inside
  micro patches (rows and columns together), for the samples and the real digits (whose borders are arbitrary
  lines, the reference value);
- recognisability: the zoo's MNIST classifier's mean max-softmax on the samples and the real digits, the share
  of images read with confidence >= 0.9, classes hit and KL(predicted class histogram || uniform).

    python benchmarks/quality.py cocogan --root ../shared/data --minutes 5 --record
    python benchmarks/quality.py cocogan --root ../shared/data --minutes 12 --block cocogan-mnist-12min --record

On a GPU (``--device cuda``; without one, ``--record`` writes the command as not measured), one GPU-hour at the
paper's width (block cocogan-mnist-gpu):

    python benchmarks/quality.py cocogan --root ../shared/data --minutes 55 --width 64 --eval_samples 10000 \\
        --regressor_steps 2000 --device cuda --block cocogan-mnist-gpu --record
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.conditional import class_coverage
from benchmarks.lapgan import train
from benchmarks.protocol_script import add_device_argument, report_protocol
from zoo.patches import PatchGeometry

RESOLUTION, MACRO, MICRO = 32, 16, 8
CONFIDENT = 0.9


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default="data", help="folder holding MNIST/raw/ (torchvision's layout)")
    parser.add_argument(
        "--minutes", type=float, default=5.0, help="training budget: CPU time (one thread); cuda: wall time"
    )
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--width", type=int, default=16, help="ngf = ndf (the paper's CelebA models: 64)")
    parser.add_argument(
        "--model_args", type=json.loads, default={}, help="JSON of extra cocogan arguments, e.g. '{\"d_lr\": 1e-4}'"
    )
    parser.add_argument("--eval_samples", type=int, default=2000, help="assembled samples (and real digits) scored")
    parser.add_argument("--regressor_steps", type=int, default=300, help="training steps of the position regressor")
    parser.add_argument("--seed", type=int, default=0)
    add_device_argument(parser)
    parser.add_argument("--record", action="store_true", help="write the table into benchmarks/RESULTS.md")
    parser.add_argument("--block", default="cocogan-mnist", help="the RESULTS.md block it replaces (one per budget)")


def seam_score(images: Tensor, micro: int = MICRO) -> float:
    """Mean |difference| of neighbouring pixels across micro-patch borders over the mean inside micro patches,
    along rows and columns together; 1 when the borders look like any other line of pixels."""
    across, inside = [], []
    for dim in (2, 3):
        diffs = (images.narrow(dim, 1, images.shape[dim] - 1) - images.narrow(dim, 0, images.shape[dim] - 1)).abs()
        border = (torch.arange(1, images.shape[dim]) % micro) == 0  # the pair (i - 1, i) straddles a border
        shape = [1, 1, 1, 1]
        shape[dim] = -1
        mask = border.view(shape).expand_as(diffs)
        across.append(diffs[mask])
        inside.append(diffs[~mask])
    return float(torch.cat(across).mean() / torch.cat(inside).mean())


def position_regressor() -> nn.Module:
    """A small CNN from a 16 px macro patch to its 2 coordinates in [-1, 1]."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 2), nn.Tanh(),
    )  # fmt: skip


def random_crops(geometry: PatchGeometry, images: Tensor, rng: torch.Generator) -> tuple[Tensor, Tensor]:
    """One macro patch per image at a uniform position, and its macro coordinate."""
    positions = geometry.sample_positions(images.shape[0], rng)
    return geometry.crop_macro(images, positions), geometry.macro_coordinates(positions)


def train_regressor(geometry: PatchGeometry, digits: Tensor, steps: int, seed: int, device: str = "cpu") -> nn.Module:
    """The position regressor trained on ``device`` on random crops of real training digits (Adam 1e-3, batch 128,
    MSE); crops are drawn on the host, so the same seed draws the same crops on any device."""
    torch.manual_seed(seed)
    net, rng = position_regressor().to(device), torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(steps):
        batch = digits[torch.randint(len(digits), (128,), generator=rng)]
        crops, coordinates = random_crops(geometry, batch, rng)
        loss = F.mse_loss(net(crops.to(device)), coordinates.to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


@torch.no_grad()
def coordinate_errors(model, regressor: nn.Module, images: Tensor, seed: int) -> dict[str, float]:
    """MSE of the macro coordinate of one random crop per image: by the model's spatial head (D and head in eval
    mode) and by the independent regressor, each on its own device (the crops drawn on the host)."""
    crops, coordinates = random_crops(model.geometry, images, torch.Generator().manual_seed(seed))
    model.discriminator.eval()
    model.spatial_head.eval()
    on_model = crops.to(model.device), coordinates.to(model.device)
    head = model.spatial_head(model.discriminator(*on_model)[1])
    device = next(regressor.parameters()).device
    return {
        "head_mse": float(F.mse_loss(head, on_model[1])),
        "regressor_mse": float(F.mse_loss(regressor(crops.to(device)), coordinates.to(device))),
    }


@torch.no_grad()
def recognisability(classifier, images: Tensor) -> dict[str, float]:
    classifier.eval()
    device = next(classifier.parameters()).device
    probabilities = torch.cat([classifier(chunk.to(device)).softmax(dim=1).cpu() for chunk in images.split(1000)])
    confidence, predicted = probabilities.max(dim=1)
    classes_hit, kl = class_coverage(predicted)
    return {
        "confidence": float(confidence.mean()), "confident_share": float((confidence >= CONFIDENT).double().mean()),
        "classes_hit": classes_hit, "kl": kl,
    }  # fmt: skip


def scores(model, classifier, regressor, images: Tensor, seed: int) -> dict[str, float]:
    return {
        **coordinate_errors(model, regressor, images, seed), "seam": seam_score(images),
        **recognisability(classifier, images),
    }  # fmt: skip


def run(args: argparse.Namespace) -> dict:
    import pytorch_lightning as pl

    from datamodules.base import resize_to_uint8
    from datamodules.mnist import MNISTDataModule
    from metrics.mnist_classifier import load_classifier, read_mnist
    from zoo.cocogan import COCOGAN
    from zoo.sampling import sample_batches

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    pl.seed_everything(args.seed, verbose=False)
    model = COCOGAN(
        resolution=RESOLUTION, channels=1, micro_size=MICRO, macro_size=MACRO, ngf=args.width, ndf=args.width,
        seed=args.seed, **args.model_args,
    )  # fmt: skip
    data = MNISTDataModule(root=args.root, resolution=RESOLUTION, batch_size=args.batch_size, seed=args.seed)
    train_s, wall_s = train(model, data, args.minutes, args.device)
    model.to(args.device)

    def real_digits(train: bool) -> Tensor:
        digits = resize_to_uint8(read_mnist(args.root, train=train)[0], RESOLUTION, max_value=255.0)
        return digits.float() / 127.5 - 1  # as MNISTDataModule feeds them

    classifier = load_classifier(args.root, device=args.device)  # after training: a first use trains it
    regressor = train_regressor(model.geometry, real_digits(True), args.regressor_steps, args.seed, args.device)
    real = real_digits(False)[: args.eval_samples]
    fake = torch.cat([images for images, _ in sample_batches(model, args.eval_samples, 250, args.seed)])
    result = {
        "train_s": train_s, "wall_s": wall_s, "generator_steps": model.generator_steps,
        "kimg": model.images_seen / 1000,
        "real": scores(model, classifier, regressor, real, args.seed),
        "generated": scores(model, classifier, regressor, fake, args.seed),
    }  # fmt: skip
    print(json.dumps(result), flush=True)
    return result


def title(args: argparse.Namespace) -> str:
    return f"COCO-GAN on MNIST: parts and wholes ({args.minutes:g} min)"


def table(r: dict, args: argparse.Namespace) -> str:
    clock = "wall time on the GPU" if args.device == "cuda" else "CPU time on one thread"
    protocol = (
        f"Protocol: cocogan with its defaults{' and the --model_args of the command' if args.model_args else ''} on "
        f"MNIST at {RESOLUTION} px (macro {MACRO}, micro {MICRO}), ngf = ndf = {args.width}, batch {args.batch_size}, "
        f"{args.minutes:g} min of {clock} ({r['wall_s'] / 60:.1f} min wall; {r['generator_steps']} G "
        f"steps, {r['kimg']:.1f} kimg). "
        f"{args.eval_samples} assembled samples and {args.eval_samples} real test digits: coordinate MSE of one "
        f"random macro crop per image by the model's spatial head and by a regressor trained on real crops only "
        f"({args.regressor_steps} steps); seam score: mean |neighbour difference| across micro-patch borders over "
        f"inside them; the MNIST classifier's mean max-softmax, share >= {CONFIDENT}, classes hit, KL from uniform."
    )
    header = [
        "| images | head coord MSE | regressor coord MSE | seam score | confidence | share >= 0.9 | classes hit | KL |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = [
        f"| {name} | {s['head_mse']:.4f} | {s['regressor_mse']:.4f} | {s['seam']:.3f} | {s['confidence']:.3f} | "
        f"{100 * s['confident_share']:.1f}% | {s['classes_hit']} | {s['kl']:.3f} |"
        for name, s in (("real test digits", r["real"]), ("cocogan samples", r["generated"]))
    ]
    ratio = r["generated"]["regressor_mse"] / max(r["real"]["regressor_mse"], 1e-12)
    seams = r["generated"]["seam"] / r["real"]["seam"]
    summary = f"Regressor MSE fake/real: {ratio:.2f}; seam score fake/real: {seams:.2f} (1 is the real digits')."
    return "\n".join([protocol, "", *header, *rows, "", summary])


def main_with(args: argparse.Namespace) -> None:
    report_protocol(sys.modules[__name__], args)


if __name__ == "__main__":
    from benchmarks.protocol_script import run_protocol

    run_protocol(sys.modules[__name__])
