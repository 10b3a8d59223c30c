"""BigGAN from the command line as a user runs it: `cli.py fit` with its digits recipe (EMA, class rows in the
sample grid), then `cli.py sample` with per-class rows and the truncation trick from the checkpoint."""

from PIL import Image

import cli
from callbacks import load_gan
from tests.conftest import run_cli
from tests.helpers import grid_size


def test_biggan_fits_with_its_recipe_and_samples_class_rows_with_truncation(tmp_path, capsys):
    fit = run_cli(
        "fit", "--model", "biggan", "--data", "digits", "--data.batch_size", "8", "--model.g_width", "2",
        "--model.d_width", "2", "--model.latent_dim", "16", "--model.shared_dim", "8", "--trainer.max_steps", "6",
        "--samples.num_samples", "20", "--trainer.accelerator", "cpu", "--trainer.enable_model_summary", "false",
        "--run_dir", "run", cwd=tmp_path,
    )  # fmt: skip
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert "recipe: configs/biggan/digits.yaml" in fit.stderr
    assert Image.open(tmp_path / "run" / "samples" / "latest.png").size == grid_size(10, 2, px=32)  # a row per class
    checkpoint = tmp_path / "run" / "checkpoints" / "last.ckpt"
    model = load_gan(checkpoint)
    assert model.generator_ema is not None  # the recipe's EMA (decay 0.999)
    assert (model.iterations, model.generator_steps, model.hparams.attention_resolution) == (4, 2, 16)

    status = cli.main([
        "sample", "--ckpt_path", str(checkpoint), "--out_dir", str(tmp_path / "out"), "--num_samples", "4",
        "--classes", "0,1,2", "--columns", "3", "--truncation", "0.5",
    ])  # fmt: skip
    assert status == 0, capsys.readouterr().err
    assert "BigGAN at 0.0 kimg (EMA generator)" in capsys.readouterr().out
    assert Image.open(tmp_path / "out" / "classes.png").size == grid_size(3, 3, px=32)
