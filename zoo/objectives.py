"""Adversarial objectives as small objects with ``d_loss`` and ``g_loss``.

Every objective takes discriminator outputs (raw logits or critic values, shape ``(N,)``) and returns a
scalar loss that the player minimizes. ``GANModule`` calls them; penalties are added separately.
Each objective subclasses ``Objective`` and registers itself with ``@register_objective``: the logistic
games of the original GAN, least squares, Wasserstein, hinge, the relativistic family and f-GAN.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from zoo.errors import ZooError

OBJECTIVES: dict[str, type[Objective]] = {}


def register_objective(name: str):
    """Class decorator that makes an objective selectable as ``--model.objective NAME``."""

    def add(cls):
        OBJECTIVES[name] = cls
        cls.name = name
        return cls

    return add


def make_objective(name: str, **kwargs) -> Objective:
    """Builds the objective registered under ``name``; unknown names list the valid ones."""
    if name not in OBJECTIVES:
        raise ZooError(f"unknown objective '{name}'; choose one of: {', '.join(sorted(OBJECTIVES))}")
    return OBJECTIVES[name](**kwargs)


class Objective:
    """The adversarial game. ``g_loss`` receives ``real_out`` only if ``g_needs_real`` is true
    (relativistic objectives compare fake against real outputs)."""

    name = "objective"
    g_needs_real = False

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        raise NotImplementedError

    def g_loss(self, fake_out: Tensor, real_out: Tensor | None = None) -> Tensor:
        raise NotImplementedError


class _LogisticObjective(Objective):
    """The discriminator of Goodfellow et al. 2014 (Eq. 1): D = sigmoid(logit), trained by binary
    cross-entropy, max log D(x) + log(1 - D(G(z))).

    ``label_smoothing`` is one-sided label smoothing (Salimans et al. 2016, Sec. 3.4): the real target
    becomes ``1 - label_smoothing``; fake targets stay 0.
    """

    def __init__(self, label_smoothing: float = 0.0):
        if not 0.0 <= label_smoothing < 1.0:
            raise ZooError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.label_smoothing = label_smoothing

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        real_target = torch.full_like(real_out, 1.0 - self.label_smoothing)
        real_term = F.binary_cross_entropy_with_logits(real_out, real_target)
        # -log(1 - sigmoid(x)) == softplus(x)
        return real_term + F.softplus(fake_out).mean()


@register_objective("minimax")
class MinimaxGAN(_LogisticObjective):
    """The original minimax game (Goodfellow et al. 2014, Eq. 1): G minimizes log(1 - D(G(z))),
    i.e. ``-softplus(fake_logit)``. Saturates early in training when D rejects fakes confidently."""

    def g_loss(self, fake_out: Tensor, real_out: Tensor | None = None) -> Tensor:
        return -F.softplus(fake_out).mean()


@register_objective("non_saturating")
class NonSaturatingGAN(_LogisticObjective):
    """The non-saturating heuristic (Goodfellow et al. 2014, Sec. 3): G maximizes log D(G(z)),
    i.e. minimizes ``softplus(-fake_logit)``. Same fixed point, strong gradients early on."""

    def g_loss(self, fake_out: Tensor, real_out: Tensor | None = None) -> Tensor:
        return F.softplus(-fake_out).mean()


@register_objective("least_squares")
class LeastSquaresGAN(Objective):
    """LSGAN (Mao et al. 2017, "Least Squares Generative Adversarial Networks", Eq. 2) with the a-b-c coding:
    D minimizes 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2] and G minimizes 1/2 E[(D(G(z)) - c)^2].

    The default a=0, b=1, c=1 is the 0-1-1 coding of Eq. 9; a=-1, b=1, c=0 is Eq. 8, a coding for which the game
    minimizes the Pearson chi^2 divergence (b - c = 1, b - a = 2).
    """

    def __init__(self, a: float = 0.0, b: float = 1.0, c: float = 1.0):
        self.a, self.b, self.c = a, b, c

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return 0.5 * (real_out - self.b).square().mean() + 0.5 * (fake_out - self.a).square().mean()

    def g_loss(self, fake_out: Tensor, real_out: Tensor | None = None) -> Tensor:
        return 0.5 * (fake_out - self.c).square().mean()


class _CriticObjective(Objective):
    """Objectives whose D is an unbounded critic and whose G simply raises the critic's value of its samples:
    G minimizes -E[D(G(z))]."""

    def g_loss(self, fake_out: Tensor, real_out: Tensor | None = None) -> Tensor:
        return -fake_out.mean()


@register_objective("wasserstein")
class WassersteinGAN(_CriticObjective):
    """WGAN (Arjovsky et al. 2017, "Wasserstein GAN", Algorithm 1): the critic ascends
    E[f(x)] - E[f(G(z))], so it minimizes E[f(G(z))] - E[f(x)]; G descends -E[f(G(z))].
    The Lipschitz constraint (weight clipping, or a gradient penalty) is the model entry's job."""

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return fake_out.mean() - real_out.mean()


@register_objective("hinge")
class HingeGAN(_CriticObjective):
    """Hinge loss (Lim & Ye 2017, "Geometric GAN"; Miyato et al. 2018, SNGAN Eq. 16; used by BigGAN):
    D minimizes E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]; G minimizes -E[D(G(z))]."""

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return F.relu(1.0 - real_out).mean() + F.relu(1.0 + fake_out).mean()


@register_objective("energy")
class EnergyGAN(Objective):
    """EBGAN's margin losses (Zhao et al. 2017, Eq. 1-2) on energies, D's outputs being energies (low on data):
    D minimizes E[D(x)] + E[max(0, m - D(G(z)))] and G minimizes E[D(G(z))]."""

    def __init__(self, margin: float = 1.0):
        if margin <= 0:
            raise ZooError(f"the energy margin must be > 0, got {margin}")
        self.margin = margin

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return real_out.mean() + F.relu(self.margin - fake_out).mean()

    def g_loss(self, fake_out: Tensor, real_out: Tensor | None = None) -> Tensor:
        return fake_out.mean()


class _RelativisticObjective(Objective):
    """Relativistic GANs (Jolicoeur-Martineau 2018, "The relativistic discriminator: a key element missing from
    standard GAN", arXiv 1807.00734, Sec. 4): D estimates how much more realistic real data is than fake data,
    and G's loss is D's with the roles of real and fake swapped, so G needs D(real) too.

    Subclasses define ``relative_loss(first, second)``: the loss of the player that wants the outputs ``first``
    judged more realistic than ``second`` (D calls it with (real, fake), G with (fake, real)).
    """

    g_needs_real = True

    def relative_loss(self, first: Tensor, second: Tensor) -> Tensor:
        raise NotImplementedError

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return self.relative_loss(real_out, fake_out)

    def g_loss(self, fake_out: Tensor, real_out: Tensor | None = None) -> Tensor:
        if real_out is None:
            raise ZooError(f"objective '{self.name}' compares fakes with reals: its g_loss needs real_out")
        return self.relative_loss(fake_out, real_out)


@register_objective("rsgan")
class RelativisticStandardGAN(_RelativisticObjective):
    """RSGAN (Jolicoeur-Martineau 2018, Sec. 4.1): D(x_r, x_f) = sigmoid(C(x_r) - C(x_f)) on pairs;
    L_D = -E[log sigmoid(C(x_r) - C(x_f))] and L_G = -E[log sigmoid(C(x_f) - C(x_r))].
    The pairs are (real_out[i], fake_out[i]), so both batches must have the same size."""

    def relative_loss(self, first: Tensor, second: Tensor) -> Tensor:
        # -log sigmoid(first - second) == softplus(second - first)
        return F.softplus(second - first).mean()


class _RelativisticAverageObjective(_RelativisticObjective):
    """Relativistic average GANs (Jolicoeur-Martineau 2018, Sec. 4.3, the RaD): each real output is compared with
    the mean fake output and each fake with the mean real one,
    L_D = E_r[f1(C(x_r) - E_f C(x_f))] + E_f[f2(C(x_f) - E_r C(x_r))], and L_G is the same with real and fake
    swapped. ``f1`` pushes its argument up (towards "more realistic"), ``f2`` pushes it down. The means are not
    detached: as in the paper, gradients flow through them."""

    @staticmethod
    def f1(y: Tensor) -> Tensor:
        raise NotImplementedError

    @staticmethod
    def f2(y: Tensor) -> Tensor:
        raise NotImplementedError

    def relative_loss(self, first: Tensor, second: Tensor) -> Tensor:
        return self.f1(first - second.mean()).mean() + self.f2(second - first.mean()).mean()


@register_objective("rasgan")
class RelativisticAverageStandardGAN(_RelativisticAverageObjective):
    """RaSGAN (Jolicoeur-Martineau 2018, Sec. 4.3): f1(y) = -log sigmoid(y), f2(y) = -log(1 - sigmoid(y)),
    written with softplus for numerical stability."""

    @staticmethod
    def f1(y: Tensor) -> Tensor:
        return F.softplus(-y)

    @staticmethod
    def f2(y: Tensor) -> Tensor:
        return F.softplus(y)


@register_objective("ralsgan")
class RelativisticAverageLeastSquaresGAN(_RelativisticAverageObjective):
    """RaLSGAN (Jolicoeur-Martineau 2018, Sec. 4.3, with the least-squares f1, f2):
    f1(y) = (y - 1)^2, f2(y) = (y + 1)^2. As in the paper, the two expectations are summed, not halved."""

    @staticmethod
    def f1(y: Tensor) -> Tensor:
        return (y - 1.0).square()

    @staticmethod
    def f2(y: Tensor) -> Tensor:
        return (y + 1.0).square()


@register_objective("rahinge")
class RelativisticAverageHingeGAN(_RelativisticAverageObjective):
    """RaHingeGAN (Jolicoeur-Martineau 2018, Sec. 4.3, with the hinge f1, f2):
    f1(y) = max(0, 1 - y), f2(y) = max(0, 1 + y)."""

    @staticmethod
    def f1(y: Tensor) -> Tensor:
        return F.relu(1.0 - y)

    @staticmethod
    def f2(y: Tensor) -> Tensor:
        return F.relu(1.0 + y)


# ---------------------------------------------------------------------------------------------------- f-GAN

LAMBERT_W_NEWTON_STEPS = 6


def log_lambert_w_of_exp(z: Tensor) -> Tensor:
    """log W(exp(z)) for the principal branch of the Lambert W function, for any real z without overflow.

    y = log W(e^z) solves e^y + y = z (from w e^w = e^z); Newton's method on this convex increasing function
    converges from any start at or above the root, here y0 = z for z <= 1 and log z above (W(e^z) <= e^z and, for
    z >= 1, W(e^z) <= z). Six steps reach float64 precision on z in [-200, 200]. All but the last run without
    autograd; the last one, taken from the converged root, carries the exact implicit gradient dy/dz = 1 / (1 + w).
    """
    with torch.no_grad():
        y = torch.where(z > 1, z.clamp(min=1).log(), z)
        for _ in range(LAMBERT_W_NEWTON_STEPS - 1):
            y = _newton_step_log_w(y, z)
    return _newton_step_log_w(y, z)


def _newton_step_log_w(y: Tensor, z: Tensor) -> Tensor:
    """One Newton step on e^y + y - z = 0."""
    e = y.exp()
    return y - (e + y - z) / (e + 1)


def _jeffrey_conjugate(t: Tensor) -> Tensor:
    """f*(t) = W(e^(1-t)) + 1 / W(e^(1-t)) + t - 2 (Nowozin et al. 2016, Table 2, Jeffrey), computed as
    2 cosh(log W) + t - 2 so that neither W nor 1/W (about e^(t-1) for large t) is squared by autograd."""
    return 2 * torch.cosh(log_lambert_w_of_exp(1 - t)) + t - 2


@dataclass(frozen=True)
class FDivergence:
    """One f-divergence of Nowozin et al. 2016 ("f-GAN: Training Generative Neural Samplers using Variational
    Divergence Minimization"): the generator ``f`` (Table 1), its derivative ``f_prime`` (the optimal critic is
    T*(x) = f'(p(x)/q(x))), the output activation ``g_f`` mapping R into dom f* and the Fenchel conjugate
    ``f_star`` (Table 2; valid on dom f*).

    ``f_star_g_f`` is f*(g_f(v)) in a simplified closed form where composing the two functions loses precision
    (in float32, squared Hellinger's t / (1 - t) at t = 1 - e^(-v) is inf from v ~ 17 on and Jensen-Shannon's
    composition from v ~ 20 on, while expm1(v) and softplus(v) - log 2 are exact); left out, the composition is
    used.
    """

    f: Callable[[Tensor], Tensor]
    f_prime: Callable[[Tensor], Tensor]
    g_f: Callable[[Tensor], Tensor]
    f_star: Callable[[Tensor], Tensor]
    f_star_g_f: Callable[[Tensor], Tensor] | None = None

    def conjugate_of_activation(self, v: Tensor) -> Tensor:
        """f*(g_f(v)), the per-sample term of the fake expectation in Eq. 6."""
        return self.f_star_g_f(v) if self.f_star_g_f is not None else self.f_star(self.g_f(v))


LOG2 = math.log(2.0)

F_DIVERGENCES: dict[str, FDivergence] = {
    "total_variation": FDivergence(
        f=lambda u: 0.5 * (u - 1).abs(),
        f_prime=lambda u: 0.5 * torch.sign(u - 1),
        g_f=lambda v: 0.5 * torch.tanh(v),
        f_star=lambda t: t,
    ),
    "kl": FDivergence(
        f=lambda u: torch.xlogy(u, u),
        f_prime=lambda u: u.log() + 1,
        g_f=lambda v: v,
        f_star=lambda t: torch.exp(t - 1),
    ),
    "reverse_kl": FDivergence(
        f=lambda u: -u.log(),
        f_prime=lambda u: -1 / u,
        g_f=lambda v: -torch.exp(-v),
        f_star=lambda t: -1 - torch.log(-t),
        f_star_g_f=lambda v: v - 1,
    ),
    "pearson": FDivergence(
        f=lambda u: (u - 1).square(),
        f_prime=lambda u: 2 * (u - 1),
        g_f=lambda v: v,
        f_star=lambda t: 0.25 * t.square() + t,
    ),
    "neyman": FDivergence(
        f=lambda u: (1 - u).square() / u,
        f_prime=lambda u: 1 - u.pow(-2),
        g_f=lambda v: -torch.expm1(-v),
        f_star=lambda t: 2 - 2 * torch.sqrt(1 - t),
        f_star_g_f=lambda v: 2 - 2 * torch.exp(-0.5 * v),
    ),
    "squared_hellinger": FDivergence(
        f=lambda u: (u.sqrt() - 1).square(),
        f_prime=lambda u: 1 - u.rsqrt(),
        g_f=lambda v: -torch.expm1(-v),
        f_star=lambda t: t / (1 - t),
        f_star_g_f=torch.expm1,
    ),
    "jeffrey": FDivergence(
        f=lambda u: (u - 1) * u.log(),
        f_prime=lambda u: u.log() + 1 - 1 / u,
        g_f=lambda v: v,
        f_star=_jeffrey_conjugate,
    ),
    "jensen_shannon": FDivergence(
        f=lambda u: -(u + 1) * torch.log((1 + u) / 2) + torch.xlogy(u, u),
        f_prime=lambda u: torch.log(2 * u / (1 + u)),
        g_f=lambda v: LOG2 - F.softplus(-v),
        f_star=lambda t: -torch.log(2 - t.exp()),
        f_star_g_f=lambda v: F.softplus(v) - LOG2,
    ),
    "gan": FDivergence(
        f=lambda u: torch.xlogy(u, u) - (u + 1) * torch.log1p(u),
        f_prime=lambda u: torch.log(u / (u + 1)),
        g_f=lambda v: -F.softplus(-v),
        f_star=lambda t: -torch.log(-torch.expm1(t)),
        f_star_g_f=F.softplus,
    ),
}


@register_objective("fgan")
class FGAN(Objective):
    """f-GAN (Nowozin et al. 2016, Eq. 6): with T(x) = g_f(V(x)) for the raw output V, the variational bound
    F = E_real[g_f(V(x))] - E_fake[f*(g_f(V(x)))] is maximized by D, so D minimizes -F.

    G uses the alternative the paper recommends in Sec. 3.2 (the analogue of the non-saturating GAN heuristic):
    it maximizes E_fake[g_f(V(x))] rather than minimizing F (whose G-dependent part is -E_fake[f*(g_f(V(x)))],
    the saturating form), so it minimizes -E_fake[g_f(V(x))]. With ``divergence="gan"`` both losses equal those
    of ``non_saturating``.
    """

    def __init__(self, divergence: str = "kl"):
        if divergence not in F_DIVERGENCES:
            raise ZooError(f"unknown f-divergence '{divergence}'; choose one of: {', '.join(sorted(F_DIVERGENCES))}")
        self.divergence = F_DIVERGENCES[divergence]

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return self.divergence.conjugate_of_activation(fake_out).mean() - self.divergence.g_f(real_out).mean()

    def g_loss(self, fake_out: Tensor, real_out: Tensor | None = None) -> Tensor:
        return -self.divergence.g_f(fake_out).mean()
