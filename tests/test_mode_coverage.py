import math

import pytest
import torch

from metrics.mode_coverage import MIXTURES, grid_means, mode_coverage, ring_means


def test_ring_has_eight_distinct_unit_means():
    means = ring_means()
    assert len(torch.unique(means.round(decimals=6), dim=0)) == 8
    assert torch.allclose(means.norm(dim=1), torch.ones(8))
    assert torch.allclose(means[0], torch.tensor([1.0, 0.0]))


def test_grid_means():
    means = grid_means()
    assert means.shape == (25, 2) and sorted(set(means[:, 0].tolist())) == [-4, -2, 0, 2, 4]


def test_a_perfect_sampler_scores_the_analytic_hq_fraction():
    means, std = MIXTURES["ring"]
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(200_000) % 8
    samples = means[labels] + std * torch.randn(200_000, 2, generator=gen)
    result = mode_coverage(samples, means, std)
    assert result.modes == 8
    assert result.hq_fraction == pytest.approx(1 - math.exp(-4.5), abs=2e-3)  # 98.9%: P(chi2_2 <= 9)
    assert result.reverse_kl == pytest.approx(0.0, abs=1e-4)


def test_collapse_and_far_samples_by_hand():
    means, std = ring_means(), 0.01
    samples = torch.tensor([[1.0, 0.0], [1.02, 0.0], [0.0, 1.0], [0.5, 0.5]])  # 3 HQ in 2 modes, 1 off-manifold
    result = mode_coverage(samples, means, std)
    assert result.modes == 2 and result.hq_fraction == 0.75
    expected = 2 / 3 * math.log(2 / 3 * 8) + 1 / 3 * math.log(1 / 3 * 8)  # sum q log(q / (1/8))
    assert result.reverse_kl == pytest.approx(expected, rel=1e-9)
    assert mode_coverage(torch.full((5, 2), 9.0), means, std).reverse_kl == math.inf
