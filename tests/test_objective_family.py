"""The objective family of zoo/objectives.py checked against the papers' formulas, evaluated by hand with ``math``."""

import math

import pytest
import torch

from zoo.errors import ZooError
from zoo.objectives import F_DIVERGENCES, OBJECTIVES, log_lambert_w_of_exp, make_objective

REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([0.5, -3.0])
REAL_VALUES = (2.0, -1.0)
FAKE_VALUES = (0.5, -3.0)

RELATIVISTIC = ("rsgan", "rasgan", "ralsgan", "rahinge")


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def check(objective, d_expected: float, g_expected: float) -> None:
    assert objective.d_loss(REAL, FAKE).item() == pytest.approx(d_expected, rel=1e-6)
    assert objective.g_loss(FAKE, REAL).item() == pytest.approx(g_expected, rel=1e-6)


# ------------------------------------------------------------------------------------ LSGAN, WGAN, hinge


@pytest.mark.parametrize(
    "kwargs, a, b, c",
    [({}, 0.0, 1.0, 1.0), ({"a": -1.0, "b": 1.0, "c": 0.0}, -1.0, 1.0, 0.0)],
    ids=["0-1-1 coding (Eq. 9)", "-1/1/0 coding (Eq. 8)"],
)
def test_least_squares_follows_eq_2_of_mao_et_al(kwargs, a, b, c):
    # min_D 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2];  min_G 1/2 E[(D(G(z)) - c)^2]
    d_expected = 0.5 * mean((r - b) ** 2 for r in REAL_VALUES) + 0.5 * mean((f - a) ** 2 for f in FAKE_VALUES)
    g_expected = 0.5 * mean((f - c) ** 2 for f in FAKE_VALUES)
    check(make_objective("least_squares", **kwargs), d_expected, g_expected)


def test_least_squares_default_coding_in_numbers():
    # 1/2 (1 + 4)/2 + 1/2 (0.25 + 9)/2 and 1/2 (0.25 + 16)/2
    check(make_objective("least_squares"), 3.5625, 4.0625)


def test_wasserstein_critic_and_generator():
    # critic: E[f(G(z))] - E[f(x)] = (0.5 - 3)/2 - (2 - 1)/2; G: -E[f(G(z))]
    check(make_objective("wasserstein"), -1.75, 1.25)


def test_hinge():
    # D: E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))] = (0 + 2)/2 + (1.5 + 0)/2; G: -E[D(G(z))]
    check(make_objective("hinge"), 1.75, 1.25)


# ------------------------------------------------------------------------------------ relativistic


def test_rsgan_compares_each_real_with_its_paired_fake():
    # L_D = -E[log sigmoid(C(x_r) - C(x_f))], L_G = -E[log sigmoid(C(x_f) - C(x_r))] over the pairs (2, 0.5), (-1, -3)
    pairs = list(zip(REAL_VALUES, FAKE_VALUES))
    d_expected = -mean(math.log(sigmoid(r - f)) for r, f in pairs)
    g_expected = -mean(math.log(sigmoid(f - r)) for r, f in pairs)
    check(make_objective("rsgan"), d_expected, g_expected)


# Relativistic average: reals are compared with the mean fake (-1.25), fakes with the mean real (0.5).
MEAN_REAL, MEAN_FAKE = 0.5, -1.25
REAL_VS_FAKES = [r - MEAN_FAKE for r in REAL_VALUES]  # C(x_r) - E C(x_f)
FAKE_VS_REALS = [f - MEAN_REAL for f in FAKE_VALUES]  # C(x_f) - E C(x_r)


def test_rasgan():
    # L_D = -E_r[log sigmoid(real_vs_fakes)] - E_f[log(1 - sigmoid(fake_vs_reals))]; L_G swaps real and fake
    d_expected = -mean(math.log(sigmoid(y)) for y in REAL_VS_FAKES) - mean(
        math.log(1 - sigmoid(y)) for y in FAKE_VS_REALS
    )
    g_expected = -mean(math.log(sigmoid(y)) for y in FAKE_VS_REALS) - mean(
        math.log(1 - sigmoid(y)) for y in REAL_VS_FAKES
    )
    check(make_objective("rasgan"), d_expected, g_expected)


def test_ralsgan():
    # L_D = E_r[(real_vs_fakes - 1)^2] + E_f[(fake_vs_reals + 1)^2]; L_G swaps real and fake
    d_expected = mean((y - 1) ** 2 for y in REAL_VS_FAKES) + mean((y + 1) ** 2 for y in FAKE_VS_REALS)
    g_expected = mean((y - 1) ** 2 for y in FAKE_VS_REALS) + mean((y + 1) ** 2 for y in REAL_VS_FAKES)
    check(make_objective("ralsgan"), d_expected, g_expected)


def test_rahinge():
    # L_D = E_r[max(0, 1 - real_vs_fakes)] + E_f[max(0, 1 + fake_vs_reals)]; L_G swaps real and fake
    d_expected = mean(max(0, 1 - y) for y in REAL_VS_FAKES) + mean(max(0, 1 + y) for y in FAKE_VS_REALS)
    g_expected = mean(max(0, 1 - y) for y in FAKE_VS_REALS) + mean(max(0, 1 + y) for y in REAL_VS_FAKES)
    check(make_objective("rahinge"), d_expected, g_expected)


def test_relativistic_average_in_numbers():
    # reals vs mean fake: 3.25, 0.25; fakes vs mean real: 0, -3.5
    assert REAL_VS_FAKES == [3.25, 0.25] and FAKE_VS_REALS == [0.0, -3.5]
    check(
        make_objective("ralsgan"),
        (2.25**2 + 0.75**2) / 2 + (1 + 2.5**2) / 2,
        (1 + 4.5**2) / 2 + (4.25**2 + 1.25**2) / 2,
    )


@pytest.mark.parametrize("name", RELATIVISTIC)
def test_relativistic_generators_need_the_real_outputs(name):
    objective = make_objective(name)
    assert objective.g_needs_real
    with pytest.raises(ZooError, match="real_out"):
        objective.g_loss(FAKE)


def test_only_relativistic_objectives_need_real_outputs_for_g():
    assert {name for name, cls in OBJECTIVES.items() if cls.g_needs_real} == set(RELATIVISTIC)


# ------------------------------------------------------------------------------------ f-GAN

# Nowozin et al. 2016, Table 1: the generator f(u) of each divergence.
TABLE_1_F = {
    "total_variation": lambda u: 0.5 * abs(u - 1),
    "kl": lambda u: u * math.log(u),
    "reverse_kl": lambda u: -math.log(u),
    "pearson": lambda u: (u - 1) ** 2,
    "neyman": lambda u: (1 - u) ** 2 / u,
    "squared_hellinger": lambda u: (math.sqrt(u) - 1) ** 2,
    "jeffrey": lambda u: (u - 1) * math.log(u),
    "jensen_shannon": lambda u: -(u + 1) * math.log((1 + u) / 2) + u * math.log(u),
    "gan": lambda u: u * math.log(u) - (u + 1) * math.log(u + 1),
}

# Table 2: output activation g_f(v) and conjugate f*(t). Jeffrey's f* needs Lambert W: checked separately below.
TABLE_2 = {
    "total_variation": (lambda v: 0.5 * math.tanh(v), lambda t: t),
    "kl": (lambda v: v, lambda t: math.exp(t - 1)),
    "reverse_kl": (lambda v: -math.exp(-v), lambda t: -1 - math.log(-t)),
    "pearson": (lambda v: v, lambda t: 0.25 * t * t + t),
    "neyman": (lambda v: 1 - math.exp(-v), lambda t: 2 - 2 * math.sqrt(1 - t)),
    "squared_hellinger": (lambda v: 1 - math.exp(-v), lambda t: t / (1 - t)),
    "jensen_shannon": (lambda v: math.log(2) - math.log(1 + math.exp(-v)), lambda t: -math.log(2 - math.exp(t))),
    "gan": (lambda v: -math.log(1 + math.exp(-v)), lambda t: -math.log(1 - math.exp(t))),
}

# Table 2: dom f*, which g_f must map R into.
DOM_F_STAR = {
    "total_variation": lambda t: t.abs() <= 0.5,
    "kl": torch.isfinite,
    "reverse_kl": lambda t: t < 0,
    "pearson": torch.isfinite,
    "neyman": lambda t: t < 1,
    "squared_hellinger": lambda t: t < 1,
    "jeffrey": torch.isfinite,
    "jensen_shannon": lambda t: t < math.log(2),
    "gan": lambda t: t < 0,
}

U_VALUES = (0.3, 0.8, 1.5, 4.0)  # inside dom f = (0, inf) for every divergence; u = 1 is TV's kink


def test_the_tables_cover_every_divergence():
    assert set(TABLE_1_F) == set(DOM_F_STAR) == set(F_DIVERGENCES) == set(TABLE_2) | {"jeffrey"}


@pytest.mark.parametrize("name", sorted(TABLE_2))
def test_fgan_losses_follow_eq_6_and_the_recommended_generator(name):
    g_f, f_star = TABLE_2[name]
    # D maximizes E_real[g_f(v)] - E_fake[f*(g_f(v))]; G maximizes E_fake[g_f(v)] (Sec. 3.2)
    d_expected = -(mean(g_f(v) for v in REAL_VALUES) - mean(f_star(g_f(v)) for v in FAKE_VALUES))
    g_expected = -mean(g_f(v) for v in FAKE_VALUES)
    check(make_objective("fgan", divergence=name), d_expected, g_expected)


def test_fgan_jeffrey_losses():
    # g_f(v) = v. At t = f'(u) = log u + 1 - 1/u, W(e^(1-t)) = W(e^(1/u) / u) = 1/u, so
    # f*(t) = 1/u + u + t - 2 = u + log u - 1.
    us = (0.5, 2.0)
    fake = [math.log(u) + 1 - 1 / u for u in us]
    objective = make_objective("fgan", divergence="jeffrey")
    d_expected = -(mean(REAL_VALUES) - mean(u + math.log(u) - 1 for u in us))
    assert objective.d_loss(REAL, torch.tensor(fake)).item() == pytest.approx(d_expected, rel=1e-6)
    assert objective.g_loss(torch.tensor(fake)).item() == pytest.approx(-mean(fake), rel=1e-6)


@pytest.mark.parametrize("name", sorted(F_DIVERGENCES))
def test_f_matches_table_1_and_f_prime_is_its_derivative(name):
    div = F_DIVERGENCES[name]
    u = torch.tensor(U_VALUES, dtype=torch.float64, requires_grad=True)
    values = div.f(u)
    assert values.tolist() == pytest.approx([TABLE_1_F[name](x) for x in U_VALUES], rel=1e-12)
    (grad,) = torch.autograd.grad(values.sum(), u)
    assert div.f_prime(u.detach()).tolist() == pytest.approx(grad.tolist(), rel=1e-12)


@pytest.mark.parametrize("name", sorted(F_DIVERGENCES))
def test_fenchel_identity(name):
    # f*(f'(u)) = u f'(u) - f(u): the supremum defining f* is attained where the slope of f is t
    div = F_DIVERGENCES[name]
    u = torch.tensor(U_VALUES, dtype=torch.float64)
    slope = div.f_prime(u)
    assert div.f_star(slope).tolist() == pytest.approx((u * slope - div.f(u)).tolist(), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("name", sorted(F_DIVERGENCES))
def test_output_activation_lands_in_the_conjugate_domain(name):
    div = F_DIVERGENCES[name]
    v = torch.linspace(-10, 10, 201, dtype=torch.float64)
    t = div.g_f(v)
    assert DOM_F_STAR[name](t).all()
    assert torch.isfinite(div.f_star(t)).all()
    # the simplified f*(g_f(v)) the loss uses is the composition
    assert div.conjugate_of_activation(v).tolist() == pytest.approx(div.f_star(t).tolist(), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("name", sorted(F_DIVERGENCES))
def test_d_loss_at_the_equilibrium_critic_is_minus_f_of_one(name):
    # With P = Q the optimal critic is T = f'(1) everywhere, and -F = -(f'(1) - f*(f'(1))) = -f(1) = -D_f(P || P).
    # g_f(v) = f'(1) at v = 1 for KL (f'(1) = 1) and at v = 0 for the others (Table 2's f'(1) column:
    # 0 for most, -1 for reverse KL: -exp(-0); -log 2 for GAN: -log(1 + e^0)).
    v = torch.full((3,), 1.0 if name == "kl" else 0.0)
    assert make_objective("fgan", divergence=name).d_loss(v, v).item() == pytest.approx(-TABLE_1_F[name](1.0), abs=1e-6)


def test_fgan_gan_divergence_is_exactly_the_standard_gan():
    # g_f(v) = log sigmoid(v) and f*(g_f(v)) = -log(1 - sigmoid(v)): -F is the binary cross-entropy of D, with no
    # constant offset. The log(4) of Goodfellow et al. is the value of D_f at P = Q: f(1) = -log 4, i.e. the D loss
    # above at v = 0 equals log 4, and D_f^GAN = 2 JS - log 4.
    fgan, standard = make_objective("fgan", divergence="gan"), make_objective("non_saturating")
    assert fgan.d_loss(REAL, FAKE).item() == pytest.approx(standard.d_loss(REAL, FAKE).item(), rel=1e-6)
    assert fgan.g_loss(FAKE).item() == pytest.approx(standard.g_loss(FAKE).item(), rel=1e-6)
    assert TABLE_1_F["gan"](1.0) == pytest.approx(-math.log(4))


@pytest.mark.parametrize("name", sorted(F_DIVERGENCES))
def test_fgan_losses_and_gradients_stay_finite_for_large_outputs(name):
    objective = make_objective("fgan", divergence=name)
    real = torch.linspace(-60, 60, 121, requires_grad=True)
    fake = torch.linspace(-60, 60, 121, requires_grad=True)
    d_loss, g_loss = objective.d_loss(real, fake), objective.g_loss(fake)
    grads = torch.autograd.grad(d_loss + g_loss, (real, fake))
    assert torch.isfinite(d_loss) and torch.isfinite(g_loss)
    assert all(torch.isfinite(g).all() for g in grads)


def test_log_lambert_w_of_exp():
    # W(e) = 1, W(2 e^2) = 2, W(1) = Omega (the omega constant), and w + log w = z everywhere
    z = torch.tensor([1.0, math.log(2) + 2, 0.0], dtype=torch.float64)
    assert log_lambert_w_of_exp(z).exp().tolist() == pytest.approx([1.0, 2.0, 0.5671432904097838], rel=1e-12)
    z = torch.linspace(-100, 100, 2001, dtype=torch.float64, requires_grad=True)
    log_w = log_lambert_w_of_exp(z)
    assert torch.allclose(log_w.exp() + log_w, z.detach(), rtol=1e-12, atol=1e-12)
    # implicit derivative of log w = z - w: d(log w)/dz = 1 / (1 + w)
    (grad,) = torch.autograd.grad(log_w.sum(), z)
    assert torch.allclose(grad, 1 / (1 + log_w.detach().exp()), rtol=1e-12)


# ------------------------------------------------------------------------------------ registry


def test_make_objective_knows_every_name():
    names = {"least_squares", "wasserstein", "hinge", "fgan", *RELATIVISTIC}
    assert names <= set(OBJECTIVES)
    for name in names:
        assert make_objective(name).name == name


def test_unknown_f_divergence_lists_the_valid_ones():
    with pytest.raises(ZooError) as error:
        make_objective("fgan", divergence="kullback_leibler")
    assert all(name in str(error.value) for name in F_DIVERGENCES)
