"""LOGAN's latent optimisation (zoo/logan.py; Wu et al. 2019): the paper's Sec. 5.2 constants as defaults, the
natural-gradient step against its formula where the gradient is known in closed form and against the damped
empirical Fisher solved directly, the clipping and the per-sample mask, the second-order terms (gradients through
dz), the regulariser's value in both losses, the uniform prior, LOGAN's BigGAN-deep changes (z 256, leaky ReLU
0.2), and a CLI fit of biggan."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

from callbacks import load_gan
from tests.conftest import run_cli
from zoo import get_model
from zoo.errors import ZooError
from zoo.logan import LatentOptimised, latent_mask, natural_gradient_step, paper_architecture


def test_step_on_a_linear_score_is_alpha_w_over_beta_plus_norm_squared():
    z = torch.tensor([[0.1, -0.2, 0.3, 0.0], [0.5, 0.5, -0.5, 0.2]], requires_grad=True)
    w = torch.tensor([0.5, -1.0, 2.0, 0.25])
    mask = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 1.0, 1.0, 1.0]])
    z_new, dz = natural_gradient_step(z @ w, z, mask, step_size=0.9, damping=5.0)
    # f(z) = w.z: g = w on the optimised elements, ||g||^2 over them: 0.25 + 1 = 1.25; 1 + 4 + 0.0625 = 5.0625
    expected = torch.tensor(
        [[0.9 * 0.5 / 6.25, 0.9 * -1.0 / 6.25, 0, 0], [0, -0.9 / 10.0625, 1.8 / 10.0625, 0.225 / 10.0625]]
    )
    torch.testing.assert_close(dz, expected)
    torch.testing.assert_close(z_new, (z + expected).clamp(-1, 1))


def test_step_is_alpha_times_the_damped_empirical_fisher_inverse_times_the_gradient():
    # Sherman-Morrison: (g g^T + beta I)^-1 g = g / (beta + ||g||^2), here on a score that is not linear in z
    torch.manual_seed(0)
    z = (torch.rand(3, 5) * 2 - 1).requires_grad_(True)
    w = torch.randn(5, 4)
    score = torch.tanh(z @ w).pow(2).sum(dim=1)
    (g,) = torch.autograd.grad(score.sum(), z, retain_graph=True)
    fisher = g[:, :, None] * g[:, None, :] + 5.0 * torch.eye(5)
    expected = 0.9 * torch.linalg.solve(fisher, g)
    _, dz = natural_gradient_step(score, z, torch.ones(3, 5), step_size=0.9, damping=5.0)
    torch.testing.assert_close(dz, expected)


def test_step_is_clipped_to_the_uniform_priors_support():
    z = torch.tensor([[0.98, -0.98]], requires_grad=True)
    w = torch.tensor([10.0, -10.0])  # dz = 0.9 * w / (0.01 + 200): +-0.0448, past the bounds
    z_new, dz = natural_gradient_step(z @ w, z, torch.ones(1, 2), step_size=0.9, damping=0.01)
    torch.testing.assert_close(dz, torch.tensor([[9.0, -9.0]]) / 200.01)
    assert z_new.tolist() == [[1.0, -1.0]]


def test_mask_optimises_exactly_the_fraction_in_every_row_at_random_places():
    rng = torch.Generator().manual_seed(0)
    mask = latent_mask(64, 10, 0.5, rng, "cpu")
    assert mask.sum(dim=1).tolist() == [5.0] * 64
    assert len({tuple(row.tolist()) for row in mask}) > 32  # rows differ
    assert latent_mask(3, 7, 0.5, rng, "cpu").sum(dim=1).tolist() == [4.0] * 3  # round(3.5) = 4


def test_defaults_are_the_papers_imagenet_constants():
    # Sec. 5.2: alpha 0.9, beta 5.0, 50% of z's elements, w_r 300.0; U(-1, 1) z for the clipping of Algorithm 1
    defaults = inspect.signature(LatentOptimised.__init__).parameters
    values = [defaults[k].default for k in ("lo_step_size", "lo_damping", "lo_fraction", "lo_weight")]
    assert values == [0.9, 5.0, 0.5, 300.0] and defaults["latent_optimisation"].default is False
    assert TinyLatentGAN(latent_optimisation=True).latent_prior == "uniform"


class TinyLatentGAN(LatentOptimised):
    """Linear G and D on 2 numbers: enough to see second-order terms."""

    def __init__(self, **kwargs):
        super().__init__(latent_dim=2, objective="hinge", **kwargs)
        self.generator = nn.Linear(2, 2)
        self.discriminator = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1), nn.Flatten(0))


def test_gradients_flow_through_dz_into_both_players():
    torch.manual_seed(0)
    gan = TinyLatentGAN(latent_optimisation=True, lo_damping=0.1, lo_fraction=1.0)
    gan._latent_rng = torch.Generator().manual_seed(1)
    z = torch.rand(4, 2) * 2 - 1
    z_new, dz = gan.optimise_latents(z, None)
    score = gan.discriminate(gan.generator(z_new), None).mean()
    with_terms = torch.autograd.grad(score, [gan.generator.weight, gan.discriminator[0].weight], retain_graph=True)
    detached = gan.discriminate(gan.generator((z + dz.detach()).clamp(-1, 1)), None).mean()
    torch.testing.assert_close(detached, score)  # same value ...
    without = torch.autograd.grad(detached, [gan.generator.weight, gan.discriminator[0].weight])
    for a, b in zip(with_terms, without):  # ... different gradients: the second-order terms through dz
        assert (a - b).abs().max() > 1e-4


def test_uniform_prior_with_latent_optimisation_and_truncation_narrows_it():
    gan = TinyLatentGAN(latent_optimisation=True)
    z = gan.sample_latent(2000, torch.Generator().manual_seed(0))
    assert gan.latent_prior == "uniform" and z.min() >= -1 and z.max() <= 1 and z.abs().mean() > 0.45
    assert gan.sample_latent(100, torch.Generator().manual_seed(0), truncation=0.5).abs().max() <= 0.5
    assert TinyLatentGAN().latent_prior == "normal"
    with pytest.raises(ZooError, match="latent_prior"):
        TinyLatentGAN(latent_prior="cauchy")


def test_training_step_adds_the_regulariser_to_both_losses(monkeypatch):
    torch.manual_seed(0)
    gan = get_model("biggan")(
        num_classes=3, resolution=32, channels=1, g_width=2, d_width=2, latent_dim=20, shared_dim=4,
        attention=False, penalties=[], d_steps=1, latent_optimisation=True,
    )  # fmt: skip
    seen = {}
    real, labels = torch.rand(4, 1, 32, 32) * 2 - 1, torch.tensor([0, 1, 2, 0])

    def finish(n, losses, logs):
        seen.update(logs, n=n, losses=losses)

    monkeypatch.setattr(gan, "finish_iteration", finish)
    trainer = pytest.importorskip("pytorch_lightning").Trainer(
        max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False,
    )  # fmt: skip
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(real, labels), batch_size=4)
    before = {k: v.clone() for k, v in gan.state_dict().items() if "original" in k}
    trainer.fit(gan, loader)
    regulariser = seen["lo/regulariser"]
    assert regulariser > 0
    # each loss is its hinge term plus w_r ||dz||^2: the logged loss minus the regulariser is the plain game's
    d_loss, g_loss = seen["losses"]
    assert d_loss.item() == pytest.approx(seen["loss/d"].item() + regulariser.item(), rel=1e-6)
    assert g_loss.item() == pytest.approx(seen["loss/g"].item() + regulariser.item(), rel=1e-6)
    assert regulariser.item() == pytest.approx(300 * seen["lo/dz_squared"].item(), rel=1e-6)
    changed = [k for k, v in gan.state_dict().items() if k in before and not torch.equal(v, before[k])]
    assert any(k.startswith("generator.") for k in changed) and any(k.startswith("discriminator.") for k in changed)


def activations(net: nn.Module) -> set:
    """(kind, negative slope) of every ReLU / LeakyReLU in ``net``."""
    kinds = (nn.ReLU, nn.LeakyReLU)
    return {(type(m).__name__, getattr(m, "negative_slope", None)) for m in net.modules() if isinstance(m, kinds)}


TINY_DEEP = {"num_classes": 3, "resolution": 32, "channels": 1, "g_width": 2, "d_width": 2, "shared_dim": 4}


def test_paper_architecture_gives_logans_changes_only_with_latent_optimisation_and_only_where_not_given():
    assert paper_architecture(True, None, None, own_latent_dim=128) == (256, 0.2)
    assert paper_architecture(False, None, None, own_latent_dim=128) == (128, None)
    assert paper_architecture(True, 16, 0.0, own_latent_dim=128) == (16, 0.0)


def test_biggan_deep_with_latent_optimisation_is_logans_biggan_deep():
    torch.manual_seed(0)
    build = get_model("biggan_deep")
    logan = build(**TINY_DEEP, attention=False, latent_optimisation=True)
    # Sec. 5.2: z of 256, leaky ReLU 0.2 in G and D, U(-1, 1) z; the resolved values are the saved hyper-parameters
    assert (logan.latent_dim, logan.hparams.latent_dim, logan.hparams.leaky_relu_slope) == (256, 256, 0.2)
    assert logan.generator.linear.in_features == 256 + 4  # the whole z and the shared embedding
    assert activations(logan.generator) == activations(logan.discriminator) == {("LeakyReLU", 0.2)}
    assert logan.latent_prior == "uniform"
    chosen = build(**TINY_DEEP, attention=False, latent_optimisation=True, latent_dim=16, leaky_relu_slope=0.0)
    assert (chosen.latent_dim, activations(chosen.discriminator)) == (16, {("ReLU", None)})
    # 50% of z's elements: 128 of the 256 move in every sample
    logan._latent_rng = torch.Generator().manual_seed(0)
    z = logan.sample_latent(4, torch.Generator().manual_seed(1))
    _, dz = logan.optimise_latents(z, torch.tensor([0, 1, 2, 0]))
    assert (dz != 0).sum(dim=1).tolist() == [128] * 4


def test_biggan_fits_with_latent_optimisation_from_the_cli(tmp_path):
    fit = run_cli(
        "fit", "--model", "biggan", "--data", "digits", "--data.batch_size", "8", "--model.g_width", "2",
        "--model.d_width", "2", "--model.latent_dim", "16", "--model.shared_dim", "8", "--model.d_steps", "1",
        "--model.latent_optimisation", "true", "--model.attention", "false", "--trainer.max_steps", "6",
        "--samples.num_samples", "10",
        "--trainer.accelerator", "cpu", "--trainer.enable_model_summary", "false", "--run_dir", "run", cwd=tmp_path,
    )  # fmt: skip
    assert fit.returncode == 0, fit.stderr[-3000:]
    gan = load_gan(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert (gan.iterations, gan.generator_steps, gan.images_seen) == (3, 3, 24)  # 1 D + 1 G step per iteration
    assert gan.hparams.latent_optimisation and gan.latent_prior == "uniform"
    assert (gan.hparams.lo_step_size, gan.hparams.lo_damping, gan.hparams.lo_fraction) == (0.9, 5.0, 0.5)
    assert gan.hparams.lo_weight == 300.0


def test_logan_benchmarks_toy_model_plays_biggan_deeps_game_on_pacgans_networks():
    from benchmarks.logan import toy_model

    baseline, logan = toy_model("baseline", 0), toy_model("logan", 0)
    for gan in (baseline, logan):
        h = gan.hparams
        assert (h.objective, h.d_steps, h.g_lr, h.d_lr, tuple(h.g_betas)) == ("hinge", 1, 1e-4, 4e-4, (0.0, 0.999))
        assert gan.latent_prior == "uniform" and h.g_hidden == (400,) * 4 and h.maxout_pieces == 5
    assert logan.hparams.latent_optimisation and not baseline.hparams.latent_optimisation
