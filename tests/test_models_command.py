"""`python cli.py models`: the zoo listed from the registry alone, fast (no torch, no Lightning), in aligned
columns, and quiet when its reader closes the pipe early (models | head -1)."""

import os
import subprocess
import sys

import zoo
from tests.conftest import ROOT


def python(*args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, timeout=120, check=False, **kwargs)


def test_models_imports_neither_lightning_nor_torch():
    probe = (
        "import sys, cli; status = cli.main(['models']); "
        "heavy = [m for m in ('pytorch_lightning', 'lightning', 'torch') if m in sys.modules]; "
        "print('HEAVY', heavy, status, file=sys.stderr)"
    )
    result = python("-c", probe, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "HEAVY [] 0" in result.stderr, result.stderr


def test_every_model_is_listed_with_its_description_in_aligned_columns():
    result = python(str(ROOT / "cli.py"), "models", capture_output=True, text=True)
    assert result.returncode == 0 and not result.stderr, result.stderr
    lines = result.stdout.rstrip("\n").split("\n")
    assert [line.split()[0] for line in lines] == list(zoo.MODELS)
    column = max(map(len, zoo.MODELS)) + 2  # the longest name, sngan_projection, and two spaces
    for line, (name, summary) in zip(lines, zoo.SUMMARIES.items(), strict=True):
        assert line == f"{name:<{column}}{summary}", line
        assert summary.strip() and not line[column - 1].strip() and line[column].strip()


def test_each_summary_is_the_one_of_its_class():
    assert list(zoo.SUMMARIES) == list(zoo.MODELS)
    for name, text in zoo.SUMMARIES.items():
        assert "\n" not in text and text.strip() == text and len(text) <= 110, name
        assert zoo.summary(zoo.get_model(name)) == text

    class Outside:
        """Not in the zoo: the first docstring line.

        More."""

    assert zoo.summary(Outside) == "Not in the zoo: the first docstring line."


def test_a_pipe_closed_early_ends_models_without_a_traceback():
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line: every write meets a broken pipe
    try:
        result = python(str(ROOT / "cli.py"), "models", stdout=write, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write)
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr, result.stderr
    assert result.returncode == 1  # Python's documented idiom for EPIPE; no "Exception ignored" at exit either
    assert not result.stderr


def test_models_piped_into_head_prints_no_traceback():
    shell = f"{sys.executable} {ROOT / 'cli.py'} models | head -1"
    result = subprocess.run(
        shell, shell=True, capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert result.stdout.startswith("gan ") and result.stdout.count("\n") == 1
    assert not result.stderr, result.stderr
