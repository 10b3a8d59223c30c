"""The conditional family: CGAN's label inputs, ACGAN's source and class losses, InfoGAN's codes, its mutual
information loss and code sweeps; every entry trains on 16 px digits, resumes bit-exactly and draws class rows."""

import math

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn

from callbacks.samples import SampleGrid
from tests.fidelity import assert_counts
from tests.helpers import make_trainer, tiny_dcgan, tiny_digits
from zoo import get_model
from zoo.errors import ZooError
from zoo.infogan_sampling import vary_code, vary_code_latents
from zoo.nets.conditional import MaxoutConditionalDiscriminator, MLPConditionalGenerator
from zoo.sampling import seeded

IMAGE = {"resolution": 16, "channels": 1, "ngf": 8, "ndf": 8}
TINY = {
    "cgan": {**IMAGE, "latent_dim": 16},
    "cgan_mlp": {**IMAGE, "latent_dim": 16, "arch": "mlp", "g_hidden": (16, 8, 32), "d_hidden": (16, 8, 16)},
    "acgan": {**IMAGE, "latent_dim": 16},
    "infogan": {**IMAGE, "noise_dim": 8, "q_hidden": 16},
}


def tiny(key: str, **kwargs):
    return get_model(key.removesuffix("_mlp"))(**{**TINY[key], **kwargs})


def first_input(layer: nn.Module, run) -> torch.Tensor:
    """The input ``layer`` receives while ``run()`` executes."""
    seen = []
    handle = layer.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    try:
        run()
    finally:
        handle.remove()
    return seen[0]


# -------------------------------------------------------------------------------------------------- CGAN


def test_cgan_dcgan_nets_receive_the_hand_built_concatenation_of_input_and_one_hot_label():
    torch.manual_seed(0)
    model = tiny("cgan").eval()
    z, y, x = torch.randn(3, 16), torch.tensor([0, 7, 3]), torch.randn(3, 1, 16, 16)
    one_hot = torch.zeros(3, 10)
    one_hot[0, 0] = one_hot[1, 7] = one_hot[2, 3] = 1
    g_input = first_input(model.generator.net.net[0], lambda: model(z, y))
    torch.testing.assert_close(g_input, torch.cat([z, one_hot], 1).view(3, 26, 1, 1), rtol=0, atol=0)
    d_input = first_input(model.discriminator.net.net[0], lambda: model.discriminate(x, y))
    assert d_input.shape == (3, 11, 16, 16)
    torch.testing.assert_close(d_input[:, :1], x, rtol=0, atol=0)
    for i, label in enumerate(y.tolist()):  # channel 1 + c is all ones exactly where c is the label
        expected = torch.zeros(10, 16, 16)
        expected[label] = 1
        torch.testing.assert_close(d_input[i, 1:], expected, rtol=0, atol=0)


@pytest.mark.parametrize("key", ["cgan", "cgan_mlp"])
def test_cgan_outputs_depend_on_the_label(key):
    torch.manual_seed(0)
    model = tiny(key).eval()
    z, x = torch.randn(4, 16), torch.randn(4, 1, 16, 16)
    threes, fives = torch.full((4,), 3), torch.full((4,), 5)
    torch.testing.assert_close(model(z, threes), model(z, threes))
    assert (model(z, threes) - model(z, fives)).abs().flatten(1).amax(1).min() > 1e-4  # every sample changes
    assert (model.discriminate(x, threes) - model.discriminate(x, fives)).abs().min() > 1e-6


def test_cgan_mlp_nets_have_the_papers_layer_sizes_and_label_branches():
    """Mirza & Osindero Sec. 4.1: G z 100 -> 200, y -> 1000, joint 1200 -> 784; D maxout 240x5 on x, 50x5 on y,
    joint 240x4 -> 1."""
    g = MLPConditionalGenerator(100, 10, (1, 28, 28), (200, 1000, 1200), 0.5)
    sizes = [(m.in_features, m.out_features) for m in g.modules() if isinstance(m, nn.Linear)]
    assert sizes == [(100, 200), (10, 1000), (1200, 1200), (1200, 784)]
    d = MaxoutConditionalDiscriminator((1, 28, 28), 10, (240, 50, 240), (5, 5, 4), 0.5)
    pieces = [(m.linear.in_features, m.out_features, m.pieces) for m in d.modules() if hasattr(m, "pieces")]
    assert pieces == [(784, 240, 5), (10, 50, 5), (290, 240, 4)]
    assert sum(isinstance(m, nn.Dropout) and m.p == 0.5 for m in d.modules()) == 3
    y = torch.tensor([2, 9])
    torch.testing.assert_close(first_input(g.y_branch[0], lambda: g(torch.randn(2, 100), y)), torch.eye(10)[y])
    torch.testing.assert_close(first_input(d.y_branch[0], lambda: d(torch.randn(2, 1, 28, 28), y)), torch.eye(10)[y])


def test_conditional_entries_reject_unknown_arch_and_unlabelled_data():
    with pytest.raises(ZooError, match="unknown cgan arch 'resnet'; choose one of: dcgan, mlp"):
        tiny("cgan", arch="resnet")
    for name in ("cgan", "acgan"):
        with pytest.raises(ZooError, match=f"{name} is class-conditional"):
            tiny(name, num_classes=None)


# ------------------------------------------------------------------------------------------------- ACGAN


class FixedHeads(nn.Module):
    """Stands in for ACGAN's D: fixed (source, class) logits for the all-zero (real) and all-one (fake) batch."""

    def __init__(self, real, fake):
        super().__init__()
        self.outputs = {0.0: real, 1.0: fake}

    def forward(self, x):
        return self.outputs[float(x.mean())]


def test_acgan_losses_equal_eq_1_and_2_by_hand_on_fixed_logits():
    model = tiny("acgan", num_classes=3)
    real_source, fake_source = torch.tensor([1.0, -2.0]), torch.tensor([0.5, 3.0])
    real_classes, fake_classes = torch.tensor([[2.0, 0, 0], [0, 1, 0]]), torch.tensor([[0.0, 0, 0], [1, 2, 3]])
    y_real, y_fake = torch.tensor([0, 2]), torch.tensor([1, 2])
    model.discriminator = FixedHeads((real_source, real_classes), (fake_source, fake_classes))
    real, fake = torch.zeros(2, 1, 16, 16), torch.ones(2, 1, 16, 16)

    def softplus(v):
        return math.log1p(math.exp(v))

    # -L_S: -log sigmoid(real) - log(1 - sigmoid(fake)) = softplus(-real) + softplus(fake), batch means
    minus_l_s = (softplus(-1) + softplus(2)) / 2 + (softplus(0.5) + softplus(3)) / 2
    # -log softmax of the labelled class, row by row
    ce_real = (math.log(1 + 2 * math.exp(-2)) + math.log(2 + math.e)) / 2
    ce_fake = (math.log(3) + math.log(math.exp(-2) + math.exp(-1) + 1)) / 2
    d_loss, logs = model.discriminator_loss(real, y_real, fake, y_fake)
    assert d_loss.item() == pytest.approx(minus_l_s + ce_real + ce_fake, rel=1e-6)
    assert logs["acgan/d_class"].item() == pytest.approx(ce_real + ce_fake, rel=1e-6)
    assert logs["acgan/real_accuracy"].item() == 0.5  # argmax rows 0 and 1 against labels 0 and 2
    # G: non-saturating source term -log sigmoid(fake) plus the fake class term
    g_loss, g_logs = model.generator_loss(fake, y_fake, real, y_real)
    assert g_loss.item() == pytest.approx((softplus(-0.5) + softplus(-3)) / 2 + ce_fake, rel=1e-6)
    assert g_logs["acgan/g_class"].item() == pytest.approx(ce_fake, rel=1e-6)
    assert model.discriminate(real, y_real) is real_source  # penalties see the source head only


def test_acgan_class_head_reads_ds_last_hidden_layer():
    torch.manual_seed(0)
    model = tiny("acgan").eval()
    x = torch.randn(5, 1, 16, 16)
    source, classes = model.discriminator(x)
    trunk = model.discriminator.trunk
    torch.testing.assert_close(source, trunk(x))  # the source head is DCGAN's own output layer
    torch.testing.assert_close(classes, model.discriminator.head(trunk.features(x)))
    assert classes.shape == (5, 10)


def count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


ACGAN_REFERENCES = {
    "imagenet": "Odena et al. 2017, App. A Table 1 (the paper's only network table)",
    "cifar10": "kimhc6028/acgan-pytorch network.py (_netG_CIFAR10, _netD_CIFAR10)",
    "imagenet_kimhc": "kimhc6028/acgan-pytorch network.py (_netG, _netD)",
}


@pytest.mark.parametrize(
    "resolution, architecture, counts",
    [
        (32, "cifar10", (1_593_888, 1_663_867)),
        (128, "imagenet", (16_531_971, 3_016_555)),
        (128, "imagenet_kimhc", (11_465_728, 2_525_563)),
    ],
)
def test_acgan_appendix_networks_have_the_reference_parameter_counts(resolution, architecture, counts):
    """imagenet: the appendix's ImageNet table (arXiv 1610.09585, Table 1 of its appendix), 10 classes, biases
    everywhere (the table initializes them to constant 0):
    G: Linear(110, 8 * 8 * 768) 5,455,872 (ReLU, no BN); ConvT 768 -> 384 5x5 7,372,800 + bias 384 + BN 768;
    ConvT 384 -> 256 2,457,600 + 256 + 512; ConvT 256 -> 192 1,228,800 + 192 + 384; ConvT 192 -> 3 14,400 + 3
    -> 16,531,971.
    D: 3x3 convs 3 -> 16 (432 + 16), 16 -> 32 (4,608 + 32 + BN 64), 32 -> 64 (18,432 + 64 + 128), 64 -> 128
    (73,728 + 128 + 256), 128 -> 256 (294,912 + 256 + 512), 256 -> 512 (1,179,648 + 512 + 1,024) = 1,574,752;
    strides 2, 1, 2, 1, 2, 1 with "same" padding leave 16 x 16 x 512, and Linear(131,072, 1 + 10) 1,441,803
    -> 3,016,555.
    cifar10 and imagenet_kimhc: kimhc6028/acgan-pytorch's network.py (ilyakava/ACGAN-PyTorch's copy) with 10
    classes, _netG_CIFAR10 / _netD_CIFAR10 and _netG / _netD."""
    model = get_model("acgan")(
        resolution=resolution, channels=3, num_classes=10, latent_dim=100, architecture=architecture
    )
    assert (
        get_model("acgan")(resolution=resolution, channels=3, num_classes=10).architecture == architecture.split("_")[0]
    )
    code = ACGAN_REFERENCES[architecture]
    assert_counts(f"acgan {architecture} {resolution} px", model.generator, model.discriminator, counts, code)
    dropouts = [m.p for m in model.discriminator.modules() if isinstance(m, nn.Dropout)]
    assert dropouts == [0.5] * 6
    images = model(torch.randn(2, 100), torch.tensor([0, 9]))
    assert images.shape == (2, 3, resolution, resolution)
    source, classes = model.discriminator(images)
    assert source.shape == (2,) and classes.shape == (2, 10)
    assert tiny("acgan").architecture == "dcgan"  # 16 px: DCGAN's nets
    with pytest.raises(ZooError, match="cifar10 networks are 32 px, not 16"):
        tiny("acgan", architecture="cifar10")


# ----------------------------------------------------------------------------------------------- InfoGAN


def test_infogan_latent_is_noise_then_one_hot_then_uniform_codes():
    model = tiny("infogan")
    assert model.latent_dim == 8 + 10 + 2 and model.num_classes is None
    z = model.sample_latent(500, generator=seeded(0))
    one_hot, continuous = z[:, 8:18], z[:, 18:]
    assert ((one_hot == 0) | (one_hot == 1)).all() and (one_hot.sum(1) == 1).all()
    assert len(one_hot.argmax(1).unique()) == 10
    assert continuous.min() >= -1 and continuous.max() <= 1 and continuous.std() > 0.5  # U(-1, 1): std 0.577
    truncated = tiny("infogan", noise="normal").sample_latent(500, generator=seeded(0), truncation=0.5)
    assert truncated[:, :8].abs().max() <= 0.5 and continuous.abs().max() > 0.9  # the noise only is truncated
    model._latent_rng = seeded(1)
    training_draw = model.sample_latent(6)
    torch.testing.assert_close(model._fake_codes, training_draw[:, 8:])  # the codes the losses score
    with pytest.raises(ZooError, match="set those instead"):
        tiny("infogan", latent_dim=100)
    with pytest.raises(ZooError, match="infogan is unconditional"):
        tiny("infogan", num_classes=10)
    with pytest.raises(ZooError, match="packing does not apply"):
        tiny("infogan", packing=2)


def test_infogan_mnist_networks_have_the_authors_parameter_counts():
    # openai/InfoGAN's regularized_gan.py, network_type "mnist": 62 noise + 10-way categorical + 2 continuous codes
    # of fixed variance, so Q has 10 + 2 outputs
    model = get_model("infogan")(resolution=28, channels=1)
    assert model.architecture == "mnist" and not model.hparams.learn_std
    code = "openai/InfoGAN regularized_gan.py, network_type mnist"
    assert_counts("infogan mnist 28 px", model.generator, model.discriminator, (6_652_481, 6_692_173), code)
    slopes = {m.negative_slope for m in model.discriminator.modules() if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.1}
    fake = model(model.sample_latent(3, generator=seeded(0)))
    source, q = model.discriminator(fake)
    assert fake.shape == (3, 1, 28, 28) and source.shape == (3,) and q.shape == (3, 12)
    assert get_model("infogan")(resolution=64, channels=3, ngf=8, ndf=8).architecture == "dcgan"


@pytest.mark.parametrize("learn_std", [True, False])
def test_infogan_information_loss_is_cross_entropy_plus_gaussian_nll_by_hand(learn_std):
    model = tiny("infogan", categorical_dim=3, lambda_categorical=2.0, lambda_continuous=0.5, learn_std=learn_std)
    logits = [[1.0, 0.0, -1.0], [0.0, 0.0, 0.0]]
    means, log_stds = [[0.5, -0.5], [0.0, 1.0]], [[0.0, math.log(2)], [-1.0, 0.0]]
    q = torch.tensor([lg + m + (s if learn_std else []) for lg, m, s in zip(logits, means, log_stds)])
    codes = torch.tensor([[1.0, 0, 0, 0.2, 0.3], [0, 0, 1, -1.0, 1.0]])  # categories 0 and 2, then c1 c2
    cross_entropy = (-math.log(math.e / (math.e + 1 + math.exp(-1))) + math.log(3)) / 2

    def nll(c, mean, log_std):
        std = math.exp(log_std) if learn_std else 1.0
        return math.log(std) + 0.5 * math.log(2 * math.pi) + (c - mean) ** 2 / (2 * std**2)

    gaussian = (
        sum(nll(codes[i, 3 + j].item(), means[i][j], log_stds[i][j]) for i in range(2) for j in range(2)) / 2
    )  # summed over codes, averaged over the batch
    loss, logs = model.information_loss(q, codes)
    assert loss.item() == pytest.approx(2.0 * cross_entropy + 0.5 * gaussian, rel=1e-6)
    assert logs["info/mi_categorical"].item() == pytest.approx(math.log(3) - cross_entropy, rel=1e-6)
    assert logs["info/continuous_nll"].item() == pytest.approx(gaussian, rel=1e-6)


def test_infogan_losses_add_the_information_term_of_the_iterations_codes_to_both_players():
    torch.manual_seed(0)
    model = tiny("infogan")
    model._latent_rng = seeded(2)
    z = model.sample_latent(4)
    real, fake = torch.randn(4, 1, 16, 16), model(z).detach()
    d_loss, _ = model.discriminator_loss(real, None, fake, None)
    fake_source, q = model.discriminator(fake)
    information, _ = model.information_loss(q, z[:, 8:])
    adversarial = F.softplus(-model.discriminate(real, None)).mean() + F.softplus(fake_source).mean()
    torch.testing.assert_close(d_loss, adversarial + information)
    g_loss, _ = model.generator_loss(fake, None, real, None)
    torch.testing.assert_close(g_loss, F.softplus(-fake_source).mean() + information)


def test_training_scores_q_against_the_codes_of_the_latents_that_made_the_fakes():
    pl.seed_everything(0)
    model = tiny("infogan")
    latents, scored = [], []
    model.generator.register_forward_pre_hook(lambda module, args: latents.append(args[0].detach().clone()))
    information_loss = model.information_loss

    def recording(q, codes):
        scored.append(codes.clone())
        return information_loss(q, codes)

    model.information_loss = recording
    make_trainer(2).fit(model, tiny_digits())
    assert len(latents) == 2 and len(scored) == 4  # one G forward per iteration; a D and a G loss each
    for i, z in enumerate(latents):
        assert not torch.equal(z[:, 8:], latents[1 - i][:, 8:])
        for codes in scored[2 * i : 2 * i + 2]:
            torch.testing.assert_close(codes, z[:, 8:], rtol=0, atol=0)


def test_vary_code_changes_only_the_chosen_code():
    model = tiny("infogan")
    fixed = model.sample_latent(2, generator=seeded(3))
    sweep = vary_code_latents(model, "c2", values=[-2.0, 0.0, 2.0], rows=2, seed=3)
    assert sweep.shape == (6, 20)
    for r in range(2):
        for j, value in enumerate([-2.0, 0.0, 2.0]):
            expected = fixed[r].clone()
            expected[19] = value
            torch.testing.assert_close(sweep[3 * r + j], expected, rtol=0, atol=0)
    categories = vary_code_latents(model, "categorical", rows=1, seed=3)
    assert categories.shape == (10, 20)
    torch.testing.assert_close(categories[:, 8:18], torch.eye(10), rtol=0, atol=0)
    one_row = model.sample_latent(1, generator=seeded(3))
    torch.testing.assert_close(categories[:, :8], one_row[:, :8].expand(10, 8), rtol=0, atol=0)
    torch.testing.assert_close(categories[:, 18:], one_row[:, 18:].expand(10, 2), rtol=0, atol=0)
    images = vary_code(model, "c1", rows=2, seed=3)
    assert images.shape == (20, 1, 16, 16)  # 2 rows of the 10 default values over [-2, 2]


@pytest.mark.parametrize(
    "model, code, phrase",
    [
        (tiny_dcgan(resolution=16, channels=1), "c1", "DCGAN has no latent codes: --vary_code needs an InfoGAN"),
        (tiny("infogan"), "c3", "unknown code 'c3'; this model's codes are: categorical, c1, c2"),
        (tiny("infogan", categorical_dim=0), "categorical", "this model's codes are: c1, c2"),
    ],
)
def test_vary_code_errors_name_the_fix(model, code, phrase):
    with pytest.raises(ZooError, match=phrase):
        vary_code_latents(model, code)


# ------------------------------------------------------------------------------------------- every entry


def train(key: str, iterations: int, **trainer_kwargs):
    model = tiny(key)
    trainer = make_trainer(iterations, **trainer_kwargs)
    trainer.fit(model, tiny_digits(), ckpt_path=trainer_kwargs.pop("ckpt_path", None))
    return model, trainer


@pytest.mark.parametrize("key", list(TINY))
def test_every_entry_trains_on_digits_with_finite_losses(key):
    pl.seed_everything(0)
    model, _ = train(key, 2)
    assert model.iterations == 2 and model.generator_steps == 2 and model.nonfinite_iteration == -1
    assert model.sample(3, seed=0).shape == (3, 1, 16, 16)


@pytest.mark.parametrize("key", ["cgan", "cgan_mlp", "acgan", "infogan"])
def test_every_entry_resumes_bit_exactly(key, tmp_path):
    pl.seed_everything(1)
    straight, _ = train(key, 2)
    pl.seed_everything(1)
    _, trainer = train(key, 1, default_root_dir=tmp_path)
    trainer.save_checkpoint(tmp_path / "half.ckpt")
    resumed = tiny(key)
    make_trainer(2).fit(resumed, tiny_digits(), ckpt_path=tmp_path / "half.ckpt")
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(), strict=True):
        if isinstance(a, torch.Tensor):
            torch.testing.assert_close(a, b, rtol=0, atol=0, msg=f"{key}: {name} differs after resume")


@pytest.mark.parametrize("key", ["cgan", "acgan"])
def test_sample_grid_shows_one_row_per_class_rendered_from_the_label(key):
    torch.manual_seed(0)
    model = tiny(key)
    picture = SampleGrid(num_samples=20, seed=4).picture(model)
    assert picture.shape == (3, 10 * 18 + 2, 2 * 18 + 2)  # 10 class rows of 20 // 10 images, 16 px, padding 2
    z = model.sample_latent(2, generator=seeded(4))
    with torch.no_grad():
        sevens = model.eval()(z, torch.full((2,), 7))
    cell = picture[0, 7 * 18 + 2 : 7 * 18 + 18, 2:18]  # row 7, column 0
    torch.testing.assert_close(cell, (sevens[0, 0] + 1) / 2, atol=1e-6, rtol=0)
