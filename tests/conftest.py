"""Shared fixtures. Tests run offline on a 2-core CPU: W&B is disabled unless a test opts in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED_MNIST = ROOT.parent / "shared" / "data"

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("WANDB_SILENT", "true")


def run_cli(*args: str, cwd: Path, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Runs ``python cli.py ARGS`` in ``cwd`` as a user would, returning the finished process."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(autouse=True)
def keep_torch_threads():
    """Restores torch's thread count after each test: the benchmark functions some tests call pin one thread for the
    rest of the process, and a later test's numbers (e.g. tests/test_toy_modes.py) depend on the count."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_dcgan_args() -> list[str]:
    """A DCGAN on 16 px digits small enough to train a few iterations in a second or two."""
    return [
        "--model", "dcgan", "--data", "digits",
        "--data.resolution", "16", "--data.batch_size", "32",
        "--model.ngf", "8", "--model.ndf", "8",
        "--trainer.accelerator", "cpu", "--trainer.enable_model_summary", "false",
    ]  # fmt: skip


@pytest.fixture
def small_disk(tmp_path):
    """Mounts a tmpfs of the given size (e.g. "600k") in tmp_path and returns its folder: a real full disk
    for the write-failure tests. Skips where mounting is not allowed (it needs root)."""
    mounted = []

    def mount(size: str) -> Path:
        folder = tmp_path / f"disk-{len(mounted)}"
        folder.mkdir()
        made = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=False, capture_output=True
        )
        if made.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", str(folder)], check=False)
