"""The headline command at any scale (issue 20): `fit --model stylegan --data ffhq --data.root DATA` on a 64-image
32 px StyleGAN2-ADA zip trains at 32 px with batches the 64 images fill (zoo/recipe_fit.py), and `--preset smoke`
runs each of stylegan, stylegan2, pggan and biggan from one flag."""

import copy
import io
import math
import zipfile

import numpy as np
import pytest
import torch
import yaml
from jsonargparse import Namespace
from PIL import Image

import cli
from callbacks import read_checkpoint
from datamodules.base import DataExtent
from datamodules.digits import DigitsDataModule
from tests.conftest import run_cli
from zoo.errors import ZooError
from zoo.pggan import PGGAN
from zoo.recipe_fit import fit_recipe_to_data
from zoo.stylegan import StyleGAN
from zoo.stylegan2 import StyleGAN2

#: configs/stylegan/ffhq.yaml's growth table
FFHQ_TABLE = {4: 128, 8: 128, 16: 128, 32: 64, 64: 32, 128: 16, 256: 8, 512: 4}
#: StyleGAN at tiny widths for speed; the resolution and batch sizes stay the recipe's, fitted to the data
TINY_STYLEGAN = [
    "--model.fmap_base", "32", "--model.fmap_max", "8", "--model.latent_dim", "8", "--model.w_dim", "8",
]  # fmt: skip


@pytest.fixture(scope="module")
def faces32(tmp_path_factory):
    """64 random 32x32 PNGs in a zip as StyleGAN2-ADA's dataset_tool.py writes one (dataset.json without labels)."""
    path = tmp_path_factory.mktemp("data") / "faces32.zip"
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for i in range(64):
            png = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(png, "PNG")
            archive.writestr(f"00000/img{i:08d}.png", png.getvalue())
        archive.writestr("dataset.json", '{"labels": null}')
    return path


def headline(zip_path, *flags: str, cwd) -> tuple:
    """Runs the headline command with the recipe's defaults and ``flags``; returns the process and run folder."""
    run = cwd / "run"
    fit = run_cli(
        "fit", "--model", "stylegan", "--data", "ffhq", "--data.root", str(zip_path), "--data.cache", "false",
        "--trainer.accelerator", "cpu", "--run_dir", str(run), *TINY_STYLEGAN, *flags, cwd=cwd,
    )  # fmt: skip
    return fit, run


def test_the_headline_command_trains_at_the_images_resolution_with_batches_they_fill(faces32, tmp_path):
    fit, run = headline(faces32, "--trainer.max_steps", "4", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert (
        "fit to the data (64 images, 32 px): resolution 32 (the configured 1024 is larger than the images); "
        "scaled as StyleGAN2-ADA's auto config at 32 px (model.mapping_layers 2); "
        "batch sizes {8: 64, 16: 64, 32: 64} (recipe: {8: 128, 16: 128, 32: 64})"
    ) in fit.stderr
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["data"]["resolution"] == 32 and config["data"]["batch_size"] == 4  # the table covers 8-32 px
    assert config["progressive"]["batch_sizes"] == {"8": 64, "16": 64, "32": 64}  # YAML keeps the keys as strings
    checkpoint = read_checkpoint(run / "checkpoints" / "last.ckpt")
    hparams = checkpoint["hyper_parameters"]
    assert (hparams["resolution"], hparams["mapping_layers"], hparams["fmap_base"]) == (32, 2, 32)
    assert checkpoint["state_dict"]["generator.synthesis._extra_state"]["depth"] == 1  # 8 px: the recipe's start
    assert all(torch.isfinite(t).all() for t in checkpoint["state_dict"].values() if torch.is_tensor(t))
    assert (
        checkpoint["state_dict"]["_extra_state"]["images_seen"] == 2 * 64
    )  # 4 optimizer steps: 2 iterations of 64 images


def test_an_explicit_batch_size_caps_the_growth_table(faces32, tmp_path):
    fit, run = headline(faces32, "--data.batch_size", "16", "--trainer.max_steps", "2", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert "batch sizes {8: 16, 16: 16, 32: 16}" in fit.stderr
    assert read_checkpoint(run / "checkpoints" / "last.ckpt")["state_dict"]["_extra_state"]["images_seen"] == 16


def test_a_resolution_the_images_cannot_provide_is_refused_naming_the_flag(faces32, tmp_path):
    fit, run = headline(faces32, "--data.resolution", "64", cwd=tmp_path)
    assert fit.returncode == 2
    assert fit.stderr.strip().splitlines()[-1] == (
        f"error: FFHQ --data.resolution 64 is not a power of two no larger than the 32x32 source images "
        f"({faces32}:00000/img00000000.png): choose one of 4, 8, 16, 32"
    )
    assert not run.exists()


# -------------------------------------------------------------------------- the fitting rules, without a run


class FakeData:
    """A datamodule whose ``extent`` is set by the test."""

    extent_value = DataExtent(64, 32)

    def __init__(self, **kwargs):
        pass

    def extent(self) -> DataExtent:
        return self.extent_value


def recipe(model: dict, data: dict, progressive: dict | None = None) -> Namespace:
    groups = {"model": Namespace(**model), "data": Namespace(**data), "ema": Namespace(half_life_kimg=20, rampup=None)}
    if progressive is not None:
        groups["progressive"] = Namespace(**progressive)
    return Namespace(**groups)


def stylegan_ffhq() -> Namespace:
    return recipe(
        {"mbstd_group_size": 4, "fmap_base": 8192, "mapping_layers": 8},
        {"resolution": 1024, "batch_size": 4},
        {"start_resolution": 8, "batch_sizes": dict(FFHQ_TABLE)},
    )


SMALL_ZIP = DataExtent(64, 32)


def fit_to(config: Namespace, argv=(), model=StyleGAN, extent=SMALL_ZIP, devices=1, defaults=None):
    """fit_recipe_to_data on ``config`` as parsed from the recipe (``defaults``) and the flags ``argv``."""
    FakeData.extent_value = extent
    defaults = copy.deepcopy(config) if defaults is None else defaults
    return fit_recipe_to_data(config, defaults, list(argv), model, FakeData, devices)


@pytest.mark.parametrize(
    ("extent", "devices", "batch_sizes"),
    [
        (DataExtent(64, 32), 1, {8: 64, 16: 64, 32: 64}),
        (DataExtent(64, 32), 2, {8: 32, 16: 32, 32: 32}),  # one batch per device
        (DataExtent(50, 32), 1, {8: 48, 16: 48, 32: 48}),  # whole minibatch stddev groups of 4
        (DataExtent(70000, 1024), 1, FFHQ_TABLE),  # the paper's data: the paper's table
    ],
)
def test_growth_batch_sizes_fit_the_dataset(extent, devices, batch_sizes):
    config = stylegan_ffhq()
    fit_to(config, extent=extent, devices=devices)
    assert config.progressive.batch_sizes == batch_sizes


def test_the_paper_config_stays_where_the_data_is_the_papers_size():
    config = stylegan2_ffhq()
    assert fit_to(config, model=StyleGAN2, extent=DataExtent(70000, 1024)) is None
    assert (config.model.preset, config.data.resolution, config.data.batch_size) == ("paper256", 256, 64)


def stylegan2_ffhq() -> Namespace:
    return recipe({"preset": "paper256", "gpus": 1, "mbstd_group": None}, {"resolution": 256, "batch_size": 64})


def test_stylegan2_on_small_images_takes_ada_auto_config():
    config = stylegan2_ffhq()
    line = fit_to(config, model=StyleGAN2, extent=DataExtent(1000, 32))
    # ADA's auto at 32 px: mb = min(4096 / 32, 32) = 32, ema = 32 * 10 / 32 = 10 kimg, ramp-up 0.05
    assert (config.model.preset, config.data.resolution, config.data.batch_size) == ("auto", 32, 32)
    assert (config.ema.half_life_kimg, config.ema.rampup) == (10, 0.05)
    assert line.startswith("fit to the data (1000 images, 32 px): resolution 32")


def test_a_given_growth_table_wins_over_a_given_batch_size():
    config = stylegan_ffhq()
    defaults = copy.deepcopy(config)
    config.data.batch_size, config.progressive.batch_sizes = 16, {8: 32, 16: 8}
    fit_to(config, ["--data.batch_size", "16", "--progressive.batch_sizes", "{8: 32, 16: 8}"], defaults=defaults)
    assert (config.progressive.batch_sizes, config.data.batch_size) == ({8: 32, 16: 8}, 16)  # 32 px: 16


def test_a_single_batch_size_fits_the_dataset_in_whole_minibatch_stddev_groups():
    config = stylegan2_ffhq()
    line = fit_to(config, model=StyleGAN2, extent=DataExtent(22, 32))
    assert config.data.batch_size == 20  # auto's 32 capped at 22 images, rounded down to groups of 4
    assert line.endswith("; batch size 20 (the configured 32 does not fit 22 samples on 1 device(s))")


def test_given_values_win_over_the_scaled_config():
    config = stylegan2_ffhq()
    defaults = copy.deepcopy(config)
    config.data.batch_size, config.model.preset = 16, "paper256"
    fit_to(
        config, ["--data.batch_size", "16", "--model.preset", "paper256"], StyleGAN2, DataExtent(64, 32), 1, defaults
    )
    assert (config.model.preset, config.data.batch_size, config.data.resolution) == ("paper256", 16, 32)


@pytest.mark.parametrize(
    ("change", "argv", "message"),
    [
        (
            {"data.batch_size": 128},
            ["--data.batch_size", "128"],
            (
                "--data.batch_size 128 on 1 device(s) needs 128 samples, the dataset has 64; lower --data.batch_size "
                "to at most 64"
            ),
        ),
        (
            {"progressive.batch_sizes": {8: 16, 16: 16, 32: 100}},
            ["--progressive.batch_sizes", "{8: 16, 16: 16, 32: 100}"],
            (
                "--progressive.batch_sizes gives 100 at 32 px, but the dataset has 64 samples on 1 device(s); lower "
                "it to at most 64"
            ),
        ),
        (
            {"devices": 128},
            [],
            "the dataset has 64 samples, fewer than the 128 devices; lower --trainer.devices",
        ),
    ],
)
def test_what_cannot_fit_names_the_knob_that_fixes_it(change, argv, message):
    config = stylegan_ffhq()
    defaults = copy.deepcopy(config)
    devices = change.pop("devices", 1)
    for key, value in change.items():
        config[key] = value
    with pytest.raises(ZooError) as err:
        fit_to(config, argv, devices=devices, defaults=defaults)
    assert str(err.value) == message


def test_a_growth_table_too_large_for_the_bundled_digits_names_its_flag():
    config = recipe({"mbstd_group_size": 4}, {"resolution": 16, "batch_size": 32}, {"start_resolution": 4})
    defaults = copy.deepcopy(config)
    config.progressive.batch_sizes = {4: 64, 8: 64, 16: 2048}
    with pytest.raises(ZooError, match=r"^--progressive.batch_sizes gives 2048 at 16 px, but the dataset has 1797 "):
        fit_recipe_to_data(config, defaults, [], PGGAN, DigitsDataModule, 1)


def test_data_without_an_extent_keeps_the_recipe():
    config = recipe({"mbstd_group_size": 4}, {"resolution": 16, "batch_size": 32}, {"start_resolution": 4})
    assert fit_to(config, model=PGGAN, extent=None) is None
    assert config.data.batch_size == 32


# ---------------------------------------------------------------------------------------------- --preset smoke


@pytest.mark.parametrize(
    ("model", "on_zip", "steps", "expected"),
    [
        ("stylegan", False, 4, {"model.fmap_base": 256, "model.mapping_layers": 2, "progressive.fade_kimg": 0.5}),
        ("stylegan2", True, 4, {"model.preset": "auto", "model.channel_base": 256, "data.resolution": 32}),
        ("pggan", True, 4, {"model.fmap_base": 256, "data.resolution": 32, "progressive.batch_sizes": {"32": 8}}),
        ("biggan", False, 3, {"model.g_width": 4, "data.batch_size": 8, "data.resolution": 32}),
    ],
)
def test_preset_smoke_builds_its_config_and_trains(model, on_zip, steps, expected, faces32, tmp_path):
    data = ["--data", "ffhq", "--data.root", str(faces32), "--data.cache", "false"] if on_zip else []
    smoke = run_cli(
        "fit", "--model", model, "--preset", "smoke", *data, "--trainer.max_steps", str(steps),
        "--trainer.accelerator", "cpu", "--run_dir", "run", cwd=tmp_path,
    )  # fmt: skip
    assert smoke.returncode == 0, smoke.stderr[-3000:]
    assert f"preset: configs/{model}/presets/smoke.yaml" in smoke.stderr
    config = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert config["trainer"]["max_steps"] == steps  # a flag after the preset wins
    for key, value in expected.items():
        group, name = key.split(".")
        assert config[group][name] == value or value.items() <= config[group][name].items(), key
    checkpoint = read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert checkpoint["global_step"] == steps
    assert all(math.isfinite(t.float().sum()) for t in checkpoint["state_dict"].values() if torch.is_tensor(t))
    assert (tmp_path / "run" / "samples" / "latest.png").is_file()  # the grid written at the end


def test_an_unknown_preset_names_those_that_exist(capsys):
    assert cli.main(["fit", "--model", "stylegan", "--preset", "huge"]) == 2
    assert capsys.readouterr().err == "error: unknown preset 'huge' for stylegan; choose one of: smoke\n"
