"""Adversarial objectives as small objects with ``d_loss`` and ``g_loss``.

Every objective takes discriminator outputs (raw logits or critic values, shape ``(N,)``) and returns a
scalar loss that the player minimizes. ``GANModule`` calls them; penalties are added separately.
New objectives (hinge, Wasserstein, least squares, relativistic, f-divergences) subclass
``Objective`` and register themselves with ``@register_objective``.
"""

from __future__ import annotations

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
