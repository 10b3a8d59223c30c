import math
from collections.abc import Callable

import pytest
import torch
from torch import nn

from zoo.errors import ZooError
from zoo.penalties import (
    LazyPenalty,
    dragan_penalty,
    gradient_penalty,
    mode_seeking_penalty,
    orthogonal_penalty,
    r1_penalty,
    r2_penalty,
)

W = torch.tensor([1.0, 2.0, 2.0, 4.0])  # ||W|| = 5
# rows (1, 0, 2), (0, 1, 1), (1, 1, 0): pairwise dot products 2, 1, 1
MATRIX = torch.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0]])


def batch(seed: int, n: int = 3) -> torch.Tensor:
    """n 1x2x2 "images", so that critics see 4 inputs after flattening."""
    return torch.randn(n, 1, 2, 2, generator=torch.Generator().manual_seed(seed))


def linear_critic() -> tuple[nn.Linear, Callable]:
    """D(x) = W·x + 0.5: its input gradient is W at every x."""
    layer = nn.Linear(4, 1)
    with torch.no_grad():
        layer.weight.copy_(W.view(1, 4))
        layer.bias.fill_(0.5)
    return layer, lambda x: layer(x.flatten(1)).squeeze(1)


def quadratic_critic(x: torch.Tensor) -> torch.Tensor:
    """D(x) = sum(x^2): its input gradient is 2x."""
    return x.flatten(1).square().sum(1)


def recording_critic(seen: list):
    """A linear critic that remembers the points it was evaluated at."""

    def critic(x):
        seen.append(x.detach())
        return x.flatten(1).sum(1)

    return critic


# ------------------------------------------------------------------------------ gradient penalties


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_penalty_of_a_linear_critic_is_its_norms_distance_to_the_target(seed):
    _, critic = linear_critic()
    real, fake, rng = batch(seed), batch(seed + 10), torch.Generator().manual_seed(seed)
    assert gradient_penalty(critic, real, fake, weight=1.0, generator=rng).item() == pytest.approx(16.0)  # (5-1)^2
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(160.0)  # lambda = 10
    assert gradient_penalty(critic, real, fake, weight=1.0, target=3.0).item() == pytest.approx(4.0)


def test_gradient_penalty_takes_one_point_per_real_fake_pair_on_their_segment():
    seen = []
    real, fake = batch(0, n=6), batch(1, n=6)
    gradient_penalty(recording_critic(seen), real, fake)
    eps = (seen[0] - fake) / (real - fake)  # x_hat = eps * real + (1 - eps) * fake, elementwise
    per_sample = eps.flatten(1)
    assert torch.allclose(per_sample, per_sample[:, :1].expand_as(per_sample), atol=1e-5)  # one eps per sample
    assert ((per_sample >= 0) & (per_sample <= 1)).all()
    assert per_sample[:, 0].unique().numel() == 6  # drawn per sample, not once for the batch


def test_gradient_penalty_on_a_quadratic_critic_and_its_generator():
    seen = []
    real, fake = batch(0), batch(1)
    gradient_penalty(recording_critic(seen), real, fake, generator=torch.Generator().manual_seed(7))
    x_hat = seen[0].flatten(1)
    expected = ((2 * x_hat.norm(dim=1) - 1) ** 2).mean()  # grad sum(x^2) = 2x
    value = gradient_penalty(quadratic_critic, real, fake, weight=1.0, generator=torch.Generator().manual_seed(7))
    assert value.item() == pytest.approx(expected.item(), rel=1e-5)
    other_seed = gradient_penalty(quadratic_critic, real, fake, weight=1.0, generator=torch.Generator().manual_seed(8))
    assert other_seed.item() != pytest.approx(value.item())


def test_gradient_penalty_rejects_batches_of_different_shapes():
    _, critic = linear_critic()
    with pytest.raises(ZooError, match="one shape"):
        gradient_penalty(critic, batch(0, n=3), batch(1, n=2))


@pytest.mark.parametrize("c", [0.5, 2.0])
def test_dragan_penalty_of_a_linear_critic_is_its_norms_distance_to_one(c):
    _, critic = linear_critic()
    assert dragan_penalty(critic, batch(0), c=c, weight=1.0).item() == pytest.approx(16.0)
    assert dragan_penalty(critic, batch(0), c=c).item() == pytest.approx(160.0)


def test_dragan_perturbs_real_data_by_up_to_c_population_stds_of_the_whole_batch():
    # std over all 4 values is 1 (population); per-sample stds are 0 and the unbiased std is 1.15
    real, seen, rng = torch.tensor([[0.0, 0.0], [2.0, 2.0]]), [], torch.Generator().manual_seed(0)
    for _ in range(200):
        dragan_penalty(recording_critic(seen), real, c=0.5, generator=rng)
    delta = torch.stack(seen) - real  # (1 - alpha) * c * std * u with alpha, u ~ U[0, 1]
    assert (delta >= -1e-6).all() and (delta <= 0.5 + 1e-6).all() and delta.max() > 0.45
    dragan_penalty(recording_critic(seen), real, c=0.0, generator=rng)
    torch.testing.assert_close(seen[-1], real)


def test_r1_and_r2_of_a_linear_critic_are_gamma_over_2_times_its_squared_norm():
    _, critic = linear_critic()
    assert r1_penalty(critic, batch(0), gamma=2.0).item() == pytest.approx(25.0)
    assert r1_penalty(critic, batch(0)).item() == pytest.approx(125.0)  # gamma = 10
    assert r2_penalty(critic, batch(1), gamma=2.0).item() == pytest.approx(25.0)


def test_r1_and_r2_of_a_quadratic_critic():
    real = torch.tensor([[1.0, 2.0], [0.0, 3.0]])  # ||2x||^2 = 20 and 36
    fake = torch.tensor([[1.0, 1.0], [2.0, 0.0]])  # ||2x||^2 = 8 and 16
    assert r1_penalty(quadratic_critic, real, gamma=2.0).item() == pytest.approx(28.0)
    assert r2_penalty(quadratic_critic, fake, gamma=2.0).item() == pytest.approx(12.0)
    assert r1_penalty(quadratic_critic, real, gamma=1.0).item() == pytest.approx(14.0)


def test_one_backward_through_loss_plus_gradient_penalty_gives_the_hand_derived_gradient():
    layer, critic = linear_critic()
    real, fake = batch(0), batch(1).requires_grad_(True)  # fake as if it came from G
    loss = critic(fake).mean() - critic(real).mean()  # WGAN critic loss
    (loss + gradient_penalty(critic, real, fake, weight=1.0)).backward()
    # d/dW: mean(fake) - mean(real) from the loss, 2 (||W|| - 1) W / ||W|| = 1.6 W from the penalty
    expected = fake.detach().flatten(1).mean(0) - real.flatten(1).mean(0) + 1.6 * W
    torch.testing.assert_close(layer.weight.grad.view(4), expected)
    torch.testing.assert_close(layer.bias.grad, torch.zeros(1))
    # the penalty does not reach G: fake's gradient is the loss's W / N alone
    torch.testing.assert_close(fake.grad.flatten(1), (W / 3).expand(3, 4))


def test_r1_gradient_with_respect_to_the_critic_is_gamma_w():
    layer, critic = linear_critic()
    r1_penalty(critic, batch(0), gamma=10.0).backward()  # d/dW (gamma / 2) ||W||^2
    torch.testing.assert_close(layer.weight.grad.view(4), 10.0 * W)


@pytest.mark.parametrize(
    "penalty",
    [
        lambda critic, real, fake: gradient_penalty(critic, real, fake),
        lambda critic, real, fake: dragan_penalty(critic, real),
        lambda critic, real, fake: r1_penalty(critic, real),
        lambda critic, real, fake: r2_penalty(critic, fake),
    ],
    ids=["wgan-gp", "dragan", "r1", "r2"],
)
def test_gradient_penalties_do_not_reach_the_critics_inputs(penalty):
    # the quadratic critic's input gradient 2x depends on x, so a leak would give the inputs a gradient
    real, fake = batch(0).requires_grad_(True), batch(1).requires_grad_(True)  # as if both came from a network
    penalty(quadratic_critic, real, fake).backward()
    assert real.grad is None and fake.grad is None


@pytest.mark.parametrize(
    "penalty",
    [
        lambda critic, real, fake, rng: gradient_penalty(critic, real, fake, generator=rng),
        lambda critic, real, fake, rng: dragan_penalty(critic, real, generator=rng),
        lambda critic, real, fake, rng: r1_penalty(critic, real),
        lambda critic, real, fake, rng: r2_penalty(critic, fake),
    ],
    ids=["wgan-gp", "dragan", "r1", "r2"],
)
def test_gradient_penalties_compute_in_float32_under_bf16_autocast(penalty):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))

    def critic(x):
        return net(x.flatten(1)).squeeze(1)

    real, fake = batch(0, n=8), batch(1, n=8)
    reference = penalty(critic, real, fake, torch.Generator().manual_seed(3))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert critic(real).dtype == torch.bfloat16  # the critic alone would run in bf16
        value = penalty(critic, real, fake, torch.Generator().manual_seed(3))
    assert value.dtype == torch.float32
    torch.testing.assert_close(value, reference, rtol=0, atol=0)


# ------------------------------------------------------------------------------ orthogonal penalty


def linear(matrix: torch.Tensor, bias: bool = True) -> nn.Linear:
    layer = nn.Linear(matrix.shape[1], matrix.shape[0], bias=bias)
    with torch.no_grad():
        layer.weight.copy_(matrix)
    return layer


def test_orthogonal_penalty_sums_squared_off_diagonal_dot_products_of_the_rows():
    # W W^T off the diagonal: 2, 1, 1, each twice; the bias is skipped
    assert orthogonal_penalty(linear(MATRIX), beta=1.0).item() == pytest.approx(12.0)
    assert orthogonal_penalty(linear(MATRIX)).item() == pytest.approx(12e-4)  # beta = 1e-4
    two_layers = nn.Sequential(linear(MATRIX), nn.ReLU(), linear(MATRIX[:2]))  # rows 1, 2 alone: 2 * 2^2
    assert orthogonal_penalty(two_layers, beta=1.0).item() == pytest.approx(12.0 + 8.0)


def test_orthogonal_penalty_is_zero_for_orthogonal_rows_whatever_their_norms():
    permutation = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    t = 0.3
    scaled_rotation = 3.0 * torch.tensor([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    assert orthogonal_penalty(linear(permutation), beta=1.0).item() == 0.0
    assert orthogonal_penalty(linear(scaled_rotation), beta=1.0).item() == pytest.approx(0.0, abs=1e-10)


def test_orthogonal_penalty_reshapes_conv_weights_to_one_filter_per_row():
    conv = nn.Conv2d(1, 3, kernel_size=(1, 3))  # weight (3, 1, 1, 3) -> (3, 3)
    with torch.no_grad():
        conv.weight.copy_(MATRIX.view(3, 1, 1, 3))
    assert orthogonal_penalty(conv, beta=1.0).item() == pytest.approx(12.0)


def test_orthogonal_penalty_skips_norm_gains_and_embeddings_unless_asked():
    embedding = nn.Embedding(3, 3)
    with torch.no_grad():
        embedding.weight.copy_(MATRIX)
    net = nn.Sequential(linear(torch.eye(3)), nn.BatchNorm1d(3), embedding)
    assert orthogonal_penalty(net, beta=1.0).item() == 0.0
    assert orthogonal_penalty(net, beta=1.0, include_embeddings=True).item() == pytest.approx(12.0)
    with pytest.raises(ZooError, match="no weight matrices"):
        orthogonal_penalty(nn.BatchNorm1d(3))


def test_orthogonal_penalty_gradient_is_4_beta_offdiagonal_gram_times_w():
    layer = linear(MATRIX)
    orthogonal_penalty(layer, beta=1.0).backward()
    # (W W^T ⊙ (1 - I)) W = [[0, 2, 1], [2, 0, 1], [1, 1, 0]] W = [[1, 3, 2], [3, 1, 4], [1, 1, 3]]
    expected = 4 * torch.tensor([[1.0, 3.0, 2.0], [3.0, 1.0, 4.0], [1.0, 1.0, 3.0]])
    torch.testing.assert_close(layer.weight.grad, expected)


def test_orthogonal_penalty_computes_in_float32_under_bf16_autocast():
    layer = linear(MATRIX + 0.01)
    reference = orthogonal_penalty(layer)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = orthogonal_penalty(layer)
    assert value.dtype == torch.float32
    torch.testing.assert_close(value, reference, rtol=0, atol=0)


# ------------------------------------------------------------------------------ lazy regularization


def test_lazy_penalty_applies_every_interval_steps_with_the_interval_as_factor():
    lazy = LazyPenalty(4)
    assert [step for step in range(10) if lazy.applies(step)] == [0, 4, 8]
    assert lazy.factor == 4
    every_step = LazyPenalty()
    assert all(every_step.applies(step) for step in range(5)) and every_step.factor == 1
    with pytest.raises(ZooError, match=">= 1"):
        LazyPenalty(0)


# ------------------------------------------------------------------------------ mode seeking


def test_mode_seeking_penalty_is_the_inverse_ratio_of_mean_absolute_distances():
    fake1 = torch.zeros(2, 2)
    fake2 = torch.tensor([[1.0, -1.0], [2.0, 0.0]], requires_grad=True)  # d_I = 4 / 4 = 1
    z1, z2 = torch.zeros(2, 2), torch.tensor([[1.0, 1.0], [-1.0, 3.0]])  # d_z = 6 / 4 = 1.5
    loss = mode_seeking_penalty(fake1, fake2, z1, z2)
    assert loss.item() == pytest.approx(1 / (1 / 1.5 + 1e-5))
    assert mode_seeking_penalty(fake1, fake2, z1, z2, weight=2.0).item() == pytest.approx(2 / (1 / 1.5 + 1e-5))
    loss.backward()
    # d loss / d fake2 = -1 / (ratio + eps)^2 * sign(fake2 - fake1) / (4 * d_z): descent pushes the images apart
    expected = -((1 / (1 / 1.5 + 1e-5)) ** 2) * torch.tensor([[1.0, -1.0], [1.0, 0.0]]) / 6.0
    torch.testing.assert_close(fake2.grad, expected)
