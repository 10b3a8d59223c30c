"""StyleGAN2's precision schemes, timed: training images/s of the Lightning loop (benchmarks/speed.py's, the
entry's whole game: style mixing, lazy R1, path length) for

- ``fp32``: every block in fp32, no clamp (StyleGAN2-ADA's train.py ``--fp32``);
- ``fp16-blocks``: NVlabs' scheme, the 4 highest resolutions of G and D in fp16, activations clamped to +-256
  (train.py's defaults ``num_fp16_res=4, conv_clamp=256``; Karras et al. 2020, arXiv 2006.06676, App. D);
- ``bf16-blocks``: the same with bf16 (``--model.low_precision bf16``);
- ``bf16-autocast``: Lightning's whole-net autocast (``--trainer.precision bf16-mixed``, ``num_fp16_res 0``), the
  zoo's mixed precision before the reference's scheme.

On a CPU fp16 blocks compute in fp32 (zoo/nets/stylegan2.py ``block_input``), so ``fp16-blocks`` is left out
there. Each timed run is a fresh process (``--threads`` intra-op threads); the median of ``--repeats`` runs per
scheme counts, runs interleaved across schemes so drifts in machine load hit all alike.

    python benchmarks/mixed_precision.py --device cuda --record      # paper256 at 256 px, batch 8 per GPU
    python benchmarks/mixed_precision.py --device cpu --resolution 64 --model_args '{"channel_max": 128}' \\
        --iterations 6 --warmup 2 --threads 1 --record

Without CUDA, ``--device cuda --record`` records that the GPU rows were not measured, with their command.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import speed
from benchmarks.protocol_script import skipped_without_gpu
from benchmarks.results import record_block

#: scheme -> (trainer precision, stylegan2 arguments)
SCHEMES = {
    "fp32": ("32-true", {"num_fp16_res": 0, "conv_clamp": None}),
    "fp16-blocks": ("32-true", {"num_fp16_res": 4, "conv_clamp": 256, "low_precision": "fp16"}),
    "bf16-blocks": ("32-true", {"num_fp16_res": 4, "conv_clamp": 256, "low_precision": "bf16"}),
    "bf16-autocast": ("bf16-mixed", {"num_fp16_res": 0, "conv_clamp": None}),
}
#: a paper256-like StyleGAN2: StyleGAN2-ADA's paper256 row (channel_base 16384, 8 mapping layers), unconditional
BASE_ARGS = {"preset": "paper256", "use_labels": False}


def block_name(device: str) -> str:
    return f"mixed-precision-{device}"


def run_settings(args, scheme: str) -> argparse.Namespace:
    """benchmarks/speed.py's options for one scheme."""
    precision, scheme_args = SCHEMES[scheme]
    model_args = {**BASE_ARGS, **json.loads(args.model_args), **scheme_args}
    return speed.settings(
        model="stylegan2",
        resolution=args.resolution,
        batch=args.batch,
        iterations=args.iterations,
        warmup=args.warmup,
        device=args.device,
        precision=precision,
        model_args=json.dumps(model_args),
    )


def single_run(args) -> None:
    """One timed run in this process; prints img/s and peak memory as JSON."""
    torch.set_num_threads(args.threads)
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    settings = run_settings(args, args.single)
    images_per_second = speed.lightning_images_per_second(settings)
    peak_mb = speed.peak_memory_mb(torch.device(args.device))
    device = speed.device_name(settings)
    print(json.dumps({"images_per_second": images_per_second, "peak_mb": peak_mb, "device": device}))


def timed_run(scheme: str) -> dict:
    argv = [a for a in sys.argv[1:] if a != "--record"]
    command = [sys.executable, __file__, *argv, "--single", scheme]
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"the {scheme} run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def command_line() -> str:
    return "python benchmarks/mixed_precision.py " + " ".join(
        f"'{a}'" if a.startswith("{") else a for a in sys.argv[1:]
    )


def table(args, runs: dict[str, list[dict]]) -> str:
    lines = [
        "| scheme | trainer precision | stylegan2 arguments | img/s (median) | runs img/s | peak MB |",
        "|---|---|---|---|---|---|",
    ]
    for scheme, results in runs.items():
        precision, scheme_args = SCHEMES[scheme]
        values = [r["images_per_second"] for r in results]
        arguments = ", ".join(f"{k}={v}" for k, v in scheme_args.items())
        lines.append(
            f"| {scheme} | {precision} | {arguments} | {statistics.median(values):.2f} | "
            f"{', '.join(f'{v:.2f}' for v in values)} | {max(r['peak_mb'] for r in results):.0f} |"
        )
    return "\n".join(lines)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", choices=["cpu", "cuda"])
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8, help="per device (paper256: 64 over 8 GPUs)")
    parser.add_argument("--model_args", default="{}", help="more stylegan2 arguments, as JSON")
    parser.add_argument("--iterations", type=int, default=20, help="timed iterations per run")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="intra-op CPU threads of each run")
    parser.add_argument("--schemes", nargs="+", choices=list(SCHEMES), help="default: all the device runs")
    parser.add_argument("--record", action="store_true", help="write the block into benchmarks/RESULTS.md")
    parser.add_argument("--single", choices=list(SCHEMES), help=argparse.SUPPRESS)  # one timed run
    return parser


def main() -> None:
    args = make_parser().parse_args()
    if args.single:
        single_run(args)
        return
    title = f"StyleGAN2 mixed precision: training speed ({args.device})"
    if skipped_without_gpu(args.device, command_line(), block_name(args.device), title, args.record):
        return
    schemes = args.schemes or [s for s in SCHEMES if args.device == "cuda" or s != "fp16-blocks"]
    runs = {scheme: [] for scheme in schemes}
    for _ in range(args.repeats):
        for scheme in schemes:
            runs[scheme].append(timed_run(scheme))
            print(scheme, runs[scheme][-1], flush=True)
    model_args = {**BASE_ARGS, **json.loads(args.model_args)}
    body = (
        f"`{command_line()}` on {runs[schemes[0]][0]['device']}: stylegan2 {json.dumps(model_args)} at "
        f"{args.resolution} px, batch {args.batch}, Lightning loop of benchmarks/speed.py ({args.warmup} warm-up + "
        f"{args.iterations} timed iterations per run, each run a fresh process), median of {args.repeats} runs."
        + (" fp16 blocks compute in fp32 on a CPU: no fp16-blocks row." if args.device == "cpu" else "")
        + "\n\n"
        + table(args, runs)
    )
    print(body)
    if args.record:
        record_block(block_name(args.device), title, body)


if __name__ == "__main__":
    main()
