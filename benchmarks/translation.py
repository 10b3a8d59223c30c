"""Image-to-image translation on MNIST tasks whose right answer is known, at a CPU budget.

``cyclegan``: domain A holds MNIST digits (white on black), domain B the inverted digits (255 - x) of *other*
digits (the two halves of the training images), so the pairs are unaligned, as in horse2zebra, but the right
translation is known: inversion, both ways. The folders are written in the CycleGAN datasets' layout
(trainA/, trainB/, testA/, testB/, PNG) and read by the ``unpaired`` datamodule.

``stargan``: MNIST digits in CelebA's on-disk layout (img_align_celeba/, list_eval_partition.txt,
list_attr_celeba.txt) with two attributes, ``Inverted`` and ``Red``: a digit g is drawn as (g, g, g), or (g, 0, 0)
when Red, then inverted (255 - x) when Inverted. Every training digit gets one random domain, so no digit is seen
in two domains; the ``celeba`` datamodule reads the tree with ``attributes=[Inverted, Red]``.

After training, every test digit is translated by the model (the sampling generator, in eval mode) and compared
with the true rendering of the same digit: the mean absolute error per pixel on the 0-255 scale, and the share of
pixels within 32 levels of the truth. CycleGAN is scored in both directions, StarGAN for each single changed
domain (its Fig. 4 targets) from a random source domain. Two references bracket the numbers: the input itself
(a translator that changes nothing) and the network before training.

    python benchmarks/quality.py translation --root ../shared/data --entries cyclegan stargan --record
    python benchmarks/translation.py --root ../shared/data --entries cyclegan --generator_steps 200
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.protocol_script import machine
from benchmarks.results import record_block
from benchmarks.training import timed_fit

ENTRIES = ["cyclegan", "stargan"]
RESOLUTION = 32
DOMAINS = ["Inverted", "Red"]
#: a pixel counts as right when it is within this many levels (of 255) of the truth
TOLERANCE = 32
DEFAULT_BLOCK = "translation-mnist"


@dataclass(frozen=True)
class TranslationError:
    mae: float  # mean absolute error per pixel, 0-255 scale
    within: float  # share of pixels within TOLERANCE levels

    @staticmethod
    def of(output: torch.Tensor, truth: torch.Tensor) -> TranslationError:
        """Both in [-1, 1]."""
        error = (output.float() - truth.float()).abs() * 127.5
        return TranslationError(error.mean().item(), (error <= TOLERANCE).float().mean().item())


def mnist(root: str, train: bool) -> np.ndarray:
    """MNIST digits as uint8 (N, 28, 28), read with torchvision from ``root``/MNIST/raw (no download)."""
    from torchvision.datasets import MNIST

    return MNIST(root, train=train, download=False).data.numpy()


def render(digits: np.ndarray, inverted: np.ndarray, red: np.ndarray) -> np.ndarray:
    """(N, 28, 28) digits -> (N, 28, 28, 3) uint8 in their domains (see the module docstring)."""
    rgb = np.repeat(digits[..., None], 3, axis=-1)
    rgb[red.astype(bool), :, :, 1:] = 0
    return np.where(inverted[:, None, None, None].astype(bool), 255 - rgb, rgb).astype(np.uint8)


def to_model_input(rgb: np.ndarray) -> torch.Tensor:
    """(N, 28, 28, 3) uint8 -> (N, 3, 32, 32) in [-1, 1], resized with PIL's bicubic filter as the datamodules do."""
    from datamodules.images import resize_square

    images = [np.asarray(resize_square(Image.fromarray(image), RESOLUTION)) for image in rgb]
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 127.5 - 1


# ------------------------------------------------------------------------------------------------ CycleGAN


def write_unpaired(folder: Path, train: np.ndarray, test: np.ndarray, args) -> Path:
    """trainA/trainB from two disjoint halves of ``train`` (B inverted), testA/testB likewise from ``test``."""
    n, m = args.train_images, args.test_images
    zeros = np.zeros(max(n, m), dtype=np.int64)
    splits = {
        "trainA": render(train[:n], zeros[:n], zeros[:n]),
        "trainB": render(train[n : 2 * n], 1 + zeros[:n], zeros[:n]),
        "testA": render(test[:m], zeros[:m], zeros[:m]),
        "testB": render(test[m : 2 * m], 1 + zeros[:m], zeros[:m]),
    }
    for name, images in splits.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        for k, image in enumerate(images):
            Image.fromarray(image).save(folder / name / f"{k:05d}.png")
    return folder


def score_cyclegan(model, test: np.ndarray, m: int) -> dict[str, TranslationError]:
    a = to_model_input(render(test[:m], np.zeros(m), np.zeros(m)))
    b = to_model_input(render(test[m : 2 * m], np.ones(m), np.zeros(m)))
    return {
        "A -> B": TranslationError.of(model.translate(a, direction="a_to_b").cpu(), -a),
        "B -> A": TranslationError.of(model.translate(b, direction="b_to_a").cpu(), -b),
    }


def identity_cyclegan(test: np.ndarray, m: int) -> dict[str, TranslationError]:
    a = to_model_input(render(test[:m], np.zeros(m), np.zeros(m)))
    b = to_model_input(render(test[m : 2 * m], np.ones(m), np.zeros(m)))
    return {"A -> B": TranslationError.of(a, -a), "B -> A": TranslationError.of(b, -b)}


def run_cyclegan(args, work: Path, train: np.ndarray, test: np.ndarray) -> dict:
    from datamodules.unpaired import UnpairedDataModule
    from zoo.cyclegan import CycleGAN

    root = write_unpaired(work / "inversion", train, test, args)
    data = UnpairedDataModule(
        root=str(root), resolution=RESOLUTION, batch_size=args.batch_size, cache_dir=str(work / "cache"), seed=args.seed
    )
    model = CycleGAN(
        resolution=RESOLUTION, width=args.width, blocks=args.blocks, d_width=args.width, lr_decay_epochs=None,
        seed=args.seed,
    )  # fmt: skip
    before = score_cyclegan(model, test, args.test_images)
    seconds = timed_fit(model, data, max_steps=2 * args.generator_steps)  # one D and one G update per iteration
    return {
        "identity": identity_cyclegan(test, args.test_images),
        "untrained": before,
        "trained": score_cyclegan(model, test, args.test_images),
        "iterations": model.iterations,
        "generator_steps": model.generator_steps,
        "train_s": seconds,
    }


# ------------------------------------------------------------------------------------------------- StarGAN


def write_celeba_layout(folder: Path, train: np.ndarray, test: np.ndarray, args) -> tuple[Path, dict]:
    """Training digits in random domains (partition 0) and test digits (partition 2) in CelebA's layout."""
    rng = np.random.default_rng(args.seed)
    n, m = args.train_images, args.test_images
    digits = np.concatenate([train[:n], test[:m]])
    domains = rng.integers(0, 2, (n + m, len(DOMAINS)))
    images = render(digits, domains[:, 0], domains[:, 1])
    celeba = folder / "celeba"
    (celeba / "img_align_celeba").mkdir(parents=True, exist_ok=True)
    names = [f"{k:06d}.png" for k in range(n + m)]
    for name, image in zip(names, images):
        Image.fromarray(image).save(celeba / "img_align_celeba" / name)
    partition = "".join(f"{name} {0 if k < n else 2}\n" for k, name in enumerate(names))
    (celeba / "list_eval_partition.txt").write_text(partition)
    rows = "".join(f"{name} " + " ".join("1" if v else "-1" for v in d) + "\n" for name, d in zip(names, domains))
    (celeba / "list_attr_celeba.txt").write_text(f"{n + m}\n{' '.join(DOMAINS)}\n{rows}")
    return folder, {"digits": test[:m], "domains": domains[n:]}


def score_stargan(model, held_out: dict, translate: bool = True) -> dict[str, TranslationError]:
    """Each test digit, from its own domain, to each single changed domain (with ``translate`` False: the input)."""
    from zoo.stargan import single_domain_changes

    digits, source = held_out["digits"], torch.from_numpy(held_out["domains"]).float()
    inputs = to_model_input(render(digits, held_out["domains"][:, 0], held_out["domains"][:, 1]))
    scores = {}
    for name, target in zip(DOMAINS, single_domain_changes(source, DOMAINS)):
        truth = to_model_input(render(digits, target[:, 0].numpy(), target[:, 1].numpy()))
        output = model.translate(inputs, target).cpu() if translate else inputs
        scores[f"change {name}"] = TranslationError.of(output, truth)
    return scores


def run_stargan(args, work: Path, train: np.ndarray, test: np.ndarray) -> dict:
    from datamodules.celeba import CelebADataModule
    from zoo.stargan import StarGAN

    root, held_out = write_celeba_layout(work / "domains", train, test, args)
    data = CelebADataModule(
        str(root), attributes=DOMAINS, resolution=RESOLUTION, batch_size=args.batch_size,
        cache_dir=str(work / "cache"), seed=args.seed,
    )  # fmt: skip
    model = StarGAN(
        DOMAINS, resolution=RESOLUTION, width=args.width, blocks=args.blocks, d_width=args.width, d_layers=4,
        seed=args.seed,
    )  # fmt: skip
    before = score_stargan(model, held_out)
    steps = args.generator_steps * (model.hparams.d_steps + 1)  # 5 D updates per G update
    seconds = timed_fit(model, data, max_steps=steps)
    return {
        "identity": score_stargan(model, held_out, translate=False),
        "untrained": before,
        "trained": score_stargan(model, held_out),
        "iterations": model.iterations,
        "generator_steps": model.generator_steps,
        "train_s": seconds,
    }


# ---------------------------------------------------------------------------------------------------- shared


RUNS = {"cyclegan": run_cyclegan, "stargan": run_stargan}


def run(args: argparse.Namespace) -> dict:
    import pytorch_lightning as pl

    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    train, test = mnist(args.root, train=True), mnist(args.root, train=False)
    result = {"machine": machine("cpu"), "entries": {}}
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(args.work_dir or scratch)
        for entry in args.entries:
            pl.seed_everything(args.seed, verbose=False)
            result["entries"][entry] = RUNS[entry](args, work, train, test)
            print(json.dumps({entry: str(result["entries"][entry])}), flush=True)
    result["total_s"] = time.perf_counter() - started
    if args.record:
        title = f"Image-to-image translation on MNIST tasks with known answers ({args.generator_steps} G steps)"
        record_block(args.block, title, table(result, args))
    return result


def table(r: dict, args: argparse.Namespace) -> str:
    command = (
        f"python benchmarks/quality.py translation --root {args.root} --entries {' '.join(args.entries)} "
        f"--generator_steps {args.generator_steps} --batch_size {args.batch_size} --width {args.width} "
        f"--blocks {args.blocks} "
        f"--train_images {args.train_images} --test_images {args.test_images} --seed {args.seed}"
        + (f" --block {args.block}" if args.block != DEFAULT_BLOCK else "")
        + " --record"
    )
    lines = [
        f"`{command}` on {r['machine']}: {r['total_s'] / 60:.1f} min in all.",
        "",
        (
            f"Protocol (benchmarks/translation.py): MNIST digits at {RESOLUTION} px, RGB. cyclegan: A = digits, B = "
            f"inverted digits of other images ({args.train_images} each), the right translation is inversion; "
            f"stargan: {args.train_images} digits each in a random domain of (Inverted, Red), translated to each "
            f"single changed domain. Both train with their papers' games and defaults, widths {args.width}, "
            f"{args.blocks} residual blocks, batch {args.batch_size}, for {args.generator_steps} generator updates "
            "(cyclegan: one D update each, stargan: five). "
            f"Scored on {args.test_images} test digits against their true rendering: mean absolute error per pixel "
            f"(0-255) and pixels within {TOLERANCE} levels. 'input' is a translator that changes nothing; 'untrained' "
            "the network before training. One seed."
        ),
        "",
        "| entry | task | G steps | iterations | train min | input: error / within | untrained | trained |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for entry, e in r["entries"].items():
        for task, trained in e["trained"].items():
            cells = [e["identity"][task], e["untrained"][task], trained]
            shown = " | ".join(f"{c.mae:.1f} / {100 * c.within:.1f}%" for c in cells)
            steps = f"{e['generator_steps']} | {e['iterations']}"
            lines.append(f"| {entry} | {task} | {steps} | {e['train_s'] / 60:.1f} | {shown} |")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default="data", help="folder holding MNIST/raw/ (torchvision's layout)")
    parser.add_argument("--entries", nargs="+", default=ENTRIES, choices=ENTRIES)
    parser.add_argument("--generator_steps", type=int, default=2000, help="generator updates per entry")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--width", type=int, default=16, help="width of the translators' and critics' first layer")
    parser.add_argument("--blocks", type=int, default=3, help="residual blocks of the translators")
    parser.add_argument("--train_images", type=int, default=5000, help="training digits per domain (cyclegan)")
    parser.add_argument("--test_images", type=int, default=500, help="test digits scored")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work_dir", default=None, help="where the image trees go (default: a temporary folder)")
    parser.add_argument("--record", action="store_true", help="write the table into benchmarks/RESULTS.md")
    parser.add_argument("--block", default=DEFAULT_BLOCK, help="the RESULTS.md block it replaces (one per budget)")


def main_with(args: argparse.Namespace) -> None:
    print(table(run(args), args))


if __name__ == "__main__":
    from benchmarks.protocol_script import run_protocol

    run_protocol(sys.modules[__name__])
