"""StyleGAN2: modulated convolutions (demodulation, grouped conv), the FIR resampling, the mapping network (lr
multiplier, w_avg, truncation), the generator's sampling API, R1 and path length values, the ADA preset table,
and training: finite losses, lazy penalties on the right steps, bit-exact resume."""

import functools
import math
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
import yaml
from torch import nn

from callbacks import EMA
from tests.fidelity import assert_counts
from tests.helpers import make_trainer, tiny_digits
from zoo import get_model, penalties
from zoo.errors import ZooError
from zoo.nets.stylegan2 import MappingNetwork, SynthesisNetwork
from zoo.nn.modulated import FIRFilter, ModulatedConv2d, ToRGB
from zoo.penalties import PenaltyInputs, path_length_penalty
from zoo.registry import init_parameters
from zoo.stylegan2 import PRESETS, StyleGAN2, preset_spec

ROOT = Path(__file__).resolve().parents[1]
#: 16 px digits, widths 8 at 4-8 px and 4 at 16 px, 2 mapping layers, z and w of 8 dims
TINY = {"resolution": 16, "channels": 1, "latent_dim": 8, "w_dim": 8, "channel_base": 64, "channel_max": 8}


def tiny(**kwargs) -> StyleGAN2:
    return StyleGAN2(**{**TINY, "num_classes": 10, "mapping_layers": 2, **kwargs})


# ------------------------------------------------------------------------------------------------ layers


def test_demodulated_weights_have_unit_norm_per_output_channel_fused_or_not():
    torch.manual_seed(0)
    conv = ModulatedConv2d(3, 5, 3, w_dim=4)
    w, x = torch.randn(2, 4), torch.randn(2, 3, 6, 6)
    weight = conv.effective_weight(w)
    assert weight.shape == (2, 5, 3, 3, 3)
    torch.testing.assert_close(torch.linalg.vector_norm(weight.flatten(2), dim=2), torch.ones(2, 5))
    per_sample = torch.cat([F.conv2d(x[i : i + 1], weight[i], padding=1) for i in range(2)])
    torch.testing.assert_close(conv(x, w, fused=True), per_sample)  # grouped conv, eval mode's default
    torch.testing.assert_close(conv(x, w, fused=False), per_sample)  # styles, shared conv, demodulation: training's


def test_to_rgb_modulates_without_demodulating():
    torch.manual_seed(0)
    to_rgb = ToRGB(4, 3, w_dim=2)
    w = torch.randn(2, 2)
    styles = to_rgb.conv.affine(w)  # bias initialized to 1
    expected = to_rgb.conv.weight / 2 * styles[:, None, :, None, None]  # equalized scale 1 / sqrt(4 * 1 * 1)
    torch.testing.assert_close(to_rgb.conv.effective_weight(w), expected)
    torch.testing.assert_close(to_rgb.conv.affine.bias, torch.ones(4))


def test_fir_upsampling_is_zero_padded_bilinear_and_downsampling_averages_with_1_3_3_1():
    fir = FIRFilter()
    x = torch.tensor([[0.0, 4.0], [0.0, 4.0]])[None, None]
    # 1D: [0, 4] -> [0, 1, 3, 3] (taps [1, 3, 3, 1] / 4 on the zero-inserted signal); [1, 1] -> [.75, 1, 1, .75]
    expected = torch.outer(torch.tensor([0.75, 1.0, 1.0, 0.75]), torch.tensor([0.0, 1.0, 3.0, 3.0]))
    torch.testing.assert_close(fir.upsample(x)[0, 0], expected)
    # every output sees 3 + 3 + 1 of the 8 taps inside a 4x4 image of ones, per axis
    torch.testing.assert_close(fir.downsample(torch.ones(1, 2, 4, 4)), torch.full((1, 2, 2, 2), (7 / 8) ** 2))


# ---------------------------------------------------------------------------------------------- networks


def test_synthesis_uses_one_w_per_conv_and_one_for_the_last_to_rgb():
    assert SynthesisNetwork(4, 1024, 3, channel_base=1024, channel_max=4).num_ws == 18  # config F at 1024 px
    assert SynthesisNetwork(4, 16, 1, channel_base=64, channel_max=8).num_ws == 6


def test_mapping_layers_learn_at_one_hundredth_of_the_rate():
    mapping = MappingNetwork(8, 6, num_ws=2, num_layers=3)
    for layer, fan_in in zip(mapping.layers, [8, 6, 6], strict=True):
        assert layer.lr_multiplier == 0.01
        assert layer.scale == pytest.approx(0.01 / math.sqrt(fan_in))


def test_w_avg_tracks_training_ws_and_psi_0_returns_it_on_the_layers_below_the_cutoff():
    torch.manual_seed(0)
    mapping = MappingNetwork(8, 6, num_ws=4, num_layers=2)
    z = torch.randn(5, 8)
    w = mapping.eval()(z)[:, 0]
    mapping.train()(z)
    torch.testing.assert_close(mapping.w_avg, 0.005 * w.mean(0))  # lerp(w_avg = 0, mean w, 1 - 0.995)
    mapping.eval()
    torch.testing.assert_close(mapping(z, truncation_psi=0.0), mapping.w_avg.expand(5, 4, 6))
    truncated = mapping(z, truncation_psi=0.5, truncation_cutoff=2)
    torch.testing.assert_close(truncated[:, :2], (w[:, None] + mapping.w_avg) / 2 * torch.ones(1, 2, 1))
    torch.testing.assert_close(truncated[:, 2:], w[:, None].expand(5, 2, 6))


def test_generator_samples_w_avg_at_psi_0_and_honours_the_noise_mode():
    model = tiny()
    g, z, y = model.generator, torch.randn(3, 8), torch.tensor([1, 1, 1])
    g.mapping.w_avg.normal_()
    for layer in g.modules():
        if hasattr(layer, "strength"):
            layer.strength.data.fill_(1.0)
    with torch.no_grad():
        average = g(z, y, truncation_psi=0.0, noise_mode="none")
        torch.testing.assert_close(average, average[:1].expand(3, -1, -1, -1))  # every sample is w_avg's image
        torch.testing.assert_close(g(z, y, noise_mode="const"), g(z, y, noise_mode="const"))
        assert not torch.equal(g(z, y), g(z, y))
        with pytest.raises(ZooError, match="noise_mode"):
            g(z, y, noise_mode="fixed")


def test_conditional_discriminator_projects_its_features_on_the_mapped_class():
    torch.manual_seed(0)
    d = tiny().discriminator
    x, y = torch.randn(4, 1, 16, 16), torch.tensor([0, 1, 2, 3])
    features = {}
    d.out.register_forward_hook(lambda module, inputs, output: features.update(out=output))
    out = d(x, y)
    expected = (features["out"] * d.mapping(None, y)).sum(dim=1) / math.sqrt(8)  # cmap_dim = 8 channels at 4 px
    torch.testing.assert_close(out, expected)
    assert out.shape == (4,)


# ------------------------------------------------------------------------------------------- penalties


def test_path_length_penalty_of_a_linear_synthesis_matches_the_hand_computed_value():
    # images = a * ws[:, 0, 0] * ones(1, 2, 2): J^T y has one non-zero entry, a * sum(y), so with num_ws = 2 the
    # length is a * c with c = |sum(y)| / sqrt(2), y = N(0, I) / sqrt(H W) = N(0, I) / 2
    a = torch.tensor(1.5, requires_grad=True)
    ws = torch.randn(3, 2, 4, requires_grad=True)
    images = a * ws[:, 0, 0, None, None, None] * torch.ones(3, 1, 2, 2)
    term, mean = path_length_penalty(images, ws, torch.tensor(1.0), generator=torch.Generator().manual_seed(7))
    y = torch.randn(3, 1, 2, 2, generator=torch.Generator().manual_seed(7)) / 2
    c = y.sum(dim=(1, 2, 3)).abs() / math.sqrt(2)
    expected_mean = 1.0 + 0.01 * (1.5 * c.mean() - 1.0)  # lerp(a = 1, E[length], decay 0.01)
    torch.testing.assert_close(mean, expected_mean)
    torch.testing.assert_close(term, 2.0 * (1.5 * c - expected_mean).square().mean())  # weight 2
    assert not mean.requires_grad
    # the target is not detached inside the penalty (NVlabs' loss.py): d mean / da = 0.01 E[c], so
    # d/da 2 E[(a c - mean)^2] = 4 E[(a c - mean) (c - 0.01 E[c])]
    term.backward()
    torch.testing.assert_close(a.grad, 4.0 * ((1.5 * c - expected_mean) * (c - 0.01 * c.mean())).mean())


def test_default_r1_is_lazy_every_16_d_steps_with_gamma_over_2_times_16():
    model = tiny(preset="paper256", r1_gamma=0.5)
    (r1,) = model.penalties
    assert (r1.name, r1.args, r1.schedule.interval) == ("r1", {"gamma": 0.5}, 16)
    critic = nn.Linear(3, 1, bias=False)
    nn.init.constant_(critic.weight, 2.0)  # ||grad_x D||^2 = 12 for every sample
    inputs = PenaltyInputs(lambda x: critic(x).squeeze(1), torch.randn(4, 3), torch.randn(4, 3), None, None, None)
    assert r1(inputs).item() == pytest.approx(16 * 0.5 / 2 * 12)


# --------------------------------------------------------------------------------------------- presets


def test_preset_table_is_stylegan2_ada_s():
    assert PRESETS["paper256"] == preset_spec("paper256", 256)
    row = PRESETS["paper256"]
    assert (row.ref_gpus, row.mb, row.mbstd, row.fmaps, row.lrate, row.gamma, row.ema, row.ramp, row.map) == (
        8, 64, 8, 0.5, 0.0025, 1, 20, None, 8,
    )  # fmt: skip
    assert (PRESETS["stylegan2"].gamma, PRESETS["paper512"].gamma, PRESETS["paper1024"].gamma) == (10, 0.5, 2)
    cifar = PRESETS["cifar"]
    assert (cifar.ref_gpus, cifar.kimg, cifar.mbstd, cifar.gamma, cifar.ema, cifar.ramp, cifar.map) == (
        2, 100000, 32, 0.01, 500, 0.05, 2,
    )  # fmt: skip
    assert (cifar.pl_weight, cifar.style_mixing, cifar.d_residual) == (0, 0, False)


def test_auto_preset_follows_ada_s_formulas():
    at256 = preset_spec("auto", 256, gpus=1)  # mb = min(4096 / 256, 32) = 16
    assert (at256.mb, at256.mbstd, at256.fmaps, at256.lrate, at256.map) == (16, 4, 0.5, 0.0025, 2)
    assert (at256.gamma, at256.ema, at256.ramp) == (pytest.approx(0.0002 * 256**2 / 16), 5.0, 0.05)
    at1024 = preset_spec("auto", 1024, gpus=8)  # mb = min(8 * 4, 64) = 32
    assert (at1024.mb, at1024.mbstd, at1024.fmaps, at1024.lrate, at1024.ema) == (32, 4, 1, 0.002, 10.0)
    assert at1024.gamma == pytest.approx(6.5536)


def test_explicit_arguments_win_over_the_preset():
    model = StyleGAN2(**{**TINY, "channel_base": None}, preset="cifar", g_lr=0.001, mapping_layers=3, pl_weight=1)
    assert (model.hparams.g_lr, model.hparams.d_lr) == (0.001, 0.0025)
    assert model.penalties[0].args == {"gamma": 0.01}
    assert (model.spec.map, model.spec.pl_weight, model.spec.style_mixing) == (3, 1, 0)
    assert len(model.generator.mapping.layers) == 3
    assert model.discriminator.blocks[0].skip is None  # cifar's D has no residual skips
    assert model.generator.synthesis.const.shape[0] == 8  # min(32768 / 4, channel_max 8)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"resolution": 24}, "power-of-two resolution"),
        ({"preset": "paper2048"}, "unknown stylegan2 preset"),
        ({"r1_gamma": 1.0, "penalties": []}, "not both"),
        ({"sample_noise_mode": "fixed"}, "sample_noise_mode"),
    ],
)
def test_bad_settings_raise_one_clear_error(kwargs, message):
    with pytest.raises(ZooError, match=message):
        tiny(**kwargs)


# --------------------------------------------------------------------------------------------- training


def lazy_every_2nd_step() -> StyleGAN2:
    """The shared loop's game (tests/test_stylegan2_phases.py trains the NVlabs schedule)."""
    return tiny(penalties=[{"name": "r1", "gamma": 1.0, "interval": 2}], pl_interval=2, schedule="shared")


def train(iterations: int, callbacks=(), model=None, **kwargs):
    model = model or lazy_every_2nd_step()
    ckpt_path = kwargs.pop("ckpt_path", None)
    trainer = make_trainer(iterations, callbacks=callbacks, **kwargs)
    trainer.fit(model, tiny_digits(batch_size=8), ckpt_path=ckpt_path)
    return model, trainer


def test_training_applies_lazy_r1_and_path_length_on_their_steps(monkeypatch):
    import zoo.stylegan2 as entry

    steps = {"r1": [], "path_length": []}
    player, r1 = penalties.PENALTIES["r1"]

    @functools.wraps(r1)  # keeps the signature the configured penalty reads its inputs from
    def counted_r1(*args, **kwargs):
        steps["r1"].append(model.iterations)
        return r1(*args, **kwargs)

    def counted_path_length(*args, **kwargs):
        steps["path_length"].append(model.generator_steps)
        return path_length_penalty(*args, **kwargs)

    monkeypatch.setitem(penalties.PENALTIES, "r1", (player, counted_r1))
    monkeypatch.setattr(entry, "path_length_penalty", counted_path_length)
    pl.seed_everything(0)
    model = lazy_every_2nd_step()
    _, trainer = train(5, model=model)
    assert steps == {"r1": [0, 2, 4], "path_length": [0, 2, 4]}  # both with interval 2 here
    d_opt, g_opt = trainer.optimizers
    assert {int(s["step"]) for s in d_opt.state.values()} == {int(s["step"]) for s in g_opt.state.values()} == {5}
    assert model.nonfinite_iteration == -1
    assert model.pl_mean > 0 and model.generator.mapping.w_avg.abs().sum() > 0
    assert model.sample(4, seed=0).shape == (4, 1, 16, 16)
    torch.testing.assert_close(model.sample(4, seed=0), model.sample(4, seed=0))  # const noise in eval


def test_training_resumes_bit_exactly(tmp_path):
    ema = {"half_life_kimg": 0.01, "rampup": 0.05}
    pl.seed_everything(1)
    straight, _ = train(4, callbacks=[EMA(**ema)])
    pl.seed_everything(1)
    _, trainer = train(2, callbacks=[EMA(**ema)], default_root_dir=tmp_path)
    trainer.save_checkpoint(tmp_path / "half.ckpt")
    resumed, _ = train(4, callbacks=[EMA(**ema)], ckpt_path=tmp_path / "half.ckpt")
    state = straight.state_dict()
    assert {"pl_mean", "generator.mapping.w_avg", "generator_ema.mapping.w_avg"} <= set(state)
    for (key, a), b in zip(state.items(), resumed.state_dict().values(), strict=True):
        if isinstance(a, torch.Tensor):
            torch.testing.assert_close(a, b, rtol=0, atol=0, msg=f"{key} differs after resume")


def test_registered_as_stylegan2_with_recipes_that_set_only_its_arguments():
    assert get_model("stylegan2") is StyleGAN2
    recipes = sorted((ROOT / "configs" / "stylegan2").glob("*.yaml"))
    assert [path.stem for path in recipes] == ["cifar10", "digits", "ffhq"]
    for path in recipes:
        recipe = yaml.safe_load(path.read_text())
        assert set(recipe["model"]) <= init_parameters(StyleGAN2) and set(recipe["ema"]) <= init_parameters(EMA)


def test_config_f_generator_has_the_authors_parameter_count():
    model = StyleGAN2(resolution=1024, channels=3, preset="stylegan2")
    code = "NVlabs/stylegan2-ada-pytorch's network summary of config F"
    assert_counts("stylegan2 config F 1024 px", model.generator, None, (30_370_060, None), code)
