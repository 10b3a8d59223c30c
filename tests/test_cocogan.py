"""COCO-GAN: the patch geometry (coordinates map to the right pixels, cut and reassembled images are identical), the
coordinate loss, both gradient penalties and the conditional BN by hand, the reference's parameter counts, the
optimizers' parameter sets, a CLI fit and `sample` with full and extrapolated images."""

import itertools
import math

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from PIL import Image

import cli
from callbacks import load_gan
from datamodules.images import center_square
from tests.fidelity import assert_counts
from tests.helpers import grid_size, make_trainer, tiny_digits
from zoo.cocogan import COCOGAN, coordinate_loss, reference_gradient_penalty
from zoo.errors import ZooError
from zoo.nets.cocogan import CoordinateBatchNorm2d
from zoo.patches import PatchGeometry, assemble, split
from zoo.penalties import gradient_penalty

TINY = {"resolution": 32, "channels": 1, "micro_size": 8, "macro_size": 16, "latent_dim": 8, "ngf": 4, "ndf": 4}
TINY["aux_dim"] = 8


def test_macro_and_micro_coordinates_of_the_mnist_geometry():
    geometry = PatchGeometry(32, 16, 8)  # R = 4 micro patches a side, 2x2 per macro patch, 3 macro positions
    assert (geometry.micro_per_side, geometry.micro_per_macro, geometry.macro_positions) == (4, 2, 3)
    positions = torch.tensor([[0, 0], [1, 2]])
    torch.testing.assert_close(geometry.macro_coordinates(positions), torch.tensor([[-1.0, -1.0], [0.0, 1.0]]))
    third = 1 / 3  # micro coordinates -1 + 2 j / 3 for j = 0..3
    expected = [[-1, -1], [-1, -third], [-third, -1], [-third, -third], [-third, third], [-third, 1], [third, third]]
    expected.append([third, 1])
    torch.testing.assert_close(geometry.micro_coordinates(positions), torch.tensor(expected))


def test_a_cut_image_reassembles_exactly_and_macro_crops_are_their_micro_patches():
    image = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).view(2, 3, 32, 32)
    patches = split(image, 8)
    assert patches.shape == (2 * 16, 3, 8, 8)
    assert torch.equal(patches[16 + 6], image[1, :, 8:16, 16:24])  # image 1, row 1, column 2
    assert torch.equal(assemble(patches, 4), image)
    geometry = PatchGeometry(32, 16, 8)
    positions = torch.tensor([[2, 1], [0, 2]])
    macro = geometry.crop_macro(image, positions)
    assert torch.equal(macro[0], image[0, :, 16:32, 8:24]) and torch.equal(macro[1], image[1, :, 0:16, 16:32])
    # the micro patches at a macro position's micro coordinates, joined 2x2, are that macro patch
    micro = geometry.micro_positions(positions)
    cut = [image[k // 4, :, r * 8 : r * 8 + 8, c * 8 : c * 8 + 8] for k, (r, c) in enumerate(micro.tolist())]
    cut = torch.stack(cut)
    assert torch.equal(assemble(cut, 2), macro)


class CoordinatePainter(torch.nn.Module):
    """A stand-in G whose micro patch shows its coordinate: channel 0 the vertical one, channel 1 the horizontal."""

    def forward(self, z, coordinates):
        return coordinates[:, :, None, None].expand(-1, -1, 8, 8) + 0 * z[:, :1, None, None]


@pytest.mark.parametrize("steps", [0, 1])
def test_full_images_put_every_coordinate_at_its_pixels(steps):
    model = COCOGAN(**TINY)
    images = model.draw_grid(CoordinatePainter(), torch.zeros(2, 8), steps)
    side = 4 + 2 * steps
    assert images.shape == (2, 2, 8 * side, 8 * side)
    rows = torch.arange(8 * side) // 8  # the micro patch of every pixel row
    value = -1 + 2 * (rows - steps) / 3  # its coordinate: past [-1, 1] on the extra patches
    torch.testing.assert_close(images[1, 0], value[:, None].expand(-1, 8 * side))
    torch.testing.assert_close(images[1, 1], value[None, :].expand(8 * side, -1))


def test_coordinate_loss_by_hand():
    predicted, target = torch.tensor([[0.5, -0.5], [0.0, 1.0]]), torch.tensor([[1.0, -1.0], [0.0, 0.0]])
    # 100 * mean of (0.25, 0.25, 0, 1)
    assert coordinate_loss(predicted, target, 100.0).item() == pytest.approx(37.5)


def test_gradient_penalties_by_hand():
    """A linear critic sum(w x) has gradient w everywhere: with w = 1 on 1x4x4 patches the reference's norm over the
    4 rows of each column is 2, (2 - 1)^2 = 1; the per-sample norm over all 16 pixels is 4, (4 - 1)^2 = 9."""

    def critic(x):
        return x.flatten(1).sum(dim=1)

    real, fake = torch.randn(3, 1, 4, 4), torch.randn(3, 1, 4, 4)
    rng = torch.Generator().manual_seed(0)
    assert reference_gradient_penalty(critic, real, fake, 10.0, rng).item() == pytest.approx(10.0)
    assert gradient_penalty(critic, real, fake, 10.0, generator=rng).item() == pytest.approx(90.0)


@pytest.mark.parametrize("normalisation, divisor", [("reference", lambda v: v**2), ("standard", lambda v: v)])
def test_coordinate_batch_norm_by_hand(normalisation, divisor):
    norm = CoordinateBatchNorm2d(1, 2, normalisation)
    for linear, (weight, bias) in ((norm.gamma, ([1.0, 0.0], 3.0)), (norm.beta, ([0.0, 2.0], 0.5))):
        linear.weight.data = torch.tensor([weight])
        linear.bias.data = torch.tensor([bias])
    x = torch.tensor([1.0, 3.0, 5.0, 7.0]).view(2, 1, 1, 2)  # mean 4, biased variance 5
    condition = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # gains 4 and 3, biases 0.5 and 2.5
    x_hat = (x - 4) / math.sqrt(divisor(5.0) + 1e-5)
    expected = torch.tensor([4.0, 3.0]).view(2, 1, 1, 1) * x_hat + torch.tensor([0.5, 2.5]).view(2, 1, 1, 1)
    torch.testing.assert_close(norm(x, condition), expected)
    torch.testing.assert_close(norm.running_mean, torch.tensor([0.04]))  # 0.99 * 0 + 0.01 * 4
    torch.testing.assert_close(norm.running_var, torch.tensor([1.04]))  # 0.99 * 1 + 0.01 * 5


def reference_counts(micro: int, macro: int, ngf: int, ndf: int, z_dim: int, channels: int = 3, aux: int = 128):
    """G's and D's (with the spatial head) trainable parameters as hubert0527/COCO-GAN builds them (generator.py,
    discriminator.py, spatial_prediction.py, ops.py: conv/linear weights and biases, CBN's two fully connected
    layers with biases, BN's gain and bias; spectral norm's u and the BN statistics are not trainable)."""
    cond = z_dim + 2
    g = cond * ngf * 16 * 4 + ngf * 16 * 4
    blocks = int(math.log2(micro)) - 1
    widths = [ngf * 16] + [ngf * m for m in ([8, 4, 2] + [1] * blocks)[:blocks]]
    for a, b in itertools.pairwise(widths):
        g += 2 * (cond * a + a) + (9 * a * b + b) + 2 * (cond * b + b) + (9 * b * b + b) + (a * b + b)
    g += 2 * widths[-1] + 9 * widths[-1] * channels + channels
    count = int(math.log2(macro)) - 1
    multipliers = ([1] * (count - 4) + [2, 4, 8, 8]) if count > 4 else [2, 4, 8, 8][-count:]
    d_widths = [ndf] + [ndf * m for m in multipliers[1:]]
    d = 0
    for a, b in zip([channels, *d_widths], d_widths):
        d += (9 * a * b + b) + (9 * b * b + b) + (a * b + b)
    top = d_widths[-1]
    d += (top + 1) + (2 * top + top)  # the logit and the coordinate projection
    head = (top * aux + aux) + 2 * aux + (aux * 2 + 2)
    return g, d, head


@pytest.mark.parametrize("resolution, micro, macro", [(64, 16, 32), (128, 32, 64)])
def test_parameter_counts_match_the_reference_configs(resolution, micro, macro):
    """CelebA_64x64_N2M2S32.yaml and CelebA_128x128_N2M2S64.yaml: ngf = ndf = 64, z 128, aux 128."""
    with torch.device("meta"):
        model = COCOGAN(resolution=resolution, micro_size=micro, macro_size=macro)
    g, d, head = reference_counts(micro, macro, 64, 64, 128)
    heads = sum(p.numel() for p in model.spatial_head.parameters())
    assert_counts(f"COCO-GAN N2M2S{macro}", model.generator, model.discriminator, (g, d), code="hubert0527/COCO-GAN")
    assert heads == head


def test_the_spatial_head_is_in_both_optimizers_and_d_in_one():
    model = COCOGAN(**TINY)
    d_opt, g_opt = model.configure_optimizers()
    d_ids, g_ids = ({id(p) for g in opt.param_groups for p in g["params"]} for opt in (d_opt, g_opt))
    head = {id(p) for p in model.spatial_head.parameters()}
    assert head <= d_ids and head <= g_ids
    assert {id(p) for p in model.discriminator.parameters()} == d_ids - head
    assert {id(p) for p in model.generator.parameters()} == g_ids - head
    assert d_opt.param_groups[0]["lr"] == 4e-4 and g_opt.param_groups[0]["lr"] == 1e-4
    assert d_opt.param_groups[0]["betas"] == (0.0, 0.999)


def test_a_training_iteration_logs_its_loss_terms():
    model = COCOGAN(**TINY)
    pl.seed_everything(0)
    make_trainer(2).fit(model, tiny_digits(resolution=32, batch_size=8))
    assert (model.iterations, model.generator_steps, model.images_seen) == (2, 2, 16)
    assert torch.isfinite(torch.stack(list(model.last_losses.values()))).all()


def test_bad_geometry_names_the_fix():
    with pytest.raises(ZooError, match="micro < macro < full"):
        COCOGAN(**{**TINY, "macro_size": 12})


def test_coco_gans_celeba_face_box():
    pixels = torch.arange(218 * 178).view(218, 178) % 251
    image = Image.fromarray(pixels.to(torch.uint8).numpy())
    box = torch.from_numpy(np.array(center_square(image, (50, 25, 128))))
    assert torch.equal(box, pixels[50:178, 25:153])


def test_fit_and_sample_full_and_extrapolated_images(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for variable in ("PL_GLOBAL_SEED", "GAN_ZOO_RUN_DIR"):
        monkeypatch.setenv(variable, "0")
    run_dir = tmp_path / "run"
    argv = ["fit", "--model", "cocogan", "--data", "digits", "--trainer.max_steps", "4", "--run_dir", str(run_dir)]
    argv += ["--trainer.accelerator", "cpu", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]
    argv += ["--trainer.enable_model_summary", "false", "--data.batch_size", "8", "--model.ngf", "4"]
    argv += ["--samples.num_samples", "4"]
    assert cli.main(argv) == 0
    assert "recipe: configs/cocogan/digits.yaml" in capsys.readouterr().err
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    model = load_gan(ckpt, expected_model="cocogan")
    assert (model.iterations, model.images_seen, model.hparams.micro_size, model.hparams.ngf) == (2, 2 * 8, 8, 4)
    out = tmp_path / "samples"
    argv = ["sample", "--ckpt_path", str(ckpt), "--out_dir", str(out), "--num_samples", "4", "--nrow", "2"]
    assert cli.main([*argv, "--extrapolate", "1"]) == 0, capsys.readouterr().err
    assert Image.open(out / "grid.png").size == grid_size(2, 2, px=32)
    assert Image.open(out / "extrapolation.png").size == grid_size(2, 2, px=48)  # one 8 px patch past every side


def test_seam_score_by_hand():
    from benchmarks.cocogan import seam_score

    columns = torch.arange(16.0).expand(1, 1, 16, 16)
    assert seam_score(columns) == pytest.approx(1.0)  # a ramp: borders look like any other column pair
    # +3 at the border column: across pairs are (16 x 4 + 16 x 0) / 32 = 2, inside pairs (224 x 1 + 224 x 0) / 448
    assert seam_score(columns + 3 * (columns >= 8)) == pytest.approx(4.0)


def test_recognisability_by_hand():
    from benchmarks.cocogan import recognisability

    reader = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(10, 10))  # the images are its logits
    with torch.no_grad():
        reader[1].weight.copy_(torch.eye(10))
        reader[1].bias.zero_()
    logits = torch.zeros(4, 1, 1, 10)
    logits[0, ..., 2] = logits[2, ..., 7] = math.log(90)  # p = 90 / 99: confident
    logits[1, ..., 2] = math.log(9)  # p = 9 / 18
    # the last one is uniform (p = 0.1), read as class 0: classes 2, 2, 7, 0
    score = recognisability(reader, logits)
    assert score["confidence"] == pytest.approx((2 * 90 / 99 + 0.5 + 0.1) / 4)
    assert score["confident_share"] == 0.5 and score["classes_hit"] == 3
    assert score["kl"] == pytest.approx(2 * 0.25 * math.log(2.5) + 0.5 * math.log(5))


def test_celeba_crop_box_outside_the_image_names_the_fix(tmp_path):
    from datamodules.celeba import CelebADataModule

    assert CelebADataModule(str(tmp_path), crop_box=(50, 25, 128)).crop == (50, 25, 128)
    with pytest.raises(ZooError, match="must lie inside the 178x218 aligned images"):
        CelebADataModule(str(tmp_path), crop_box=(100, 25, 128))


def test_lsun_stretch_keeps_the_whole_image():
    from datamodules.lsun import LSUNDataModule

    image = Image.new("L", (40, 20))
    image.paste(255, (0, 0, 10, 20))  # the left quarter white: a central crop would cut it off
    square = center_square(image, LSUNDataModule("/nonexistent", stretch=True).crop)
    assert square.size == (20, 20)
    pixels = torch.from_numpy(np.array(square))
    assert pixels[:, :4].min() >= 240 and pixels[:, 6:].max() <= 2  # the white quarter is the left quarter still
