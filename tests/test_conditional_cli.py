"""The conditional entries through cli.py: `fit` of each tiny digits recipe, `sample --classes` from a CGAN
checkpoint and `sample --vary_code` from an InfoGAN checkpoint. In-process through cli.main (tests/test_cli.py
runs the command as a subprocess)."""

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from PIL import Image
from pytorch_lightning.callbacks import ModelCheckpoint

import cli
from callbacks import load_gan
from callbacks.samples import sample_picture
from tests.helpers import grid_size, make_trainer, tiny_digits
from zoo import get_model
from zoo.infogan_sampling import vary_code
from zoo.sampling import class_grid

TINY = {
    "cgan": {"resolution": 16, "channels": 1, "ngf": 8, "ndf": 8, "latent_dim": 16},
    "infogan": {"resolution": 16, "channels": 1, "ngf": 8, "ndf": 8, "noise_dim": 8, "q_hidden": 16},
}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    paths = {}
    for name, kwargs in TINY.items():
        folder = tmp_path_factory.mktemp(name) / "checkpoints"
        pl.seed_everything(0)
        saver = ModelCheckpoint(dirpath=folder, save_last=True)
        trainer = make_trainer(2, callbacks=[saver], enable_checkpointing=True)
        trainer.fit(get_model(name)(**kwargs), tiny_digits())
        paths[name] = folder / "last.ckpt"
    return paths


def png_pixels(samples: torch.Tensor, nrow: int) -> np.ndarray:
    """The pixels torchvision's save_image writes for ``sample_picture(samples, nrow)``."""
    picture = sample_picture(samples, nrow).mul(255).add_(0.5).clamp_(0, 255)
    return picture.permute(1, 2, 0).to(torch.uint8).numpy()


def test_sample_classes_writes_one_row_per_requested_class(checkpoints, tmp_path, capsys):
    argv = ["sample", "--ckpt_path", str(checkpoints["cgan"]), "--out_dir", str(tmp_path), "--no-grid"]
    assert cli.main([*argv, "--classes", "0,1,2", "--columns", "4", "--seed", "5"]) == 0, capsys.readouterr().err
    picture = Image.open(tmp_path / "classes.png")
    assert picture.size == grid_size(3, 4, px=16)
    expected = png_pixels(class_grid(load_gan(checkpoints["cgan"]), [0, 1, 2], 4, seed=5), 4)
    assert np.array_equal(np.asarray(picture), expected)


@pytest.mark.parametrize("code", ["categorical", "c2"])
def test_sample_vary_code_sweeps_one_code_per_row(checkpoints, tmp_path, capsys, code):
    argv = ["sample", "--ckpt_path", str(checkpoints["infogan"]), "--out_dir", str(tmp_path), "--no-grid"]
    assert cli.main([*argv, "--vary_code", code, "--strips", "2", "--seed", "1"]) == 0, capsys.readouterr().err
    assert f"code-{code}.png" in capsys.readouterr().out
    picture = Image.open(tmp_path / f"code-{code}.png")
    assert picture.size == grid_size(2, 10, px=16)  # 10 categories, or 10 values over [-2, 2]
    expected = png_pixels(vary_code(load_gan(checkpoints["infogan"]), code, rows=2, seed=1), 10)
    assert np.array_equal(np.asarray(picture), expected)


@pytest.mark.parametrize(
    "name, code, phrase",
    [
        ("cgan", "c1", "CGAN has no latent codes: --vary_code needs an InfoGAN checkpoint"),
        ("infogan", "c5", "unknown code 'c5'; this model's codes are: categorical, c1, c2"),
    ],
)
def test_bad_vary_code_names_the_fix(checkpoints, tmp_path, capsys, name, code, phrase):
    argv = ["sample", "--ckpt_path", str(checkpoints[name]), "--out_dir", str(tmp_path), "--vary_code", code]
    assert cli.main(argv) == 2
    assert phrase in capsys.readouterr().err
    assert not list(tmp_path.glob("*.png"))


@pytest.mark.parametrize("name, grid", [("cgan", (6, 10)), ("acgan", (6, 10)), ("infogan", (8, 8))])
def test_fit_trains_the_tiny_digits_recipe(tmp_path, monkeypatch, capsys, name, grid):
    monkeypatch.chdir(tmp_path)
    for variable in ("PL_GLOBAL_SEED", "GAN_ZOO_RUN_DIR"):  # set by the run: restored afterwards
        monkeypatch.setenv(variable, "0")
    run_dir = tmp_path / "run"
    argv = ["fit", "--model", name, "--data", "digits", "--trainer.max_steps", "4", "--run_dir", str(run_dir)]
    argv += ["--trainer.accelerator", "cpu", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]
    assert cli.main([*argv, "--trainer.enable_model_summary", "false"]) == 0
    assert f"recipe: configs/{name}/digits.yaml" in capsys.readouterr().err
    model = load_gan(run_dir / "checkpoints" / "last.ckpt", expected_model=name)
    assert (model.iterations, model.images_seen, model.hparams.ngf) == (2, 2 * 64, 16)  # the recipe's batch, width
    columns, rows = grid  # class rows: 64 // 10 images for each of the 10 digits; unconditional: 8 x 8
    assert Image.open(run_dir / "samples" / "latest.png").size == grid_size(rows, columns, px=16)
