"""StyleGAN (Karras et al. 2019): AdaIN, per-channel noise, the [1, 2, 1] blur, style mixing within the phase's
layers, truncation in W, the ws count and parameter count of config F, the fade-in of the progressive synthesis,
the entry's defaults and R1, and progressive training: a phase change with finite losses, a bit-exact resume."""

import math
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
import yaml
from pytorch_lightning.callbacks import Callback, ModelCheckpoint
from torch import nn

from callbacks import EMA, ProgressiveGrowing
from tests.fidelity import assert_counts
from tests.helpers import make_trainer, tiny_digits
from zoo import get_model
from zoo.errors import ZooError
from zoo.nets.pggan import Blur
from zoo.nets.stylegan import AdaIN, ChannelNoise, StyleSynthesis
from zoo.nets.stylegan2 import MappingNetwork, mix_styles
from zoo.penalties import PenaltyInputs
from zoo.registry import init_parameters
from zoo.stylegan import StyleGAN

ROOT = Path(__file__).resolve().parents[1]
#: 8 px, widths 8 at 4 and 8 px, 2 mapping layers, z and w of 8 dims
TINY = {
    "resolution": 8,
    "channels": 1,
    "latent_dim": 8,
    "w_dim": 8,
    "mapping_layers": 2,
    "fmap_base": 16,
    "fmap_max": 8,
}


def tiny(**kwargs) -> StyleGAN:
    return StyleGAN(**{**TINY, **kwargs})


# ------------------------------------------------------------------------------------------------ layers


def test_adain_normalizes_each_channel_and_applies_the_styles_scale_and_bias():
    torch.manual_seed(0)
    adain = AdaIN(3, w_dim=2)
    x, w = torch.randn(2, 3, 4, 4) * 5 + 2, torch.randn(2, 2)
    style = F.linear(w, adain.affine.weight / math.sqrt(2), adain.affine.bias)  # equalized: weight / sqrt(fan_in)
    scale, bias = 1 + style[:, :3], style[:, 3:]
    normalized = (x - x.mean(dim=(2, 3), keepdim=True)) / (
        x.var(dim=(2, 3), unbiased=False, keepdim=True) + 1e-8
    ).sqrt()
    torch.testing.assert_close(adain(x, w), normalized * scale[:, :, None, None] + bias[:, :, None, None])
    out = adain(x, w)  # so every channel of every sample has the style's mean and |scale| as its deviation
    torch.testing.assert_close(out.mean(dim=(2, 3)), bias)
    torch.testing.assert_close(out.std(dim=(2, 3), unbiased=False), scale.abs(), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(adain.affine.bias, torch.zeros(6))  # the scale starts at 1 + 0


def test_noise_is_one_map_per_sample_scaled_per_channel():
    noise = ChannelNoise(4, channels=3)
    noise.strength.data = torch.tensor([0.0, 1.0, -2.0])[:, None, None]
    x = torch.zeros(2, 3, 4, 4)
    out = noise(x, "random", torch.Generator().manual_seed(0))
    maps = torch.randn(2, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, maps * torch.tensor([0.0, 1.0, -2.0])[None, :, None, None])
    torch.testing.assert_close(noise(x, "const"), (noise.noise_const * noise.strength).expand(2, -1, -1, -1))
    assert torch.equal(noise(x, "none"), x)


def test_nearest_upsampling_then_blur_is_bilinear_inside_the_image():
    x = torch.randn(1, 2, 4, 4)
    blurred = Blur()(F.interpolate(x, scale_factor=2, mode="nearest"))
    bilinear = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(blurred[..., 1:-1, 1:-1], bilinear[..., 1:-1, 1:-1])
    impulse = torch.zeros(1, 1, 3, 3)
    impulse[0, 0, 1, 1] = 1.0
    expected = torch.outer(torch.tensor([1.0, 2.0, 1.0]), torch.tensor([1.0, 2.0, 1.0])) / 16
    torch.testing.assert_close(Blur()(impulse)[0, 0], expected)


def test_style_mixing_takes_the_second_latents_w_from_a_cutoff_inside_the_active_layers():
    torch.manual_seed(0)
    mapping = MappingNetwork(8, 6, num_ws=6, num_layers=2).eval()
    z = torch.randn(3, 8)
    ws = mapping(z)
    torch.testing.assert_close(mix_styles(mapping, z, None, 0.0, torch.Generator().manual_seed(0)), ws)
    # two active layers: the cutoff is always 1, so w 0 is z's and ws 1..5 are the second latent's
    mixed = mix_styles(mapping, z, None, 1.0, torch.Generator().manual_seed(0), num_active=2)
    rng = torch.Generator().manual_seed(0)
    torch.randint(1, 2, (), generator=rng), torch.rand((), generator=rng)
    other = mapping(torch.randn(z.shape, generator=rng))
    torch.testing.assert_close(mixed[:, :1], ws[:, :1])
    torch.testing.assert_close(mixed[:, 1:], other[:, 1:])


# ---------------------------------------------------------------------------------------------- networks


def test_config_f_has_18_ws_and_the_papers_26_2m_generator_parameters():
    model = StyleGAN()  # 1024 px, the paper's widths and 8 mapping layers
    assert model.generator.synthesis.num_ws == 18  # 2 log2(1024) - 2
    # the FFHQ generator of the authors (README of NVlabs/stylegan, pretrained_example.py: "Total 26219627"; 26.2M)
    code = "NVlabs/stylegan pretrained_example.py (Total 26219627)"
    assert_counts("stylegan config F 1024 px", model.generator, None, (26_219_627, None), code)
    assert StyleSynthesis(8, 16, 1, 16, 8).num_ws == 6
    synthesis = model.generator.synthesis
    assert torch.equal(synthesis.const, torch.ones(512, 4, 4))
    assert [layer.lr_multiplier for layer in model.generator.mapping.layers] == [0.01] * 8


def test_psi_0_gives_w_avg_on_the_layers_below_the_cutoff():
    model = tiny()
    g, z = model.generator.eval(), torch.randn(3, 8)
    g.mapping.w_avg.normal_()
    ws = g.mapping(z, truncation_psi=0.0, truncation_cutoff=2)
    torch.testing.assert_close(ws[:, :2], g.mapping.w_avg.expand(3, 2, 8))
    torch.testing.assert_close(ws[:, 2:], g.mapping(z)[:, 2:])
    with torch.no_grad():
        average = g(z, truncation_psi=0.0, noise_mode="none")
    torch.testing.assert_close(average, average[:1].expand(3, -1, -1, -1))  # every sample is w_avg's image


def test_synthesis_fades_the_new_resolution_in_over_the_upsampled_previous_rgb():
    torch.manual_seed(0)
    synthesis = StyleSynthesis(4, 16, 3, fmap_base=16, fmap_max=8)
    for layer in synthesis.modules():
        if isinstance(layer, ChannelNoise):
            layer.strength.data.normal_()
    ws = torch.randn(2, synthesis.num_ws, 4)
    synthesis.grow(8)
    old = synthesis(ws, "const")
    synthesis.grow(16)
    new = synthesis(ws, "const")
    synthesis.grow(16, 0.3)
    faded = synthesis(ws, "const")
    assert old.shape == (2, 3, 8, 8) and new.shape == faded.shape == (2, 3, 16, 16)
    torch.testing.assert_close(faded, 0.7 * old.repeat_interleave(2, 2).repeat_interleave(2, 3) + 0.3 * new)
    ws_above = ws.clone()
    ws_above[:, 4:] = 0  # the 16 px layers' ws do not touch an 8 px image
    synthesis.grow(8)
    torch.testing.assert_close(synthesis(ws_above, "const"), old)


def test_discriminator_is_pggans_with_a_blur_before_each_blocks_second_conv():
    d = tiny().discriminator
    assert [type(m).__name__ for m in d.blocks[1]] == [
        "EqualizedConv2d", "LeakyReLU", "Blur", "EqualizedConv2d", "LeakyReLU", "AvgPool2d",
    ]  # fmt: skip


# ------------------------------------------------------------------------------------ the entry and game


def test_the_entry_has_the_papers_defaults_and_r1_on_every_step():
    model = get_model("stylegan")(resolution=8, channels=1, fmap_base=16, fmap_max=8)
    h = model.hparams
    assert (h.latent_dim, h.w_dim, h.mapping_layers, h.objective, h.style_mixing) == (
        512,
        512,
        8,
        "non_saturating",
        0.9,
    )
    assert (h.g_lr, h.d_lr, tuple(h.g_betas), tuple(h.d_betas)) == (1e-3, 1e-3, (0.0, 0.99), (0.0, 0.99))
    assert model.configure_optimizers()[0].defaults["eps"] == 1e-8
    (r1,) = model.penalties
    assert (r1.name, r1.args, r1.schedule.interval) == ("r1", {"gamma": 10.0}, 1)
    critic = nn.Linear(3, 1, bias=False)
    nn.init.constant_(critic.weight, 2.0)  # ||grad_x D||^2 = 12 for every sample
    inputs = PenaltyInputs(lambda x: critic(x).squeeze(1), torch.randn(4, 3), torch.randn(4, 3), None, None, None)
    assert r1(inputs).item() == pytest.approx(10 / 2 * 12)
    assert StyleGAN.conditional is False and model.num_classes is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"resolution": 12}, "power-of-two resolution"),
        ({"style_mixing": 1.5}, "style_mixing is a probability"),
        ({"sample_noise_mode": "fixed"}, "sample_noise_mode"),
    ],
)
def test_bad_settings_raise_one_clear_error(kwargs, message):
    with pytest.raises(ZooError, match=message):
        tiny(**kwargs)


def test_recipes_set_only_the_entrys_arguments():
    recipes = sorted((ROOT / "configs" / "stylegan").glob("*.yaml"))
    assert [path.stem for path in recipes] == ["digits", "ffhq"]
    for path in recipes:
        recipe = yaml.safe_load(path.read_text())
        assert set(recipe.get("model", {})) <= init_parameters(StyleGAN)
        assert set(recipe["ema"]) <= init_parameters(EMA)
        assert set(recipe["progressive"]) <= init_parameters(ProgressiveGrowing)


# --------------------------------------------------------------------------------------------- training


class PhaseRecorder(Callback):
    def __init__(self):
        self.phases = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        synthesis = pl_module.generator.synthesis
        self.phases.append((synthesis.resolution, synthesis.alpha, batch[0].shape[0]))


def train(iterations, ckpt_dir=None, resume_from=None):
    """8 images per batch: iterations 0..4 at 4x4 (images_seen 0..32), then the 8x8 fade-in over 64 images."""
    pl.seed_everything(0)
    model, recorder = tiny(), PhaseRecorder()
    growing = ProgressiveGrowing(stabilize_kimg=0.032, fade_kimg=0.064)
    checkpoints = [ModelCheckpoint(dirpath=ckpt_dir, save_last=True, save_top_k=0)] if ckpt_dir else []
    callbacks = [growing, recorder, EMA(half_life_kimg=0.01, rampup=0.05), *checkpoints]
    trainer = make_trainer(iterations, callbacks=callbacks, enable_checkpointing=bool(ckpt_dir))
    trainer.fit(model, tiny_digits(resolution=8, batch_size=8), ckpt_path=resume_from)
    return model, recorder.phases


def test_training_grows_through_a_fade_in_with_finite_losses():
    model, phases = train(7)
    assert phases == [(4, 1.0, 8)] * 5 + [(8, 0.125, 8), (8, 0.25, 8)]
    assert model.nonfinite_iteration == -1
    assert model.generator.mapping.w_avg.abs().sum() > 0
    phase = {"depth": 1, "alpha": 0.25}  # G's phase lives in its synthesis network; the EMA generator grows too
    assert model.discriminator.get_extra_state() == phase
    assert model.generator.synthesis.get_extra_state() == model.generator_ema.synthesis.get_extra_state() == phase
    assert model.sample(4, seed=0).shape == (4, 1, 8, 8)
    torch.testing.assert_close(model.sample(4, seed=0), model.sample(4, seed=0))  # const noise in eval mode


def test_resume_in_the_middle_of_a_fade_in_is_bit_exact(tmp_path):
    straight, straight_phases = train(9)
    _, first_phases = train(6, ckpt_dir=tmp_path)
    assert first_phases[-1][:2] == (8, 0.125)  # the checkpoint is written mid fade-in
    resumed, resumed_phases = train(9, resume_from=tmp_path / "last.ckpt")
    assert first_phases + resumed_phases == straight_phases
    state = straight.state_dict()
    assert {"generator.mapping.w_avg", "generator_ema.mapping.w_avg"} <= set(state)
    for (key, a), b in zip(state.items(), resumed.state_dict().values(), strict=True):
        if isinstance(a, torch.Tensor):
            torch.testing.assert_close(a, b, rtol=0, atol=0, msg=f"{key} differs after resume")
