"""Each augmentation against its formula on tiny tensors (zoo/augment/): ADA's transforms given explicit
parameters (Karras et al. 2020, App. B), DiffAugment's ops (Zhao et al. 2020), gradients, and bad input."""

import math

import pytest
import torch

from zoo.augment import AdaPipeline, AugmentParams, make_augmentation
from zoo.augment.ada import color_matrix, geometric_matrix
from zoo.augment.diffaugment import cutout, parse_policy, translation
from zoo.augment.fir import SYM6, normalized_taps, upfirdn2d, upfirdn2d_by_convolution
from zoo.errors import ZooError

PIPE = AdaPipeline("bgcfnc")


def images(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_geometric_matrix_composes_the_inverse_transforms_in_order():
    like = torch.zeros(1)
    flip = geometric_matrix(AugmentParams(xflip=torch.tensor([1.0])), 8, 8, like)
    assert torch.equal(flip[0], torch.diag(torch.tensor([-1.0, 1.0, 1.0])))
    quarter = geometric_matrix(AugmentParams(rotate90=torch.tensor([1.0])), 8, 8, like)[0]
    assert torch.allclose(quarter, torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]]), atol=1e-7)
    shift = geometric_matrix(AugmentParams(xint=torch.tensor([[0.25, -0.125]])), 8, 16, like)[0]
    assert torch.equal(shift[:2, 2], torch.tensor([-2.0, 2.0]))  # rounded to pixels: 0.25 * 8, -0.125 * 16
    both = AugmentParams(scale=torch.tensor([2.0]), aniso=torch.tensor([4.0]))
    assert torch.allclose(geometric_matrix(both, 8, 8, like)[0].diagonal(), torch.tensor([1 / 8, 2.0, 1.0]))


def test_integer_translation_moves_pixels_exactly_inside_the_reflected_border():
    x = images(2, 3, 16, 16)
    out = PIPE.apply(x, AugmentParams(xint=torch.tensor([[2 / 16, -1 / 16], [0.0, 0.0]])))
    assert torch.allclose(out[0, :, 3:-3, 3:-3], x[0].roll((-1, 2), (1, 2))[:, 3:-3, 3:-3], atol=1e-5)
    assert torch.allclose(out[1], x[1], atol=1e-5)  # identity: the Symlet-6 up/down resampling is orthogonal


def test_flips_and_quarter_turns_map_a_smooth_image_onto_its_flip_and_rotation():
    """Blits run through the same filtered resampling as the reference (its Symlet-6 is asymmetric), so a flip is
    a pixel permutation only up to the filter's phase: close on a smooth image, not exact."""
    r = torch.arange(16.0)
    blob = torch.exp(-((r[:, None] - 7.5) ** 2 + (r[None, :] - 8) ** 2) / 8)[None, None].repeat(3, 3, 1, 1)
    out = PIPE.apply(blob, AugmentParams(xflip=torch.tensor([1.0, 0, 0]), rotate90=torch.tensor([0.0, 1, 2])))
    expected = torch.stack([blob[0].flip(-1), blob[1].rot90(1, (1, 2)), blob[2].rot90(2, (1, 2))])
    assert (out - expected).abs().max() < 0.03


def test_color_transforms_add_brightness_scale_contrast_and_flip_luma():
    x = images(4, 3, 4, 4)
    params = AugmentParams(brightness=torch.tensor([0.3, 0, 0, 0]), contrast=torch.tensor([1.0, 2.0, 1, 1]))
    params.lumaflip = torch.tensor([0.0, 0, 1, 0])
    params.saturation = torch.tensor([1.0, 1, 1, 0])
    out = PIPE.apply(x, params)
    assert torch.allclose(out[0], x[0] + 0.3, atol=1e-6)
    assert torch.allclose(out[1], 2 * x[1], atol=1e-6)
    assert torch.allclose(out[2], x[2] - 2 * x[2].mean(0, keepdim=True), atol=1e-6)  # Householder about (1,1,1)
    assert torch.allclose(out[3], x[3].mean(0, keepdim=True).expand(3, 4, 4), atol=1e-6)  # saturation 0: gray


def test_a_third_turn_of_hue_cycles_the_channels_and_grayscale_uses_the_mean_row():
    x = images(1, 3, 4, 4)
    out = PIPE.apply(x, AugmentParams(hue=torch.tensor([2 * math.pi / 3])))
    assert torch.allclose(out[0], x[0].roll(1, 0), atol=1e-6)  # R -> G -> B -> R
    gray = images(1, 1, 4, 4)
    params = AugmentParams(brightness=torch.tensor([0.5]), lumaflip=torch.tensor([1.0]))
    expected_rows = color_matrix(params, torch.zeros(1))[0, :3].mean(0)  # gain of the mean row: 1 - 2 = -1
    assert torch.allclose(expected_rows, torch.tensor([-1 / 3, -1 / 3, -1 / 3, -0.5]))
    assert torch.allclose(PIPE.apply(gray, params), -gray - 0.5, atol=1e-6)


def test_unit_band_gains_filter_nothing_and_noise_and_cutout_act_as_written():
    x = images(2, 3, 24, 24)
    assert torch.allclose(PIPE.apply(x, AugmentParams(imgfilter=torch.ones(2, 4))), x, atol=1e-5)
    boosted = PIPE.apply(x, AugmentParams(imgfilter=torch.tensor([[1.0, 1, 1, 4]] * 2)))
    assert boosted.diff(dim=-1).abs().mean() > x.diff(dim=-1).abs().mean()  # the top band amplified
    noise = images(2, 3, 24, 24, seed=1)
    assert torch.equal(PIPE.apply(x, AugmentParams(noise=noise)), x + noise)
    params = AugmentParams(cutout_size=torch.tensor([0.5, 0.0]), cutout_center=torch.tensor([[0.25, 0.5]] * 2))
    out = PIPE.apply(x, params)
    hole = torch.zeros(24, 24, dtype=torch.bool)
    hole[6:18, 0:12] = True  # rows: centers within 0.25 of y = 0.5; columns: of x = 0.25
    assert torch.equal(out[0], torch.where(hole, 0.0, x[0])) and torch.equal(out[1], x[1])


def test_gradients_reach_the_input_through_every_pipeline_and_diffaugment():
    for augment in (make_augmentation("fixed", 1.0, 0.6, 500, "bgcfnc", ""), make_augmentation(
        "diffaugment", 0, 0.6, 500, "bgc", "color,translation,cutout"
    )):  # fmt: skip
        x = images(4, 3, 32, 32).requires_grad_(True)
        augment(x, torch.Generator().manual_seed(3)).square().sum().backward()
        assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_p_zero_draws_the_identity_and_p_one_transforms_every_image():
    x = images(8, 3, 16, 16)
    params = PIPE.draw(tuple(x.shape), torch.tensor(0.0), torch.Generator().manual_seed(0))
    assert torch.equal(params.xflip, torch.zeros(8)) and torch.equal(params.contrast, torch.ones(8))
    assert torch.equal(params.noise, torch.zeros(8, 3, 16, 16)) and torch.equal(params.cutout_size, torch.zeros(8))
    params = PIPE.draw(tuple(x.shape), torch.tensor(1.0), torch.Generator().manual_seed(0))
    assert (params.contrast != 1).all() and (params.cutout_size == 0.5).all()


def test_diffaugment_translation_shifts_with_zeros_and_cutout_zeroes_a_half_size_square():
    x = images(3, 1, 8, 8) + 2  # all positive, so zeros mark what was filled
    shifted = translation(x, torch.Generator().manual_seed(5))
    drawn = torch.randint(-1, 2, (2, 3, 1, 1), generator=torch.Generator().manual_seed(5))  # dy, dx per image
    for n in range(3):
        dy, dx = int(drawn[0, n]), int(drawn[1, n])
        padded = torch.nn.functional.pad(x[n], [1, 1, 1, 1])
        assert torch.equal(shifted[n], padded[:, 1 + dy : 9 + dy, 1 + dx : 9 + dx])
    holes = cutout(x, torch.Generator().manual_seed(6)) == 0
    assert holes.flatten(1).sum(1).le(16).all() and holes.any(dim=(1, 2, 3)).all()


def test_bad_augmentation_settings_are_refused_naming_the_fix():
    with pytest.raises(ZooError, match="choose one of: none, ada, fixed, diffaugment"):
        make_augmentation("adaptive", 0, 0.6, 500, "bgc", "")
    with pytest.raises(ZooError, match="unknown augment_pipe 'bgx'"):
        make_augmentation("ada", 0, 0.6, 500, "bgx", "")
    with pytest.raises(ZooError, match=r"augment_p must be in \[0, 1\]"):
        make_augmentation("fixed", 1.5, 0.6, 500, "bgc", "")
    with pytest.raises(ZooError, match="needs images of >= 22 px, got 16x16"):
        AdaPipeline("bgcf")(images(2, 3, 16, 16), 1.0)
    with pytest.raises(ZooError, match="unknown: zoom"):
        parse_policy("color,zoom")


def test_fir_resampling_by_matrices_equals_the_step_by_step_convolutions():
    x = images(2, 3, 20, 18)
    taps = normalized_taps(SYM6)
    for up, down, pad, flip, gain in ((2, 1, (6, 5, 6, 5), True, 2.0), (1, 2, (-1, -1, -1, -1), False, 1.0)):
        by_matrices = upfirdn2d(x, taps, up, down, pad, flip, gain)
        assert torch.allclose(by_matrices, upfirdn2d_by_convolution(x, taps, up, down, pad, flip, gain), atol=1e-6)


def test_augmentation_runs_in_float32_under_bf16_autocast():
    augment = make_augmentation("fixed", 1.0, 0.6, 500, "bgc", "")
    x = images(2, 3, 16, 16)
    expected = augment(x, torch.Generator().manual_seed(0))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = augment(x.bfloat16(), torch.Generator().manual_seed(0))
    assert out.dtype == torch.float32 and torch.allclose(
        out, augment(x.bfloat16().float(), torch.Generator().manual_seed(0))
    )
    assert (out - expected).abs().max() < 0.05  # only the input's bf16 rounding
