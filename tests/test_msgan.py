"""MSGAN (Mao et al. 2019): the pairs of fakes, D's and G's losses against the reference's (HelenMao/MSGAN
DCGAN-Mode-Seeking/model.py) computed by hand, the mode-seeking term by hand, the networks' parameter counts
(networks.py built there with nz 100, class_num 10: generator 3,531,395, discriminator 2,658,689), the optimizer's
weight decay, and a tiny fit through cli.py."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import cli
from callbacks import load_gan
from tests.fidelity import assert_counts
from zoo import get_model


def tiny(**kwargs):
    torch.manual_seed(0)
    return get_model("msgan")(resolution=8, channels=1, ngf=4, ndf=4, latent_dim=6, **kwargs)


def test_counts_at_the_papers_cifar10_configuration():
    model = get_model("msgan")()
    code = "HelenMao/MSGAN DCGAN-Mode-Seeking/networks.py"
    assert_counts("msgan cifar10", model.generator, model.discriminator, (3531395, 2658689), code)


def test_two_latents_per_real_image_with_its_class():
    model = tiny()
    real, y = torch.zeros(3, 1, 8, 8), torch.tensor([4, 1, 7])
    z, y_fake = model.generator_inputs(real, y)
    assert z.shape == (6, 6) and y_fake.tolist() == [4, 1, 7, 4, 1, 7]
    assert model.hparams.penalties is None and [p.name for p in model.penalties] == ["mode_seeking"]
    assert tiny(mode_seeking_weight=0).penalties == []


def test_losses_are_the_references_sums_over_both_pairs():
    model = tiny().eval()
    real, y = torch.randn(3, 1, 8, 8), torch.tensor([4, 1, 7])
    z, y_fake = model.generator_inputs(real, y)
    fake = model(z, y_fake)
    d_loss, _ = model.discriminator_loss(real, y, fake, y_fake)
    p_real = torch.sigmoid(model.discriminate(real, y))
    p1, p2 = torch.sigmoid(model.discriminate(fake, y_fake)).split(3)
    ones, zeros = torch.ones(3), torch.zeros(3)
    backward_d = [F.binary_cross_entropy(p_real, ones) + F.binary_cross_entropy(p, zeros) for p in (p1, p2)]
    assert d_loss.item() == pytest.approx((backward_d[0] + backward_d[1]).item(), rel=1e-5)
    g_loss, _ = model.generator_loss(fake, y_fake, real, y)
    reference = F.binary_cross_entropy(p1, ones) + F.binary_cross_entropy(p2, ones)
    assert g_loss.item() == pytest.approx(reference.item(), rel=1e-5)


def test_mode_seeking_term_by_hand():
    """fake1 all 0 and fake2 all 1: mean |fake1 - fake2| = 1; z1 = 0 and z2 = 2: mean |z1 - z2| = 2;
    the term is lambda / (1 / 2 + 1e-5)."""
    model = tiny(mode_seeking_weight=3.0)
    fake = torch.cat([torch.zeros(2, 1, 8, 8), torch.ones(2, 1, 8, 8)])
    z = torch.cat([torch.zeros(2, 6), torch.full((2, 6), 2.0)])
    logs = {}
    term = model.penalty_terms("g", 0, fake, None, fake, z, logs)
    assert term.item() == pytest.approx(3.0 / (0.5 + 1e-5))
    assert logs["penalty/mode_seeking"].item() == term.item()


def test_adam_has_the_references_weight_decay():
    model = tiny(weight_decay=1e-4)
    assert [opt.param_groups[0]["weight_decay"] for opt in model.configure_optimizers()] == [1e-4, 1e-4]


def test_fit_trains_the_tiny_digits_recipe(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for variable in ("PL_GLOBAL_SEED", "GAN_ZOO_RUN_DIR"):
        monkeypatch.setenv(variable, "0")
    run_dir = tmp_path / "run"
    argv = ["fit", "--model", "msgan", "--data", "digits", "--trainer.max_steps", "4", "--run_dir", str(run_dir)]
    argv += ["--model.ngf", "4", "--model.ndf", "4", "--data.resolution", "8", "--trainer.accelerator", "cpu"]
    argv += ["--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]
    assert cli.main([*argv, "--trainer.enable_model_summary", "false"]) == 0
    model = load_gan(run_dir / "checkpoints" / "last.ckpt", expected_model="msgan")
    assert (model.iterations, model.images_seen, model.hparams.mode_seeking_weight) == (2, 2 * 64, 1.0)
    assert [p.name for p in model.penalties] == ["mode_seeking"]  # rebuilt once from the checkpoint, not twice
