"""PGGAN's pixel norm and minibatch standard deviation (Karras et al. 2018, Sec. 3 and 4.2) on hand-made batches."""

from __future__ import annotations

import pytest
import torch

from zoo.errors import ZooError
from zoo.nn.pggan import MinibatchStdDev, PixelNorm


def test_pixel_norm_gives_unit_mean_square_per_pixel():
    x = torch.randn(3, 16, 5, 5) * torch.rand(3, 1, 5, 5) * 10
    y = PixelNorm()(x)
    torch.testing.assert_close(y.square().mean(dim=1), torch.ones(3, 5, 5), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(y / y.norm(dim=1, keepdim=True), x / x.norm(dim=1, keepdim=True))  # direction kept


def test_minibatch_stddev_appends_the_group_std_averaged_over_features_and_pixels():
    # 4 samples, group size 2: groups are samples (0, 2) and (1, 3); constant maps make the std easy by hand
    values = torch.tensor([0.0, 10.0, 2.0, 10.0])  # group (0, 2): std of {0, 2} = 1; group (1, 3): 0
    x = values[:, None, None, None].expand(4, 2, 3, 3).clone()
    x[:, 1] *= 3  # second channel: {0, 6} -> std 3; {30, 30} -> 0
    out = MinibatchStdDev(group_size=2, eps=0.0)(x)
    assert out.shape == (4, 3, 3, 3)
    torch.testing.assert_close(out[:, :2], x)
    expected = torch.tensor([2.0, 0.0, 2.0, 0.0])  # mean over channels of (1, 3) = 2, and of (0, 0) = 0
    torch.testing.assert_close(out[:, 2], expected[:, None, None].expand(4, 3, 3))


def test_minibatch_stddev_with_two_statistics_splits_the_channels():
    values = torch.tensor([0.0, 2.0])
    x = values[:, None, None, None].expand(2, 4, 2, 2).clone()
    x[:, 2:] *= 5  # channels 0-1: std 1; channels 2-3: std 5
    out = MinibatchStdDev(group_size=2, num_channels=2, eps=0.0)(x)
    torch.testing.assert_close(out[:, 4:, 0, 0], torch.tensor([[1.0, 5.0], [1.0, 5.0]]))


def test_minibatch_stddev_of_pytorch_gan_zoo_groups_neighbours_with_the_unbiased_variance():
    values = torch.tensor([0.0, 2.0, 10.0, 10.0])  # groups (0, 1) and (2, 3): unbiased std sqrt(2) and 0
    x = values[:, None, None, None].expand(4, 2, 3, 3).clone()
    out = MinibatchStdDev(group_size=2, eps=0.0, consecutive_groups=True, unbiased=True)(x)
    expected = torch.tensor([2.0**0.5, 2.0**0.5, 0.0, 0.0])
    torch.testing.assert_close(out[:, 2], expected[:, None, None].expand(4, 3, 3))


def test_minibatch_stddev_names_an_indivisible_batch():
    with pytest.raises(ZooError, match="batch_size"):
        MinibatchStdDev(group_size=4)(torch.randn(6, 2, 2, 2))
