"""CycleGAN (Zhu et al. 2017): the reference networks, the losses on hand-made translators, the image pool, the
per-epoch learning-rate decay, an exact resume, and the command line (fit, sample --input, refusals)."""

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from PIL import Image
from pytorch_lightning.callbacks import Callback, ModelCheckpoint
from torch import nn

import cli
from callbacks import PeriodicFID, load_gan
from datamodules.unpaired import UnpairedDataModule
from tests.conftest import run_cli
from tests.fidelity import assert_counts
from tests.helpers import grid_size, make_trainer
from zoo.cyclegan import CycleGAN, ImagePool
from zoo.errors import ZooError
from zoo.nets.translation import PatchDiscriminator, ResnetTranslator


def count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_networks_have_the_reference_sizes_and_shapes():
    # the parameter counts the reference implementation prints for its default networks (ngf = ndf = 64)
    code = "junyanz/pytorch-CycleGAN-and-pix2pix resnet_9blocks / basic PatchGAN"
    generator, discriminator = ResnetTranslator(3, 3, 64, blocks=9), PatchDiscriminator(3, 64, layers=3)
    assert_counts("cyclegan 256 px (one G, one D)", generator, discriminator, (11_378_179, 2_764_737), code)
    model = CycleGAN(resolution=256, width=4, d_width=4)
    blocks = [m for m in model.generator["a_to_b"].modules() if type(m).__name__ == "ResidualBlock"]
    assert len(blocks) == 9  # 9 residual blocks at 256 px, 6 below (two translators: 12)
    assert sum(type(m).__name__ == "ResidualBlock" for m in CycleGAN(resolution=128, width=4).generator.modules()) == 12
    x = torch.rand(2, 3, 256, 256) * 2 - 1
    assert model.discriminator["a"](x).shape == (2, 1, 30, 30)  # one score per 70x70 patch
    y = model.generator["a_to_b"](x[:, :, :64, :64])
    assert y.shape == (2, 3, 64, 64) and y.abs().max() <= 1


def test_patchgan_scores_see_exactly_70x70_pixels():
    net = PatchDiscriminator(1, width=4, layers=3)
    # instance norm couples every position through its statistics; without it the receptive field shows
    net.net = nn.Sequential(*[nn.Identity() if isinstance(m, nn.InstanceNorm2d) else m for m in net.net])
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.constant_(m.weight, 0.1)
    x = torch.ones(1, 1, 128, 128, requires_grad=True)
    out = net(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows, cols = torch.nonzero(x.grad[0, 0], as_tuple=True)
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (70, 70)


class Affine(nn.Module):
    """x -> scale x + shift: a translator whose outputs are known by hand."""

    def __init__(self, scale: float, shift: float):
        super().__init__()
        self.scale, self.shift = scale, shift
        self.anchor = nn.Parameter(torch.zeros(()))  # so optimizers have something to hold

    def forward(self, x):
        return self.scale * x + self.shift + 0 * self.anchor


def hand_model(lambda_identity: float = 0.5) -> CycleGAN:
    model = CycleGAN(
        resolution=16, channels=1, width=4, blocks=1, d_width=4, d_layers=2, lambda_identity=lambda_identity
    )
    model.generator = nn.ModuleDict({"a_to_b": Affine(0.5, 0.0), "b_to_a": Affine(1.0, 0.1)})
    model.discriminator = nn.ModuleDict({"a": Affine(1.0, 0.0), "b": Affine(1.0, 0.0)})  # D(x) = x on every patch
    return model


def test_losses_equal_the_hand_computed_values():
    model = hand_model()
    real_a, real_b = torch.full((2, 1, 4, 4), 0.2), torch.full((2, 1, 4, 4), -0.4)
    loss, logs, fake_a, fake_b = model.translator_losses(real_a, real_b)
    # G(a) = 0.1, F(b) = -0.3; F(G(a)) = 0.2 (no cycle error), G(F(b)) = -0.15 (error 0.25)
    assert torch.allclose(fake_b, torch.full_like(fake_b, 0.1)) and torch.allclose(
        fake_a, torch.full_like(fake_a, -0.3)
    )
    assert logs["g/adversarial"].item() == pytest.approx((0.1 - 1) ** 2 + (-0.3 - 1) ** 2)  # 0.81 + 1.69
    assert logs["g/cycle"].item() == pytest.approx(0.25)
    assert logs["g/identity"].item() == pytest.approx(0.2 + 0.1)  # |G(b) - b| = 0.2, |F(a) - a| = 0.1
    assert loss.item() == pytest.approx(2.5 + 10 * 0.25 + 10 * 0.5 * 0.3)
    assert hand_model(lambda_identity=0).translator_losses(real_a, real_b)[0].item() == pytest.approx(5.0)

    d_loss, d_logs = model.discriminator_losses(real_a, real_b, fake_a, fake_b)
    assert d_logs["d_a/loss"].item() == pytest.approx(0.5 * ((0.2 - 1) ** 2 + 0.3**2))  # 0.365
    assert d_logs["d_b/loss"].item() == pytest.approx(0.5 * ((-0.4 - 1) ** 2 + 0.1**2))  # 0.985
    assert d_loss.item() == pytest.approx(1.35)


def test_image_pool_fills_then_swaps_half_of_the_time():
    pool, rng = ImagePool(3), torch.Generator().manual_seed(0)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    shown = pool.query(first, rng)
    # three images fill the pool and pass; the fourth meets a full pool: passed through or swapped with a slot
    assert torch.equal(shown[:3], first[:3]) and pool.filled == 3
    assert shown[3].item() == 3.0 or (shown[3].item() in (0.0, 1.0, 2.0) and 3.0 in pool.images.flatten().tolist())
    before = sorted(pool.images.flatten().tolist())
    news = torch.arange(100.0, 2100.0).view(-1, 1, 1, 1)
    out = pool.query(news, rng).flatten()
    swapped = (out != news.flatten()).float().mean().item()
    assert 0.45 < swapped < 0.55  # probability 1/2
    stored = set(pool.images.flatten().tolist())
    olds = [v for v in out.tolist() if v < 100]
    assert set(olds) <= set(before) and len(stored) == 3  # old images came out of the pool, which stays full
    assert torch.equal(ImagePool(0).query(first, rng), first)
    copy = ImagePool(3)
    copy.load(pool.state())
    assert torch.equal(
        copy.query(news[:8], torch.Generator().manual_seed(5)), pool.query(news[:8], torch.Generator().manual_seed(5))
    )


def make_root(tmp_path, counts=None):
    """A CycleGAN dataset folder of random 16 px PNGs: A reddish, B bluish."""
    rng = np.random.default_rng(0)
    root = tmp_path / "h2z"
    for folder, n in (counts or {"trainA": 4, "trainB": 3, "testA": 3, "testB": 2}).items():
        (root / folder).mkdir(parents=True)
        for k in range(n):
            image = rng.integers(0, 120, (16, 16, 3), dtype=np.uint8)
            image[..., 0 if folder.endswith("A") else 2] += 120
            Image.fromarray(image).save(root / folder / f"{folder}{k}.png")
    return root


def tiny_cyclegan(**kwargs) -> CycleGAN:
    return CycleGAN(
        **{"resolution": 16, "width": 4, "blocks": 1, "d_width": 4, "d_layers": 2, "pool_size": 3, **kwargs}
    )


def unpaired(root, batch_size=2) -> UnpairedDataModule:
    return UnpairedDataModule(root=str(root), resolution=16, batch_size=batch_size, num_workers=0, cache=False, seed=0)


class LearningRates(Callback):
    def __init__(self):
        self.by_epoch = {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        d_opt, g_opt = pl_module.optimizers()
        self.by_epoch[trainer.current_epoch] = (d_opt.param_groups[0]["lr"], g_opt.param_groups[0]["lr"])


def test_learning_rate_is_constant_then_decays_linearly_per_epoch(tmp_path):
    pl.seed_everything(0)
    rates = LearningRates()
    # 4 images of A: 2 iterations per epoch at batch 2; 5 epochs of (constant 2, decay 2)
    model = tiny_cyclegan(lr_decay_epochs=(2, 2), g_lr=1e-3, d_lr=2e-3)
    make_trainer(10, callbacks=[rates]).fit(model, unpaired(make_root(tmp_path)))
    factors = [1, 1, 1 - 1 / 3, 1 - 2 / 3, 0]
    for epoch, factor in enumerate(factors):
        assert rates.by_epoch[epoch] == pytest.approx((2e-3 * factor, 1e-3 * factor)), epoch


def train(root, iterations, ckpt_dir=None, resume_from=None):
    pl.seed_everything(0)
    model = tiny_cyclegan()
    callbacks = [ModelCheckpoint(dirpath=ckpt_dir, save_last=True, save_top_k=0)] if ckpt_dir else []
    trainer = make_trainer(iterations, callbacks=callbacks, enable_checkpointing=bool(ckpt_dir))
    trainer.fit(model, unpaired(root), ckpt_path=resume_from)
    return model


def test_resume_mid_epoch_restores_weights_and_pools_exactly(tmp_path):
    root = make_root(tmp_path)
    straight = train(root, 7)  # 2 iterations per epoch: the resume point (3) is mid-epoch
    train(root, 3, ckpt_dir=tmp_path / "ckpt")
    resumed = train(root, 7, resume_from=tmp_path / "ckpt" / "last.ckpt")
    assert resumed.iterations == straight.iterations == 7
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        if isinstance(a, torch.Tensor):
            assert torch.equal(a, b), name
    for side in "ab":
        assert straight.pools[side].filled == resumed.pools[side].filled == 3
        assert torch.equal(straight.pools[side].images, resumed.pools[side].images)


def test_wrong_settings_name_the_fix():
    with pytest.raises(ZooError, match="own least-squares losses"):
        CycleGAN(objective="hinge")
    with pytest.raises(ZooError, match="lr_decay_epochs"):
        CycleGAN(lr_decay_kimg=(1, 2))
    with pytest.raises(ZooError, match="cyclegan does not take --model.augment"):  # its Ds never see discriminate()
        CycleGAN(augment="ada")
    with pytest.raises(ZooError, match="at least 24 px.*--model.d_layers"):
        CycleGAN(resolution=16)
    with pytest.raises(ZooError, match="multiple of 4"):
        CycleGAN(resolution=30)
    with pytest.raises(ZooError, match="--input DIR"):
        tiny_cyclegan().sample(4)
    with pytest.raises(ZooError, match="--fid does not apply"):  # before any Inception weights are looked up
        PeriodicFID(every_n_kimg=1, weights="/nowhere/inception.pt").on_fit_start(None, tiny_cyclegan())


def test_cli_fits_samples_a_folder_and_refuses_latent_tools(tmp_path, capsys):
    root = make_root(tmp_path)
    (root / "testA" / "broken.png").write_bytes(b"not a png")
    fit = run_cli(
        "fit", "--model", "cyclegan", "--data.root", str(root), "--data.resolution", "16", "--data.batch_size", "2",
        "--model.width", "4", "--model.blocks", "1", "--model.d_width", "4", "--model.d_layers", "2",
        "--trainer.max_steps", "4", "--trainer.accelerator", "cpu", "--trainer.enable_model_summary", "false",
        "--run_dir", "run", cwd=tmp_path,
    )  # fmt: skip
    assert fit.returncode == 0, fit.stderr[-3000:]
    # the grid: rows a, G(a), F(G(a)), b, F(b), G(F(b)) of the 4 training examples (max(|A|, |B|))
    assert Image.open(tmp_path / "run" / "samples" / "latest.png").size == grid_size(6, 4, px=16)
    checkpoint = tmp_path / "run" / "checkpoints" / "last.ckpt"
    model = load_gan(checkpoint)
    assert isinstance(model, CycleGAN) and (model.iterations, model.generator_steps) == (2, 2)
    assert model.pools["a"].filled == 4  # 2 iterations x 2 fakes, in a pool of 50

    out = tmp_path / "out"
    status = cli.main(["sample", "--ckpt_path", str(checkpoint), "--input", str(root / "testA"), "--out_dir", str(out),
                       "--num_samples", "2", "--direction", "a_to_b"])  # fmt: skip
    assert status == 0
    captured = capsys.readouterr()
    assert "3 images of" in captured.out and "1 unreadable image(s) skipped" in captured.out
    assert sorted(p.name for p in (out / "translated").iterdir()) == ["testA0.png", "testA1.png", "testA2.png"]
    assert Image.open(out / "grid.png").size == grid_size(2, 2, px=16)  # inputs over translations
    inputs = torch.from_numpy(np.asarray(Image.open(root / "testA" / "testA1.png"))).permute(2, 0, 1)
    expected = model.translate(inputs[None].float() / 127.5 - 1)[0]
    written = torch.from_numpy(np.asarray(Image.open(out / "translated" / "testA1.png"))).permute(2, 0, 1)
    assert (written.float() - (expected + 1) * 127.5).abs().max() <= 1  # the PNG holds the translation

    assert cli.main(["sample", "--ckpt_path", str(checkpoint)]) == 2
    assert "--input DIR" in capsys.readouterr().err
    assert cli.main(["sample", "--ckpt_path", str(checkpoint), "--input", str(root / "testA"), "--npz"]) == 2
    assert "--npz sample(s) latents; CycleGAN translates --input images" in capsys.readouterr().err
    assert cli.main(["evaluate", "--ckpt_path", str(checkpoint), "--data", "unpaired"]) == 2
    assert "evaluate does not apply" in capsys.readouterr().err
