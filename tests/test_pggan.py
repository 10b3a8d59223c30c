"""PGGAN (Karras et al. 2018): the drift penalty, the entry's defaults, Table 2's widths, the fade-in blends of G,
D and the real images, and a tiny progressive run from the CLI with a phase change."""

import pytest
import torch
import torch.nn.functional as F

from callbacks import load_gan, read_checkpoint
from tests.conftest import run_cli
from tests.fidelity import assert_counts
from zoo import get_model
from zoo.errors import ZooError
from zoo.nets.pggan import PGGANDiscriminator, PGGANGenerator, phase_reals, stage_channels
from zoo.penalties import PenaltyInputs, configure_penalty, drift_penalty

TINY = {"fmap_base": 32, "fmap_max": 16}


def test_drift_is_epsilon_times_the_mean_squared_critic_output_on_reals():
    real = torch.tensor([[1.0, 2.0], [3.0, -1.0], [0.0, 0.5]])
    critic = lambda x: x.sum(dim=1)  # outputs 3, 2, 0.5
    expected = 1e-3 * (9 + 4 + 0.25) / 3
    torch.testing.assert_close(drift_penalty(critic, real), torch.tensor(expected))
    configured = configure_penalty({"name": "drift"})
    assert configured.player == "d"
    inputs = PenaltyInputs(critic, real, torch.zeros(3, 2), None, None, None)
    torch.testing.assert_close(configured(inputs), torch.tensor(expected))
    torch.testing.assert_close(
        configure_penalty({"name": "drift", "epsilon": 0.5})(inputs), torch.tensor(500 * expected)
    )


def test_the_entry_has_the_papers_defaults():
    model = get_model("pggan")(resolution=8, channels=1, **TINY)
    h = model.hparams
    assert (h.latent_dim, h.objective, h.d_steps, h.g_lr, h.d_lr) == (512, "wasserstein", 1, 1e-3, 1e-3)
    assert tuple(h.g_betas) == tuple(h.d_betas) == (0.0, 0.99)
    assert [(p.name, p.args) for p in model.penalties] == [("gp", {"weight": 10.0}), ("drift", {"epsilon": 1e-3})]
    d_opt, _ = model.configure_optimizers()
    assert d_opt.defaults["eps"] == 1e-8


def test_widths_follow_table_2():
    widths = {4 * 2**d: stage_channels(d + 1, 8192, 512) for d in range(9)}
    assert widths == {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}
    assert stage_channels(0, 8192, 512) == 512  # D's dense layer after the 4x4 conv


def test_parameter_counts_at_1024_px_equal_the_authors_tensorflow_networks():
    # tkarras/progressive_growing_of_gans networks.py G_paper / D_paper at 1024 px, 3 channels, z of 512: G's
    # first dense layer has no bias of its own and one bias per channel after the reshape to 4x4
    generator, discriminator = PGGANGenerator(512, 1024, 3), PGGANDiscriminator(1024, 3)
    code = "tkarras/progressive_growing_of_gans networks.py G_paper / D_paper"
    assert_counts("pggan 1024 px", generator, discriminator, (23_079_115, 23_087_249), code)
    gan_zoo = PGGANGenerator(512, 1024, 3, variant="pytorch_gan_zoo")  # one bias per dense output unit
    assert sum(p.numel() for p in gan_zoo.parameters()) == 23_079_115 + 15 * 512


def test_generator_fades_the_new_resolution_in_over_the_upsampled_old_output():
    torch.manual_seed(0)
    g = PGGANGenerator(8, 16, 3, **TINY)
    z = torch.randn(4, 8)
    g.grow(8)
    old = g(z)
    g.grow(16)
    new = g(z)
    g.grow(16, 0.3)
    faded = g(z)
    assert faded.shape == new.shape == (4, 3, 16, 16) and old.shape == (4, 3, 8, 8)
    torch.testing.assert_close(faded, 0.7 * old.repeat_interleave(2, 2).repeat_interleave(2, 3) + 0.3 * new)
    g.grow(4)
    torch.testing.assert_close(g(z), g.to_rgb[0](g.blocks[0](z)))


def test_discriminator_blends_from_rgb_of_the_pooled_input_into_the_new_blocks_output():
    torch.manual_seed(0)
    d = PGGANDiscriminator(16, 3, **TINY)
    x = torch.randn(4, 3, 16, 16)
    d.grow(16, 0.25)
    new = d.blocks[2](d.from_rgb[2](x))
    old = d.from_rgb[1](F.avg_pool2d(x, 2))
    expected = d.blocks[0](d.blocks[1](0.75 * old + 0.25 * new)).squeeze(1)
    torch.testing.assert_close(d(x), expected)
    d.grow(8)
    torch.testing.assert_close(
        d(x[:, :, ::2, ::2]), d.blocks[0](d.blocks[1](d.from_rgb[1](x[:, :, ::2, ::2]))).squeeze(1)
    )
    with pytest.raises(ZooError, match="runs at 8 px in this phase, got 16 px"):
        d(x)


def test_real_images_are_pooled_to_the_phase_and_blended_during_a_fade_in():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    pooled = torch.tensor([[2.5, 4.5], [10.5, 12.5]])  # means of the 2x2 blocks
    torch.testing.assert_close(phase_reals(x, 2, 1.0)[0, 0], pooled)
    torch.testing.assert_close(phase_reals(x, 1, 1.0)[0, 0], torch.tensor([[7.5]]))
    faded = phase_reals(x, 4, 0.25)[0, 0]
    assert faded[0, 0] == 0.75 * 2.5 + 0.25 * 0 and faded[3, 3] == 0.75 * 12.5 + 0.25 * 15
    assert torch.equal(phase_reals(x, 4, 1.0), x)


@pytest.mark.parametrize(
    "call, phrase",
    [
        (lambda: PGGANGenerator(8, 12, 3, **TINY), "power-of-two resolution >= 4, got 12"),
        (
            lambda: PGGANGenerator(8, 16, 3, **TINY).grow(32),
            "resolution 32 is not a phase of this network: 4, 8, ..., 16",
        ),
        (lambda: PGGANGenerator(8, 16, 3, **TINY).grow(8, 0.0), "alpha must be in \\(0, 1\\]"),
    ],
)
def test_bad_resolutions_and_alphas_are_rejected(call, phrase):
    with pytest.raises(ZooError, match=phrase):
        call()


def test_tiny_progressive_run_from_the_cli_on_two_ddp_ranks_changes_phase_in_lockstep(tmp_path):
    # images_seen counts both ranks: batches of 16 per rank at 4x4 (images_seen 0, 32, 64), then the 8x8 fade-in
    # (128 images) with batches of 8 per rank (96, 112, 128)
    fit = run_cli(
        "fit", "--model", "pggan", "--data", "digits", "--data.resolution", "8", "--data.batch_size", "8",
        "--model.fmap_base", "16", "--model.fmap_max", "8", "--model.latent_dim", "8",
        "--progressive.stabilize_kimg", "0.064", "--progressive.fade_kimg", "0.128",
        "--progressive.batch_sizes", "{4: 16, 8: 8}", "--trainer.max_steps", "12", "--trainer.accelerator", "cpu",
        "--trainer.devices", "2", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
        "--run_dir", "run", "--trainer.callbacks+=tests.ddp_probe.RankProbe",
        f"--trainer.callbacks.out_dir={tmp_path / 'probe'}",
        cwd=tmp_path, timeout=400,
    )  # fmt: skip
    assert fit.returncode == 0, fit.stderr[-4000:]
    rank0 = torch.load(tmp_path / "probe" / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "probe" / "rank1.pt", weights_only=True)
    assert rank0["images_seen"] == rank1["images_seen"] == 3 * 32 + 3 * 16  # 6 iterations = 12 optimizer steps
    for net in ("generator", "discriminator"):
        for name, weight in rank0[net].items():
            assert torch.equal(weight, rank1[net][name]), f"{net}.{name} differs across ranks"
    checkpoint = tmp_path / "run" / "checkpoints" / "last.ckpt"
    state = read_checkpoint(checkpoint)["state_dict"]
    # the last iteration ran (128 - 64) / 128 images into the fade-in
    phase = {"depth": 1, "alpha": 0.5}
    assert state["generator._extra_state"] == state["discriminator._extra_state"] == phase
    assert state["generator_ema._extra_state"] == phase  # the recipe's EMA generator (decay 0.999) grows too
    model = load_gan(checkpoint)
    assert model.generator_ema is not None and model.sample(4, seed=0).shape == (4, 1, 8, 8)  # at 8 px
