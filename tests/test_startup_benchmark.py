"""benchmarks/startup.py: medians and single runs land in the RESULTS.md block (fake timings), the checkouts are
interleaved run by run, bad arguments are one-line errors, and the clock callback times a real ``cli.py fit``."""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "benchmarks" / "probe"))

import startup
import startup_clock

from benchmarks.results import record_block


def fake_timer(calls: list[Path]):
    """A stand-in for ``time_once``: the n-th call returns models n, first_iteration 10 n, fit_exit 10 n + 1."""

    def time_one(repo: Path) -> dict[str, float]:
        calls.append(repo)
        n = len(calls)
        return {"models": float(n), "first_iteration": 10.0 * n, "fit_exit": 10.0 * n + 1}

    return time_one


def test_measure_interleaves_checkouts_and_the_table_shows_medians_and_every_run():
    calls = []
    before, after = Path("/before"), Path("/after")
    timings = startup.measure([before, after], 3, time_one=fake_timer(calls))
    assert calls == [before, after] * 3
    assert timings[before] == {"models": [1.0, 3.0, 5.0], "first_iteration": [10.0, 30.0, 50.0],
                               "fit_exit": [11.0, 31.0, 51.0]}  # fmt: skip
    text = startup.table({before: "abc1234", after: "def5678 + changes"}, timings)
    assert text.splitlines()[2:] == [
        "| abc1234 | 3.00 (1.00, 3.00, 5.00) | 30.00 (10.00, 30.00, 50.00) | 31.00 (11.00, 31.00, 51.00) |",
        "| def5678 + changes | 4.00 (2.00, 4.00, 6.00) | 40.00 (20.00, 40.00, 60.00) | 41.00 (21.00, 41.00, 61.00) |",
    ]
    assert startup.cell([3.0, 1.0, 2.5, 10.0]) == "2.75 (3.00, 1.00, 2.50, 10.00)"  # even count: mean of the middle


def test_main_records_one_block_that_a_second_run_replaces(tmp_path, monkeypatch):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Measured results\n\n## Other\n\n<!-- other:start -->\nkept\n<!-- other:end -->\n")
    monkeypatch.setattr(startup, "record_block", functools.partial(record_block, results=results))
    monkeypatch.setattr(startup, "time_once", lambda repo: {"models": 0.25, "first_iteration": 4.0, "fit_exit": 6.5})
    monkeypatch.setattr(startup.os, "getloadavg", lambda: (1.5, 0.0, 0.0))
    startup.main(["--runs", "2", "--record"])
    first = results.read_text()
    assert f"## {startup.TITLE}" in first and "kept" in first
    assert "`python benchmarks/startup.py --runs 2 --record` on " in first
    assert (
        "median of 2 runs (each run in brackets), W&B offline; 1-minute load average 1.50 at the start, 1.50" in first
    )
    row = f"| {startup.commit_of(ROOT)} | 0.25 (0.25, 0.25) | 4.00 (4.00, 4.00) | 6.50 (6.50, 6.50) |"
    assert row in first.splitlines()

    monkeypatch.setattr(startup, "time_once", lambda repo: {"models": 0.5, "first_iteration": 3.0, "fit_exit": 5.0})
    startup.main(["--runs", "1", "--record"])
    second = results.read_text()
    assert second.count("<!-- startup:start -->") == 1 and second.count(f"## {startup.TITLE}") == 1
    assert row not in second and f"| {startup.commit_of(ROOT)} | 0.50 (0.50) | 3.00 (3.00) | 5.00 (5.00) |" in second
    assert "kept" in second

    monkeypatch.setattr(startup, "time_whole_quickstart", lambda repo: 171.4)
    startup.main(["--runs", "1", "--whole", "--record"])
    whole = results.read_text()
    assert (
        f"The whole quickstart, `python cli.py fit --model dcgan` ({startup.commit_of(ROOT)}), launch to exit: 171 s "
        "(one run; load average 1.50 at its end)." in whole
    )


def test_bad_arguments_and_a_missing_clock_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(SystemExit):
        startup.parse_args(["--runs", "0"])
    assert "--runs must be >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        startup.parse_args(["--repo", str(tmp_path)])
    assert f"--repo {tmp_path} has no cli.py: give the folder of a GAN Zoo checkout" in capsys.readouterr().err
    assert startup.commit_of(tmp_path) == "not a git checkout"
    with pytest.raises(SystemExit, match="the fit run ended without finishing an iteration: no clock written"):
        startup.read_clock(tmp_path / "clock")


def test_the_clock_callback_writes_once_at_the_first_iteration(tmp_path, monkeypatch):
    clock = tmp_path / "clock"
    monkeypatch.setenv(startup.CLOCK_ENV, str(clock))
    callback = startup_clock.FirstIterationClock()
    before = time.time()
    callback.on_train_batch_end(SimpleNamespace(is_global_zero=True), None, None, None, 0)
    written = clock.read_text()
    assert before <= float(written) <= time.time()
    callback.on_train_batch_end(SimpleNamespace(is_global_zero=True), None, None, None, 1)
    assert clock.read_text() == written  # later iterations leave it alone


def test_the_clock_times_a_real_fit_from_the_command_line(tmp_path, tiny_dcgan_args, monkeypatch):
    """The benchmark's own fit flags on the tiny DCGAN, in this process (the probe folder is on sys.path above)."""
    import cli

    clock = tmp_path / "clock"
    monkeypatch.setenv(startup.CLOCK_ENV, str(clock))
    monkeypatch.chdir(tmp_path)
    start = time.time()
    assert cli.main(["fit", *tiny_dcgan_args, *startup.FIT_EXTRA]) == 0
    end = time.time()
    assert start < startup.read_clock(clock) < end
    (checkpoint,) = tmp_path.glob("runs/dcgan-digits/*/checkpoints/last.ckpt")  # the run stopped after its iteration
    import torch

    assert torch.load(checkpoint, weights_only=False)["global_step"] == 2
