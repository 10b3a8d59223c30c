"""SWD (metrics/swd.py) and MS-SSIM (metrics/ms_ssim.py) against closed forms and torchmetrics."""

import pytest
import torch
import torch.nn.functional as F
from torchmetrics.functional.image import multiscale_structural_similarity_index_measure as torchmetrics_ms_ssim
from torchmetrics.functional.image import structural_similarity_index_measure as torchmetrics_ssim

from metrics.ms_ssim import WEIGHTS, ms_ssim, ms_ssim_diversity, ssim_parts
from metrics.swd import laplacian_pyramid, random_patches, reconstruct, sliced_wasserstein, swd
from zoo.errors import ZooError


def smooth_images(n: int, resolution: int = 16, channels: int = 3, seed: int = 0) -> torch.Tensor:
    """Random images with structure at every scale, in [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(n, channels, 4, 4, generator=g)
    fine = 0.2 * torch.randn(n, channels, resolution, resolution, generator=g)
    return (F.interpolate(coarse, size=resolution, mode="bicubic", align_corners=False) + fine).clamp(-1, 1)


# ------------------------------------------------------------------------------------------------ SWD


def test_laplacian_pyramid_is_exactly_invertible_and_flat_images_have_no_detail():
    images = smooth_images(4, resolution=32)
    pyramid = laplacian_pyramid(images, levels=3)
    assert [level.shape[-1] for level in pyramid] == [32, 16, 8]
    assert torch.allclose(reconstruct(pyramid), images, atol=1e-6)
    flat = laplacian_pyramid(torch.full((1, 1, 16, 16), 0.25), levels=2)
    assert flat[0].abs().max() < 1e-6 and torch.allclose(flat[1], torch.full((1, 1, 8, 8), 0.25))


def test_patches_are_7x7_neighbourhoods_of_their_image():
    image = torch.arange(2 * 16 * 16, dtype=torch.float32).view(2, 1, 16, 16)
    patches = random_patches(image, per_image=5, size=7, generator=torch.Generator().manual_seed(0))
    assert patches.shape == (10, 1, 7, 7)
    steps = patches[:, 0, 1:, :] - patches[:, 0, :-1, :], patches[:, 0, :, 1:] - patches[:, 0, :, :-1]
    assert (steps[0] == 16).all() and (steps[1] == 1).all()  # contiguous rows and columns
    assert (patches[:5] < 256).all() and (patches[5:] >= 256).all()  # each from its own image


def test_sliced_wasserstein_of_shifted_sets():
    g = torch.Generator().manual_seed(0)
    points = torch.randn(1000, 1, generator=g)
    assert sliced_wasserstein(points, points + 0.5, projections=8, per_repeat=8) == pytest.approx(0.5)  # 1D: W1
    cloud = torch.randn(2000, 3, generator=g)
    shift = torch.tensor([2.0, 0.0, 0.0])
    # each projection moves by <shift, d>: the mean of |2 d_1| over the unit sphere in 3D is 2 * 1/2
    assert sliced_wasserstein(cloud, cloud + shift, generator=g) == pytest.approx(1.0, rel=0.1)
    assert sliced_wasserstein(cloud, cloud, generator=g) == 0.0


def test_swd_is_near_zero_for_one_distribution_and_grows_with_the_difference():
    real = smooth_images(32, seed=1)
    same = swd(real, real, min_resolution=8, patches_per_image=64, projections=128)
    assert list(same.per_level) == [16, 8]
    noisy = [
        swd(real, (real + s * torch.randn_like(real)).clamp(-1, 1), 8, 64, projections=128) for s in (0.1, 0.3, 0.6)
    ]
    assert same.per_level[16] < noisy[0].per_level[16] < noisy[1].per_level[16] < noisy[2].per_level[16]
    assert same.average < 0.5 * noisy[2].average  # the sampling noise of 2,048 descriptors
    assert same.average == pytest.approx(sum(same.per_level.values()) / 2)
    # descriptors are normalized per channel and set: a contrast and brightness change is invisible
    assert swd(real, 0.5 * real + 0.2, 8, 64, projections=128).average == pytest.approx(same.average, rel=1e-4)


def test_swd_accepts_uint8_and_batches_and_rejects_bad_sizes():
    real = smooth_images(8, seed=2)
    uint8 = ((real + 1) * 127.5).round().to(torch.uint8)
    value = swd(uint8, real, min_resolution=8, patches_per_image=16).average
    assert swd(uint8.float() / 127.5 - 1, real, 8, 16).average == value
    assert swd(iter([uint8]), [real], 8, 16).average == value  # iterables of batches
    with pytest.raises(ZooError, match="power-of-two size"):
        swd(smooth_images(4, resolution=24), smooth_images(4, resolution=24))
    with pytest.raises(ZooError, match="sets of equal size"):
        swd(real, real[:4], min_resolution=8)


# -------------------------------------------------------------------------------------------- MS-SSIM


def test_ms_ssim_of_identical_images_is_one_and_of_independent_noise_near_zero():
    images = smooth_images(3, resolution=32)
    assert torch.allclose(ms_ssim(images, images), torch.ones(3))
    noise = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert (ms_ssim(noise[:1], noise[1:]) < 0.05).all()
    assert ms_ssim(images * 127.5 + 127.5, images * 127.5 + 127.5, data_range=255.0).tolist() == pytest.approx([1] * 3)


def test_ms_ssim_matches_torchmetrics_up_to_its_padded_last_scale():
    # torchmetrics averages the last scale's SSIM over a reflection-padded image; Wang et al. (and this
    # module) over the positions where the window fits. Every other factor must agree.
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 176, 176, generator=g, dtype=torch.float64) * 2 - 1
    y = (x + 0.3 * torch.randn(x.shape, generator=g, dtype=torch.float64)).clamp(-1, 1)
    coarse_x, coarse_y = F.avg_pool2d(x, 16), F.avg_pool2d(y, 16)
    last_scale = ssim_parts(coarse_x, coarse_y, 2.0)[0] / torchmetrics_ssim(
        coarse_y, coarse_x, data_range=2.0, reduction="none"
    )
    ratio = ms_ssim(x, y).double() / torchmetrics_ms_ssim(y, x, data_range=2.0, reduction="none")
    assert torch.allclose(ratio, last_scale ** WEIGHTS[-1], rtol=1e-5)
    _, cs = torchmetrics_ssim(y, x, data_range=2.0, reduction="none", return_contrast_sensitivity=True)
    assert torch.allclose(ssim_parts(x, y, 2.0)[1], cs, atol=1e-12)


def test_diversity_is_one_for_a_collapsed_set_and_low_for_distinct_images():
    collapsed = smooth_images(1, resolution=32).expand(6, -1, -1, -1)
    assert ms_ssim_diversity(collapsed, num_pairs=20) == pytest.approx(1.0)
    distinct = torch.rand(6, 1, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    assert ms_ssim_diversity(distinct, num_pairs=20) < 0.1
    with pytest.raises(ZooError, match="at least 16 px"):
        ms_ssim(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8))
