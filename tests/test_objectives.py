import math

import pytest
import torch

from zoo.errors import ZooError
from zoo.objectives import OBJECTIVES, make_objective

REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([0.5, -3.0])


def log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


def test_discriminator_loss_is_binary_cross_entropy():
    # -[log D(x)] - [log(1 - D(G(z)))], averaged over each batch
    expected = -(log_sigmoid(2.0) + log_sigmoid(-1.0)) / 2 - (log_sigmoid(-0.5) + log_sigmoid(3.0)) / 2
    for name in ("minimax", "non_saturating"):
        assert make_objective(name).d_loss(REAL, FAKE).item() == pytest.approx(expected, rel=1e-6)


def test_minimax_generator_minimizes_log_one_minus_d():
    expected = (math.log(1 - 1 / (1 + math.exp(-0.5))) + math.log(1 - 1 / (1 + math.exp(3.0)))) / 2
    assert make_objective("minimax").g_loss(FAKE).item() == pytest.approx(expected, rel=1e-6)


def test_non_saturating_generator_maximizes_log_d():
    expected = -(log_sigmoid(0.5) + log_sigmoid(-3.0)) / 2
    assert make_objective("non_saturating").g_loss(FAKE).item() == pytest.approx(expected, rel=1e-6)


def test_non_saturating_gradient_does_not_vanish_when_d_rejects_fakes():
    fake = torch.tensor([-10.0], requires_grad=True)
    (grad_ns,) = torch.autograd.grad(make_objective("non_saturating").g_loss(fake), fake)
    fake = torch.tensor([-10.0], requires_grad=True)
    (grad_mm,) = torch.autograd.grad(make_objective("minimax").g_loss(fake), fake)
    assert abs(grad_ns.item()) > 0.99 and abs(grad_mm.item()) < 1e-4


def test_one_sided_label_smoothing_changes_only_the_real_target():
    smooth = make_objective("non_saturating", label_smoothing=0.1)
    real_term = (
        -(0.9 * log_sigmoid(2.0) + 0.1 * log_sigmoid(-2.0) + 0.9 * log_sigmoid(-1.0) + 0.1 * log_sigmoid(1.0)) / 2
    )
    fake_term = -(log_sigmoid(-0.5) + log_sigmoid(3.0)) / 2
    assert smooth.d_loss(REAL, FAKE).item() == pytest.approx(real_term + fake_term, rel=1e-6)


def test_unknown_objective_lists_the_valid_ones():
    with pytest.raises(ZooError, match="non_saturating"):
        make_objective("wasserstien")
    assert {"minimax", "non_saturating"} <= set(OBJECTIVES)


def test_objective_arguments_reach_the_objective_from_the_model():
    from tests.helpers import tiny_dcgan
    from zoo.objectives import F_DIVERGENCES

    model = tiny_dcgan(objective="fgan", objective_args={"divergence": "pearson"})
    assert model.objective.divergence is F_DIVERGENCES["pearson"]
    smooth = tiny_dcgan(objective_args={"label_smoothing": 0.2})
    assert smooth.objective.label_smoothing == 0.2
