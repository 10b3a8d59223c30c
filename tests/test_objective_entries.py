"""The objective family's entries and the pieces they add: configured penalties, packing, weight clipping,
EBGAN's energy and pulling-away term, BEGAN's k control, and the Improved-GAN layers."""

import math
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
import yaml
from torch import nn

from datamodules.toy2d import Toy2DDataModule
from tests.fidelity import assert_counts
from tests.helpers import make_trainer, tiny_digits
from zoo import get_model
from zoo.errors import ZooError
from zoo.nets.wgan_gp import RESOLUTIONS
from zoo.nn.improved_gan import HistoricalAverage, MinibatchDiscrimination, ReferenceBatchGenerator, VirtualBatchNorm
from zoo.objectives import make_objective
from zoo.penalties import PenaltyInputs, configure_penalty, gradient_penalty, pulling_away_term
from zoo.registry import init_parameters

ROOT = Path(__file__).resolve().parents[1]
TOY = {"sample_shape": (2,), "ngf": 16, "ndf": 16, "latent_dim": 2}
IMAGE = {"sample_shape": (1, 16, 16), "ngf": 8, "ndf": 8, "latent_dim": 16}
ENTRIES = ["lsgan", "wgan", "wgan_gp", "dragan", "fgan", "relativistic", "ebgan", "began", "improved_gan"]


def toy_data(**kwargs) -> Toy2DDataModule:
    return Toy2DDataModule(**{"num_points": 1000, "batch_size": 50, "std": 0.05, **kwargs})


# ------------------------------------------------------------------------------ configured penalties


def test_a_configured_gradient_penalty_equals_the_function_and_joins_the_d_loss():
    model = get_model("wgan_gp")(**TOY)
    (penalty,) = model.penalties
    assert (penalty.name, penalty.player, penalty.args) == ("gp", "d", {"weight": 10.0})
    real, fake = torch.randn(8, 2), torch.randn(8, 2)

    class Recorder(dict):
        pass

    logs = Recorder()
    rng = torch.Generator().manual_seed(3)
    model._latent_rng = rng
    total = model.penalty_terms("d", 0, real, None, fake, torch.randn(8, 2), logs)
    expected = gradient_penalty(
        lambda x: model.discriminate(x, None), real, fake, 10.0, generator=torch.Generator().manual_seed(3)
    )
    torch.testing.assert_close(total, expected)
    torch.testing.assert_close(logs["penalty/gp"], expected)
    assert model.penalty_terms("g", 0, real, None, fake, torch.randn(8, 2), {}) == 0.0


def test_lazy_configured_penalty_runs_every_interval_steps_scaled_by_the_interval():
    model = get_model("dcgan")(
        resolution=8, channels=1, ngf=4, ndf=4, penalties=[{"name": "r1", "gamma": 2, "interval": 4}]
    )
    real = torch.randn(4, 1, 8, 8)
    model._latent_rng = torch.Generator()
    terms = [model.penalty_terms("d", step, real, None, real, None, {}) for step in range(5)]
    assert [isinstance(t, torch.Tensor) for t in terms] == [True, False, False, False, True]
    bare = configure_penalty({"name": "r1", "gamma": 2})
    inputs = PenaltyInputs(lambda x: model.discriminate(x, None), real, real, None, model.generator, None)
    torch.testing.assert_close(terms[0], 4 * bare(inputs))


@pytest.mark.parametrize(
    "spec, phrase",
    [
        ({"name": "gradient"}, "unknown penalty 'gradient'; choose one of: gp, dragan"),
        ({"name": "gp", "lambda": 10}, "penalty 'gp' has no argument lambda; its arguments: interval, target, weight"),
        ({"name": "r1", "interval": 0}, "interval must be >= 1"),
    ],
)
def test_bad_penalty_configs_are_rejected_at_start_up(spec, phrase):
    with pytest.raises(ZooError, match=phrase):
        configure_penalty(spec)


def test_mode_seeking_pairs_the_conditions_of_the_two_halves():
    model = get_model("dcgan")(resolution=8, channels=1, ngf=4, ndf=4, penalties=[{"name": "mode_seeking"}])
    model.num_classes = 10
    model._latent_rng = torch.Generator().manual_seed(0)
    y = model.sample_fake_labels(7)
    assert y[4:].tolist() == y[:3].tolist()  # halves of 4 and 3: the second repeats the first


# ------------------------------------------------------------------------------------------ packing


def test_packing_concatenates_consecutive_samples_and_sizes_d_for_the_pack():
    model = get_model("lsgan")(packing=4, **TOY)
    points = torch.arange(16.0).view(8, 2)
    torch.testing.assert_close(
        model.pack(points), torch.tensor([list(range(8)), list(range(8, 16))], dtype=torch.float)
    )
    assert model.discriminate(points, None).shape == (2,)
    image_model = get_model("lsgan")(packing=2, **IMAGE)
    assert image_model.discriminator.net[0].in_channels == 2
    images = torch.randn(4, 1, 16, 16)
    torch.testing.assert_close(image_model.pack(images)[1, 1], images[3, 0])
    with pytest.raises(ZooError, match="batch size divisible by 4"):
        model.pack(torch.zeros(6, 2))
    with pytest.raises(ZooError, match="packing is for unconditional entries"):
        get_model("lsgan")(packing=2, num_classes=10, **TOY)


# ------------------------------------------------------------------------------------------ WGAN


def test_wgan_clips_every_critic_weight_to_c_after_each_update():
    pl.seed_everything(0)
    model = get_model("wgan")(weight_clip=0.01, g_lr=1e-2, d_lr=1e-2, **IMAGE)
    assert (model.hparams.optimizer, model.hparams.d_steps) == ("rmsprop", 5)
    make_trainer(5, d_steps=5).fit(model, tiny_digits())
    weights = torch.cat([p.detach().flatten() for p in model.discriminator.parameters()])
    assert weights.abs().max() <= 0.01
    assert (weights.abs() == 0.01).float().mean() > 0.3  # lr 1e-2 drives many weights onto the bound


def test_wgan_gp_critic_has_no_batch_norm():
    model = get_model("wgan_gp")(**IMAGE)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.discriminator.modules())
    assert any(isinstance(m, nn.GroupNorm) for m in model.discriminator.modules())
    assert model.hparams.g_betas == (0.0, 0.9) and model.hparams.d_steps == 5


def count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize(
    "architecture, resolution, counts, reference",
    [
        ("auto", 32, (1_204_483, 1_053_825), "gan_cifar_resnet.py"),
        ("auto", 64, (8_540_483, 7_491_841), "gan_64x64.py GoodGenerator / GoodDiscriminator"),
        ("dcgan64", 64, (5_364_739, 4_316_545), "gan_64x64.py DCGANGenerator / DCGANDiscriminator"),
    ],
)
def test_wgan_gp_networks_have_the_authors_parameter_counts(architecture, resolution, counts, reference):
    model = get_model("wgan_gp")(architecture=architecture, sample_shape=(3, resolution, resolution))
    source = f"wgan_gp {model.architecture} {resolution} px"
    code = f"igul222/improved_wgan_training {reference}"
    assert_counts(source, model.generator, model.discriminator, counts, code)
    images = model.generator(torch.randn(2, 128))
    assert images.shape == (2, 3, resolution, resolution) and model.discriminator(images).shape == (2,)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.discriminator.modules())


def test_wgan_gp_auto_picks_the_paper_s_networks_by_size_and_rejects_a_wrong_size():
    pick = {r: get_model("wgan_gp")(sample_shape=(3, r, r), ngf=2, ndf=2).architecture for r in (16, 32, 64, 128)}
    assert pick == {16: "dcgan", 32: "resnet32", 64: "resnet64", 128: "dcgan"}
    assert get_model("wgan_gp")(**TOY).architecture == "dcgan"
    with pytest.raises(ZooError, match="resnet64 networks are 64 px, not 32"):
        get_model("wgan_gp")(architecture="resnet64", sample_shape=(3, 32, 32))
    with pytest.raises(ZooError, match="unknown WGAN-GP architecture"):
        get_model("wgan_gp")(architecture="resnet")


@pytest.mark.parametrize("path", sorted((ROOT / "configs" / "wgan_gp").glob("*.yaml")), ids=lambda p: p.name)
def test_wgan_gp_recipes_name_the_authors_networks_at_their_size(path):
    recipe = yaml.safe_load(path.read_text())
    assert set(recipe["model"]) <= init_parameters(get_model("wgan_gp"))
    assert RESOLUTIONS[recipe["model"]["architecture"]] == recipe["data"]["resolution"]


# ------------------------------------------------------------------------------------ EBGAN / BEGAN


def test_energy_objective_in_numbers():
    objective = make_objective("energy", margin=1.0)
    real, fake = torch.tensor([0.1, 0.3]), torch.tensor([0.5, 2.0])
    # D: mean(0.1, 0.3) + mean(max(0, 1 - 0.5), max(0, 1 - 2)) = 0.2 + 0.25
    torch.testing.assert_close(objective.d_loss(real, fake), torch.tensor(0.45))
    torch.testing.assert_close(objective.g_loss(fake), torch.tensor(1.25))


def test_pulling_away_term_is_the_mean_squared_cosine_of_distinct_pairs():
    s = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    # cosines: (1,2) 0, (1,3) 1/sqrt2, (2,3) 1/sqrt2 -> squared 0, .5, .5; each pair twice over 3*2
    torch.testing.assert_close(pulling_away_term(s), torch.tensor(2 * (0.5 + 0.5) / 6))
    torch.testing.assert_close(pulling_away_term(torch.ones(4, 3)), torch.tensor(1.0))


def test_ebgan_energy_is_the_mean_squared_reconstruction_error():
    model = get_model("ebgan")(**TOY)
    x = torch.randn(6, 2)
    reconstruction, code = model.discriminator(x)
    torch.testing.assert_close(model.discriminate(x, None), ((reconstruction - x) ** 2).mean(1))
    assert code.shape == (6, 64)


def test_ebgan_networks_are_the_appendix_s_64_px_model():
    model = get_model("ebgan")(sample_shape=(3, 64, 64))
    # G (1024)4c-(512)4c2s-(256)4c2s-(128)4c2s-(3)4c2s from z of 100; D (64)4c2s-(128)4c2s-(256)4c2s-(128)4c2s-
    # (64)4c2s-(3)4c2s, bias-free, batch norm as DCGAN
    code = "Zhao et al. 2017, App. C (64 px LSUN/CelebA model)"
    assert_counts("ebgan 64 px", model.generator, model.discriminator, (12_658_432, 1_318_016), code)
    convs = [m for m in model.discriminator.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (64, (4, 4), (2, 2)), (128, (4, 4), (2, 2)), (256, (4, 4), (2, 2)),
        (128, (4, 4), (2, 2)), (64, (4, 4), (2, 2)), (3, (4, 4), (2, 2)),
    ]  # fmt: skip
    fake = model.generator(torch.randn(4, 100))
    energy, code = model.energy_and_code(fake)
    assert fake.shape == (4, 3, 64, 64) and energy.shape == (4,) and code.shape == (4, 256, 8, 8)
    dcgan = get_model("ebgan")(architecture="dcgan", **IMAGE)
    assert dcgan.energy_and_code(torch.randn(2, 1, 16, 16))[1].shape == (2, 64)
    assert get_model("ebgan")(sample_shape=(2,)).generator.net[0].out_features == 64  # toy MLPs keep their width


def test_ebgan_mnist_networks_are_fig_9_s_fully_connected_model():
    """Sec. 4.1 (fully connected MNIST nets; nLayerD counts Enc and Dec together, Dec always one layer) and the
    caption of Fig. 9 (nLayerG=5, nLayerD=2, sizeG=1600, sizeD=1024), with z of 100 (the entry's latent_dim; the
    text read does not fix it) and batch norm after every weight layer but G's output and D's input (DCGAN's
    convention, unverified against the appendix):
    G: Linear(100, 1600) 161,600 + BN 3,200; three Linear(1600, 1600) 3 x 2,561,600 + three BN 3 x 3,200;
    Linear(1600, 784) 1,255,184 -> 9,114,384.
    D: Enc Linear(784, 1024) 803,840; Dec Linear(1024, 784) 803,600 -> 1,607,440."""
    model = get_model("ebgan")(sample_shape=(1, 28, 28))
    code = "Zhao et al. 2017, Sec. 4.1 and Fig. 9 (nLayerG 5, sizeG 1600, nLayerD 2, sizeD 1024)"
    assert_counts("ebgan mnist 28 px", model.generator, model.discriminator, (9_114_384, 1_607_440), code)
    linears = [m for m in model.generator.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(100, 1600)] + [(1600, 1600)] * 3 + [(1600, 784)]
    d_linears = [m for m in model.discriminator.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in d_linears] == [(784, 1024), (1024, 784)]
    fake = model.generator(torch.randn(4, 100))
    energy, code = model.energy_and_code(fake)
    assert fake.shape == (4, 1, 28, 28) and energy.shape == (4,) and code.shape == (4, 1024)
    # other one-channel sizes keep the conv autoencoder; the MLPs are also there by name
    assert get_model("ebgan")(**IMAGE).networks((1, 16, 16)) == "ebgan"
    assert (
        count(get_model("ebgan")(architecture="mnist", sample_shape=(1, 16, 16)).discriminator)
        == 2 * 256 * 1024 + 1024 + 256
    )


def test_began_k_follows_eq_4_and_stays_in_zero_one():
    model = get_model("began")(gamma=0.5, lambda_k=0.1, **TOY)
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    loss, logs = model.discriminator_loss(real, None, fake, None)
    l_real, l_fake = model.discriminate(real, None).mean(), model.discriminate(fake, None).mean()
    torch.testing.assert_close(loss, l_real)  # k_0 = 0
    torch.testing.assert_close(logs["began/m_global"], l_real + (0.5 * l_real - l_fake).abs(), atol=1e-6, rtol=0)
    model.k.fill_(0.3)
    model._balance = torch.tensor(2.0)
    model.after_discriminator_step()
    torch.testing.assert_close(model.k, torch.tensor(0.5))  # 0.3 + 0.1 * 2
    model._balance = torch.tensor(100.0)
    model.after_discriminator_step()
    assert model.k == 1.0
    model._balance = torch.tensor(-100.0)
    model.after_discriminator_step()
    assert model.k == 0.0


def test_began_draws_z_uniformly_from_minus_one_to_one():
    """Sec. 3.5: z in [-1, 1]^{N_z} sampled uniformly (carpedm20/BEGAN-tensorflow: tf.random_uniform(-1, 1))."""
    model = get_model("began")(**TOY)
    z = model.sample_latent(4000, torch.Generator().manual_seed(0))
    assert z.shape == (4000, 2) and z.min() >= -1 and z.max() <= 1
    assert abs(float(z.mean())) < 0.05 and abs(float(z.var()) - 1 / 3) < 0.02  # U[-1, 1]: mean 0, variance 1/3
    assert model.sample_latent(100, torch.Generator().manual_seed(0), truncation=0.5).abs().max() <= 0.5
    normal = get_model("began")(latent_distribution="normal", **TOY).sample_latent(4000, torch.Generator())
    assert normal.abs().max() > 1
    with pytest.raises(ZooError, match="latent_distribution"):
        get_model("began")(latent_distribution="cauchy", **TOY)


def test_began_k_stays_in_zero_one_while_training_and_is_checkpointed():
    pl.seed_everything(0)
    model = get_model("began")(lambda_k=0.5, **TOY)
    ks = []

    class RecordK(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, *args):
            ks.append(float(pl_module.k))

    make_trainer(30, callbacks=[RecordK()]).fit(model, toy_data())
    assert all(0.0 <= k <= 1.0 for k in ks) and len(set(ks)) > 3
    assert "k" in model.state_dict()


def test_began_networks_are_fig_1_s_with_the_reference_parameter_counts():
    model = get_model("began")(sample_shape=(3, 64, 64))
    code = "Berthelot et al. 2017 Fig. 1; carpedm20/BEGAN-tensorflow models.py (conv_hidden_num 128, z_num 64)"
    assert_counts("began 64 px", model.generator, model.discriminator, (1_716_611, 13_405_379), code)
    convs = [m for m in model.discriminator.encoder.modules() if isinstance(m, nn.Conv2d)]
    assert sorted({c.out_channels for c in convs}) == [128, 256, 384, 512]  # n, 2n, 3n, 4n
    assert {c.kernel_size for c in convs} == {(3, 3)}
    modules = [*model.generator.modules(), *model.discriminator.modules()]
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.GroupNorm, nn.Tanh)) for m in modules)
    assert any(isinstance(m, nn.ELU) for m in model.generator.modules())
    assert model.generator.linear.out_features == 8 * 8 * 128
    z = torch.randn(2, 64)
    assert model.generator(z).shape == (2, 3, 64, 64) and model.discriminate(model.generator(z), None).shape == (2,)
    dcgan = get_model("began")(architecture="dcgan", sample_shape=(3, 64, 64))
    assert any(isinstance(m, nn.BatchNorm2d) for m in dcgan.generator.modules())


# ------------------------------------------------------------------------------------- Improved GAN


def test_minibatch_discrimination_in_numbers():
    layer = MinibatchDiscrimination(in_features=1, kernels=1, kernel_dim=2)
    with torch.no_grad():
        layer.T.copy_(torch.tensor([[1.0, 2.0]]))
    f = torch.tensor([[0.0], [1.0], [3.0]])  # M rows: (0, 0), (1, 2), (3, 6); L1 distances 3, 9, 6
    expected_o = torch.tensor([math.exp(-3) + math.exp(-9), math.exp(-3) + math.exp(-6), math.exp(-9) + math.exp(-6)])
    out = layer(f)
    torch.testing.assert_close(out[:, 0], f[:, 0])
    torch.testing.assert_close(out[:, 1], expected_o)


def test_historical_average_is_the_running_mean_of_past_parameters():
    p = nn.Parameter(torch.tensor([1.0, 2.0]))
    history = HistoricalAverage([p])
    with torch.no_grad():
        p.copy_(torch.tensor([3.0, 2.0]))
    history.update([p])  # mean of (1, 2) and (3, 2)
    with torch.no_grad():
        p.copy_(torch.tensor([5.0, 5.0]))
    torch.testing.assert_close(history.penalty([p]), torch.tensor(3.0**2 + 3.0**2))
    history.update([p])  # mean of the three: (3, 3)
    torch.testing.assert_close(history.mean0, torch.tensor([3.0, 3.0]))


def test_virtual_batch_norm_makes_each_output_independent_of_the_rest_of_the_batch():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2))
    g = ReferenceBatchGenerator(net, latent_dim=3, reference_size=8)
    assert not any(isinstance(m, nn.BatchNorm1d) for m in g.modules())
    z = torch.randn(6, 3)
    torch.testing.assert_close(g(z)[:2], g(z[:2]))
    torch.testing.assert_close(g(z)[4:5], g(z[4:5]))


def test_virtual_batch_norm_of_one_example_mixes_reference_statistics_with_its_own():
    vbn = VirtualBatchNorm(1, reference_size=3, eps=0.0)
    x = torch.tensor([[1.0], [2.0], [3.0], [6.0]])  # reference 1, 2, 3; example 6
    mean = (1 + 2 + 3 + 6) / 4  # (1 - 1/4) * 2 + 1/4 * 6 = 3
    square = (1 + 4 + 9 + 36) / 4
    expected_example = (6 - mean) / math.sqrt(square - mean**2)
    ref_std = math.sqrt((1 + 4 + 9) / 3 - 4)
    out = vbn(x)
    torch.testing.assert_close(out[3, 0], torch.tensor(expected_example))
    torch.testing.assert_close(out[:3, 0], (torch.tensor([1.0, 2, 3]) - 2) / ref_std)


def test_feature_matching_loss_is_the_squared_distance_of_mean_features():
    model = get_model("improved_gan")(**TOY)
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    loss, _ = model.generator_loss(fake, None, real, None)
    f_real, f_fake = model.discriminator.features(real).mean(0), model.discriminator.features(fake).mean(0)
    history = model.g_history.penalty(model.generator.parameters())
    torch.testing.assert_close(loss, (f_real - f_fake).square().sum() + 1e-3 * history)
    assert model.objective.label_smoothing == 0.1


# ----------------------------------------------------------------------------------- every entry


def train(name: str, iterations: int, shape_kwargs: dict, data, **trainer_kwargs):
    model = get_model(name)(**shape_kwargs)
    trainer = make_trainer(iterations, d_steps=model.hparams.d_steps, **trainer_kwargs)
    trainer.fit(model, data(), ckpt_path=trainer_kwargs.pop("ckpt_path", None))
    return model, trainer


@pytest.mark.parametrize("name", ENTRIES)
def test_every_entry_trains_on_images_with_finite_losses(name):
    pl.seed_everything(0)
    model, _ = train(name, 2, IMAGE, tiny_digits)
    assert model.iterations == 2 and model.nonfinite_iteration == -1
    assert model.sample(3, seed=0).shape == (3, 1, 16, 16)


@pytest.mark.parametrize("name", ENTRIES)
def test_every_entry_resumes_bit_exactly_on_points(name, tmp_path):
    d_steps = get_model(name)(**TOY).hparams.d_steps
    pl.seed_everything(1)
    straight, _ = train(name, 2 * d_steps, TOY, toy_data)
    pl.seed_everything(1)
    _, trainer = train(name, d_steps, TOY, toy_data, default_root_dir=tmp_path)
    trainer.save_checkpoint(tmp_path / "half.ckpt")
    resumed = get_model(name)(**TOY)
    make_trainer(2 * d_steps, d_steps=d_steps).fit(resumed, toy_data(), ckpt_path=tmp_path / "half.ckpt")
    for (key, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(), strict=True):
        if isinstance(a, torch.Tensor):
            torch.testing.assert_close(a, b, rtol=0, atol=0, msg=f"{name}: {key} differs after resume")
