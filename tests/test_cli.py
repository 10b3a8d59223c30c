"""The command line as a user runs it: subprocesses of ``python cli.py ...``."""

import argparse
from pathlib import Path

import pytest
import torch
from PIL import Image

from tests.conftest import run_cli


def only_run_dir(cwd: Path) -> Path:
    (run_dir,) = (cwd / "runs").glob("*/*")
    return run_dir


def assert_user_error(result, *phrases: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


def test_fit_writes_checkpoints_samples_and_wandb_offline_then_sample_and_resume(tmp_path, tiny_dcgan_args):
    fit = run_cli(
        "fit", *tiny_dcgan_args, "--trainer.max_steps", "16", "--samples.every_n_kimg", "0.1",
        "--samples.num_samples", "16", "--checkpoint.every_n_train_steps", "8",
        cwd=tmp_path, env={"WANDB_MODE": "offline"},
    )  # fmt: skip
    assert fit.returncode == 0, fit.stderr[-3000:]
    run_dir = only_run_dir(tmp_path)
    assert run_dir.parent.name == "dcgan-digits"
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert checkpoints == ["00000008.ckpt", "00000016.ckpt", "last.ckpt"]
    grids = sorted(p.name for p in (run_dir / "samples").glob("kimg*.png"))
    # 0.1 and 0.2 kimg are first reached after 4 and 7 iterations of 32 images, the end after 8 (0.256 kimg)
    assert grids == ["kimg000000.128.png", "kimg000000.224.png", "kimg000000.256.png"]
    grid = Image.open(run_dir / "samples" / "latest.png")
    assert grid.size == (4 * 16 + 5 * 2, 4 * 16 + 5 * 2)  # 4x4 grid of 16 px images, 2 px padding
    assert list((run_dir / "wandb").glob("offline-run-*")), "W&B offline run folder missing"
    assert "wandb sync" in fit.stderr
    assert (run_dir / "config.yaml").is_file()

    sample = run_cli(
        "sample", "--ckpt_path", str(run_dir / "checkpoints" / "last.ckpt"), "--num_samples", "6",
        "--individual", "--out_dir", "out", "--seed", "5", cwd=tmp_path,
    )  # fmt: skip
    assert sample.returncode == 0, sample.stderr
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["000000.png", *(f"00000{i}.png" for i in range(1, 6)), "grid.png"]
    assert Image.open(out / "000003.png").size == (16, 16)
    again = run_cli("sample", "--ckpt_path", str(run_dir / "checkpoints" / "last.ckpt"), "--num_samples", "6",
                    "--out_dir", "out2", "--seed", "5", cwd=tmp_path)  # fmt: skip
    assert again.returncode == 0
    assert (out / "grid.png").read_bytes() == (tmp_path / "out2" / "grid.png").read_bytes()

    resume = run_cli(
        "fit", *tiny_dcgan_args, "--trainer.max_steps", "24", "--ckpt_path", str(run_dir / "checkpoints" / "last.ckpt"),
        cwd=tmp_path,
    )  # fmt: skip
    assert resume.returncode == 0, resume.stderr[-3000:]
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == 24 and last["state_dict"]["_extra_state"]["iterations"] == 12
    assert only_run_dir(tmp_path) == run_dir  # resuming writes into the same run folder


def test_models_lists_the_zoo():
    result = run_cli("models", cwd=Path.cwd())
    assert result.returncode == 0
    lines = dict(line.split(maxsplit=1) for line in result.stdout.strip().splitlines())
    assert set(lines) >= {"gan", "dcgan"} and "Radford 2015" in lines["dcgan"]


def test_print_config_shows_every_knob_and_the_recipe(tmp_path):
    result = run_cli("fit", "--model", "dcgan", "--print_config", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for knob in ("ngf: 32", "g_lr:", "d_betas:", "d_steps:", "objective: non_saturating", "grad_clip_norm:",
                 "resolution: 16", "every_n_kimg:", "every_n_train_steps:", "max_epochs: 120"):  # fmt: skip
        assert knob in result.stdout, knob
    assert not (tmp_path / "runs").exists()


def test_short_names_and_flags_override_the_recipe(tmp_path):
    result = run_cli("fit", "--model=gan", "--data", "toy2d", "--model.g_lr", "0.001", "--print_config", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "g_lr: 0.001" in result.stdout and "mixture: ring" in result.stdout


@pytest.mark.parametrize(
    "args,phrases",
    [
        (["fit", "--model", "stylegn"], ["unknown model 'stylegn'", "dcgan, dragan, ebgan"]),
        (["fit", "--model", "dcgan", "--data", "celebb"], ["unknown dataset 'celebb'", "celeba, celeba_hq, cifar10"]),
        (["fit"], ["choose a model with --model"]),
        (["fti", "--model", "dcgan"], ["unknown command 'fti'"]),
        (["fit", "--model", "dcgan", "--data", "toy2d"], ["has no images"]),
        (["fit", "--model", "dcgan", "--data", "mnist", "--data.root", "nowhere"],
         ["MNIST not found", "nowhere/MNIST/raw", "--data.download true"]),
        (["sample", "--ckpt_path", "missing.ckpt"], ["checkpoint not found: missing.ckpt"]),
    ],
)  # fmt: skip
def test_bad_input_gets_one_clear_message(tmp_path, args, phrases):
    assert_user_error(run_cli(*args, cwd=tmp_path, env={"WANDB_MODE": "offline"}), *phrases)
    assert not (tmp_path / "runs").exists()  # refused before a run folder or a W&B run was created


def test_corrupt_checkpoint_is_named_by_sample_and_by_fit(tmp_path, tiny_dcgan_args):
    bad = tmp_path / "broken.ckpt"
    bad.write_bytes(b"PK\x03\x04 this is not a checkpoint")
    assert_user_error(run_cli("sample", "--ckpt_path", str(bad), cwd=tmp_path), "broken.ckpt is unreadable")
    fit = run_cli("fit", *tiny_dcgan_args, "--trainer.max_steps", "2", "--ckpt_path", str(bad), cwd=tmp_path)
    assert_user_error(fit, "broken.ckpt is unreadable")


def test_checkpoint_with_pickled_code_is_refused(tmp_path):
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": argparse.Namespace(run="code")}, evil)  # an arbitrary class instance
    assert_user_error(run_cli("sample", "--ckpt_path", str(evil), cwd=tmp_path), "evil.ckpt is unreadable")


def test_gan_on_toy_points_draws_a_scatter_picture(tmp_path):
    fit = run_cli(
        "fit", "--model", "gan", "--data", "toy2d", "--data.num_points", "1000", "--trainer.max_steps", "6",
        "--trainer.enable_model_summary", "false", "--samples.num_samples", "500", cwd=tmp_path,
    )  # fmt: skip
    assert fit.returncode == 0, fit.stderr[-3000:]
    picture = Image.open(only_run_dir(tmp_path) / "samples" / "latest.png")
    assert picture.size == (256, 256)
    assert 0 < sum(1 for v in picture.convert("L").tobytes() if v > 0) <= 500  # one dot per occupied cell


def test_prepare_builds_the_cache_and_lists_unreadable_files(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for i in range(3):
        Image.new("RGB", (24, 20), (80 * i, 0, 0)).save(images / f"{i}.png")
    (images / "bad.png").write_bytes(b"not a png")
    result = run_cli(
        "prepare", "--data", "folder", "--data.root", str(images), "--data.resolution", "8", "--data.num_workers", "0",
        cwd=tmp_path, env={"GAN_ZOO_CACHE": str(tmp_path / "cache")},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "3 images at 8 px" in result.stdout and "unreadable, left out: " in result.stdout
    arrays = sorted(p.name.split(".", 1)[1] for p in (tmp_path / "cache").glob("folder-8px-*"))
    assert arrays == ["index.npy", "json", "npy"]
    assert_user_error(run_cli("prepare", "--data", "digits", cwd=tmp_path), "no cache to prepare")
