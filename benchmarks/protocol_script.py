"""``python benchmarks/NAME.py ...``: a protocol module that ``benchmarks/quality.py NAME`` delegates to, run on its
own with the same options (the module's ``add_arguments`` and ``main_with``).

A measured protocol module (semi_supervised, infogan, lapgan, cocogan, logan, mode_seeking, text2image,
stacked_text2image, stacked_mnist) also defines ``title(args)`` (its RESULTS.md heading), ``run(args)`` (a dict of
every number measured) and ``table(result, args)`` (the block's text under the timing line), and its ``main_with``
is ``report_protocol``: the one place that writes the command that reruns it (``command_line``: every option,
``--device cuda`` included when given), times the run, prints and records the block, and refuses to train on the
CPU what was asked of a GPU."""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import time
from pathlib import Path
from types import ModuleType

import torch

from benchmarks.results import RESULTS, record_block

DEVICES = ("cpu", "cuda")


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device", default="cpu", choices=DEVICES,
        help="where it trains and scores; cuda without a GPU records (--record) that the rows were not measured",
    )  # fmt: skip


def machine(device: str) -> str:
    """How a timing line names the machine: the GPU's name, or the CPU and torch's thread count."""
    if device.startswith("cuda"):
        return torch.cuda.get_device_name()
    return f"CPU {platform.machine()} x{torch.get_num_threads()} threads (no GPU)"


def where_it_ran(device: str, threads: int = 1) -> str:
    """How a protocol line names the hardware: "on the GPU", or the CPU threads ("one thread", "4 threads")."""
    if device == "cuda":
        return "on the GPU"
    return "one thread" if threads == 1 else f"{threads} threads"


def option_words(name: str, value) -> list[str]:
    """Option ``--name`` with ``value`` as command-line words: a flag alone when on, lists joined, floats as %g,
    JSON dicts quoted; nothing for None, an empty dict or a flag that is off."""
    if value is None or value is False or value == {}:
        return []
    if value is True:
        return [f"--{name}"]
    if isinstance(value, (list, tuple)):
        text = " ".join(map(str, value))
    elif isinstance(value, float):
        text = f"{value:g}"
    else:
        text = shlex.quote(json.dumps(value) if isinstance(value, dict) else str(value))
    return [f"--{name}", text]


def command_line(module: ModuleType, args: argparse.Namespace) -> str:
    """The command that reruns ``module``'s protocol as ``args`` ran it: ``python benchmarks/quality.py NAME`` and
    every option ``--NAME`` of ``module.add_arguments`` in its order (``--device`` only when not the CPU default),
    ending with ``--block NAME --record``."""
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    words = ["python benchmarks/quality.py", module.__name__.rsplit(".", 1)[-1]]
    for name in vars(parser.parse_args([])):  # the protocol's options (none is required), in their order
        if name in ("record", "block") or (name == "device" and args.device == "cpu"):
            continue
        words += option_words(name, getattr(args, name))
    return " ".join([*words, "--block", args.block, "--record"])


def skipped_without_gpu(
    device: str, command: str, block: str, title: str, record: bool, results: Path | None = None
) -> bool:
    """False when ``device`` is there to run on. For ``cuda`` without one: with ``record``, writes block ``block``
    saying the rows were not measured, with ``command`` to run where a GPU is lent, and returns True; without it,
    exits with one message. Nothing is ever trained on the CPU in the GPU's place."""
    if device != "cuda" or torch.cuda.is_available():
        return False
    body = f"not measured: no GPU lent (torch.cuda.is_available() is False here); command: `{command}`"
    if not record:
        raise SystemExit(
            "--device cuda: no GPU here (torch.cuda.is_available() is False); run it where one is lent, "
            "use --device cpu, or add --record to record the command as not measured"
        )
    print(body)
    record_block(block, title, body, results or RESULTS)
    return True


def report_protocol(module: ModuleType, args: argparse.Namespace, results: Path | None = None) -> dict | None:
    """``main_with`` of a measured protocol module: runs it on ``args.device``, prints its block (the command, the
    machine and the minutes it took, then ``module.table``) and records it with ``--record``; returns every
    number measured (None when it was not measured: ``skipped_without_gpu``)."""
    command, title = command_line(module, args), module.title(args)
    if skipped_without_gpu(args.device, command, args.block, title, args.record, results):
        return None
    started = time.perf_counter()
    result = module.run(args)
    timing = f"`{command}` on {machine(args.device)}: {(time.perf_counter() - started) / 60:.1f} min in all."
    text = f"{timing}\n\n{module.table(result, args)}"
    print(text)
    if args.record:
        record_block(args.block, title, text, results or RESULTS)
    return result


def run_protocol(module: ModuleType, argv: list[str] | None = None) -> None:
    """Parses ``argv`` (default: the command line) with ``module.add_arguments`` and runs ``module.main_with``."""
    parser = argparse.ArgumentParser(description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    module.add_arguments(parser)
    module.main_with(parser.parse_args(argv))
