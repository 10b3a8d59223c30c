"""User errors through the real command line: each is one short line that names the option, value or file
and the fix, with no traceback and no usage text, and a run refused before its first iteration leaves no
run folder or W&B run behind."""

import os
from pathlib import Path

import pytest
import torch

from tests.conftest import run_cli

HELP = "python cli.py fit --model dcgan --data digits --help full lists every option"


def assert_one_line_error(result, *phrases: str) -> None:
    """A non-zero exit with a few lines of stderr that contain ``phrases``, and no traceback anywhere."""
    assert result.returncode != 0, result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr, result.stderr[-3000:]
    assert len(result.stderr.splitlines()) < 6, result.stderr[-3000:]
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


def fit(tmp_path: Path, tiny_args: list[str], *extra: str, env: dict | None = None):
    """``cli.py fit`` of the tiny DCGAN for 4 steps with ``extra`` flags, in ``tmp_path``."""
    return run_cli("fit", *tiny_args, "--trainer.max_steps", "4", *extra, cwd=tmp_path, env=env)


def leftovers(cwd: Path) -> list[Path]:
    """Run folders and W&B offline runs under ``cwd``."""
    return [*cwd.glob("runs/*/*"), *cwd.rglob("offline-run-*")]


@pytest.mark.parametrize(
    "flag,known",
    [("--model.ngff", "--model.ngf"), ("--trainer.max_step", "--trainer.max_steps"),
     ("--data.resolutoin", "--data.resolution")],
)  # fmt: skip
def test_unknown_option_is_one_line_naming_the_closest_option(tmp_path, tiny_dcgan_args, flag, known):
    result = fit(tmp_path, tiny_dcgan_args, flag, "8")
    assert_one_line_error(result, f"error: unknown option {flag}; did you mean {known}?", HELP)


@pytest.mark.parametrize(
    "args,phrase",
    [(["--model.ngf", "abc"], "invalid value 'abc' for --model.ngf; it takes int"),
     (["--trainer.max_steps=x"], "invalid value 'x' for --trainer.max_steps; it takes int")],
)  # fmt: skip
def test_invalid_value_is_one_line_naming_the_option_and_the_value(tmp_path, tiny_dcgan_args, args, phrase):
    assert_one_line_error(fit(tmp_path, tiny_dcgan_args, *args), phrase)


@pytest.mark.parametrize(
    "text,phrase",
    [(None, "--config: File does not exist"),
     ("model:\n  ngf: 8\n   ndf: 8\n", "config file my.yaml: not valid YAML at line 3, column 7"),
     ("model:\n  g_betas: [0.5, 0.9\ntrainer:\n  max_steps: 4\n", "config file my.yaml: not valid YAML at line 3")],
)  # fmt: skip
def test_config_file_problem_is_one_line_naming_the_file(tmp_path, tiny_dcgan_args, text, phrase):
    if text is not None:
        (tmp_path / "my.yaml").write_text(text)
    result = fit(tmp_path, tiny_dcgan_args, "--config", "my.yaml")
    assert_one_line_error(result, phrase, "my.yaml")


@pytest.mark.parametrize(
    "args,phrase",
    [(["--model.g_lr", "-1e-4"], "g_lr must be > 0, got -0.0001"),
     (["--model.d_lr=-1"], "d_lr must be > 0, got -1.0"),
     (["--model.g_betas", "[0.5, 1.0]"], "g_betas must be two numbers in [0, 1), got (0.5, 1.0)"),
     (["--model.grad_clip_norm", "0"], "grad_clip_norm must be > 0")],
)  # fmt: skip
def test_impossible_hyperparameter_is_one_line_naming_the_value(tmp_path, tiny_dcgan_args, args, phrase):
    assert_one_line_error(fit(tmp_path, tiny_dcgan_args, *args), phrase)
    assert not leftovers(tmp_path)


def test_unwritable_run_folder_is_named_with_the_fix(tmp_path, tiny_dcgan_args):
    (tmp_path / "file.txt").write_text("not a folder")
    result = fit(tmp_path, tiny_dcgan_args, "--run_dir", str(tmp_path / "file.txt" / "run"))
    assert_one_line_error(result, "cannot create the run folder", "file.txt is a file", "--run_dir")
    (tmp_path / "runs").write_text("a file where the runs folder would go")
    assert_one_line_error(fit(tmp_path, tiny_dcgan_args), "runs is a file", "cd to a writable folder or pass --run_dir")
    assert (tmp_path / "runs").is_file() and (tmp_path / "file.txt").is_file()


TINY = ["--model", "dcgan", "--model.ngf", "8", "--model.ndf", "8", "--trainer.max_steps", "4"]


@pytest.mark.parametrize(
    "args,phrase",
    [([*TINY, "--data", "mnist", "--data.root", "/nonexistent"], "MNIST not found"),
     ([*TINY, "--model.ngff", "8"], "unknown option --model.ngff"),
     ([*TINY, "--model.g_lr=-1e-4"], "g_lr must be > 0"),
     ([*TINY, "--model.optimizer", "nope"], "unknown optimizer 'nope'")],  # fails after the W&B run has started
)  # fmt: skip
def test_run_refused_before_its_first_iteration_leaves_no_run_folder_or_wandb_run(tmp_path, args, phrase):
    earlier = tmp_path / "runs" / "dcgan-digits" / "earlier-run"
    earlier.mkdir(parents=True)
    result = run_cli("fit", *args, "--trainer.accelerator", "cpu", cwd=tmp_path, env={"WANDB_MODE": "offline"})
    assert result.returncode == 2 and phrase in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert leftovers(tmp_path) == [earlier]


def test_failed_run_into_an_existing_folder_deletes_nothing(tmp_path, tiny_dcgan_args):
    run_dir = tmp_path / "mine"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "notes.txt").write_text("keep me")
    assert_one_line_error(fit(tmp_path, tiny_dcgan_args, "--run_dir", "mine", "--model.g_lr=-1"), "g_lr must be > 0")
    assert (run_dir / "notes.txt").read_text() == "keep me" and (run_dir / "checkpoints").is_dir()


class RunsShellCommand:
    """Unpickling this runs ``touch MARKER``: what a malicious checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_checkpoint_with_pickled_code_is_refused_by_fit_and_sample_without_running_it(tmp_path, tiny_dcgan_args):
    marker = tmp_path / "code-ran"
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": RunsShellCommand(marker)}, evil)
    phrases = ["evil.ckpt", "contains code objects", "refused for safety"]
    assert_one_line_error(run_cli("sample", "--ckpt_path", str(evil), cwd=tmp_path), *phrases)
    assert_one_line_error(fit(tmp_path, tiny_dcgan_args, "--ckpt_path", str(evil)), *phrases)
    assert not marker.exists()
