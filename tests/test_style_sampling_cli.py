"""`cli.py sample` on a StyleGAN2 checkpoint fit with configs/stylegan2/digits.yaml: psi with a cutoff, a noise
mode, the style-mixing grid and interpolation in W, and the errors that name their fix."""

import pytest
from PIL import Image

import cli
from tests.conftest import run_cli
from tests.helpers import grid_size


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """16 px digits: 6 ws (4 px conv, 8 px up-conv and conv, 16 px up-conv and conv, ToRGB), 10 classes."""
    folder = tmp_path_factory.mktemp("stylegan2")
    fit = run_cli(
        "fit", "--model", "stylegan2", "--data", "digits", "--data.batch_size", "8", "--model.latent_dim", "8",
        "--model.w_dim", "8", "--model.channel_base", "64", "--model.channel_max", "8", "--trainer.max_steps", "4",
        "--samples.num_samples", "10", "--trainer.accelerator", "cpu", "--trainer.enable_model_summary", "false",
        "--run_dir", "run", cwd=folder,
    )  # fmt: skip
    assert fit.returncode == 0, fit.stderr[-3000:]
    return folder / "run" / "checkpoints" / "last.ckpt"


def sample(checkpoint, out, *options: str) -> int:
    return cli.main(["sample", "--ckpt_path", str(checkpoint), "--out_dir", str(out), *options])


def test_sample_style_options_write_mixing_grid_and_w_interpolation(checkpoint, tmp_path, capsys):
    out = tmp_path / "out"
    status = sample(
        checkpoint, out, "--num_samples", "4", "--truncation", "0.5", "--truncation_cutoff", "2", "--noise_mode",
        "const", "--style_mix", "1,2:3,4,5", "--mix_layers", "coarse", "--interpolate", "linear", "--space", "w",
        "--strips", "1", "--steps", "3", "--truncations", "none,0.7,0", "--classes", "0,1", "--columns", "2", "--npz",
    )  # fmt: skip
    assert status == 0, capsys.readouterr().err
    assert "style-mixing.png" in capsys.readouterr().out
    assert Image.open(out / "grid.png").size == grid_size(2, 2, px=16)
    assert Image.open(out / "style-mixing.png").size == grid_size(3, 4, px=16)  # header row + 2 rows, header column + 3
    assert Image.open(out / "interpolation-linear-w.png").size == grid_size(1, 3, px=16)
    assert Image.open(out / "truncation.png").size == grid_size(3, 2, px=16)
    assert Image.open(out / "classes.png").size == grid_size(2, 2, px=16)
    assert (out / "samples.npz").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--style_mix", "1,2:3", "--mix_layers", "fine"], "--mix_layers fine is empty for this model's 6 ws"),
        (["--style_mix", "1,2"], "--style_mix takes ROW_SEEDS:COLUMN_SEEDS"),
        (["--interpolate", "slerp", "--space", "w"], "--space w interpolates linearly"),
        (["--truncation", "0.7", "--truncation_cutoff", "7"], "--truncation_cutoff must be in 0..6"),
    ],
)
def test_sample_style_errors_name_their_fix(checkpoint, tmp_path, capsys, options, message):
    assert sample(checkpoint, tmp_path, "--num_samples", "1", *options) == 2
    assert message in capsys.readouterr().err
