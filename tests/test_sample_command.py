"""`python cli.py sample`: interpolation strips, truncation rows, the .npz dump and PNGs from a checkpoint
trained with EMA, and the errors that name their fix. Run in-process through cli.main (tests/test_cli.py
runs the command as a subprocess)."""

import numpy as np
import pytest
import pytorch_lightning as pl
from PIL import Image
from pytorch_lightning.callbacks import ModelCheckpoint

import cli
from callbacks import EMA, load_gan
from metrics.resize import to_uint8
from tests.helpers import grid_size, make_trainer, tiny_dcgan, tiny_digits


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run") / "checkpoints"
    pl.seed_everything(0)
    callbacks = [EMA(half_life_kimg=1), ModelCheckpoint(dirpath=folder, save_last=True, save_top_k=0)]
    make_trainer(2, callbacks=callbacks, enable_checkpointing=True).fit(tiny_dcgan(), tiny_digits())
    return folder / "last.ckpt"


def test_sample_writes_strips_rows_npz_and_pngs(checkpoint, tmp_path, capsys):
    out = tmp_path / "out"
    status = cli.main([
        "sample", "--ckpt_path", str(checkpoint), "--out_dir", str(out), "--num_samples", "5", "--batch_size", "2",
        "--seed", "3", "--interpolate", "slerp", "--strips", "2", "--steps", "4", "--truncations", "none,1.0,0.5",
        "--columns", "3", "--npz", "--individual",
    ])  # fmt: skip
    assert status == 0, capsys.readouterr().err
    assert "(EMA generator)" in capsys.readouterr().out
    assert Image.open(out / "grid.png").size == grid_size(2, 3, px=16)  # 5 samples, ceil(sqrt(5)) = 3 per row
    assert Image.open(out / "interpolation-slerp.png").size == grid_size(2, 4, px=16)
    assert Image.open(out / "truncation.png").size == grid_size(3, 3, px=16)
    with np.load(out / "samples.npz") as npz:
        pixels = npz["arr_0"]
    assert pixels.shape == (5, 16, 16, 1) and pixels.dtype == np.uint8
    for i in range(5):
        assert np.array_equal(np.asarray(Image.open(out / f"{i:06d}.png")), pixels[i, ..., 0])
    model = load_gan(checkpoint)  # the EMA generator draws them, as model.sample does
    expected = to_uint8(model.sample(5, seed=3)).permute(0, 2, 3, 1).numpy()
    assert np.abs(pixels.astype(int) - expected).max() <= 1  # batches of 2 vs one batch of 5: float rounding


@pytest.mark.parametrize(
    "args, phrase",
    [
        (["--classes", "one"], "--classes takes a comma-separated list, e.g. --classes 0,1,2"),
        (["--truncations", "1,x"], "--truncations takes a comma-separated list"),
        (["--num_samples", "2000"], "add --no-grid"),
        (["--batch_size", "0"], "must be >= 1"),
    ],
)
def test_bad_sample_options_name_the_fix(checkpoint, tmp_path, capsys, args, phrase):
    assert cli.main(["sample", "--ckpt_path", str(checkpoint), "--out_dir", str(tmp_path), *args]) == 2
    assert phrase in capsys.readouterr().err
    assert not list(tmp_path.glob("*.npz"))


def test_classes_of_an_unconditional_model_are_skipped_with_a_note(checkpoint, tmp_path, capsys):
    argv = ["sample", "--ckpt_path", str(checkpoint), "--out_dir", str(tmp_path), "--num_samples", "4"]
    assert cli.main([*argv, "--classes", "0,1,2", "--truncations", "none,0.5", "--columns", "3"]) == 0
    out, err = capsys.readouterr()
    assert err.strip() == "note: DCGAN is unconditional: --classes skipped, no classes.png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png", "truncation.png"]
    assert "grid.png, truncation.png ->" in out
    assert Image.open(tmp_path / "truncation.png").size == grid_size(2, 3, px=16)


def test_large_dumps_skip_the_grid(checkpoint, tmp_path):
    argv = ["sample", "--ckpt_path", str(checkpoint), "--out_dir", str(tmp_path), "--no-grid", "--npz"]
    assert cli.main([*argv, "--num_samples", "1100", "--batch_size", "550"]) == 0
    with np.load(tmp_path / "samples.npz") as npz:
        assert npz["arr_0"].shape == (1100, 16, 16, 1)
    assert not (tmp_path / "grid.png").exists()
