"""StyleGAN2 from the command line as a user runs it: `cli.py fit` with its digits recipe (conditional, EMA with
ramp-up, class rows in the sample grid), then `cli.py sample` with per-class rows from the checkpoint."""

from PIL import Image

import cli
from callbacks import load_gan
from tests.conftest import run_cli
from tests.helpers import grid_size
from zoo.stylegan2 import StyleGAN2


def test_stylegan2_fits_with_its_digits_recipe_and_samples_class_rows(tmp_path, capsys):
    fit = run_cli(
        "fit", "--model", "stylegan2", "--data", "digits", "--data.batch_size", "8", "--model.latent_dim", "8",
        "--model.w_dim", "8", "--model.channel_base", "64", "--model.channel_max", "8", "--trainer.max_steps", "6",
        "--samples.num_samples", "20", "--trainer.accelerator", "cpu", "--trainer.enable_model_summary", "false",
        "--run_dir", "run", cwd=tmp_path,
    )  # fmt: skip
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert "recipe: configs/stylegan2/digits.yaml" in fit.stderr
    assert Image.open(tmp_path / "run" / "samples" / "latest.png").size == grid_size(10, 2, px=16)  # a row per class
    checkpoint = tmp_path / "run" / "checkpoints" / "last.ckpt"
    model = load_gan(checkpoint)
    assert isinstance(model, StyleGAN2) and model.num_classes == 10
    assert model.generator_ema is not None  # the recipe's EMA (half-life 10 kimg, ramp-up 0.05)
    # NVlabs' phases (the default schedule): 6 optimizer steps are iteration 0 (Gmain, Greg, Dmain, Dreg) and 1
    assert (model.iterations, model.generator_steps, model.hparams.preset) == (2, 2, "auto")
    assert model.hparams.schedule == "nvlabs"
    assert model.pl_mean > 0  # path length regularization ran at iteration 0

    status = cli.main([
        "sample", "--ckpt_path", str(checkpoint), "--out_dir", str(tmp_path / "out"), "--num_samples", "4",
        "--classes", "0,1,2", "--columns", "3",
    ])  # fmt: skip
    assert status == 0, capsys.readouterr().err
    assert "StyleGAN2 at 0.0 kimg (EMA generator)" in capsys.readouterr().out
    assert Image.open(tmp_path / "out" / "classes.png").size == grid_size(3, 3, px=16)


def test_stylegan2_fits_with_the_shared_schedule(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status = cli.main([
        "fit", "--model", "stylegan2", "--data", "digits", "--data.batch_size", "8", "--model.latent_dim", "8",
        "--model.w_dim", "8", "--model.channel_base", "64", "--model.channel_max", "8", "--model.schedule", "shared",
        "--trainer.max_steps", "6", "--trainer.accelerator", "cpu", "--trainer.enable_model_summary", "false",
        "--trainer.enable_progress_bar", "false", "--samples.num_samples", "10", "--run_dir", "run",
    ])  # fmt: skip
    assert status == 0
    model = load_gan(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert model.hparams.schedule == "shared"
    assert (model.iterations, model.generator_steps) == (3, 3)  # one D and one G step per iteration
    assert model.pl_mean > 0  # path length regularization ran at G step 0
