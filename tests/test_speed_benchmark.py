"""benchmarks/speed.py: the plain loop plays each entry's game, and rows land in the RESULTS.md table."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import speed

from zoo.base import GANModule
from zoo.stylegan2 import StyleGAN2


@pytest.fixture
def penalty_calls(monkeypatch):
    """(player, step, penalty names logged) of every ``penalty_terms`` call."""
    calls, original = [], GANModule.penalty_terms

    def recording(self, player, step, real, y_real, fake, z, logs):
        total = original(self, player, step, real, y_real, fake, z, logs)
        calls.append((player, step, sorted(k.removeprefix("penalty/") for k in logs if k.startswith("penalty/"))))
        return total

    monkeypatch.setattr(GANModule, "penalty_terms", recording)
    return calls


def built_model(monkeypatch) -> list:
    """Captures the model the plain loop builds."""
    models, build = [], speed.build

    def capturing(args):
        model, data = build(args)
        models.append(model)
        return model, data

    monkeypatch.setattr(speed, "build", capturing)
    return models


def test_the_plain_loop_takes_d_steps_d_updates_per_g_update_with_labels_and_penalties(monkeypatch, penalty_calls):
    """BigGAN (2 D steps, a G penalty, class-conditional) through the plain loop: 6 iterations are 6 D updates and
    3 G updates, with the orthogonal penalty evaluated at G steps 0, 1, 2."""
    steps = []

    def counting_optimizer(name, params, lr, betas):  # the plain loop builds D's optimizer, then G's
        player = "dg"[sum(1 for s in steps if s == "built")]
        steps.append("built")
        optimizer = torch.optim.Adam(params, lr, betas)
        optimizer.register_step_post_hook(lambda *_: steps.append(player))
        return optimizer

    monkeypatch.setattr(speed, "make_optimizer", counting_optimizer)
    args = speed.settings(
        model="biggan", resolution=32, channels=1, batch=4, iterations=4, warmup=2,
        model_args='{"g_width": 2, "d_width": 4, "latent_dim": 20, "shared_dim": 4, "attention": false}',
    )  # fmt: skip
    assert speed.plain_images_per_second(args) > 0
    updates = [s for s in steps if s != "built"]
    assert updates == ["d", "d", "g"] * 3
    assert [c for c in penalty_calls if c[0] == "g"] == [
        ("g", 0, ["orthogonal"]),
        ("g", 1, ["orthogonal"]),
        ("g", 2, ["orthogonal"]),
    ]
    assert [c for c in penalty_calls if c[0] == "d"] == [("d", i, []) for i in range(6)]


def test_the_plain_loop_plays_stylegan2s_own_game(monkeypatch, penalty_calls):
    """StyleGAN2 through the plain loop: lazy R1 at D steps 0 and 16 only, path length (its own generator_loss)
    at G steps 0, 4, ..., 16, moving pl_mean off 0, and the G forward through the entry's style-mixing ``generate``."""
    models = built_model(monkeypatch)
    mixed, styles = [], StyleGAN2.styles
    monkeypatch.setattr(StyleGAN2, "styles", lambda self, net, z, y: mixed.append(len(z)) or styles(self, net, z, y))
    args = speed.settings(
        model="stylegan2", resolution=8, channels=1, batch=4, iterations=15, warmup=2,
        model_args='{"latent_dim": 8, "w_dim": 8, "channel_base": 32, "channel_max": 8}',
    )  # fmt: skip
    assert speed.plain_images_per_second(args) > 0
    model = models[0]
    # 17 iterations: D steps 0..16 with R1 every 16th; G steps 0..16 with path length every 4th (logged by the loss)
    assert [c for c in penalty_calls if c[2]] == [
        ("d", 0, ["r1"]), ("g", 0, ["path_length"]), ("g", 4, ["path_length"]), ("g", 8, ["path_length"]),
        ("g", 12, ["path_length"]), ("d", 16, ["r1"]), ("g", 16, ["path_length"]),
    ]  # fmt: skip
    assert model.generator_steps == 17 and float(model.pl_mean) != 0.0
    assert mixed.count(4) == 17 and mixed.count(2) == 5  # a mixed batch per iteration; path length at 0, 4, ..., 16


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
