"""The stackgan and stackgan2 entries: StackGAN's stages trained one after the other (stage 2 loading and freezing a
stage-1 checkpoint, and refusing a missing or wrong one), StackGAN++'s joint scales, its losses by hand, mode
seeking on stackgan2, and tiny fits on a captions fixture in StackGAN's layout (with a char-CNN-RNN-embeddings
pickle, so no text encoder is trained)."""

from __future__ import annotations

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from PIL import Image
from pytorch_lightning.callbacks import ModelCheckpoint

import cli
from callbacks import EMA, load_gan
from datamodules.captions import CaptionsDataModule
from tests.conftest import SHARED_MNIST, run_cli
from tests.helpers import grid_size, make_trainer
from tests.test_data_captions import write_py2_pickle
from zoo import get_model
from zoo.errors import ZooError

TEXT_DIM = 16
STAGE1 = {"resolution": 8, "channels": 1, "ngf": 4, "ndf": 4, "condition_dim": 4, "latent_dim": 6}
TREE = {"resolution": 32, "channels": 1, "scales": 3, "ngf": 8, "ndf": 4, "condition_dim": 4, "latent_dim": 6}


@pytest.fixture(scope="module")
def captions_root(tmp_path_factory):
    """12 grayscale 32 px images of 4 classes in StackGAN's layout, 2 captions and 2 embeddings each."""
    root = tmp_path_factory.mktemp("captioned")
    rng = np.random.default_rng(0)
    keys = [f"{c:03d}.class{c}/image_{i}" for i in range(12) for c in [i % 4 + 1]]
    for key in keys:
        (root / "images" / key).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (32, 32), dtype=np.uint8)).save(root / "images" / f"{key}.png")
        (root / "text" / key).parent.mkdir(parents=True, exist_ok=True)
        (root / "text" / f"{key}.txt").write_text("a thin seven\na digit\n")
    (root / "train").mkdir()
    write_py2_pickle(root / "train" / "filenames.pickle", keys)
    write_py2_pickle(root / "train" / "class_info.pickle", [int(k[:3]) for k in keys])
    embeddings = rng.standard_normal((12, 2, TEXT_DIM)).astype(np.float32)
    write_py2_pickle(root / "train" / "char-CNN-RNN-embeddings.pickle", embeddings)
    return root


def data(root, resolution: int) -> CaptionsDataModule:
    return CaptionsDataModule(
        root=str(root), resolution=resolution, channels=1, captions_per_image=2, text_length=48, batch_size=4
    )


def fit(model, root, resolution: int, iterations: int = 2, callbacks=(), folder=None) -> pl.Trainer:
    pl.seed_everything(0)
    saver = [ModelCheckpoint(dirpath=folder, save_last=True)] if folder else []
    trainer = make_trainer(iterations, callbacks=[*callbacks, *saver], enable_checkpointing=bool(folder))
    trainer.fit(model, data(root, resolution))
    return trainer


@pytest.fixture(scope="module")
def stage1_ckpt(captions_root, tmp_path_factory):
    folder = tmp_path_factory.mktemp("stage1")
    fit(get_model("stackgan")(text_dim=TEXT_DIM, **STAGE1), captions_root, 8, folder=folder)
    return folder / "last.ckpt"


def stage2(path, **kwargs):
    args = {**STAGE1, "resolution": 32, "residual_blocks": 1, "stage": 2, "stage1_ckpt": str(path), **kwargs}
    return get_model("stackgan")(text_dim=TEXT_DIM, **args)


def test_stage2_loads_and_freezes_the_stage1_generator(stage1_ckpt, captions_root, tmp_path):
    stage_one = load_gan(stage1_ckpt, expected_model="stackgan").generator.state_dict()
    model = stage2(stage1_ckpt)
    fit(model, captions_root, 32, folder=tmp_path)
    trained = model.generator.stage_one.state_dict()
    for name, tensor in stage_one.items():  # weights untouched by stage II (BN statistics move, as in the port)
        if "running" not in name and "num_batches" not in name:
            assert torch.equal(trained[name], tensor), name
    assert all(not p.requires_grad for p in model.generator.stage_one.parameters())
    trainable = {id(p) for p in model.optimizers()[1].optimizer.param_groups[0]["params"]}
    assert trainable.isdisjoint(id(p) for p in model.generator.stage_one.parameters())
    # the stage-II checkpoint carries stage I: it samples without the stage-I file
    reloaded = load_gan(tmp_path / "last.ckpt", expected_model="stackgan")
    text = torch.randn(3, TEXT_DIM)
    low, high = reloaded.sample_stages(torch.randn(3, 6), text)
    assert low.shape == (3, 1, 8, 8) and high.shape == (3, 1, 32, 32)
    assert reloaded.sample(3, text).shape == (3, 1, 32, 32)


def test_stage2_from_16_to_32_px_as_on_captioned_mnist():
    model = stage2("unused.ckpt", stage1_resolution=16)
    (low, high), _, _ = model.generator(torch.randn(2, 6), torch.randn(2, TEXT_DIM))
    assert low.shape == (2, 1, 16, 16) and high.shape == (2, 1, 32, 32)
    assert model.discriminator.features(high).shape == (2, 8, 4, 4)  # one 3x3 narrowing back to the 16 px D width


def test_stage2_refuses_a_missing_or_wrong_stage1_checkpoint(stage1_ckpt, tmp_path):
    with pytest.raises(ZooError, match="--model.stage1_ckpt PATH"):
        get_model("stackgan")(text_dim=TEXT_DIM, **{**STAGE1, "stage": 2})
    with pytest.raises(ZooError, match="--model.stage1_ckpt: checkpoint not found"):
        stage2(tmp_path / "nope.ckpt").load_stage_one(tmp_path / "nope.ckpt")
    with pytest.raises(ZooError, match=r"ngf 4 \(stage II needs 8\)"):
        stage2(stage1_ckpt, ngf=8).load_stage_one(stage1_ckpt)
    checkpoint = torch.load(stage1_ckpt, weights_only=True)
    checkpoint["hyper_parameters"]["stage"] = 2
    torch.save(checkpoint, tmp_path / "stage2.ckpt")
    with pytest.raises(ZooError, match="holds a 'stackgan' model at stage 2, not a stackgan stage-1 model"):
        stage2(stage1_ckpt).load_stage_one(tmp_path / "stage2.ckpt")


def test_stage_losses_by_hand():
    model = get_model("stackgan")(text_dim=TEXT_DIM, **STAGE1)
    d = model.discriminator
    real, fake, c = torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8), torch.randn(4, 4)
    wrong, valid = torch.tensor([1, 0, 3, 2]), torch.tensor([True, True, True, False])
    loss, _ = model.stage_d_loss(real, fake, c, wrong, valid)
    real_c, fake_c = d(real, c), d(fake, c)
    wrong_c = d.conditional(d.features(real)[wrong], c)
    softplus = F.softplus
    expected = softplus(-real_c).mean() + 0.5 * softplus(fake_c).mean() + 0.5 * softplus(wrong_c[:3]).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)  # batch statistics: one pass per input, as ours


def test_stackgan2_scale_d_loss_by_hand():
    model = get_model("stackgan2")(text_dim=TEXT_DIM, **TREE)
    d = model.discriminator[0]
    real, fake, mu = torch.randn(2, 1, 8, 8), torch.randn(4, 1, 8, 8), torch.randn(4, 4)  # two fakes per caption
    wrong, valid = torch.tensor([1, 0]), torch.tensor([True, True])
    loss = model.scale_d_loss(d, real, fake, mu, wrong, valid)
    rf, ff = d.features(real), d.features(fake)
    sp = F.softplus
    real_c, real_u = d.conditional(rf, mu[:2]), d.unconditional(rf)
    wrong_c = d.conditional(rf[wrong], mu[:2])
    fake_c, fake_u = d.conditional(ff, mu), d.unconditional(ff)
    expected = (
        sp(-real_c).mean() + sp(-real_u).mean() + sp(wrong_c).mean() + sp(-real_u[wrong]).mean()
        + sp(fake_c[:2]).mean() + sp(fake_c[2:]).mean() + sp(fake_u[:2]).mean() + sp(fake_u[2:]).mean()
    )  # fmt: skip
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_d_condition_text_feeds_d_the_caption_and_refuses_other_values():
    torch.manual_seed(0)
    x, text = torch.randn(3, 1, 8, 8), torch.randn(3, TEXT_DIM)
    model = get_model("stackgan")(text_dim=TEXT_DIM, d_condition="text", **STAGE1).eval()
    assert torch.equal(model.discriminate(x, text), model.discriminator(x, text))
    port = get_model("stackgan")(text_dim=TEXT_DIM, **STAGE1).eval()
    mu = port.generator.conditioning(text)[1]
    assert torch.equal(port.discriminate(x, text), port.discriminator(x, mu))
    tree = get_model("stackgan2")(text_dim=TEXT_DIM, d_condition="text", **TREE).eval()
    big = torch.randn(3, 1, 32, 32)
    assert torch.equal(tree.discriminate(big, text), tree.discriminator[-1](big, text))
    for name, args in (("stackgan", STAGE1), ("stackgan2", TREE)):
        with pytest.raises(ZooError, match=f"{name}'s d_condition is one of mu, text, got 'c'"):
            get_model(name)(text_dim=TEXT_DIM, d_condition="c", **args)


def test_without_conditioning_augmentation_g_has_no_kl_and_one_image_per_text_and_latent():
    torch.manual_seed(0)
    adversarial, mu, logvar = torch.tensor(0.7), torch.randn(4, 4), torch.randn(4, 4)
    kl = (-0.5 * (1 + logvar - mu.square() - logvar.exp())).mean()
    with_ca = get_model("stackgan")(text_dim=TEXT_DIM, **STAGE1)
    assert with_ca.generator_loss(adversarial, mu, logvar)[0].item() == pytest.approx(0.7 + 2.0 * kl.item())
    no_ca = get_model("stackgan")(text_dim=TEXT_DIM, conditioning_augmentation=False, **STAGE1)
    loss, reported = no_ca.generator_loss(adversarial, mu, logvar)
    assert loss.item() == pytest.approx(0.7) and reported.item() == pytest.approx(kl.item())
    z, text = torch.randn(2, 6), torch.randn(1, TEXT_DIM).repeat(2, 1)
    no_ca.generator.eval()
    first, again = no_ca.generator(z, text)[0][0], no_ca.generator(z, text)[0][0]
    assert torch.equal(first, again)
    with_ca.generator.eval()
    assert not torch.equal(with_ca.generator(z, text)[0][0], with_ca.generator(z, text)[0][0])  # eps differs


def test_stackgan2_trains_every_scale_with_ema_and_mode_seeking(captions_root, tmp_path):
    model = get_model("stackgan2")(text_dim=TEXT_DIM, mode_seeking_weight=1.0, color_weight=50.0, **TREE)
    before = {k: v.clone() for k, v in model.discriminator.state_dict().items()}
    fit(model, captions_root, 32, callbacks=[EMA(decay=0.999)], folder=tmp_path)
    after = model.discriminator.state_dict()
    assert all(
        not torch.equal(before[f"{i}.conditional_logit.net.3.weight"], after[f"{i}.conditional_logit.net.3.weight"])
        for i in range(3)
    )
    assert model.generator_ema is not None and model.iterations == 2
    reloaded = load_gan(tmp_path / "last.ckpt", expected_model="stackgan2")
    stages = reloaded.sample_stages(torch.randn(2, 6), torch.randn(2, TEXT_DIM))
    assert [tuple(x.shape) for x in stages] == [(2, 1, 8, 8), (2, 1, 16, 16), (2, 1, 32, 32)]


def test_options_the_entries_do_not_use_are_refused():
    """The text-to-image module refuses GANModule knobs (zoo/text_to_image.py); stackgan2 takes mode seeking as
    --model.mode_seeking_weight."""
    with pytest.raises(ZooError, match="StackGAN2 does not take --model.penalties"):
        get_model("stackgan2")(text_dim=TEXT_DIM, penalties=[{"name": "mode_seeking"}], **TREE)
    with pytest.raises(ZooError, match="StackGAN does not take --model.d_steps"):
        get_model("stackgan")(text_dim=TEXT_DIM, d_steps=5, **STAGE1)


@pytest.mark.skipif(not (SHARED_MNIST / "MNIST" / "raw").is_dir(), reason="../shared/data/MNIST/raw absent")
def test_cli_fit_of_the_captioned_mnist_recipe_and_per_stage_sampling(tmp_path, capsys):
    """stackgan2's captioned_mnist recipe (G EMA included) from the CLI at tiny widths, the zoo's text encoder trained
    2 steps against an untrained stand-in for the MNIST classifier; then sample --text writes the last scale's grid
    and one per scale (zoo/text_sampling.py)."""
    from metrics.mnist_classifier import CACHE_FILE, MNISTClassifier

    (tmp_path / "cache").mkdir()
    torch.manual_seed(0)
    torch.save({"state_dict": MNISTClassifier().state_dict(), "test_accuracy": 0.0}, tmp_path / "cache" / CACHE_FILE)
    done = run_cli(
        "fit", "--model", "stackgan2", "--data", "captioned_mnist", "--data.root", str(SHARED_MNIST),
        "--data.out", str(tmp_path / "cm"), "--data.limit", "60", "--data.batch_size", "8", "--data.text_length",
        "48", "--data.text_encoder_steps", "2", "--model.ngf", "8", "--model.ndf", "4", "--trainer.max_steps", "4",
        "--trainer.accelerator", "cpu", "--trainer.enable_model_summary", "false", "--run_dir", str(tmp_path / "run"),
        cwd=tmp_path, env={"GAN_ZOO_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "recipe: configs/stackgan2/captioned_mnist.yaml" in done.stderr
    checkpoint = tmp_path / "run" / "checkpoints" / "last.ckpt"
    model = load_gan(checkpoint, expected_model="stackgan2")
    assert model.generator_ema is not None and model.iterations == 2  # the recipe's EMA; 4 steps = 2 D + 2 G
    out = tmp_path / "out"
    argv = ["sample", "--ckpt_path", str(checkpoint), "--out_dir", str(out), "--text", "a thick seven leaning right"]
    assert cli.main([*argv, "--num_samples", "3"]) == 0, capsys.readouterr().err
    assert Image.open(out / "grid.png").size == grid_size(1, 3, px=32)
    for stage, px in enumerate((8, 16, 32), 1):
        assert Image.open(out / f"grid-stage{stage}.png").size == grid_size(1, 3, px=px)


def test_the_captioned_mnist_recipe_and_stage2_preset_are_the_benchmarks_settings():
    """configs/stackgan/captioned_mnist.yaml (stage I) with presets/mnist_stage2.yaml (stage II) hold exactly the
    settings benchmarks/stacked_text2image.py measures (its STACKGAN_MNIST), the stage-II encoder's one halving
    included, and only arguments the entry takes."""
    import yaml

    from benchmarks.stacked_text2image import STACKGAN_MNIST, STAGE_ONE_RESOLUTION
    from zoo.registry import init_parameters

    configs = cli.ROOT / "configs" / "stackgan"
    recipe = yaml.safe_load((configs / "captioned_mnist.yaml").read_text())
    preset = yaml.safe_load((configs / "presets" / "mnist_stage2.yaml").read_text())
    stage_two = {**recipe["model"], **preset["model"]}
    assert {k: stage_two[k] for k in STACKGAN_MNIST} == STACKGAN_MNIST
    assert (recipe["model"]["stage"], stage_two["stage"], stage_two["encoder_halvings"]) == (1, 2, 1)
    assert recipe["data"]["resolution"] == stage_two["stage1_resolution"] == STAGE_ONE_RESOLUTION
    assert set(stage_two) <= init_parameters(get_model("stackgan"))
