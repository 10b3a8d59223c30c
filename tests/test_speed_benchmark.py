"""benchmarks/speed.py: the plain loop plays each entry's game, and rows land in the RESULTS.md table."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import speed


def test_the_plain_loop_takes_d_steps_d_updates_per_g_update_with_labels_and_penalties(monkeypatch):
    """BigGAN (2 D steps, a G penalty, class-conditional) through the plain loop: 6 iterations are 6 D updates and
    3 G updates, with the orthogonal penalty evaluated at G steps 0, 1, 2."""
    steps, penalty_calls = [], []

    def counting_optimizer(name, params, lr, betas):  # the plain loop builds D's optimizer, then G's
        player = "dg"[sum(1 for s in steps if s == "built")]
        steps.append("built")
        optimizer = torch.optim.Adam(params, lr, betas)
        optimizer.register_step_post_hook(lambda *_: steps.append(player))
        return optimizer

    monkeypatch.setattr(speed, "make_optimizer", counting_optimizer)
    monkeypatch.setattr(
        speed, "penalty_sum", lambda penalties, step, inputs: penalty_calls.append((penalties, step)) or 0
    )
    args = speed.settings(
        model="biggan", resolution=32, channels=1, batch=4, iterations=4, warmup=2,
        model_args='{"g_width": 2, "d_width": 4, "latent_dim": 20, "shared_dim": 4, "attention": false}',
    )  # fmt: skip
    assert speed.plain_images_per_second(args) > 0
    updates = [s for s in steps if s != "built"]
    assert updates == ["d", "d", "g"] * 3
    g_penalties = [(step, [p.name for p in penalties]) for penalties, step in penalty_calls if penalties]
    assert g_penalties == [(0, ["orthogonal"]), (1, ["orthogonal"]), (2, ["orthogonal"])]


def test_record_replaces_the_row_with_the_same_settings_and_keeps_the_others(tmp_path, monkeypatch):
    results = tmp_path / "RESULTS.md"
    row = "| sngan | 32 | 64 | CPU | 32-true | no | {} | 10.0 | 0.9 | 1 | 1 | CPU peak RSS of the process |"
    other = "| dcgan | 64 | 64 | CPU | 32-true | no | 5.0 | 5.0 | 1.000 | 1 | 1 | CPU peak RSS of the process |"
    separator = "|---" * 12 + "|"
    results.write_text("\n".join(["# R", "", speed.SPEED_HEADER, separator, other, row.format(9.0), "", "end"]) + "\n")
    monkeypatch.setattr(speed, "RESULTS", results)
    speed.record(row.format(9.5))
    lines = results.read_text().splitlines()
    assert lines[2:7] == [speed.SPEED_HEADER, separator, other, row.format(9.5), ""]
    assert lines[-1] == "end"


def test_record_names_the_missing_table(tmp_path, monkeypatch):
    monkeypatch.setattr(speed, "RESULTS", tmp_path / "RESULTS.md")
    with pytest.raises(SystemExit, match="no speed table header"):
        speed.record("| x |")
