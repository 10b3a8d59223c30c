"""InfoGAN's several categorical codes (Chen et al. 2016, App. C.2-C.3: SVHN's four and CelebA's ten 10-way codes),
Table 3's CelebA networks, the mutual-information loss summed over the codes and code sweeps of any one code;
tests/test_conditional_entries.py holds the single-code (MNIST) tests, which this must leave passing."""

import math
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
import yaml
from PIL import Image
from pytorch_lightning.callbacks import ModelCheckpoint
from torch import nn

import cli
from callbacks import load_gan
from tests.fidelity import assert_counts
from tests.helpers import grid_size, make_trainer, tiny_digits
from tests.test_conditional_cli import png_pixels
from zoo import get_model
from zoo.errors import ZooError
from zoo.infogan_sampling import default_values, vary_code, vary_code_latents
from zoo.sampling import seeded

ROOT = Path(__file__).resolve().parents[1]
IMAGE = {"resolution": 16, "channels": 1, "ngf": 8, "ndf": 8, "noise_dim": 8, "q_hidden": 16}


def recipe(name: str) -> dict:
    return yaml.safe_load((ROOT / "configs" / "infogan" / f"{name}.yaml").read_text())


def count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def tiny(**kwargs):
    return get_model("infogan")(**{**IMAGE, **kwargs})


def test_celeba_recipe_builds_table_3_networks_with_the_papers_parameter_counts():
    """Table 3 (App. C.3) at 32 px, 128 noise + ten 10-way codes = 228 inputs, every layer with a bias:
    G: FC 228 -> 2x2x448 (228 * 1792 + 1792 = 410,368) + BatchNorm (2 * 1792 = 3,584); 4x4 upconvs 448 -> 256
    (448 * 256 * 16 + 256 = 1,835,264) + BatchNorm (512), 256 -> 128 (524,416), 128 -> 64 (131,136), 64 -> 3
    (3,075): 2,908,355.
    D and Q: 4x4 convs 3 -> 64 (3 * 64 * 16 + 64 = 3,136), 64 -> 128 (131,200) + BatchNorm (256), 128 -> 256
    (524,544) + BatchNorm (512); D's FC 4x4x256 -> 1 (4,097); Q's FC 4096 -> 128 (524,416) + BatchNorm (256) and
    FC 128 -> 100, ten softmaxes of 10 (12,900): 1,201,317."""
    settings = recipe("celeba")
    assert settings["data"] == {**settings["data"], "resolution": 32, "batch_size": 128}
    model = get_model("infogan")(resolution=32, channels=3, **settings["model"])
    assert model.architecture == "celeba" and model.latent_dim == 228 and model.categorical_dims == [10] * 10
    assert (model.hparams.g_lr, model.hparams.d_lr, model.continuous_dim) == (1e-3, 2e-4, 0)
    code = "Chen et al. 2016, App. C.3 Table 3"
    assert_counts("infogan celeba 32 px", model.generator, model.discriminator, (2_908_355, 1_201_317), code)
    norms = [m.num_features for m in model.generator.modules() if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d)]
    assert norms == [1792, 256]  # none after the 128 and 64 upconvs (Table 3)
    slopes = {m.negative_slope for m in model.discriminator.modules() if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.1}
    fake = model(model.sample_latent(3, generator=seeded(0)))
    source, q = model.discriminator(fake)
    assert fake.shape == (3, 3, 32, 32) and source.shape == (3,) and q.shape == (3, 100)


def test_auto_picks_mnist_nets_for_gray_celeba_nets_at_32_px_colour_and_dcgan_otherwise():
    assert get_model("infogan")(resolution=28, channels=1).architecture == "mnist"
    assert get_model("infogan")(resolution=32, channels=3, ngf=8, ndf=8).architecture == "celeba"
    assert get_model("infogan")(resolution=64, channels=3, ngf=8, ndf=8).architecture == "dcgan"
    with pytest.raises(ZooError, match="divisible by 16"):
        get_model("infogan")(resolution=28, channels=3, architecture="celeba")


def test_the_single_code_argument_and_the_mnist_recipe_keep_mnists_model():
    default = get_model("infogan")(resolution=28, channels=1)
    settings = recipe("mnist")["model"]
    assert settings["categorical_dims"] == [10]
    for model in (
        get_model("infogan")(resolution=28, channels=1, **settings),
        get_model("infogan")(resolution=28, channels=1, categorical_dim=10),
        get_model("infogan")(resolution=28, channels=1, categorical_dim=10, categorical_dims=[10]),
    ):
        assert (
            model.categorical_dims == [10]
            and model.latent_dim == 74
            and model.code_names == ["categorical", "c1", "c2"]
        )
        assert [p.shape for p in model.parameters()] == [p.shape for p in default.parameters()]
        torch.testing.assert_close(
            model.sample_latent(64, generator=seeded(4)), default.sample_latent(64, generator=seeded(4)), rtol=0, atol=0
        )
    assert tiny(categorical_dim=0).categorical_dims == [] == tiny(categorical_dims=[]).categorical_dims
    with pytest.raises(ZooError, match="set categorical_dims only"):
        tiny(categorical_dim=10, categorical_dims=[10, 10])
    with pytest.raises(ZooError, match=">= 2 categories"):
        tiny(categorical_dims=[10, 1])


def test_several_categorical_codes_each_take_one_hot_block_of_the_latent():
    model = tiny(categorical_dims=[3, 4, 2], continuous_dim=1)
    assert model.latent_dim == 8 + 9 + 1 and model.code_names == ["cat1", "cat2", "cat3", "c1"]
    assert [model.code_columns(name) for name in model.code_names] == [
        slice(8, 11),
        slice(11, 15),
        slice(15, 17),
        slice(17, 18),
    ]
    assert [model.code_categories(name) for name in model.code_names] == [3, 4, 2, 0]
    z = model.sample_latent(400, generator=seeded(0))
    for name, k in zip(model.code_names[:3], (3, 4, 2)):
        block = z[:, model.code_columns(name)]
        assert ((block == 0) | (block == 1)).all() and (block.sum(1) == 1).all()
        assert len(block.argmax(1).unique()) == k
    pairs = z[:, 8:11].argmax(1) * 4 + z[:, 11:15].argmax(1)
    assert len(pairs.unique()) == 12  # the codes are drawn independently: every pair of categories occurs
    assert z[:, 17].abs().max() <= 1
    model._latent_rng = seeded(1)
    training_draw = model.sample_latent(5)
    torch.testing.assert_close(model._fake_codes, training_draw[:, 8:], rtol=0, atol=0)
    _, q = model.discriminator(model(training_draw))
    assert q.shape == (5, 3 + 4 + 2 + 1)


def test_information_loss_sums_the_codes_cross_entropies_by_hand():
    model = tiny(categorical_dims=[2, 3], continuous_dim=1, lambda_categorical=2.0, lambda_continuous=0.5)
    # Q's outputs [cat1 logits | cat2 logits | c1 mean]: softmaxes (1/4, 3/4), (1/4, 1/4, 1/2) for row 0 and
    # (1/2, 1/2), (2/8, 1/8, 5/8) for row 1
    q = torch.tensor([[0.0, math.log(3), 0.0, 0.0, math.log(2), 0.5], [0.0, 0.0, math.log(2), 0.0, math.log(5), -1.0]])
    codes = torch.tensor([[0.0, 1, 0, 0, 1, 0.0], [1, 0, 0, 1, 0, 0.5]])  # cat1 1 then 0, cat2 2 then 1, then c1
    cross_entropy_1 = -(math.log(3 / 4) + math.log(1 / 2)) / 2
    cross_entropy_2 = -(math.log(1 / 2) + math.log(1 / 8)) / 2
    nll = (math.log(2 * math.pi) + (0 - 0.5) ** 2 / 2 + (0.5 + 1) ** 2 / 2) / 2  # unit-variance Gaussian
    loss, logs = model.information_loss(q, codes)
    assert loss.item() == pytest.approx(2.0 * (cross_entropy_1 + cross_entropy_2) + 0.5 * nll, rel=1e-6)
    mi = math.log(2) + math.log(3) - cross_entropy_1 - cross_entropy_2  # the categorical part of L_I
    assert logs["info/mi_categorical"].item() == pytest.approx(mi, rel=1e-6)
    assert logs["info/continuous_nll"].item() == pytest.approx(nll, rel=1e-6)


def test_vary_code_sweeps_the_kth_categorical_code_only():
    model = tiny(categorical_dims=[3, 4, 2], continuous_dim=2)
    assert default_values(model, "cat2") == [0, 1, 2, 3] and len(default_values(model, "c2")) == 10
    fixed = model.sample_latent(2, generator=seeded(3))
    sweep = vary_code_latents(model, "cat2", rows=2, seed=3)
    assert sweep.shape == (8, 19)
    for r in range(2):
        for j in range(4):
            expected = fixed[r].clone()
            expected[11:15] = torch.eye(4)[j]
            torch.testing.assert_close(sweep[4 * r + j], expected, rtol=0, atol=0)
    last = vary_code_latents(model, "cat3", values=[1, 0], rows=1, seed=3)
    torch.testing.assert_close(last[:, 15:17], torch.tensor([[0.0, 1], [1, 0]]), rtol=0, atol=0)
    one_row = model.sample_latent(1, generator=seeded(3))
    torch.testing.assert_close(last[:, :15], one_row[:, :15].expand(2, 15), rtol=0, atol=0)
    torch.testing.assert_close(last[:, 17:], one_row[:, 17:].expand(2, 2), rtol=0, atol=0)
    assert vary_code(model, "cat1", rows=2, seed=3).shape == (6, 1, 16, 16)
    with pytest.raises(ZooError, match="unknown code 'categorical'; this model's codes are: cat1, cat2, cat3, c1, c2"):
        vary_code_latents(model, "categorical")
    with pytest.raises(ZooError, match=r"cat2's values are category indices 0..3, got \[4\]"):
        vary_code_latents(model, "cat2", values=[4])


def test_celeba_networks_with_several_codes_train_and_sweep_through_the_cli(tmp_path, capsys):
    pl.seed_everything(0)
    model = tiny(architecture="celeba", categorical_dims=[3, 4], continuous_dim=0)
    saver = ModelCheckpoint(dirpath=tmp_path / "checkpoints", save_last=True)
    make_trainer(2, callbacks=[saver], enable_checkpointing=True).fit(model, tiny_digits())
    assert model.iterations == 2 and model.nonfinite_iteration == -1
    checkpoint = tmp_path / "checkpoints" / "last.ckpt"
    loaded = load_gan(checkpoint)
    assert loaded.categorical_dims == [3, 4] and loaded.architecture == "celeba"
    argv = ["sample", "--ckpt_path", str(checkpoint), "--out_dir", str(tmp_path), "--no-grid"]
    assert cli.main([*argv, "--vary_code", "cat2", "--strips", "2", "--seed", "1"]) == 0, capsys.readouterr().err
    picture = Image.open(tmp_path / "code-cat2.png")
    assert picture.size == grid_size(2, 4, px=16)  # cat2's 4 categories per row
    assert np.array_equal(np.asarray(picture), png_pixels(vary_code(loaded, "cat2", rows=2, seed=1), 4))


def test_noise_is_uniform_as_the_authors_code_and_normal_on_request():
    """openai/InfoGAN run_mnist_exp.py: Uniform(62), drawn from U(-1, 1) (distributions.py Uniform.sample_prior)."""
    uniform = tiny().sample_latent(4000, generator=seeded(0))[:, :8]
    assert uniform.abs().max() <= 1 and abs(uniform.mean()) < 0.02 and abs(uniform.var() - 1 / 3) < 0.01
    normal = tiny(noise="normal").sample_latent(4000, generator=seeded(0))[:, :8]
    assert abs(normal.var() - 1) < 0.05 and normal.abs().max() > 3
    with pytest.raises(ZooError, match="--model.noise normal only"):
        tiny().sample_latent(4, generator=seeded(0), truncation=0.5)
    with pytest.raises(ZooError, match="unknown infogan noise"):
        tiny(noise="gamma")


def test_mnist_nets_work_on_pixels_in_zero_one_at_their_edges():
    """The authors' G ends in sigmoid (MeanBernoulli's mean) and D reads [0, 1] pixels: the zoo's [-1, 1] images
    are mapped at the edges, 2 sigmoid(a) - 1 out of G and (x + 1) / 2 into D."""
    model = tiny(resolution=28)
    assert isinstance(model.generator.net[-1], nn.Sigmoid)
    z = model.sample_latent(3, generator=seeded(1))
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model.generator(z), model.generator.net(z) * 2 - 1)
        x = torch.rand(3, 1, 28, 28) * 2 - 1
        h = model.discriminator.trunk((x + 1) / 2)
        source, q = model.discriminator(x)
        torch.testing.assert_close(source, model.discriminator.source(h).squeeze(1))
        torch.testing.assert_close(q, model.discriminator.head(h))
