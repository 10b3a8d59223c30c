"""StyleGAN from the command line as a user runs it: `cli.py fit` with its digits recipe through the first phase change
(4 px into the 8 px fade-in), then `cli.py sample` from the checkpoint, with truncation in W and a style-mixing grid."""

from PIL import Image

import cli
from callbacks import load_gan, read_checkpoint
from tests.conftest import run_cli
from tests.helpers import grid_size
from zoo.stylegan import StyleGAN


def test_stylegan_fits_its_digits_recipe_through_a_phase_change_and_samples(tmp_path, capsys):
    # batches of 8: images_seen 0..32 before iterations 0..4 are the 4 px phase, iteration 5 fades 8 px in
    fit = run_cli(
        "fit", "--model", "stylegan", "--data", "digits", "--data.batch_size", "8", "--model.latent_dim", "8",
        "--model.w_dim", "8", "--model.mapping_layers", "2", "--model.fmap_base", "16", "--model.fmap_max", "8",
        "--progressive.stabilize_kimg", "0.032", "--progressive.fade_kimg", "0.064",
        "--progressive.batch_sizes", "{4: 8, 8: 8, 16: 8}", "--trainer.max_steps", "12",
        "--samples.num_samples", "4", "--trainer.accelerator", "cpu", "--trainer.enable_model_summary", "false",
        "--run_dir", "run", cwd=tmp_path,
    )  # fmt: skip
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert "recipe: configs/stylegan/digits.yaml" in fit.stderr
    checkpoint = tmp_path / "run" / "checkpoints" / "last.ckpt"
    state = read_checkpoint(checkpoint)["state_dict"]
    phase = {"depth": 1, "alpha": 0.125}  # (40 - 32) / 64 images into the 8 px fade-in
    assert state["generator.synthesis._extra_state"] == state["discriminator._extra_state"] == phase
    assert state["generator_ema.synthesis._extra_state"] == phase  # the recipe's EMA generator grows too
    assert Image.open(tmp_path / "run" / "samples" / "latest.png").size == grid_size(2, 2, px=8)
    model = load_gan(checkpoint)
    assert isinstance(model, StyleGAN) and (model.iterations, model.images_seen) == (6, 48)
    assert model.generator.mapping.w_avg.abs().sum() > 0

    status = cli.main([
        "sample", "--ckpt_path", str(checkpoint), "--out_dir", str(tmp_path / "out"), "--num_samples", "6",
        "--nrow", "3", "--truncation", "0.7", "--truncation_cutoff", "2", "--style_mix", "1,2:3,4,5",
    ])  # fmt: skip
    assert status == 0, capsys.readouterr().err
    assert Image.open(tmp_path / "out" / "grid.png").size == grid_size(2, 3, px=8)
    # the style-sampling CLI drives this generator through the StyleGAN2 protocol: a header row and column
    assert Image.open(tmp_path / "out" / "style-mixing.png").size == grid_size(3, 4, px=8)
