"""StyleGAN2's mixed precision as StyleGAN2-ADA trains (NVlabs stylegan2-ada-pytorch training/networks.py,
training/training_loop.py; issue 23 part 4): the conv clamp where and how NVlabs applies it (equal to NVlabs'
networks with the clamp on: tests/fixtures/nvlabs-conv-clamp), which blocks compute in low precision, bf16
blocks on the CPU, the fp16 modulated conv's pre-normalization, the gradients' nan_to_num before every step,
the trainer-precision combinations refused, and the importer carrying the snapshot's settings."""

import copy
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from pytorch_lightning.callbacks import Callback

from tests.fidelity import TOLERANCE, relative_difference
from tests.helpers import make_trainer, tiny_digits
from tests.test_stylegan2_nvlabs import REFERENCE, networks
from zoo.errors import ZooError
from zoo.importers import nvlabs
from zoo.nets.stylegan2 import Discriminator, DiscriminatorBlock, Generator, SynthesisNetwork, fp16_resolution
from zoo.nn.modulated import ModulatedConv2d, StyledConv2d, ToRGB
from zoo.stylegan2 import StyleGAN2

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "nvlabs-conv-clamp"
#: 16 px digits, 2 mapping layers, widths 8 and 4, 10 classes (as tests/test_stylegan2.py's ``tiny``)
TINY = {"resolution": 16, "channels": 1, "latent_dim": 8, "w_dim": 8, "channel_base": 64, "channel_max": 8}
SMALL_NETS = {"resolution": 32, "channels": 3, "channel_base": 256, "channel_max": 32}


def tiny(**kwargs) -> StyleGAN2:
    return StyleGAN2(**{**TINY, "num_classes": 10, "mapping_layers": 2, **kwargs})


# ---------------------------------------------------------------------------------------------- the clamp


def test_conv_clamp_caps_synthesis_layers_and_to_rgb_at_exactly_256():
    conv = StyledConv2d(2, 3, w_dim=2, resolution=4, conv_clamp=256)
    to_rgb = ToRGB(3, 3, w_dim=2, conv_clamp=256)
    with torch.no_grad():  # zero weights: the outputs are the bias after the activation and its gain
        for layer, bias in ((conv, [1e4, -1e6, 100.0]), (to_rgb, [1e4, -1e6, 100.0])):
            layer.conv.weight.zero_()
            layer.bias.copy_(torch.tensor(bias))
    x, w = torch.randn(2, 2, 4, 4), torch.randn(2, 2)
    with torch.no_grad():
        out, rgb = conv(x, w, noise_mode="none"), to_rgb(conv(x, w, noise_mode="none"), w)
        unclamped = StyledConv2d(2, 3, w_dim=2, resolution=4)
        unclamped.load_state_dict(conv.state_dict())
        assert unclamped(x, w, noise_mode="none")[0, 0, 0, 0] == pytest.approx(1e4 * math.sqrt(2))
    # lrelu(1e4) sqrt(2) and 0.2 lrelu(-1e6) sqrt(2) are capped; 100 sqrt(2) = 141.4 is not
    expected = torch.tensor([256.0, -256.0, 100 * math.sqrt(2)])[None, :, None, None].expand(2, 3, 4, 4)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-4)
    assert out[:, :2].abs().eq(256).all()
    # ToRGB is linear: capped at +-256 too, 100 kept
    torch.testing.assert_close(rgb, torch.tensor([256.0, -256.0, 100.0])[None, :, None, None].expand(2, 3, 4, 4))


def test_discriminator_clamp_is_scaled_by_the_residual_gain_and_spares_the_skip():
    """NVlabs' conv1 of a resnet block runs ``bias_act(gain=sqrt(2) sqrt(1/2), clamp=conv_clamp sqrt(1/2))``; its
    1x1 skip has no clamp. Zero conv weights and a huge conv1 bias: the block's output is the capped conv1 plus
    the unclamped skip."""
    block = DiscriminatorBlock(2, 2, image_channels=None, residual=True, conv_clamp=256)
    with torch.no_grad():
        block.conv0.weight.zero_()
        block.conv1.weight.zero_()
        block.conv1.bias.copy_(torch.tensor([1e6, -1e6]))
        block.skip.weight.fill_(1e3)
    x = torch.ones(1, 2, 8, 8)
    skip = block.skip(block.resample.downsample(x)) * math.sqrt(0.5)
    expected = skip + torch.tensor([256.0, -256.0])[None, :, None, None] * math.sqrt(0.5)  # 181.02, not 256
    torch.testing.assert_close(block(x), expected)
    assert skip.abs().max() > 700  # the skip itself went past 256 and was kept


def test_the_clamp_passes_no_gradient_beyond_the_cap():
    conv = StyledConv2d(1, 2, w_dim=1, resolution=2, conv_clamp=1.0)
    with torch.no_grad():
        conv.conv.weight.zero_()
        conv.bias.copy_(torch.tensor([5.0, 0.1]))
    conv(torch.ones(1, 1, 2, 2), torch.ones(1, 1), noise_mode="none").sum().backward()
    # capped channel: no gradient; open channel: d/db lrelu(b) sqrt(2) = sqrt(2) per pixel, 4 pixels
    torch.testing.assert_close(conv.bias.grad, torch.tensor([0.0, 4 * math.sqrt(2)]))


@pytest.mark.skipif(not (REFERENCE / "cond").is_dir(), reason="no ../shared/reference fixtures")
def test_imported_networks_with_the_clamp_compute_nvlabs_clamped_outputs():
    """NVlabs' G_ema and D rebuilt with conv_clamp 2 (acts in every layer of these nets): the importer carries the
    clamp and the zoo computes their outputs to 1e-5 relative, fused (eval) and un-fused (train)."""
    theirs = torch.load(FIXTURE / "outputs.pt", weights_only=True)
    io = torch.load(REFERENCE / "cond" / "io.pt", weights_only=True)
    path = REFERENCE / "cond" / "network-snapshot-000000.pkl"
    snapshot = nvlabs.read_snapshot(path)
    snapshot["G"].state["_init_kwargs"]["synthesis_kwargs"]["conv_clamp"] = theirs["conv_clamp"]
    snapshot["D"].state["_init_kwargs"]["conv_clamp"] = theirs["conv_clamp"]
    hparams = nvlabs.stylegan2_hparams(snapshot["G"], snapshot["D"])
    assert hparams["conv_clamp"] == 2.0 and hparams["num_fp16_res"] == 0
    g_ema = nvlabs.generator_state(snapshot["G_ema"])
    state = {f"{net}.{k}": v for net in ("generator", "generator_ema") for k, v in g_ema.items()}
    state.update({f"discriminator.{k}": v for k, v in nvlabs.discriminator_state(snapshot["D"], 32).items()})
    _, d, ema = networks(state, hparams)
    for training in (False, True):
        ema.train(training)
        with torch.no_grad():
            ours = {
                "img_const": ema(io["z"], io["labels"], noise_mode="const"),
                "d_img_const": d(io["img_const"], io["labels"])[:, None],
                "d_random_images": d(io["random_images"], io["labels"])[:, None],
            }
        for key, value in ours.items():
            assert relative_difference(value, theirs[key]) <= TOLERANCE, (key, training)
    assert relative_difference(io["img_const"], theirs["img_const"]) > 0.1  # without the clamp: far off


# ------------------------------------------------------------------------------------- low-precision blocks


@pytest.mark.parametrize(
    "resolution, num_fp16_res, lowest", [(32, 2, 16), (32, 4, 8), (32, 9, 8), (256, 4, 32), (32, 0, 64)]
)
def test_fp16_resolution_is_nvlabs_formula(resolution, num_fp16_res, lowest):
    assert fp16_resolution(resolution, num_fp16_res) == lowest


def test_the_top_resolutions_compute_in_low_precision_and_the_rest_in_fp32():
    """32 px, num_fp16_res 2: G's 16 and 32 px blocks and D's 32 and 16 px blocks in bf16 (on the CPU too), every
    other layer in fp32, read from the layers' outputs with forward hooks; images and logits come back in fp32."""
    torch.manual_seed(0)
    g = Generator(16, 16, mapping_layers=2, num_fp16_res=2, low_precision="bf16", **SMALL_NETS).eval()
    d = Discriminator(**SMALL_NETS, num_fp16_res=2, low_precision="bf16")
    dtypes = {}

    def record(name):
        return lambda module, args, out: dtypes.__setitem__(name, out.dtype)

    for prefix, net in (("G", g.synthesis), ("D", d)):
        for name, module in net.named_modules():
            if isinstance(module, ToRGB) or type(module).__name__.endswith("Conv2d"):  # every conv layer
                module.register_forward_hook(record(f"{prefix}.{name}"))
    with torch.no_grad():
        img = g(torch.randn(4, 16), noise_mode="const")
        logits = d(img)
    assert img.dtype == logits.dtype == torch.float32
    bf16 = {name for name, dtype in dtypes.items() if dtype == torch.bfloat16}
    assert {name for name, dtype in dtypes.items() if dtype not in (torch.bfloat16, torch.float32)} == set()
    # G blocks 0-3 are 4, 8, 16, 32 px; D blocks 0-2 are 32, 16, 8 px
    assert {name.split(".")[2] for name in bf16 if name.startswith("G.")} == {"2", "3"}
    assert {name.split(".")[2] for name in bf16 if name.startswith("D.")} == {"0", "1"}
    assert "G.blocks.3.torgb" in bf16 and "D.blocks.0.fromrgb" in bf16 and "D.blocks.0.skip" in bf16
    assert dtypes["G.blocks.1.conv1"] == dtypes["D.blocks.2.conv1"] == dtypes["D.conv"] == torch.float32


def test_bf16_blocks_stay_close_to_fp32():
    """The same weights with the top two resolutions in bf16: bf16 keeps 8 significant bits (unit roundoff 2^-8),
    and each of the 4 bf16 convs and 2 ToRGBs rounds its input, weights and output; 16 roundoffs bound the
    max |difference| / max |fp32| (seen: 0.5% to 2.4% over seeds 0-2 for G, 0.4% to 2.4% for D)."""
    torch.manual_seed(0)
    g32 = Generator(16, 16, mapping_layers=2, **SMALL_NETS).eval()
    g16 = Generator(16, 16, mapping_layers=2, num_fp16_res=2, low_precision="bf16", **SMALL_NETS).eval()
    g16.load_state_dict(g32.state_dict())
    d32 = Discriminator(**SMALL_NETS)
    d16 = Discriminator(**SMALL_NETS, num_fp16_res=2, low_precision="bf16")
    d16.load_state_dict(d32.state_dict())
    z, x = torch.randn(4, 16), torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        for ours, reference in ((g16(z, noise_mode="const"), g32(z, noise_mode="const")), (d16(x), d32(x))):
            assert 0 < relative_difference(ours, reference) <= 16 * 2**-8


def test_fp16_blocks_compute_in_fp32_on_the_cpu():
    """fp16 (NVlabs' default) is for CUDA: on the CPU the blocks stay fp32 and equal the fp32 network."""
    torch.manual_seed(0)
    g32 = SynthesisNetwork(16, **SMALL_NETS).eval()
    g16 = SynthesisNetwork(16, **SMALL_NETS, num_fp16_res=4).eval()
    g16.load_state_dict(g32.state_dict())
    ws = torch.randn(2, g32.num_ws, 16)
    with torch.no_grad():
        assert g16(ws, noise_mode="const").equal(g32(ws, noise_mode="const"))


@pytest.mark.parametrize("fused", [True, False])
def test_fp16_modulated_conv_prenormalizes_and_does_not_overflow(fused):
    """Styles near 3000 (affine bias) and 64 input channels: a plain fp16 conv of x * s with the weights sums
    576 terms of ~3000 and overflows (max 65504); NVlabs' pre-normalization (weights by sqrt(fan_in) and their
    largest entry per output channel, styles by their largest entry) keeps it finite, and demodulation removes
    the factors: the result equals fp32's to fp16 rounding."""
    torch.manual_seed(0)
    conv = ModulatedConv2d(64, 4, 3, w_dim=4)
    with torch.no_grad():
        conv.affine.bias.fill_(3000.0)
    x, w = torch.randn(2, 64, 4, 4), torch.randn(2, 4)
    with torch.no_grad():
        reference = conv(x, w, fused=fused)
        ours = conv(x.half(), w, fused=fused)
        styles = conv.styles(w)
        plain = F.conv2d(x.half() * styles.half()[:, :, None, None], conv.weight.half(), padding=1)
    assert ours.dtype == torch.float16 and ours.isfinite().all()
    assert not plain.isfinite().all()
    assert relative_difference(ours.float(), reference) <= 1e-2  # fp16: 11 significant bits, 576-term sums


# ------------------------------------------------------------------------------------- gradients and steps


def test_sanitize_gradients_replaces_nan_and_infinities_as_nvlabs():
    param = torch.nn.Parameter(torch.zeros(5))
    param.grad = torch.tensor([float("nan"), float("inf"), -float("inf"), 1.5, -2e6])
    untouched = torch.nn.Parameter(torch.zeros(2))  # no gradient: skipped
    optimizer = torch.optim.Adam([param, untouched])
    StyleGAN2.sanitize_gradients(optimizer)
    assert param.grad.tolist() == [0.0, 1e5, -1e5, 1.5, -2e6] and untouched.grad is None


class PoisonGradient(Callback):
    """Makes the gradient of D's output bias NaN in every backward pass (the losses stay finite)."""

    def on_train_start(self, trainer, pl_module):
        pl_module.discriminator.out.bias.register_hook(lambda grad: grad * float("nan"))


@pytest.mark.parametrize("sanitize", [True, False])
def test_nan_gradients_are_zeroed_before_the_steps_of_manual_optimization(sanitize):
    """Through Lightning's optimizer wrapper (on_before_optimizer_step): a NaN gradient becomes 0, and Adam's
    first step with a zero gradient leaves the parameter exactly as it was; without sanitizing it becomes NaN."""
    torch.manual_seed(0)
    model = tiny(nan_to_num_gradients=sanitize, num_fp16_res=0, penalties=[], pl_weight=0)  # no double backward
    before = model.discriminator.out.bias.detach().clone()
    make_trainer(1, callbacks=[PoisonGradient()]).fit(model, tiny_digits(batch_size=4))
    after = model.discriminator.out.bias.detach()
    if sanitize:
        assert after.equal(before) and all(p.isfinite().all() for p in model.parameters())
    else:
        assert after.isnan().all()


class PoisonReals(Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        batch[0].fill_(float("nan"))


def test_sanitized_gradients_do_not_hide_a_nan_loss_from_the_guard():
    torch.manual_seed(0)
    model = tiny(penalties=[], pl_weight=0)
    assert model.nan_to_num_gradients  # stylegan2's default
    make_trainer(1, callbacks=[PoisonReals()]).fit(model, tiny_digits(batch_size=4))
    assert model.nonfinite_iteration.item() == 0  # the NaN D loss was recorded
    assert all(p.isfinite().all() for p in model.parameters())  # while the weights stayed finite


def test_other_entries_do_not_sanitize_gradients():
    from tests.helpers import tiny_dcgan

    assert not tiny_dcgan().nan_to_num_gradients


# ------------------------------------------------------------------------------ precision and the trainer


def test_low_precision_blocks_and_the_trainers_mixed_precision_are_refused_together():
    model = tiny(num_fp16_res=2, low_precision="bf16")
    with pytest.raises(ZooError, match=r"--trainer.precision bf16-mixed .* --model.num_fp16_res 2 .* choose one"):
        make_trainer(1, precision="bf16-mixed").fit(model, tiny_digits(batch_size=4))


def test_whole_net_autocast_trains_with_the_fp16_default_that_a_cpu_runs_in_fp32():
    """bf16-mixed with the defaults on the CPU: the fp16 blocks are fp32 there, so nothing is refused; the mapping
    keeps w_avg in fp32 (its FC layers' outputs are bf16 under autocast)."""
    torch.manual_seed(0)
    model = tiny()
    make_trainer(1, precision="bf16-mixed").fit(model, tiny_digits(batch_size=4))
    assert model.nonfinite_iteration.item() == -1
    w_avg = model.generator.mapping.w_avg
    assert w_avg.dtype == torch.float32 and w_avg.abs().sum() > 0


def test_bf16_blocks_train_on_the_cpu_with_fp32_parameters_and_gradients():
    torch.manual_seed(0)
    model = tiny(num_fp16_res=2, low_precision="bf16")
    grads = {}

    class Grads(Callback):
        def on_before_optimizer_step(self, trainer, pl_module, optimizer):
            grads.update({id(p): p.grad.dtype for g in optimizer.param_groups for p in g["params"]})

    make_trainer(1, callbacks=[Grads()]).fit(model, tiny_digits(batch_size=4))
    assert model.nonfinite_iteration.item() == -1
    assert set(grads.values()) == {torch.float32}
    assert {p.dtype for p in model.parameters()} == {torch.float32}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_fp16_res": -1}, "num_fp16_res must be an integer >= 0"),
        ({"conv_clamp": 0}, r"conv_clamp must be > 0 \(or null"),
        ({"low_precision": "fp8"}, "low_precision must be one of fp16, bf16, got 'fp8'"),
    ],
)
def test_bad_mixed_precision_arguments_are_named(kwargs, message):
    with pytest.raises(ZooError, match=message):
        tiny(**kwargs)


def test_stylegan2_defaults_are_ada_train_py():
    model = tiny()
    assert (model.hparams.num_fp16_res, model.hparams.conv_clamp, model.hparams.low_precision) == (4, 256, "fp16")
    blocks = model.generator.synthesis.blocks
    assert [block.low_precision for block in blocks] == [None, torch.float16, torch.float16]  # 4, 8, 16 px
    assert blocks[2].conv1.conv_clamp == 256 and model.discriminator.conv_clamp == 256


# ----------------------------------------------------------------------------------------------- importer


@pytest.mark.skipif(not (REFERENCE / "cond").is_dir(), reason="no ../shared/reference fixtures")
def test_importer_carries_the_snapshots_mixed_precision():
    snapshot = nvlabs.read_snapshot(REFERENCE / "cond" / "network-snapshot-000000.pkl")
    g, d = snapshot["G"].state["_init_kwargs"], snapshot["D"].state["_init_kwargs"]
    assert nvlabs.stylegan2_hparams(snapshot["G"], snapshot["D"])["conv_clamp"] is None  # made with --fp32
    g["synthesis_kwargs"].update(num_fp16_res=4, conv_clamp=256)  # ADA's train.py
    d.update(num_fp16_res=4, conv_clamp=256)
    hparams = nvlabs.stylegan2_hparams(snapshot["G"], snapshot["D"])
    assert (hparams["num_fp16_res"], hparams["conv_clamp"]) == (4, 256)
    for kwargs in (g["synthesis_kwargs"], d):  # absent: NVlabs' class defaults
        del kwargs["num_fp16_res"], kwargs["conv_clamp"]
    hparams = nvlabs.stylegan2_hparams(snapshot["G"], snapshot["D"])
    assert (hparams["num_fp16_res"], hparams["conv_clamp"]) == (0, None)
    d_only = copy.deepcopy(snapshot)
    d_only["D"].state["_init_kwargs"]["conv_clamp"] = 256
    with pytest.raises(ZooError, match="G and D differ in mixed precision"):
        nvlabs.stylegan2_hparams(d_only["G"], d_only["D"])
