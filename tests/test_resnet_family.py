"""The spectral-norm / ResNet / attention family: SNGAN, SNGAN-projection, SAGAN, BigGAN. Their networks
against the papers' tables, BigGAN's hierarchical latent and truncation, per-class sampling, the recipes, and
training: finite losses, d_steps D updates per G update, bit-exact resume."""

from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
import yaml
from torch import nn

from callbacks import EMA
from tests.fidelity import assert_counts
from tests.helpers import make_trainer, tiny_digits
from zoo import get_model
from zoo.errors import ZooError
from zoo.nets.biggan import BIGGAN_ARCHITECTURES
from zoo.nets.resnet import SNGAN_ARCHITECTURES
from zoo.nn.attention import SelfAttention
from zoo.penalties import orthogonal_penalty
from zoo.registry import init_parameters
from zoo.sampling import class_grid, render

ROOT = Path(__file__).resolve().parents[1]
ENTRIES = ["sngan", "sngan_projection", "sagan", "biggan"]
CONDITIONAL = ["sngan_projection", "sagan", "biggan"]
#: 32 px digits, the smallest widths the blocks allow (self-attention needs >= 8 channels)
TINY = {
    "sngan": {"g_width": 2, "d_width": 4},
    "sngan_projection": {"g_width": 2, "d_width": 4},
    "sagan": {"g_width": 2, "d_width": 4, "attention_resolution": 16},
    "biggan": {"g_width": 2, "d_width": 2, "latent_dim": 16, "shared_dim": 8, "attention_resolution": 16},
}


def tiny(name: str, **kwargs):
    classes = {"num_classes": 10} if name in CONDITIONAL else {}
    return get_model(name)(resolution=32, channels=1, **classes, **TINY[name], **kwargs)


def digits():
    return tiny_digits(resolution=32, batch_size=8)


# ---------------------------------------------------------------------------------------- architectures


def test_sngan_resnet_widths_follow_tables_4_and_6():
    cifar = SNGAN_ARCHITECTURES[32]
    assert cifar.g_channels(64) == [256] * 4 and cifar.d_channels(64) == [128] * 4  # Table 4
    assert cifar.downsample == (True, True, False, False)
    imagenet = SNGAN_ARCHITECTURES[128]  # Table 6: G 1024 -> 1024, 512, 256, 128, 64; D 64 ... 1024, 1024
    assert imagenet.g_channels(64) == [1024, 1024, 512, 256, 128, 64]
    assert imagenet.d_channels(64) == [64, 128, 256, 512, 1024, 1024]
    model = get_model("sngan")(resolution=32, channels=3, g_width=4, d_width=4)
    d = model.discriminator
    assert [b.conv1.out_channels for b in d.blocks] == [8, 8, 8, 8]  # skinny blocks: conv1 keeps its input width
    assert d.blocks[0].first and d.blocks[1].shortcut is not None and d.blocks[2].shortcut is None
    assert model.generator.bottom == 4 and len(model.generator.blocks) == 3
    assert not any(hasattr(m, "parametrizations") for m in model.generator.modules())  # SNGAN: no SN in G
    assert all(hasattr(m, "parametrizations") for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    assert (model.hparams.d_steps, model.hparams.g_betas, model.hparams.objective) == (5, (0.0, 0.9), "hinge")


def count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_sngan_32_px_parameter_counts_equal_the_authors_networks():
    # pfnet-research/sngan_projection at CIFAR-10 size: gen_models/resnet_32.py (ch 256) and
    # dis_models/snresnet_32.py (ch 128, an output layer without bias, with the class embedding when projecting)
    sngan = get_model("sngan")(resolution=32, channels=3)
    code = "pfnet-research/sngan_projection resnet_32.py / snresnet_32.py"
    assert_counts("sngan 32 px", sngan.generator, sngan.discriminator, (4_276_739, 1_053_824), code)
    assert sngan.discriminator.head.psi.bias is None
    assert get_model("sngan")(resolution=64, channels=3).discriminator.head.psi.bias is not None  # snresnet_64.py
    projection = get_model("sngan_projection")(resolution=32, channels=3, num_classes=10)
    assert_counts("sngan_projection 32 px", None, projection.discriminator, (None, 1_053_824 + 10 * 128), code)


def test_sngan_standard_cnn_follows_table_3():
    model = get_model("sngan")(resolution=48, channels=3, architecture="cnn")
    convs = model.discriminator.convs
    assert [(c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs] == [
        (64, 3, 1), (64, 4, 2), (128, 3, 1), (128, 4, 2), (256, 3, 1), (256, 4, 2), (512, 3, 1),
    ]  # fmt: skip
    assert model.discriminator.linear.in_features == 6 * 6 * 512  # M = 48: 6 x 6 x 512 before the dense layer
    assert model.generator.linear.out_features == 6 * 6 * 512  # M_g = 6
    assert model.generator(torch.randn(2, 128)).shape == (2, 3, 48, 48)


def test_biggan_128_widths_and_attention_follow_table_4():
    arch = BIGGAN_ARCHITECTURES[128]
    assert arch.g_channels(96) == [1536, 1536, 768, 384, 192, 96]
    assert arch.d_channels(96) == [96, 192, 384, 768, 1536, 1536]
    model = get_model("biggan")(resolution=128, channels=3, num_classes=5, g_width=8, d_width=8)
    g, d = model.generator, model.discriminator
    assert g.chunk == 20 and g.linear.in_features == 20  # z of 120 in 6 chunks of 20
    assert g.blocks[0].bn1.gamma.in_features == 128 + 20  # shared embedding + z chunk
    assert g.attention_after == 3 and d.attention_after == 0  # both at 64 x 64
    assert [b.conv1.out_channels for b in d.blocks] == arch.d_channels(8)  # wide blocks
    assert model.hparams.d_steps == 2 and (model.hparams.g_lr, model.hparams.d_lr) == (5e-5, 2e-4)
    assert sum(isinstance(m, SelfAttention) for m in model.modules()) == 2


def test_biggan_128_px_imagenet_counts_equal_biggan_pytorchs():
    # BigGAN-PyTorch's launch_BigGAN_bs256x8.sh networks (--G_ch 96 --D_ch 96 --dim_z 120 --shared_dim 128 --hier
    # --G_attn 64 --D_attn 64, 1000 classes): the counts its train.py prints
    with torch.device("meta"):  # counted, never computed
        model = get_model("biggan")(resolution=128, channels=3, num_classes=1000)
    code = "ajbrock/BigGAN-PyTorch launch_BigGAN_bs256x8.sh, ImageNet 1000 classes"
    assert_counts("biggan 128 px", model.generator, model.discriminator, (70_433_988, 87_982_370), code)


def test_biggan_32_counts_and_discriminator_attention_equal_biggan_pytorchs():
    # BigGAN-PyTorch at --G_ch 16 --D_ch 16 --dim_z 32 --shared_dim 16 --hier --G_attn 16 --D_attn 16, CIFAR-10:
    # G 268,836 and D 285,893 parameters; D_arch[32] lists every D block at 16 px, so attention follows all four
    model = get_model("biggan")(
        resolution=32, channels=3, num_classes=10, g_width=16, d_width=16, latent_dim=32, shared_dim=16
    )
    code = "ajbrock/BigGAN-PyTorch --G_ch 16 --D_ch 16 --dim_z 32 --shared_dim 16 --hier, CIFAR-10"
    assert_counts("biggan 32 px (ch 16)", model.generator, model.discriminator, (268_836, 285_893), code)
    assert sum(isinstance(m, SelfAttention) for m in model.discriminator.modules()) == 4
    assert model.discriminator(torch.randn(2, 3, 32, 32), torch.tensor([0, 1])).shape == (2,)


@pytest.mark.parametrize(
    "name, kwargs, message",
    [
        ("sngan", {"resolution": 40}, "SNGAN has architectures for 32, 48, 64, 128 px, not 40"),
        ("sngan", {"resolution": 64, "architecture": "cnn"}, "standard CNN is defined for 32, 48 px, not 64"),
        ("sngan", {"num_classes": 10}, "sngan is unconditional; .* use --model sngan_projection"),
        ("sngan_projection", {}, "sngan_projection is class-conditional: it needs num_classes"),
        ("biggan", {"num_classes": 3, "resolution": 48}, "biggan has architectures for 32, 64, 128, 256 px"),
        ("biggan", {"num_classes": 3, "latent_dim": 100}, "latent_dim 100 is not a multiple of 6"),
        ("sagan", {"num_classes": 3, "attention_resolution": 12}, "no generator feature map is 12x12"),
    ],
)
def test_bad_settings_raise_one_clear_error(name, kwargs, message):
    with pytest.raises(ZooError, match=message):
        get_model(name)(**{"channels": 3, "g_width": 1, "d_width": 1, **kwargs})


def test_projection_generator_learns_its_classes_through_the_conditional_bn_of_the_classes_it_drew():
    """G's only class input is the per-class gain and bias of its conditional BN, zero at the start (the
    authors' init): one Adam update moves every entry of the drawn classes by lr (Adam's first step is
    lr * sign(grad)) and leaves the other classes' at zero. Later Adam steps move an entry by about lr too (at
    most lr / sqrt(1 - beta2), 3.2 lr with SNGAN's betas), which bounds how fast the projection GAN can learn
    its classes at a short budget (benchmarks/RESULTS.md)."""
    torch.manual_seed(0)
    model = tiny("sngan_projection", g_lr=1e-3)
    _, g_opt = model.configure_optimizers()
    y = torch.tensor([2, 2, 7, 7])
    fake = model(torch.randn(4, model.latent_dim), y)
    loss, _ = model.generator_loss(fake, y, None, None)
    loss.backward()
    g_opt.step()
    norms = [m for m in model.generator.modules() if hasattr(m, "gamma")]
    assert len(norms) == 2 * len(model.generator.blocks)
    for norm in norms:
        for table in (norm.gamma.weight, norm.beta.weight):
            drawn, others = table[[2, 7]], table[[0, 1, 3, 4, 5, 6, 8, 9]]
            assert torch.allclose(drawn.abs(), torch.full_like(drawn, 1e-3), rtol=1e-3)
            assert torch.equal(others, torch.zeros_like(others))


# ------------------------------------------------------------------------------- BigGAN's latent, sampling


def test_biggan_feeds_one_z_chunk_and_the_shared_embedding_to_every_block():
    model = tiny("biggan")
    g = model.generator
    z, y = torch.randn(3, 16), torch.tensor([1, 2, 3])
    first, conditions = g.block_inputs(z, y)
    torch.testing.assert_close(first, z[:, :4])  # 4 chunks of 4: linear layer + 3 blocks
    for k, condition in enumerate(conditions):
        torch.testing.assert_close(condition, torch.cat([g.shared(y), z[:, 4 * (k + 1) : 4 * (k + 2)]], dim=1))
    assert not hasattr(g.shared, "parametrizations")  # the shared embedding is not normalized


def test_truncation_resamples_every_component_above_the_threshold_of_the_chunked_latent():
    model = tiny("biggan")
    plain = model.sample_latent(64, generator=torch.Generator().manual_seed(0))
    truncated = model.sample_latent(64, generator=torch.Generator().manual_seed(0), truncation=0.5)
    inside = plain.abs() <= 0.5
    assert 0.2 < inside.float().mean() < 0.5  # P(|z| <= 0.5) = 0.38
    torch.testing.assert_close(truncated[inside], plain[inside], rtol=0, atol=0)  # kept
    assert (truncated[~inside] != plain[~inside]).all() and truncated.abs().max() <= 0.5  # all redrawn inside
    first, conditions = model.generator.block_inputs(truncated, model.sample_labels(64, torch.Generator()))
    assert first.abs().max() <= 0.5 and all(c[:, 8:].abs().max() <= 0.5 for c in conditions)  # every chunk


def test_orthogonal_regularization_is_biggan_s_default_g_penalty():
    model = tiny("biggan")
    (penalty,) = model.penalties
    assert (penalty.name, penalty.player, penalty.args) == ("orthogonal", "g", {"beta": 1e-4})
    model._latent_rng = torch.Generator().manual_seed(0)
    real, z = torch.randn(4, 1, 32, 32), torch.randn(4, 16)
    logs = {}
    term = model.penalty_terms("g", 0, real, None, real, z, logs)
    torch.testing.assert_close(term, orthogonal_penalty(model.generator, beta=1e-4))
    assert "penalty/orthogonal" in logs


@pytest.mark.parametrize("name", CONDITIONAL)
def test_class_grid_rows_render_each_class_from_the_same_latents(name):
    model = tiny(name)
    for module in model.generator.modules():  # class gains and biases as after training (they start at 0)
        if isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight)
    grid = class_grid(model, [0, 3], columns=2, seed=0, truncation=0.5)
    z = model.sample_latent(2, generator=torch.Generator().manual_seed(0), truncation=0.5)
    torch.testing.assert_close(grid[2:], render(model, z, torch.tensor([3, 3])))
    assert not torch.allclose(grid[:2], grid[2:])  # the class changes the image


# ---------------------------------------------------------------------------------------------- recipes


RECIPES = [path for name in ENTRIES for path in sorted(ROOT.glob(f"configs/{name}/*.yaml"))]


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_recipes_set_only_arguments_their_entry_has(path):

    recipe = yaml.safe_load(path.read_text())
    assert set(recipe["model"]) <= init_parameters(get_model(path.parent.name))
    assert set(recipe.get("ema", {})) <= init_parameters(EMA)


# --------------------------------------------------------------------------------------------- training


def train(name: str, iterations: int, **trainer_kwargs):
    model = tiny(name)
    ckpt_path = trainer_kwargs.pop("ckpt_path", None)
    trainer = make_trainer(iterations, d_steps=model.hparams.d_steps, **trainer_kwargs)
    trainer.fit(model, digits(), ckpt_path=ckpt_path)
    return model, trainer


@pytest.mark.parametrize("name", ENTRIES)
def test_every_entry_trains_d_steps_d_updates_per_g_update_and_resumes_bit_exactly(name, tmp_path):
    d_steps = tiny(name).hparams.d_steps
    pl.seed_everything(1)
    straight, trainer = train(name, 2 * d_steps)
    d_opt, g_opt = trainer.optimizers
    d_updates = {int(s["step"]) for s in d_opt.state.values()}
    g_updates = {int(s["step"]) for s in g_opt.state.values()}
    assert (d_updates, g_updates) == ({2 * d_steps}, {2})  # every D and G parameter, updated that often
    assert straight.nonfinite_iteration == -1 and straight.generator_steps == 2
    assert straight.sample(3, seed=0).shape == (3, 1, 32, 32)

    pl.seed_everything(1)
    _, trainer = train(name, d_steps, default_root_dir=tmp_path)
    trainer.save_checkpoint(tmp_path / "half.ckpt")
    resumed, _ = train(name, 2 * d_steps, ckpt_path=tmp_path / "half.ckpt")
    state = straight.state_dict()
    assert any(key.endswith("._u") for key in state)  # power-iteration vectors are part of the comparison
    for (key, a), b in zip(state.items(), resumed.state_dict().values(), strict=True):
        if isinstance(a, torch.Tensor):
            torch.testing.assert_close(a, b, rtol=0, atol=0, msg=f"{name}: {key} differs after resume")
