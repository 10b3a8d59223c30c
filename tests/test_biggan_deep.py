"""BigGAN-deep (zoo/biggan_deep.py, zoo/nets/biggan_deep.py): parameter counts of ajbrock/BigGAN-PyTorch's
BigGANdeep.py at the launch script's configuration, the bottleneck blocks' skips, the whole z in every conditional
BN, and equality with the two reference fixtures of tests/fixtures/biggan_deep (see its README): BigGAN-PyTorch's
own BigGAN-deep, and pytorch-pretrained-biggan's converted TF-Hub generators, each imported through the zoo's
importers."""

from __future__ import annotations

import copy
import json
import shutil

import pytest
import torch
import torch.nn.functional as F

from callbacks import load_gan
from tests.conftest import ROOT, run_cli
from tests.fidelity import assert_counts, assert_matches, relative_difference
from zoo import get_model
from zoo.errors import ZooError
from zoo.importers import detect_source, import_checkpoint, pretrained_biggan
from zoo.nets.biggan_deep import DeepDBlock, DeepGBlock
from zoo.nn import spectral_norm
from zoo.nn.conditional import UnconditionalBatchNorm2d
from zoo.nn.spectral_norm import Layers

FIXTURES = ROOT / "tests" / "fixtures" / "biggan_deep"
TINY = {"num_classes": 10, "g_width": 2, "d_width": 2, "latent_dim": 16, "shared_dim": 8}


def counts(model) -> tuple[int, int]:
    return tuple(sum(p.numel() for p in net.parameters()) for net in (model.generator, model.discriminator))


@pytest.mark.parametrize(
    "resolution, reference",
    [(128, (50_244_484, 34_590_210)), (256, (55_736_708, 38_247_426))],
)
def test_parameter_counts_equal_biggan_pytorch_at_the_launch_scripts_configuration(monkeypatch, resolution, reference):
    # counted from BigGANdeep.py's Generator / Discriminator built with launch_BigGAN_deep.sh's arguments (ch 128,
    # G_depth = D_depth = 2, dim_z = shared_dim = 128, --hier --G_shared, G_attn = D_attn = 64, 1000 classes);
    # neither init nor spectral norm changes a count, so both are skipped here for speed
    monkeypatch.setitem(spectral_norm.INITIALIZERS, "orthogonal", lambda weight, gain: None)
    monkeypatch.setattr(spectral_norm, "spectral_norm", lambda module, **kwargs: module)
    model = get_model("biggan_deep")(num_classes=1000, resolution=resolution)
    assert model.hparams.d_steps == 1 and (model.hparams.g_lr, model.hparams.d_lr) == (1e-4, 4e-4)
    assert_counts(
        "biggan-pytorch-deep", model.generator, model.discriminator, reference,
        code=f"ajbrock/BigGAN-PyTorch BigGANdeep.py at {resolution} px, ch 128 (launch_BigGAN_deep.sh)",
    )  # fmt: skip


@pytest.mark.parametrize("resolution, stages", [(32, 3), (64, 4)])
def test_tiny_networks_make_images_and_one_logit_per_sample(resolution, stages):
    torch.manual_seed(0)
    model = get_model("biggan_deep")(resolution=resolution, channels=1, attention_resolution=16, **TINY)
    z, y = torch.randn(3, 16), torch.tensor([0, 4, 9])
    x = model(z, y)
    assert x.shape == (3, 1, resolution, resolution) and x.abs().max() <= 1
    assert model.discriminator(x, y).shape == (3,)
    assert (len(model.generator.blocks), len(model.discriminator.blocks)) == (2 * stages, stages)
    optimizers = model.configure_optimizers()
    assert all(g["eps"] == 1e-6 and g["betas"] == (0.0, 0.999) for o in optimizers for g in o.param_groups)


def test_generator_skip_drops_channels_and_discriminator_skip_concatenates():
    torch.manual_seed(0)
    layers = Layers(spectral_norm=False, init="orthogonal")
    g_block = DeepGBlock(16, 8, UnconditionalBatchNorm2d, layers, upsample=True, activation=torch.nn.ReLU())
    d_block = DeepDBlock(8, 16, layers, downsample=True, activation=torch.nn.ReLU())
    for block in (g_block, d_block):  # the residual branch's last conv silenced: the output is the skip alone
        torch.nn.init.zeros_(block.conv4.weight)
        torch.nn.init.zeros_(block.conv4.bias)
    x = torch.randn(2, 16, 4, 4)
    assert g_block.conv1.weight.shape == (4, 16, 1, 1)  # hidden = in / 4
    assert torch.equal(g_block(x, None), F.interpolate(x[:, :8], scale_factor=2))
    x = torch.randn(2, 8, 8, 8)
    pooled = F.avg_pool2d(x, 2)
    assert d_block.conv1.weight.shape == (4, 8, 1, 1) and d_block.shortcut.weight.shape == (8, 8, 1, 1)  # out / 4
    torch.testing.assert_close(d_block(x), torch.cat([pooled, d_block.shortcut(pooled)], dim=1))


def test_every_conditional_batch_norm_and_the_linear_layer_see_the_embedding_and_all_of_z():
    torch.manual_seed(0)
    model = get_model("biggan_deep")(resolution=32, channels=1, attention_resolution=16, **TINY)
    seen = []
    for name, module in model.generator.named_modules():
        if name.endswith((".gamma", ".beta")) or name == "linear":
            module.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    z, y = torch.randn(3, 16), torch.tensor([1, 2, 3])
    model.generator(z, y)
    assert len(seen) == 1 + 3 * 2 * 4 * 2  # linear + 3 resolutions x 2 blocks x 4 BNs x (gain, bias)
    expected = torch.cat([model.generator.shared(y), z], dim=1)
    assert all(torch.equal(c, expected) for c in seen)


def test_unknown_resolution_and_attention_size_name_the_fix():
    with pytest.raises(ZooError, match="32, 64, 128, 256, 512 px, not 48"):
        get_model("biggan_deep")(resolution=48, **TINY)
    with pytest.raises(ZooError, match="attention_resolution"):
        get_model("biggan_deep")(resolution=32, attention_resolution=64, **TINY)


def test_biggan_deep_fits_with_its_digits_recipe_from_the_cli(tmp_path):
    fit = run_cli(
        "fit", "--model", "biggan_deep", "--data", "digits", "--data.batch_size", "8", "--model.g_width", "2",
        "--model.d_width", "2", "--trainer.max_steps", "6", "--samples.num_samples", "10",
        "--trainer.accelerator", "cpu", "--trainer.enable_model_summary", "false", "--run_dir", "run", cwd=tmp_path,
    )  # fmt: skip
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert "recipe: configs/biggan_deep/digits.yaml" in fit.stderr
    gan = load_gan(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert (gan.iterations, gan.generator_steps, gan.images_seen) == (3, 3, 24)  # 1 D step per G step
    assert (gan.hparams.latent_dim, gan.hparams.shared_dim, gan.hparams.attention_resolution) == (32, 16, 16)
    assert gan.generator_ema is not None and not gan.hparams.latent_optimisation
    assert counts(gan) == (15_374, 1_120)  # width 2 at 32 px: 3 resolutions x 2 bottleneck blocks


# ------------------------------------------------------------------------------- BigGAN-PyTorch BigGAN-deep


def test_biggan_pytorch_deep_weights_import_and_equal_the_references_outputs():
    folder = FIXTURES / "biggan-pytorch"
    assert detect_source(folder / "G.pth") == "biggan-pytorch"
    imported = import_checkpoint(None, folder)
    assert imported.model == "biggan_deep"
    h = imported.hparams
    assert (h["resolution"], h["g_width"], h["d_width"], h["latent_dim"], h["shared_dim"]) == (64, 2, 2, 16, 8)
    assert (h["depth"], h["attention_resolution"], h["num_classes"]) == (2, 16, 10)
    model = get_model("biggan_deep")(**h)
    model.load_state_dict(imported.state_dict)
    assert_counts("biggan-pytorch-deep", model.generator, model.discriminator, (35_912, 5_320))  # the README's
    io = torch.load(folder / "io.pt", weights_only=True)
    model.eval()
    with torch.no_grad():
        outputs = {
            "img_eval": model.generator(io["z"], io["y"]),
            "d_img_eval": model.discriminator(io["img_eval"], io["y"]),
            "d_img_train_mode": model.discriminator(io["img_train_mode"], io["y"]),
        }
        train_mode = copy.deepcopy(model.generator).train()(io["z"], io["y"])
    assert_matches("biggan-pytorch-deep", outputs, io)
    # batch statistics of 4 samples amplify float32 noise to ~1e-5 (float64: 3e-14; see the fixture README)
    assert relative_difference(train_mode, io["img_train_mode"]) < 1e-4


# ------------------------------------------------------------------------------- pytorch-pretrained-biggan


@pytest.fixture(scope="module")
def pretrained_io():
    return torch.load(FIXTURES / "pretrained-biggan" / "io.pt", weights_only=True)


@pytest.mark.parametrize("truncation, samples", [(0.5, slice(0, 1)), (0.6, slice(1, 2))])
def test_pretrained_biggan_generator_equals_theirs_at_its_truncations_standing_statistics(
    pretrained_io, truncation, samples
):
    folder = FIXTURES / "pretrained-biggan"
    assert detect_source(folder) == detect_source(folder / "pytorch_model.bin") == "pretrained-biggan"
    imported = pretrained_biggan.load(folder, truncation=truncation)
    model = get_model("biggan_deep")(**imported.hparams)
    model.load_state_dict(imported.state_dict)
    assert_counts("pretrained-biggan", model.generator, None, (69_189, None))  # their BigGAN's parameters
    assert (imported.hparams["attention_resolution"], imported.hparams["rgb_channels"]) == (64, 4)
    io = pretrained_io
    with torch.no_grad():  # their z convention: truncation x truncnorm(-2, 2); one-hot class vectors
        image = model.eval().generator(truncation * io["z"][samples], io["classes"][samples])
    assert_matches("pretrained-biggan", {f"img_truncation_{truncation}": image}, io)


def test_standing_statistics_follow_their_interpolation_weights():
    stats = torch.tensor([[0.0], [10.0], [20.0], [30.0], [40.0]])  # 5 rows: truncations 0, .25, .5, .75, 1
    assert standing(stats, 0.5) == 20.0 and standing(stats, 1.0) == 40.0
    assert standing(stats, 0.6) == pytest.approx(0.4 * 20 + 0.6 * 30)  # modf(2.4) = (0.4, 2): 0.4 on row 2


def standing(stats, truncation):
    return pretrained_biggan.standing_statistics(stats, truncation).item()


def test_pretrained_biggan_layout_the_zoo_lacks_is_refused(tmp_path):
    folder = tmp_path / "other"
    shutil.copytree(FIXTURES / "pretrained-biggan", folder)
    config = json.loads((folder / "config.json").read_text())
    config["layers"] = config["layers"][2:]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ZooError, match="not the zoo's biggan_deep G at 128 px"):
        import_checkpoint(None, folder)
