"""StarGAN (Choi et al. 2018): the reference networks, the losses on hand-made networks, the test-time targets,
an exact resume, and the command line on a tiny CelebA tree (its recipe's five domains, sample --input --target)."""

import pytest
import pytorch_lightning as pl
import torch
from PIL import Image
from pytorch_lightning.callbacks import ModelCheckpoint
from torch import nn

import cli
from callbacks import load_gan
from datamodules.celeba import CelebADataModule
from tests.conftest import run_cli
from tests.fidelity import assert_counts
from tests.helpers import grid_size, make_trainer, write_celeba
from zoo.errors import ZooError
from zoo.nets.translation import ResnetTranslator, StarGANDiscriminator
from zoo.stargan import StarGAN, domain_classification_loss, single_domain_changes

DOMAINS = ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]


def test_networks_have_the_reference_sizes_and_shapes():
    # the parameter counts the authors' code prints for CelebA at 128 px with five domains
    generator = ResnetTranslator(3 + 5, 3, 64, 6, padding_mode="zeros", sampling_kernel=4, bias=False, affine=True)
    discriminator = StarGANDiscriminator(3, 128, 5)
    code = "yunjey/stargan model.py, CelebA 128 px, 5 domains"
    assert_counts("stargan 128 px", generator, discriminator, (8_430_528, 44_762_048), code)
    model = StarGAN(DOMAINS, resolution=32, width=4, d_width=4, d_layers=4)
    source, domains = model.discriminator(torch.randn(3, 3, 32, 32))
    assert source.shape == (3, 1, 2, 2) and domains.shape == (3, 5)
    out = model.generator(torch.randn(3, 3, 32, 32), torch.ones(3, 5))
    assert out.shape == (3, 3, 32, 32) and out.abs().max() <= 1
    with pytest.raises(ZooError, match="multiple of 64"):
        StarGAN(DOMAINS, resolution=96)
    with pytest.raises(ZooError, match="--data.attributes"):
        StarGAN()


def test_classification_loss_sums_domains_and_averages_samples():
    logits, labels = torch.tensor([[2.0, -1.0], [0.0, 0.0]]), torch.tensor([[1, 0], [0, 1]])
    softplus = torch.nn.functional.softplus
    by_hand = (softplus(torch.tensor(-2.0)) + softplus(torch.tensor(-1.0)) + 2 * softplus(torch.tensor(0.0))) / 2
    assert domain_classification_loss(logits, labels).item() == pytest.approx(by_hand.item())


def test_test_time_targets_set_one_hair_colour_or_flip_an_attribute():
    targets = single_domain_changes(torch.tensor([[1.0, 0, 0, 1, 0]]), DOMAINS)
    assert [t[0].tolist() for t in targets] == [
        [1, 0, 0, 1, 0],  # black hair (already)
        [0, 1, 0, 1, 0],  # blond: the other hair colours cleared
        [0, 0, 1, 1, 0],  # brown
        [1, 0, 0, 0, 0],  # gender flipped
        [1, 0, 0, 1, 1],  # age flipped
    ]


class AddLabels(nn.Module):
    """G(x, c) = x + c, channel by channel."""

    def __init__(self):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))

    def forward(self, x, c):
        return x + c[:, :, None, None] + 0 * self.anchor


class ChannelMeans(nn.Module):
    """D(x) = (the mean of channel 0 as one score, the channel means as domain logits)."""

    def __init__(self):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        means = x.mean(dim=(2, 3)) + 0 * self.anchor
        return means[:, :1, None, None], means


def test_losses_equal_the_hand_computed_values():
    model = StarGAN(["Black_Hair", "Male"], resolution=8, channels=2, width=4, d_width=4, d_layers=2)
    model.generator, model.discriminator = AddLabels(), ChannelMeans()
    real = torch.stack([torch.full((4, 4), 0.5), torch.full((4, 4), -0.5)])[None]  # channel means (0.5, -0.5)
    y_real, y_fake = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    fake = model.generator(real, y_fake)  # channel means (0.5, 0.5)
    softplus = torch.nn.functional.softplus
    s = {v: softplus(torch.tensor(v)).item() for v in (-0.5, 0.5)}

    d_loss, logs = model.discriminator_loss(real, y_real, fake, y_fake)
    # wasserstein: D_src(fake) - D_src(real) = 0.5 - 0.5; BCE of logits (0.5, -0.5) against (1, 0)
    assert logs["d/classification"].item() == pytest.approx(2 * s[-0.5])
    assert d_loss.item() == pytest.approx(0 + 1.0 * 2 * s[-0.5])

    g_loss, logs = model.generator_loss(fake, y_fake, real, y_real)
    # -D_src(fake) = -0.5; BCE of (0.5, 0.5) against (0, 1); G(fake, c') = means (1.5, 0.5): |.| error 1 everywhere
    assert logs["g/classification"].item() == pytest.approx(s[0.5] + s[-0.5])
    assert logs["g/reconstruction"].item() == pytest.approx(1.0)
    assert g_loss.item() == pytest.approx(-0.5 + (s[0.5] + s[-0.5]) + 10 * 1.0)


def tiny_stargan() -> StarGAN:
    return StarGAN(DOMAINS, resolution=16, width=4, blocks=1, d_width=4, d_layers=3, d_steps=2)


def celeba(root) -> CelebADataModule:
    return CelebADataModule(str(root), attributes=DOMAINS, resolution=16, batch_size=2, num_workers=0, cache=False)


def train(root, iterations, ckpt_dir=None, resume_from=None):
    pl.seed_everything(0)
    model = tiny_stargan()
    callbacks = [ModelCheckpoint(dirpath=ckpt_dir, save_last=True, save_top_k=0)] if ckpt_dir else []
    trainer = make_trainer(iterations, d_steps=2, callbacks=callbacks, enable_checkpointing=bool(ckpt_dir))
    trainer.fit(model, celeba(root), ckpt_path=resume_from)
    return model


def test_resume_gives_identical_weights(tmp_path):
    root = write_celeba(tmp_path)  # 4 train images: 2 iterations per epoch
    straight = train(root, 6)
    train(root, 3, ckpt_dir=tmp_path / "ckpt")
    resumed = train(root, 6, resume_from=tmp_path / "ckpt" / "last.ckpt")
    assert (resumed.iterations, resumed.generator_steps) == (straight.iterations, straight.generator_steps) == (6, 3)
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        if isinstance(a, torch.Tensor):
            assert torch.equal(a, b), name


def test_cli_fits_with_the_recipe_domains_and_translates_a_folder(tmp_path, capsys):
    root = write_celeba(tmp_path)
    fit = run_cli(
        "fit", "--model", "stargan", "--data.root", str(root), "--data.resolution", "16", "--data.batch_size", "2",
        "--model.width", "4", "--model.blocks", "1", "--model.d_width", "4", "--model.d_layers", "3",
        "--trainer.max_steps", "6", "--trainer.accelerator", "cpu", "--trainer.enable_model_summary", "false",
        "--run_dir", "run", cwd=tmp_path,
    )  # fmt: skip
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert "recipe: configs/stargan/celeba.yaml" in fit.stderr
    # one row per training example (4): the input, then one translation per domain (5)
    assert Image.open(tmp_path / "run" / "samples" / "latest.png").size == grid_size(4, 6, px=16)
    checkpoint = tmp_path / "run" / "checkpoints" / "last.ckpt"
    model = load_gan(checkpoint)
    assert isinstance(model, StarGAN) and model.domains == DOMAINS  # linked from --data.attributes of the recipe
    assert (model.iterations, model.generator_steps) == (5, 1)  # 6 optimizer steps: 5 D updates, 1 G update

    out = tmp_path / "out"
    images = root / "celeba" / "img_align_celeba"
    args = ["sample", "--ckpt_path", str(checkpoint), "--input", str(images), "--out_dir", str(out)]
    assert cli.main([*args, "--target", "Blond_Hair,Young", "--num_samples", "3"]) == 0
    assert "6 images of" in capsys.readouterr().out
    assert len(list((out / "translated").glob("*.png"))) == 6
    assert Image.open(out / "grid.png").size == grid_size(2, 3, px=16)
    assert cli.main([*args, "--target", "Red_Hair"]) == 2
    assert "unknown domain(s) Red_Hair; this model's domains: Black_Hair" in capsys.readouterr().err
    assert cli.main(args) == 2
    assert "name them with --target" in capsys.readouterr().err
