"""Sampling style generators (zoo/style_sampling.py and the W-space truncation of zoo/sampling.py) on a tiny
StyleGAN2: psi and its cutoff, noise modes, style-mixing grids, interpolation in W; BigGAN's truncation in Z
for every other model."""

import pytest
import torch

from tests.helpers import tiny_dcgan
from zoo.errors import ZooError
from zoo.sampling import (
    StyleOptions,
    grid_samples,
    interpolate,
    render,
    styles,
    synthesize,
    truncation_sweep,
)
from zoo.style_sampling import interpolate_w, mix_layers, num_ws, seed_lists, seed_styles, style_mixing
from zoo.stylegan2 import StyleGAN2

NO_NOISE = StyleOptions(noise_mode="none")


@pytest.fixture(scope="module")
def model():
    """8 px, 1 channel: 4 ws (4 px conv, 8 px up-conv, 8 px conv, ToRGB); a w_avg away from zero and noise
    strengths away from their initial 0, as after training."""
    torch.manual_seed(0)
    gan = StyleGAN2(
        resolution=8, channels=1, preset="cifar", channel_base=256, channel_max=16, latent_dim=8, w_dim=8
    ).eval()
    gan.generator.mapping.w_avg.copy_(torch.randn(8))
    with torch.no_grad():
        for name, parameter in gan.generator.named_parameters():
            if name.endswith("noise.strength"):
                parameter.fill_(0.5)
    return gan


def test_psi_zero_renders_every_sample_as_the_w_avg_image(model):
    images = grid_samples(model, 5, batch_size=2, seed=1, truncation=0.0, style=NO_NOISE)
    w_avg = model.generator.mapping.w_avg
    expected = synthesize(model, w_avg.expand(1, num_ws(model), -1), NO_NOISE)
    assert torch.allclose(images, expected.expand_as(images), atol=1e-6)
    assert not torch.allclose(grid_samples(model, 2, seed=1, style=NO_NOISE)[0], expected[0])  # psi 1 differs


def test_psi_truncates_the_ws_below_the_cutoff_only(model):
    z = torch.randn(3, 8, generator=torch.Generator().manual_seed(2))
    free = styles(model, z)
    cut = styles(model, z, truncation=0.5, style=StyleOptions(truncation_cutoff=2))
    w_avg = model.generator.mapping.w_avg
    assert torch.allclose(cut[:, :2], w_avg + 0.5 * (free[:, :2] - w_avg), atol=1e-6)
    assert torch.equal(cut[:, 2:], free[:, 2:])
    with pytest.raises(ZooError, match="--truncation_cutoff must be in 0..4"):
        styles(model, z, truncation=0.5, style=StyleOptions(truncation_cutoff=5))


def test_style_truncation_is_psi_not_z_resampling(model):
    """The grid with psi 0.7 is the psi-1 latents rendered from lerp(w_avg, w, 0.7) (no z resampling)."""
    z = torch.randn(3, 8, generator=torch.Generator().manual_seed(4))  # grid_samples draws exactly these
    images = grid_samples(model, 3, seed=4, truncation=0.7, style=NO_NOISE)
    w_avg = model.generator.mapping.w_avg
    expected = synthesize(model, w_avg + 0.7 * (styles(model, z) - w_avg), NO_NOISE)
    assert torch.allclose(images, expected, atol=1e-6)


def test_truncation_sweep_rows_are_psi_values_of_the_same_latents(model):
    sweep = truncation_sweep(model, [None, 0.0], columns=3, seed=5, style=NO_NOISE).view(2, 3, 1, 8, 8)
    assert torch.allclose(sweep[0], grid_samples(model, 3, seed=5, style=NO_NOISE), atol=1e-6)
    assert torch.allclose(sweep[1], sweep[1, :1].expand(3, -1, -1, -1), atol=1e-6)  # psi 0: one image


def test_noise_modes_const_is_reproducible_random_is_not(model):
    z = torch.randn(2, 8, generator=torch.Generator().manual_seed(6))
    const = StyleOptions(noise_mode="const")
    assert torch.equal(render(model, z, style=const), render(model, z, style=const))
    random = StyleOptions(noise_mode="random")
    assert not torch.equal(render(model, z, style=random), render(model, z, style=random))
    assert not torch.equal(render(model, z, style=NO_NOISE), render(model, z, style=const))


def test_style_mixing_grid_headers_and_crossover(model):
    rows, columns = [1, 2], [3, 4, 5]
    row_ws, column_ws = seed_styles(model, rows), seed_styles(model, columns)
    row_images, column_images = synthesize(model, row_ws, NO_NOISE), synthesize(model, column_ws, NO_NOISE)

    def cells(layers: range):
        grid = style_mixing(model, rows, columns, layers, style=NO_NOISE).view(3, 4, 1, 8, 8)
        assert torch.equal(grid[0, 0], torch.ones(1, 8, 8))  # the blank corner
        assert torch.allclose(grid[0, 1:], column_images, atol=1e-6)  # header row: column seeds
        assert torch.allclose(grid[1:, 0], row_images, atol=1e-6)  # header column: row seeds
        return grid[1:, 1:]

    assert torch.allclose(cells(range(0)), row_images[:, None].expand(-1, 3, -1, -1, -1), atol=1e-6)
    assert torch.allclose(cells(range(4)), column_images[None].expand(2, -1, -1, -1, -1), atol=1e-6)
    mixed = row_ws[1].clone()
    mixed[1:3] = column_ws[2, 1:3]  # row seed 2 with ws 1-2 of column seed 5
    assert torch.allclose(cells(range(1, 3))[1, 2], synthesize(model, mixed[None], NO_NOISE)[0], atol=1e-6)


def test_seed_styles_draw_each_seed_as_its_own_first_sample(model):
    z = torch.randn(1, 8, generator=torch.Generator().manual_seed(7))
    assert torch.equal(seed_styles(model, [7]), styles(model, z))


def test_mix_layers_groups_ranges_and_clamping():
    assert mix_layers("coarse", 18) == range(4)
    assert mix_layers("middle", 18) == range(4, 8)
    assert mix_layers("fine", 18) == range(8, 18)
    assert mix_layers("coarse", 4) == range(4)
    assert mix_layers("middle", 6) == range(4, 6)  # clamped at 16 px
    assert mix_layers("1-2", 4) == range(1, 3)
    assert mix_layers("2-9", 4) == range(2, 4)
    with pytest.raises(ZooError, match="--mix_layers middle is empty for this model's 4 ws"):
        mix_layers("middle", 4)
    with pytest.raises(ZooError, match="0 <= A <= B"):
        mix_layers("3-1", 4)
    for bad in ("top", "1-", "-1-2", "1-2-3"):
        with pytest.raises(ZooError, match="--mix_layers takes coarse, middle, fine or a range"):
            mix_layers(bad, 4)


def test_seed_lists_parse_rows_and_columns():
    assert seed_lists("1,2,3:10,11") == ([1, 2, 3], [10, 11])
    for bad in ("1,2", "1,a:2", "1:2:3", ":2", "1,:2"):
        with pytest.raises(ZooError, match="ROW_SEEDS:COLUMN_SEEDS"):
            seed_lists(bad)


def test_interpolation_in_w_is_linear_between_the_end_images(model):
    strips = interpolate_w(model, strips=2, steps=3, seed=8, truncation=0.8, style=NO_NOISE).view(2, 3, 1, 8, 8)
    in_z = interpolate(model, strips=2, steps=3, method="linear", seed=8, truncation=0.8, style=NO_NOISE)
    ends = in_z.view(2, 3, 1, 8, 8)[:, [0, 2]]
    assert torch.allclose(strips[:, [0, 2]], ends, atol=1e-5)  # the same end points as in Z
    z = torch.randn(4, 8, generator=torch.Generator().manual_seed(8))
    ws = styles(model, z, truncation=0.8)
    middle = synthesize(model, (ws[:2] + ws[2:]) / 2, NO_NOISE)
    assert torch.allclose(strips[:, 1], middle, atol=1e-5)


def test_other_models_keep_biggan_truncation_and_reject_style_options():
    torch.manual_seed(0)
    dcgan = tiny_dcgan().eval()
    images = grid_samples(dcgan, 4, seed=9, truncation=0.5)
    assert torch.allclose(images, dcgan.sample(4, truncation=0.5, seed=9))
    assert not torch.allclose(images, dcgan.sample(4, seed=9))
    for call in (
        lambda: grid_samples(dcgan, 2, style=StyleOptions(truncation_cutoff=2)),
        lambda: render(dcgan, torch.randn(1, 16), style=StyleOptions(noise_mode="const")),
        lambda: num_ws(dcgan),
    ):
        with pytest.raises(ZooError, match="DCGAN has no style generator .* need a stylegan or stylegan2"):
            call()


def test_the_model_contract_truncates_style_entries_in_w_for_sample_and_fid(model):
    """``sample`` and ``generate`` (what FID and ``evaluate --truncation`` call) take psi; z stays untruncated."""
    assert model.truncation_space == "w"
    z = model.sample_latent(64, generator=torch.Generator().manual_seed(3), truncation=0.5)
    assert z.abs().max() > 0.5  # no Z resampling
    collapsed = model.sample(3, truncation=0.0, seed=4)
    assert torch.allclose(collapsed, collapsed[:1].expand_as(collapsed), atol=1e-6)  # const noise: one image
    z = torch.randn(2, 8, generator=torch.Generator().manual_seed(5))
    expected = synthesize(model, styles(model, z, truncation=0.7))
    torch.testing.assert_close(model.generate(model.generator, z, None, truncation=0.7), expected)
