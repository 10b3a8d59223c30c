"""gan_t2i (Reed et al. 2016): the networks' shapes and parameter counts at the paper's configuration, its
schedule, a tiny CLI fit on captioned MNIST and ``sample --text`` from the checkpoint alone."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from PIL import Image
from pytorch_lightning.callbacks import ModelCheckpoint
from torch import nn

import cli
from tests.conftest import SHARED_MNIST, run_cli
from tests.fidelity import assert_counts
from tests.helpers import grid_size, make_trainer, tiny_dcgan, tiny_digits
from zoo.errors import ZooError
from zoo.gan_t2i import GANT2I

needs_mnist = pytest.mark.skipif(not (SHARED_MNIST / "MNIST" / "raw").is_dir(), reason="../shared/data absent")


def reference_counts(txt=1024, nt=128, nz=100, ngf=128, ndf=64, nc=3) -> tuple[int, int]:
    """main_cls_int.lua's netG and netD at 64 px counted layer by layer (conv biases left out: the script zeroes
    them before every step; BN has 2 per channel; the FC layers keep their biases)."""

    def bn(c):
        return 2 * c

    def block(c, inner):  # 1x1, 3x3, 3x3, BN after each
        return c * inner + bn(inner) + inner * inner * 9 + bn(inner) + inner * c * 9 + bn(c)

    g = (
        txt * nt + nt
        + (nz + nt) * 8 * ngf * 16 + bn(8 * ngf) + block(8 * ngf, 2 * ngf)
        + 8 * ngf * 4 * ngf * 16 + bn(4 * ngf) + block(4 * ngf, ngf)
        + 4 * ngf * 2 * ngf * 16 + bn(2 * ngf)
        + 2 * ngf * ngf * 16 + bn(ngf)
        + ngf * nc * 16
    )  # fmt: skip
    d = (
        nc * ndf * 16
        + ndf * 2 * ndf * 16 + bn(2 * ndf)
        + 2 * ndf * 4 * ndf * 16 + bn(4 * ndf)
        + 4 * ndf * 8 * ndf * 16 + bn(8 * ndf)
        + txt * nt + nt + 2 * nt  # FC + BatchNorm1d
        + (8 * ndf + nt) * 8 * ndf + bn(8 * ndf) + 8 * ndf * 16
    )  # fmt: skip
    return g, d


def test_parameter_counts_at_the_paper_configuration():
    model = GANT2I(text_dim=1024, resolution=64, channels=3)
    expected = reference_counts()
    assert expected == (18_905_472, 3_225_728)
    assert_counts(
        "gan_t2i", model.generator, model.discriminator, expected,
        code="reedscot/icml2016 main_cls_int.lua, ngf 128, ndf 64, txtSize 1024, nt 128, nz 100, 64 px, "
        "conv biases (zeroed every step) not counted",
    )  # fmt: skip


def test_shapes_from_16_to_64_px_and_the_reference_quirks():
    text = torch.randn(3, 20)
    for resolution in (16, 32, 64):
        model = GANT2I(text_dim=20, resolution=resolution, channels=1, ngf=4, ndf=4, nt=6, latent_dim=7)
        images = model.generator(torch.randn(3, 7), text)
        assert images.shape == (3, 1, resolution, resolution) and images.abs().max() <= 1
        assert model.discriminator(images, text).shape == (3,)
    model = GANT2I(text_dim=20, resolution=64, channels=3, ngf=4, ndf=4, nt=6)
    convs = [m for m in model.discriminator.image if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [4, 8, 16, 32]
    # LeakyReLU after conv 1 and 2 and after the last BN only: conv 3 and 4 have none of their own
    kinds = [type(m).__name__ for m in model.discriminator.image]
    assert kinds == ["Conv2d", "LeakyReLU", "Conv2d", "BatchNorm2d", "LeakyReLU", "Conv2d", "BatchNorm2d", "Conv2d",
                     "BatchNorm2d", "LeakyReLU"]  # fmt: skip
    assert all(m.bias is None for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))
    with_block = GANT2I(text_dim=20, resolution=64, channels=3, ngf=4, ndf=4, nt=6, d_residual_block=True)
    extra = sum(p.numel() for p in with_block.discriminator.parameters()) - sum(
        p.numel() for p in model.discriminator.parameters()
    )
    assert extra == 32 * 8 + 16 + 8 * 8 * 9 + 16 + 8 * 32 * 9 + 64
    with pytest.raises(ZooError, match="variant"):
        GANT2I(variant="cls_int", text_dim=20, resolution=32)
    with pytest.raises(ZooError, match="resolution"):
        GANT2I(text_dim=20, resolution=8)


def test_learning_rate_halves_every_100_epochs(monkeypatch):
    model = GANT2I(text_dim=8, resolution=16, channels=1, ngf=2, ndf=2, nt=2)
    for epoch, factor in ((0, 1.0), (98, 1.0), (99, 0.5), (199, 0.25), (599, 1 / 64)):
        monkeypatch.setattr(GANT2I, "current_epoch", epoch)  # Lightning's epoch counter, from 0
        assert model.lr_factor() == factor
    assert GANT2I(text_dim=8, resolution=16, channels=1, ngf=2, ndf=2, nt=2, lr_halving_epochs=None).lr_factor() is None


def test_without_an_encoder_text_is_refused_with_the_fix():
    model = GANT2I(text_dim=8, resolution=16, channels=1, ngf=2, ndf=2, nt=2)
    with pytest.raises(ZooError, match="holds no text encoder"):
        model.encode_text(["a bird"])


@pytest.fixture(scope="module")
def t2i_checkpoint(tmp_path_factory):
    """A gan_t2i trained 2 iterations from the CLI on 60 captioned MNIST digits, with the zoo's text encoder trained
    2 steps against an untrained stand-in for the MNIST classifier (no 2-minute classifier training in a test)."""
    if not (SHARED_MNIST / "MNIST" / "raw").is_dir():
        pytest.skip("../shared/data/MNIST/raw absent")
    from metrics.mnist_classifier import CACHE_FILE, MNISTClassifier

    work = tmp_path_factory.mktemp("t2i")
    (work / "cache").mkdir()
    torch.manual_seed(0)
    torch.save({"state_dict": MNISTClassifier().state_dict(), "test_accuracy": 0.0}, work / "cache" / CACHE_FILE)
    done = run_cli(
        "fit", "--model", "gan_t2i", "--data", "captioned_mnist", "--data.root", str(SHARED_MNIST),
        "--data.out", str(work / "cm"), "--data.limit", "60", "--data.batch_size", "8", "--data.text_length", "48",
        "--data.text_encoder_steps", "2", "--model.ngf", "4", "--model.ndf", "4", "--model.nt", "8",
        "--trainer.max_steps", "4", "--trainer.accelerator", "cpu", "--trainer.enable_model_summary", "false",
        cwd=work, env={"GAN_ZOO_CACHE": str(work / "cache"), "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return next(work.glob("runs/gan_t2i-captioned_mnist/*/checkpoints/last.ckpt")), work


@needs_mnist
def test_tiny_cli_fit_stores_the_encoder_and_samples_from_text(t2i_checkpoint, tmp_path, capsys):
    checkpoint, work = t2i_checkpoint
    assert (work / "cm" / "zoo-char-cnn-rnn.pt").is_file()
    state = torch.load(checkpoint, weights_only=True)["state_dict"]
    cache = torch.load(work / "cm" / "zoo-char-cnn-rnn.pt", weights_only=True)
    for name, value in cache["encoder"].items():  # the checkpoint holds the very encoder that made the embeddings
        assert torch.equal(state[f"text_encoder.{name}"], value)
    assert state["preview_text"].abs().sum() > 0  # the first training texts, for sample grids
    (tmp_path / "captions.txt").write_text("a thin one\n\nthe digit 7, small\n")
    out = tmp_path / "out"
    status = cli.main([
        "sample", "--ckpt_path", str(checkpoint), "--out_dir", str(out), "--text", "a thick seven leaning right",
        "--text_file", str(tmp_path / "captions.txt"), "--num_samples", "4", "--interpolate_text", "a thin one",
        "a thick one", "--strips", "2", "--steps", "5",
    ])  # fmt: skip
    assert status == 0, capsys.readouterr().err
    assert Image.open(out / "grid.png").size == grid_size(3, 4, px=32)  # 3 captions x 4 samples, 4 per row
    assert Image.open(out / "interpolation-text.png").size == grid_size(2, 5, px=32)
    assert (out / "captions.txt").read_text().splitlines() == ["a thick seven leaning right", "a thin one",
                                                               "the digit 7, small"]  # fmt: skip


@needs_mnist
def test_text_sampling_is_the_generator_on_the_encoded_caption(t2i_checkpoint):
    from callbacks import load_gan
    from zoo.text_sampling import caption_stages

    model = load_gan(t2i_checkpoint[0])
    stages = caption_stages(model, ["a thick seven leaning right"], 3, seed=5)
    assert len(stages) == 1 and stages[0].shape == (3, 1, 32, 32)
    text = model.text_encoder.encode(["a thick seven leaning right"]).repeat(3, 1)
    z = model.sample_latent(3, generator=torch.Generator().manual_seed(5))
    model.generator.eval()
    torch.testing.assert_close(stages[0], model.generator(z, text))


def test_sample_text_refuses_models_without_text(tmp_path, capsys):
    pl.seed_everything(0)
    folder = tmp_path / "checkpoints"
    saving = ModelCheckpoint(dirpath=folder, save_last=True, save_top_k=0)
    make_trainer(1, callbacks=[saving], enable_checkpointing=True).fit(tiny_dcgan(), tiny_digits())
    argv = ["sample", "--ckpt_path", str(folder / "last.ckpt"), "--text", "a seven", "--out_dir", str(tmp_path)]
    assert cli.main(argv) == 2 and "does not take text" in capsys.readouterr().err
