"""Augmentation in the shared loop (zoo/base.py): every image D sees is augmented in training, ADA's r_t comes from
D's real outputs, p moves by the reference's formula, is logged, and survives a checkpoint resume; from the CLI
with dcgan and a tiny stylegan2."""

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from torch import nn

from callbacks import load_gan
from tests.conftest import run_cli
from tests.helpers import make_trainer, tiny_dcgan, tiny_digits
from zoo.acgan import ACGAN
from zoo.augment.controller import AdaAugment
from zoo.errors import ZooError
from zoo.stylegan2 import StyleGAN2


class MeanCritic(nn.Module):
    """A stand-in D: the mean pixel of each image."""

    def forward(self, x):
        return x.flatten(1).mean(1)


def test_discriminate_augments_reals_and_fakes_in_training_only():
    model = tiny_dcgan(augment="fixed", augment_p=1.0, augment_pipe="color")
    model.discriminator = MeanCritic()
    x = torch.full((16, 1, 16, 16), 0.5)
    model.train()
    assert not torch.allclose(model.discriminate(x, None), x.mean((1, 2, 3)))  # brightness, contrast at p = 1
    model.eval()
    assert torch.equal(model.discriminate(x, None), x.mean((1, 2, 3)))


def test_the_real_logits_of_the_d_loss_feed_the_sign_statistic():
    model = tiny_dcgan(augment="ada", augment_p=0.0)  # p = 0: the pipeline's identity
    model.discriminator = MeanCritic()
    model.train()
    model.discriminator_loss(torch.full((8, 1, 16, 16), 0.5), None, torch.full((8, 1, 16, 16), -0.5), None)
    assert torch.equal(model.augmentation.signs, torch.tensor([8.0, 8.0]))  # 8 positive reals; fakes not counted


def train(iterations: int, ckpt_dir=None, resume_from=None):
    pl.seed_everything(0)
    model = tiny_dcgan(augment="ada", ada_target=0.0, ada_kimg=1.0)
    callbacks = [ModelCheckpoint(dirpath=ckpt_dir, save_last=True, save_top_k=0)] if ckpt_dir else []
    trainer = make_trainer(iterations, callbacks=callbacks, enable_checkpointing=bool(ckpt_dir), log_every_n_steps=1)
    trainer.fit(model, tiny_digits(), ckpt_path=resume_from)
    return model, trainer


def test_p_and_r_t_are_logged_and_a_resume_continues_the_same_p(tmp_path):
    straight, trainer = train(8)
    assert trainer.callback_metrics["augment/p"] == straight.augmentation.p
    assert trainer.callback_metrics["augment/rt"] == straight.augmentation.rt
    assert straight.augmentation.p > 0  # two updates at 4 and 8 iterations, each of +-0.128 (batch 32 * 4 / 1000)
    assert torch.isclose(straight.augmentation.p * 1000 / 128, straight.augmentation.p.mul(1000 / 128).round())
    train(6, ckpt_dir=tmp_path)  # stops mid-interval: the sign sums are in the checkpoint too
    resumed, _ = train(8, resume_from=tmp_path / "last.ckpt")
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        if isinstance(a, torch.Tensor):
            assert torch.equal(a, b), name


def test_entries_with_their_own_discriminate_refuse_augmentation():
    with pytest.raises(ZooError, match="ACGAN has its own: use --model.augment none"):
        ACGAN(resolution=16, channels=1, num_classes=10, augment="ada")


def test_cli_fit_of_dcgan_with_ada_moves_p_by_the_formula(tmp_path, tiny_dcgan_args):
    # target 1.5 > any r_t: every update lowers p by batch 32 * interval 4 / (ada_kimg 1 * 1000) = 0.128
    ada = ["--model.augment", "ada", "--model.augment_p", "0.5", "--model.ada_target", "1.5", "--model.ada_kimg", "1"]
    fit = run_cli("fit", *tiny_dcgan_args, *ada, "--trainer.max_steps", "16", "--run_dir", "run", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    model = load_gan(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert model.hparams.augment == "ada" and model.iterations == 8
    assert model.augmentation.p.item() == pytest.approx(0.5 - 2 * 0.128, abs=1e-6)
    assert -1 <= model.augmentation.rt <= 1


def test_cli_fit_of_a_tiny_stylegan2_with_ada_bgc(tmp_path):
    # target -1.5 < any r_t: every update raises p by batch 8 * 4 / (0.32 * 1000) = 0.1
    fit = run_cli(
        "fit", "--model", "stylegan2", "--data", "digits", "--data.batch_size", "8", "--model.latent_dim", "8",
        "--model.w_dim", "8", "--model.channel_base", "64", "--model.channel_max", "8", "--trainer.max_kimg", "0.064",
        "--model.augment", "ada", "--model.ada_target", "-1.5", "--model.ada_kimg", "0.32",
        "--trainer.accelerator", "cpu", "--trainer.enable_model_summary", "false", "--run_dir", "run", cwd=tmp_path,
    )  # fmt: skip
    assert fit.returncode == 0, fit.stderr[-3000:]
    model = load_gan(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert model.hparams.augment_pipe == "bgc" and model.iterations == 8
    assert model.augmentation.p.item() == pytest.approx(0.2, abs=1e-6)


@pytest.mark.parametrize(("phase", "counted"), [("Dmain", 8), ("Dreg", 8), ("Dboth", 8)])
def test_stylegan2_counts_the_real_logits_of_each_d_phase_once(phase, counted):
    """NVlabs' loss.py reports the real logits' signs in Dmain, in Dreg's R1 pass and once in Dboth."""
    model = StyleGAN2(
        resolution=8, channels=1, latent_dim=8, w_dim=8, channel_base=32, channel_max=8, augment="ada"
    )  # fmt: skip
    model.train()
    model._latent_rng = torch.Generator().manual_seed(0)
    real, z = torch.rand(8, 1, 8, 8) * 2 - 1, torch.randn(8, 8)
    model.phase_loss(phase, real, None, z, None, {})
    assert model.augmentation.signs[1].item() == counted


def test_two_process_ddp_sums_the_sign_statistic_over_ranks_and_keeps_p_equal(tmp_path, tiny_dcgan_args):
    result = run_cli(
        "fit", *tiny_dcgan_args, "--trainer.devices", "2", "--trainer.max_steps", "16", "--model.augment", "ada",
        "--model.ada_kimg", "1", "--trainer.callbacks+=tests.ada_ddp_probe.AdaProbe",
        f"--trainer.callbacks.out_dir={tmp_path / 'probe'}", cwd=tmp_path, timeout=400,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    ranks = [torch.load(tmp_path / "probe" / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 2  # adjustments after iterations 4 and 8
    p = torch.tensor(0.0)
    for update0, update1 in zip(*ranks, strict=True):
        total, count = update0["local"] + update1["local"]
        assert count == 2 * 4 * 32  # both ranks' real logits of the interval
        assert update0["rt"] == update1["rt"] == total / count
        p = (p + torch.sign(total / count - 0.6) * (64 * 4) / 1000).clamp(min=0)  # global batch 2 x 32
        assert update0["p"] == update1["p"] == p


def test_ada_refuses_to_run_on_an_entry_whose_d_loss_never_reports_real_logits():
    """p would never move: the first due adjustment names the fix instead (an entry with its own D loss)."""
    ada = AdaAugment("bgc", 0.0, adaptive=True)
    ada.end_iteration(3, 32, lambda t: t)  # not due yet
    with pytest.raises(ZooError, match="use --model.augment fixed"):
        ada.end_iteration(4, 32, lambda t: t)
    ada.observe_real_logits(torch.ones(8))
    ada.end_iteration(8, 32, lambda t: t)
    assert ada.p.item() == pytest.approx(32 * 4 / 500_000)
