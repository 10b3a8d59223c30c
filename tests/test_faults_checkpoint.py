"""Nothing lost (issue 18): ``last.ckpt`` holds the end of every run and the iteration at which Ctrl-C or
SIGTERM stopped it, a resume from either continues bit-for-bit, and a poisoned or unwritable state never
replaces a good checkpoint. Every case runs the real CLI in a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import ROOT, run_cli

TINY = [
    "--model", "dcgan", "--data", "digits", "--data.resolution", "16", "--data.batch_size", "32",
    "--model.ngf", "8", "--model.ndf", "8", "--trainer.accelerator", "cpu",
    "--trainer.enable_model_summary", "false", "--trainer.enable_progress_bar", "false",
]  # fmt: skip


def fit(tmp_path: Path, run: str, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return run_cli("fit", *TINY, "--run_dir", str(tmp_path / run), *extra, cwd=tmp_path, env=env)


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def tensors(checkpoint: dict) -> dict[str, torch.Tensor]:
    """Every tensor of a checkpoint's model and optimizer states, by a flat name."""
    flat = {f"model.{k}": v for k, v in checkpoint["state_dict"].items() if isinstance(v, torch.Tensor)}
    for i, opt in enumerate(checkpoint["optimizer_states"]):
        for pid, state in opt["state"].items():
            flat.update({f"opt{i}.{pid}.{k}": v for k, v in state.items() if isinstance(v, torch.Tensor)})
    return flat


def assert_same_training_state(a: dict, b: dict) -> None:
    assert a["global_step"] == b["global_step"]
    ta, tb = tensors(a), tensors(b)
    assert ta.keys() == tb.keys()
    for name in ta:
        assert torch.equal(ta[name], tb[name]), name


def assert_finite(checkpoint: dict) -> None:
    for name, t in tensors(checkpoint).items():
        if t.is_floating_point():
            assert torch.isfinite(t).all(), name


def no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr[-3000:]


def test_last_ckpt_holds_the_end_of_training_and_resumes_exactly(tmp_path):
    # periodic saves at steps 20 and 40; the run ends at 50, between two of them
    short = fit(tmp_path, "short", "--trainer.max_steps", "50", "--checkpoint.every_n_train_steps", "20")
    assert short.returncode == 0, short.stderr[-3000:]
    checkpoints = tmp_path / "short" / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["00000020.ckpt", "00000040.ckpt", "last.ckpt"]
    end = load(checkpoints / "last.ckpt")
    assert end["global_step"] == 50
    assert end["state_dict"]["_extra_state"]["iterations"] == 25

    resumed = fit(
        tmp_path, "short", "--trainer.max_steps", "80", "--checkpoint.every_n_train_steps", "20",
        "--ckpt_path", str(checkpoints / "last.ckpt"),
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    straight = fit(tmp_path, "straight", "--trainer.max_steps", "80", "--checkpoint.every_n_train_steps", "20")
    assert straight.returncode == 0, straight.stderr[-3000:]
    assert_same_training_state(load(checkpoints / "last.ckpt"), load(tmp_path / "straight/checkpoints/last.ckpt"))


def interrupt_mid_run(
    tmp_path: Path, run: str, signum: int, max_steps: int, *extra: str, env: dict | None = None
) -> tuple[int, str]:
    """Starts a run, sends ``signum`` once its first periodic checkpoint exists, returns (exit code, stderr)."""
    args = [*TINY, "--run_dir", str(tmp_path / run), "--trainer.max_steps", str(max_steps), *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **(env or {})}
    first = tmp_path / run / "checkpoints" / "00000020.ckpt"
    with subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "fit", *args, "--checkpoint.every_n_train_steps", "20"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:  # fmt: skip
        deadline = time.monotonic() + 240
        while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=240)
    return proc.returncode, stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_signal_writes_last_ckpt_exits_nonzero_and_resumes_exactly(tmp_path, signum):
    max_steps = 1200
    code, stderr = interrupt_mid_run(tmp_path, "run", signum, max_steps)
    assert code == 128 + signum, stderr[-3000:]
    assert "Traceback" not in stderr
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert f"resume with --ckpt_path {last}" in stderr
    stopped = load(last)
    assert 20 <= stopped["global_step"] < max_steps  # stopped mid-run ...
    assert stopped["global_step"] % 2 == 0  # ... after a whole D + G iteration
    assert stopped["state_dict"]["_extra_state"]["iterations"] == stopped["global_step"] // 2
    assert_finite(stopped)

    resumed = fit(tmp_path, "run", "--trainer.max_steps", str(max_steps), "--ckpt_path", str(last))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    straight = fit(tmp_path, "straight", "--trainer.max_steps", str(max_steps))
    assert straight.returncode == 0, straight.stderr[-3000:]
    assert_same_training_state(load(last), load(tmp_path / "straight/checkpoints/last.ckpt"))


def named_checkpoint(stderr: str) -> Path | None:
    """The file an error names as the last good checkpoint (None when it says none was written)."""
    if "No checkpoint was written yet" in stderr:
        return None
    return Path(stderr.split("Last good checkpoint: ", 1)[1].split(". ", 1)[0])


@pytest.mark.parametrize(
    ("optimizer_args", "breaks_before_step_4"),
    [
        # losses stay finite while a BatchNorm running_var overflows: the state check must catch it
        (["--model.optimizer", "sgd", "--model.g_lr", "1e4", "--model.d_lr", "1e4"], False),
        (["--model.g_lr", "1e12", "--model.d_lr", "1e12"], True),
    ],
    ids=["sgd-1e4", "adam-1e12"],
)
def test_a_nonfinite_state_is_never_saved_and_the_named_checkpoint_is_good(
    tmp_path, optimizer_args, breaks_before_step_4
):
    result = fit(
        tmp_path, "run", *optimizer_args, "--trainer.max_steps", "400", "--checkpoint.every_n_train_steps", "4"
    )
    assert result.returncode == 2, result.stderr[-3000:]
    no_traceback(result)
    assert "NaN/Inf" in result.stderr
    named = named_checkpoint(result.stderr)
    written = sorted((tmp_path / "run" / "checkpoints").glob("*.ckpt"))
    if breaks_before_step_4:
        assert named is None and written == []
        return
    assert named == tmp_path / "run" / "checkpoints" / "last.ckpt"
    for path in written:  # every file on disk is finite, the named one included
        assert_finite(load(path))
    assert load(named)["global_step"] == max(load(p)["global_step"] for p in written) == 4


def test_a_full_disk_loses_nothing_and_says_so_in_one_line(tmp_path, small_disk):
    # room for one tiny-DCGAN checkpoint (384 KiB with Adam's state), not for the next save's temporary beside it
    full_disk = small_disk("600k")
    result = fit(
        tmp_path, "run", "--checkpoint.dirpath", str(full_disk), "--checkpoint.save_top_k", "0",
        "--checkpoint.every_n_train_steps", "20", "--trainer.max_steps", "100",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    no_traceback(result)
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert error == [
        (
            f"error: could not write checkpoint {full_disk / 'last.ckpt'}: No space left on device; the last.ckpt "
            "before this save is intact. Free space there or choose another folder with --checkpoint.dirpath, then "
            "resume with --ckpt_path."
        )
    ]
    assert sorted(p.name for p in full_disk.iterdir()) == ["last.ckpt"]  # no temporary file left behind
    kept = load(full_disk / "last.ckpt")
    assert kept["global_step"] == 20
    assert_finite(kept)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """last.ckpt of a 10-step tiny DCGAN (ngf 8, 16 px, Adam at 2e-4)."""
    folder = tmp_path_factory.mktemp("trained")
    result = fit(folder, "run", "--trainer.max_steps", "10")
    assert result.returncode == 0, result.stderr[-3000:]
    return folder / "run" / "checkpoints" / "last.ckpt"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--model.ngf", "32"], "the checkpoint was trained with ngf 8, but --model.ngf gives 32"),
        (["--data.resolution", "32"], "the checkpoint was trained with resolution 16, but --data.resolution gives 32"),
        (["--model", "wgan"], "holds a 'dcgan' model, not 'wgan': resume it with --model dcgan"),
    ],
    ids=["width", "resolution", "model"],
)
def test_a_resume_that_would_change_the_networks_is_refused_in_one_line(tmp_path, trained, flags, message):
    args = [*TINY, "--run_dir", str(tmp_path / "run"), "--trainer.max_steps", "20", "--ckpt_path", str(trained)]
    flag, value = flags
    if flag in args:  # replace TINY's value
        args[args.index(flag) + 1] = value
    else:
        args += flags
    result = run_cli("fit", *args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-3000:]
    no_traceback(result)
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_a_resume_applies_new_learning_rates_and_keeps_the_rest_of_the_checkpoint(tmp_path, trained):
    # no --model.ngf: the checkpoint's width 8 is used, not the default 64; the new G learning rate applies
    result = run_cli(
        "fit", "--model", "dcgan", "--data", "digits", "--trainer.accelerator", "cpu",
        "--trainer.enable_progress_bar", "false", "--run_dir", str(tmp_path / "run"), "--trainer.max_steps", "14",
        "--model.g_lr", "1e-4", "--ckpt_path", str(trained), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "with g_lr 0.0001 (the checkpoint was trained with 0.0002)" in result.stderr
    resumed = load(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert resumed["global_step"] == 14
    assert resumed["hyper_parameters"]["ngf"] == 8 and resumed["hyper_parameters"]["resolution"] == 16
    assert resumed["hyper_parameters"]["g_lr"] == 1e-4
    d_groups, g_groups = (opt["param_groups"] for opt in resumed["optimizer_states"])
    assert [g["lr"] for g in g_groups] == [1e-4] and [g["lr"] for g in d_groups] == [2e-4]
    assert resumed["optimizer_states"][1]["state"][0]["step"] == 7  # Adam's moments continued, not restarted


def test_a_resume_continues_the_same_wandb_run(tmp_path):
    offline = {"WANDB_MODE": "offline"}
    first = fit(tmp_path, "run", "--trainer.max_steps", "6", env=offline)
    assert first.returncode == 0, first.stderr[-3000:]
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    second = fit(tmp_path, "run", "--trainer.max_steps", "12", "--ckpt_path", str(last), env=offline)
    assert second.returncode == 0, second.stderr[-3000:]

    run_id = (tmp_path / "run" / "wandb-run-id").read_text().strip()
    folders = sorted((tmp_path / "run" / "wandb").glob("offline-run-*"))
    assert len(folders) == 2 and all(f.name.endswith(f"-{run_id}") for f in folders)
    for result in (first, second):  # the upload command sends both parts to that one run
        assert f"wandb sync --id {run_id} {tmp_path / 'run'}/wandb/offline-run-*" in result.stderr


def test_slurm_requeue_signal_saves_at_an_iteration_boundary_then_requeues(tmp_path):
    """Lightning's SLURM auto-requeue (SIGUSR1, ``#SBATCH --signal=SIGUSR1@90``) saves hpc_ckpt_N.ckpt and runs
    ``scontrol requeue``; here it runs at the iteration boundary, next to last.ckpt. A stand-in scontrol
    records the call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "scontrol").write_text('#!/bin/sh\necho "$@" >> "$SCONTROL_LOG"\n')
    (bin_dir / "scontrol").chmod(0o755)
    slurm = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}", "SCONTROL_LOG": str(tmp_path / "scontrol.log"),
        "SLURM_JOB_ID": "4242", "SLURM_NTASKS": "1", "SLURM_NTASKS_PER_NODE": "1", "SLURM_JOB_NAME": "gan",
        "SLURM_NODELIST": "localhost", "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0",
    }  # fmt: skip
    plugin = ["--trainer.plugins", "lightning_fabric.plugins.environments.SLURMEnvironment"]
    code, stderr = interrupt_mid_run(tmp_path, "run", signal.SIGUSR1, 1200, *plugin, env=slurm)
    assert code == 128 + signal.SIGUSR1, stderr[-3000:]
    assert "Traceback" not in stderr
    assert (tmp_path / "scontrol.log").read_text() == "requeue 4242\n"
    last, hpc = load(tmp_path / "run/checkpoints/last.ckpt"), load(tmp_path / "run/hpc_ckpt_1.ckpt")
    assert 20 <= last["global_step"] < 1200 and last["global_step"] % 2 == 0
    assert_same_training_state(last, hpc)


def test_a_killed_checkpoint_writes_temporaries_are_removed_by_the_next_run(tmp_path):
    checkpoints = tmp_path / "run" / "checkpoints"
    checkpoints.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = socket.gethostname()
    killed = [checkpoints / f"last.ckpt.tmp{dead.pid}-{host}", checkpoints / f".last.ckpt.tmp{dead.pid}"]
    kept = [
        checkpoints / f"last.ckpt.tmp{os.getpid()}-{host}",  # a live writer: this test
        checkpoints / f"notes.txt.tmp{dead.pid}",  # not a checkpoint's temporary
    ]
    for path in [*killed, *kept]:
        path.write_bytes(b"partial")
    result = fit(tmp_path, "run", "--trainer.max_steps", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert not any(path.exists() for path in killed)
    assert all(path.exists() for path in kept)
