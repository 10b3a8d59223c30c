"""LAPGAN: the pyramid's d/u against Torch's image.scale by hand, exact reconstruction, eyescream's parameter
counts, the levels' independence in the shared loop, the SGD schedule, sampling down the pyramid and a CLI fit."""

import re

import pytest
import pytorch_lightning as pl
import torch

import cli
from callbacks import load_gan
from tests.fidelity import assert_counts
from tests.helpers import make_trainer, tiny_digits
from zoo.errors import ZooError
from zoo.lapgan import LAPGAN
from zoo.nets.lapgan import BaseLevelDiscriminator, BaseLevelGenerator, ConvLevelDiscriminator, ConvLevelGenerator
from zoo.pyramid import downsample, laplacian_pyramid, reconstruct, upsample

TINY = {"resolution": 16, "channels": 1, "num_classes": 10, "base_g_hidden": 32, "base_d_hidden": 16, "ngf": 4}
TINY.update(ndf=4, latent_dim=8)


def test_downsample_averages_each_2x2_block():
    image = torch.arange(16.0).view(1, 1, 4, 4)
    assert torch.equal(downsample(image), torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))


def test_upsample_interpolates_through_the_corner_pixels():
    # image.scale growing 2 -> 4 samples the source at 0, 1/3, 2/3, 1: value (r, c) of [[0, 1], [2, 3]] is (2r + c)/3
    grown = upsample(torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]]))
    rows, cols = torch.meshgrid(torch.arange(4.0), torch.arange(4.0), indexing="ij")
    torch.testing.assert_close(grown[0, 0], (2 * rows + cols) / 3, rtol=0, atol=1e-6)


def test_laplacian_pyramid_reconstructs_the_image_exactly():
    image = torch.rand(3, 2, 32, 32, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    pyramid = laplacian_pyramid(image, 3)
    assert [level.shape[-1] for level in pyramid] == [32, 16, 8]
    assert torch.equal(pyramid[-1], downsample(downsample(image)))  # the low-pass residual is I_2
    torch.testing.assert_close(reconstruct(pyramid), image, rtol=0, atol=1e-14)  # exact up to float64 rounding


def test_parameter_counts_are_eyescreams():
    with torch.device("meta"):  # the 32 px base MLP has 89M parameters: count them without allocating
        base = BaseLevelGenerator(100, 10, (3, 32, 32), 8000), BaseLevelDiscriminator(10, (3, 32, 32), 1600, 0.5)
        level = ConvLevelGenerator(32, 3, 10, 64), ConvLevelDiscriminator(32, 3, 10, 64, 0.5)
    # train_cifar_classcond.lua at its defaults (32 px, hidden_G 8000, hidden_D 1600): G 110*8000+8000 +
    # 8000*8000+8000 + 8000*3072+3072; D 3082*1600+1600 + 1600*1600+1600 + 1601
    assert_counts("eyescream classcond MLP", *base, (89_475_072, 7_496_001), code="train_cifar_classcond.lua")
    # train_cifar_coarse_to_fine_classcond.lua (16 -> 32, 64 planes): G 11264 (class plane) + 15744 + 200768 + 4803;
    # D 11264 + 6464 + 102464 + 9217 (the 12x12x64 map to one logit)
    script = "train_cifar_coarse_to_fine_classcond.lua"
    assert_counts("eyescream classcond coarse-to-fine", *level, (232_579, 129_409), code=script)


def test_sampling_goes_down_the_pyramid():
    model = LAPGAN(**{**TINY, "resolution": 32})
    assert model.latent_dim == 8 + 16 * 16 + 32 * 32  # base vector, then one noise plane per finer level
    z, y = model.sample_latent(5, torch.Generator().manual_seed(0)), torch.arange(5)
    assert z.min() >= -1 and z.max() <= 1 and z.min() < -0.99 and z.max() > 0.99  # U(-1, 1)
    g = model.generator.levels
    base_z, z16, z32 = z[:, :8], z[:, 8 : 8 + 256], z[:, 8 + 256 :]  # coarsest first
    coarse = g[2](base_z, y)
    middle = upsample(coarse) + g[1](z16, y, upsample(coarse))
    expected = upsample(middle) + g[0](z32, y, upsample(middle))
    torch.testing.assert_close(model.generator(z, y), expected)
    assert model.sample(5).shape == (5, 1, 32, 32)
    with pytest.raises(ZooError, match="no truncation"):
        model.sample(2, truncation=0.5)


def trained_parameters(model: LAPGAN, iterations: int = 1) -> dict[str, torch.Tensor]:
    pl.seed_everything(0)
    make_trainer(iterations).fit(model, tiny_digits())
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def test_levels_train_independently():
    """Re-initialising the 16 px level's networks leaves the coarsest level's update unchanged, bit for bit."""
    torch.manual_seed(0)
    first = LAPGAN(**TINY)
    second = LAPGAN(**TINY)
    second.load_state_dict(first.state_dict())
    for net in (second.generator.levels[0], second.discriminator.levels[0]):
        for p in net.parameters():
            torch.nn.init.normal_(p)
    before = {name: p.detach().clone() for name, p in first.named_parameters()}
    after_first, after_second = trained_parameters(first), trained_parameters(second)
    coarsest = [name for name in before if ".levels.1." in name]
    assert coarsest and all(not torch.equal(after_first[n], before[n]) for n in coarsest)  # it did train
    assert all(torch.equal(after_first[n], after_second[n]) for n in coarsest)


def test_augmentation_it_would_ignore_is_refused_at_the_first_iteration():
    """lapgan's levels call their discriminators directly, so --model.augment could never act (zoo/base.py)."""
    with pytest.raises(ZooError, match="--model.augment ada would do nothing: LAPGAN's training step"):
        trained_parameters(LAPGAN(**TINY, augment="ada"))


def test_sgd_schedule_follows_eyescream_per_epoch():
    model = LAPGAN(**TINY)
    pl.seed_everything(0)
    make_trainer(3, limit_train_batches=2).fit(model, tiny_digits())  # the third iteration is in epoch 1
    for opt in model.optimizers():
        group = opt.optimizer.param_groups[0] if hasattr(opt, "optimizer") else opt.param_groups[0]
        assert group["momentum"] == pytest.approx(0.0008)
        assert group["dampening"] == pytest.approx(0.0008)  # Torch7's optim.sgd: dampening defaults to momentum
        assert group["lr"] == pytest.approx(0.02 / 1.00004)
    assert (model.iterations, model.images_seen) == (3, 3 * 32)


class MeanLogit(torch.nn.Module):
    """A stand-in D whose logit is the mean of the image it judges."""

    def forward(self, image, labels, condition):
        return image.flatten(1).mean(1)


def test_d_loss_is_eyescreams_bce_over_half_real_half_fake():
    """eyescream's BCE over 64 real and 64 fake images: 0.5 softplus(-real logit) + 0.5 softplus(fake logit)."""
    model = LAPGAN(**TINY)
    model.discriminator.levels = torch.nn.ModuleList([MeanLogit(), MeanLogit()])
    targets = [torch.full((2, 1, 16, 16), 1.0), torch.full((2, 1, 8, 8), -2.0)]
    fakes = [torch.full((2, 1, 16, 16), 0.5), torch.full((2, 1, 8, 8), 3.0)]
    losses = model.level_losses("d", targets, fakes, torch.tensor([0, 1]), [None, None])
    softplus = torch.nn.functional.softplus
    for loss, real, fake in zip(losses, (1.0, -2.0), (0.5, 3.0)):
        expected = 0.5 * softplus(torch.tensor(-real)) + 0.5 * softplus(torch.tensor(fake))
        torch.testing.assert_close(loss, expected)


@pytest.mark.parametrize(
    "kwargs, phrase",
    [
        ({"resolution": 24}, "resolution = base_resolution * 2^k"),
        ({"num_classes": None}, "lapgan is class-conditional"),
        ({"penalties": [{"name": "gp"}]}, "penalties, compile and grad_clip_norm are unsupported"),
    ],
)
def test_bad_settings_name_the_fix(kwargs, phrase):
    with pytest.raises(ZooError, match=re.escape(phrase)):
        LAPGAN(**{**TINY, **kwargs})


def test_fit_trains_the_tiny_digits_recipe(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for variable in ("PL_GLOBAL_SEED", "GAN_ZOO_RUN_DIR"):
        monkeypatch.setenv(variable, "0")
    run_dir = tmp_path / "run"
    argv = ["fit", "--model", "lapgan", "--data", "digits", "--trainer.max_steps", "4", "--run_dir", str(run_dir)]
    argv += ["--trainer.accelerator", "cpu", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]
    assert cli.main([*argv, "--trainer.enable_model_summary", "false"]) == 0
    assert "recipe: configs/lapgan/digits.yaml" in capsys.readouterr().err
    model = load_gan(run_dir / "checkpoints" / "last.ckpt", expected_model="lapgan")
    assert (model.iterations, model.images_seen, model.generator_steps) == (2, 2 * 64, 2)
    assert [level.resolution for level in model.generator.levels[:-1]] == [16]  # 8 -> 16: two levels
    samples = model.sample(4, y=torch.tensor([0, 1, 2, 3]), seed=1)
    assert samples.shape == (4, 1, 16, 16) and samples.abs().max() <= 1
