"""``python cli.py evaluate``: FID, KID, IS and precision/recall of a checkpoint, as a JSON report and a table."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from zoo.errors import ZooError

DESCRIPTION = """Scores a checkpoint's generator (the EMA generator when it has one) against a dataset's
training images: FID, KID, IS and improved precision/recall, computed the clean-fid way (uint8 images,
PIL-bicubic resize to 299, the TorchScript Inception inception-2015-12-05.pt). Writes a JSON report with
the protocol next to the numbers and prints a table. Datamodule options go as --data.NAME VALUE
(--data.root, --data.resolution, ...; the resolution defaults to the model's)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python cli.py evaluate", description=DESCRIPTION)
    parser.add_argument("--ckpt_path", required=True, help="a checkpoint written by `cli.py fit`")
    parser.add_argument("--model", default=None, help="expected model name (default: the one stored in the checkpoint)")
    parser.add_argument("--data", default=None, help="dataset of the real images (default: the model's default data)")
    parser.add_argument("--metrics", default="fid", help="comma-separated, from fid, kid, is, pr")
    parser.add_argument("--num_samples", type=int, default=50_000, help="generated images")
    parser.add_argument("--num_real", type=int, default=None, help="real images (default: the whole training set)")
    parser.add_argument("--batch_size", type=int, default=64, help="images per generator/extractor batch")
    parser.add_argument("--seed", type=int, default=0, help="seed of the latents (sample i always has the same one)")
    parser.add_argument("--truncation", type=float, default=None, help="resample |z| above this (truncation trick)")
    parser.add_argument("--weights", default=None, help="the Inception weights file inception-2015-12-05.pt")
    parser.add_argument(
        "--extractor",
        default=None,
        help="module:callable returning another feature extractor (for tests and custom features)",
    )
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 ... (auto: cuda when available)")
    parser.add_argument("--cache_dir", default=None, help="real-feature cache (default: $GAN_ZOO_CACHE/fid-stats)")
    parser.add_argument("--out", default=None, help="JSON report (default: <run>/metrics/<checkpoint>.json)")
    return parser


def build_datamodule(name: str, argv: list[str], model):
    """The datamodule ``name`` with its ``--data.*`` options from ``argv``; its resolution defaults to the model's."""
    from jsonargparse import ArgumentParser

    from datamodules import get_datamodule
    from zoo.registry import init_parameters

    data_cls = get_datamodule(name)
    parser = ArgumentParser(prog=f"python cli.py evaluate --data {name}")
    parser.add_class_arguments(data_cls, "data")
    if "resolution" in init_parameters(data_cls) and "resolution" in model.hparams:
        parser.set_defaults({"data.resolution": model.hparams.resolution})
    datamodule = parser.instantiate(parser.parse_args(argv)).data
    datamodule.validate()
    datamodule.prepare_data()
    datamodule.setup("fit")
    return datamodule


def default_report_path(ckpt_path: str) -> Path:
    """``<run>/metrics/<checkpoint name>.json`` for a checkpoint in ``<run>/checkpoints``."""
    ckpt = Path(ckpt_path)
    run_dir = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent
    return run_dir / "metrics" / f"{ckpt.stem}.json"


def format_table(report: dict) -> str:
    scores, protocol = report["scores"], report["protocol"]
    rows = [f"{'metric':<10} value"]
    for key, value in scores.items():
        if key != "is_std":
            spread = f" ± {scores['is_std']:.4g}" if key == "is" else ""
            rows.append(f"{key:<10} {value:.6g}{spread}")
    real = protocol["real_data"]
    against = f" vs {real['count']} real ({real['data']} {real['split']}, {real['resolution']} px)" if real else ""
    rows.append(
        f"{protocol['num_generated']} generated ({report['generator']} generator, seed {protocol['seed']}){against}; "
        f"clean resize; {protocol['extractor']} sha256 {protocol['extractor_sha256'][:12]}"
    )
    return "\n".join(rows)


def evaluate_command(argv: list[str]) -> int:
    args, data_argv = build_parser().parse_known_args(argv)
    unknown = [a for a in data_argv if a.startswith("-") and not a.startswith("--data.")]
    if unknown:
        raise ZooError(f"unknown option(s) {' '.join(unknown)}; see python cli.py evaluate --help")
    import torch

    from callbacks import load_gan
    from metrics.image_metrics import ImageMetrics, parse_metrics
    from metrics.inception import load_extractor
    from zoo import model_name

    names = parse_metrics(args.metrics)  # bad input fails before the weights are looked for
    start = time.perf_counter()
    model = load_gan(args.ckpt_path, expected_model=args.model)
    if getattr(model, "translates_images", False):
        raise model.refuse_latents("evaluate")
    extractor = load_extractor(args.weights, args.extractor)  # a missing weights file fails before real work
    image_metrics = ImageMetrics(
        extractor, names, args.num_samples, args.num_real, args.batch_size, args.seed, args.truncation,
        cache_dir=args.cache_dir,
    )  # fmt: skip
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    model.to(device)
    datamodule = build_datamodule(args.data or model.default_data, data_argv, model)
    real = image_metrics.real_features(datamodule, model.device)
    use_ema = model.generator_ema is not None
    scores = image_metrics.scores(model, model.generator_ema if use_ema else model.generator, real)
    report = {
        "model": model_name(type(model)),
        "checkpoint": str(Path(args.ckpt_path).resolve()),
        "kimg": model.images_seen / 1000,
        "generator": "ema" if use_ema else "raw",
        "scores": scores,
        "protocol": image_metrics.protocol(datamodule),
        "seconds": round(time.perf_counter() - start, 1),
    }
    out = Path(args.out) if args.out else default_report_path(args.ckpt_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(format_table(report))
    print(f"report: {out}")
    return 0
