"""A quiet start (issue 20): ``cli.py fit`` prints the recipe, the W&B line and one line with the run folder and
G's and D's parameter counts, warnings as ``warning: <message>``, and none of Lightning's and wandb's start-up
chatter; ``--verbose`` brings Lightning's own output back."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli

# the tiny DCGAN of conftest's tiny_dcgan_args: 16 px digits, ngf = ndf = 8
TINY_PARAMETERS = "DCGAN: 27,824 G / 2,464 D parameters"

NOISE = (
    "Tip: For seamless cloud logging",
    "litlogger",
    "The anonymous setting has no effect",
    "GPU available",
    "TPU available",
    "Seed set to",
    "Total params",
    "FLOPs",
    "Tracking run with wandb",
    "Run data is saved locally",
    "You can sync this run",
)


def output(result) -> str:
    return result.stdout + result.stderr


def test_quiet_fit_prints_what_a_user_needs_and_a_resume_no_checkpoint_folder_warning(
    tmp_path, tiny_dcgan_args, monkeypatch
):
    monkeypatch.delenv("WANDB_SILENT", raising=False)  # wandb's own lines as a user sees them
    fit = run_cli(
        "fit", *tiny_dcgan_args, "--trainer.max_steps", "2", "--trainer.log_every_n_steps", "1000",
        cwd=tmp_path, env={"WANDB_MODE": "offline"},
    )  # fmt: skip
    assert fit.returncode == 0, fit.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs" / "dcgan-digits").iterdir()
    text = output(fit)
    for noise in NOISE:
        assert noise not in text, text
    lines = fit.stderr.splitlines()
    assert "recipe: configs/dcgan/digits.yaml" in lines
    assert any(line.startswith("W&B: not logged in, logging offline") for line in lines), fit.stderr
    rel = Path("runs") / "dcgan-digits" / run_dir.name
    assert f"run folder: {rel}; {TINY_PARAMETERS}" in lines, fit.stderr
    # a Lightning warning (56 batches < log_every_n_steps) as one plain line, no file:line prefix
    warning = [line for line in lines if "smaller than the logging interval" in line]
    assert warning and all(line.startswith("warning: The number of training batches") for line in warning), lines
    assert not [line for line in lines if ".py:" in line], fit.stderr

    resume = run_cli(
        "fit", *tiny_dcgan_args, "--trainer.max_steps", "4",
        "--ckpt_path", str(run_dir / "checkpoints" / "last.ckpt"),
        cwd=tmp_path, env={"WANDB_MODE": "offline"},
    )  # fmt: skip
    assert resume.returncode == 0, resume.stderr[-3000:]
    assert "exists and is not empty" not in output(resume), resume.stderr
    assert f"run folder: {run_dir}; {TINY_PARAMETERS}" in resume.stderr.splitlines(), resume.stderr
    assert "W&B: not logged in" in resume.stderr  # still told where the offline run is


def test_verbose_brings_lightnings_output_back(tmp_path, tiny_dcgan_args):
    args = list(tiny_dcgan_args)
    i = args.index("--trainer.enable_model_summary")
    del args[i : i + 2]  # the default: no summary unless --verbose
    quiet = run_cli("fit", *args, "--trainer.max_steps", "1", cwd=tmp_path)
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    assert "Total params" not in output(quiet)

    verbose = run_cli("fit", *args, "--verbose", "--trainer.max_steps", "1", cwd=tmp_path)
    assert verbose.returncode == 0, verbose.stderr[-3000:]
    text = output(verbose)
    for line in ("Total params", "GPU available", "Seed set to 0"):
        assert line in text, text
    assert TINY_PARAMETERS in verbose.stderr  # our line stays
