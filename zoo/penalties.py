"""Regularizers added to a player's loss: gradient penalties on the critic (WGAN-GP, DRAGAN, R1, R2),
BigGAN's orthogonal regularization, MSGAN's mode-seeking term, and StyleGAN2's lazy schedule.

Conventions shared by every function here:

* Each returns the term exactly as it enters the loss, its weight applied, with the paper's weight as the
  default (lambda, gamma / 2, beta); ``weight=1`` (``gamma=2`` for R1/R2) gives the bare expectation.
* Gradient penalties take ``critic``, a callable mapping a batch to one output per sample, so conditional
  entries pass ``lambda x: self.discriminate(x, y)``. Per-sample gradients assume the critic treats samples
  independently (no batch norm in training mode, as Gulrajani et al. 2017, Sec. 4 note).
* The input gradient comes from ``torch.autograd.grad(..., create_graph=True)``: the penalty stays a function
  of the critic's parameters and ONE ``backward`` of (loss + penalty) trains on both. A separate
  ``backward(create_graph=True)`` would be a second backward pass per step, and DDP reduces gradients on every
  backward pass (its hooks fire once per parameter per pass).
* Penalties compute in float32 with autocast off, whatever precision the surrounding step runs in: Lightning's
  mixed precision scales the loss given to ``manual_backward`` but not an inner ``autograd.grad``, so fp16 input
  gradients underflow, and squared gradient norms overflow fp16 (max 65504) or lose all but ~3 digits in bf16.
* Inputs are detached: a penalty regularizes the critic, never whatever produced the critic's inputs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from zoo.errors import ZooError

Critic = Callable[[Tensor], Tensor]


def _full_precision(device: torch.device):
    """Autocast off for the block (the module docstring says why)."""
    return torch.autocast(device_type=device.type, enabled=False)


def _uniform(shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None) -> Tensor:
    """U[0, 1) samples on ``like``'s device, drawn on ``generator``'s device when one is given."""
    device = generator.device if generator is not None else like.device
    return torch.rand(shape, generator=generator, device=device).to(like.device)


def _gradient_norms(critic: Critic, x: Tensor) -> Tensor:
    """Per-sample ||grad_x critic(x)||_2 in float32, differentiable w.r.t. the critic's parameters."""
    with _full_precision(x.device):
        x = x.detach().float().requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
        return torch.linalg.vector_norm(grad.flatten(1), dim=1)


def gradient_penalty(
    critic: Critic,
    real: Tensor,
    fake: Tensor,
    weight: float = 10.0,
    target: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP's penalty (Gulrajani et al. 2017, Eq. 3 and Algorithm 1, lines 4-7):
    weight * E[(||grad_x D(x_hat)||_2 - target)^2] at x_hat = eps * real + (1 - eps) * fake, with one
    eps ~ U[0, 1] per sample, so every x_hat lies on the segment between a real and a fake sample.

    Args:
        critic: maps a batch to one output per sample.
        real: a real batch.
        fake: a generated batch of the same shape.
        weight: lambda (10 in the paper).
        target: the gradient norm the critic is pulled towards; 1 is the paper's 1-Lipschitz constraint.
            PGGAN's CIFAR-10 runs (Karras et al. 2018) use target 750 with weight 10 / 750**2.
        generator: draws eps (reproducible runs); None: the global RNG.
    """
    if real.shape != fake.shape:
        raise ZooError(f"gradient_penalty needs real and fake batches of one shape, got {real.shape} and {fake.shape}")
    eps = _uniform((real.shape[0],) + (1,) * (real.dim() - 1), real, generator)
    x_hat = eps * real + (1 - eps) * fake
    return weight * (_gradient_norms(critic, x_hat) - target).square().mean()


def dragan_penalty(
    critic: Critic,
    real: Tensor,
    c: float = 0.5,
    weight: float = 10.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """DRAGAN's penalty (Kodali et al. 2017, "On Convergence and Stability of GANs", Sec. 5):
    weight * E[(||grad_x D(x_hat)||_2 - 1)^2] at points x_hat around the real data.

    Follows the authors' reference code (github.com/kodalinaveen3/DRAGAN) rather than the paper's text, which
    writes x_hat = x + delta with delta ~ N(0, cI). The code perturbs x_p = x + c * std(x) * u, with
    u ~ U[0, 1] per element and std the population standard deviation of the whole batch (all samples and
    pixels, so it depends on the batch), then takes the gradient at a per-sample random point of the segment
    [x, x_p]: WGAN-GP's penalty with x_p in place of the fakes, which is how it is computed here.

    Args:
        critic: maps a batch to one output per sample.
        real: a real batch.
        c: size of the perturbed region in units of the batch's standard deviation (0.5 in the code).
        weight: lambda (10 in the code).
        generator: draws the noise and the interpolation points; None: the global RNG.
    """
    real = real.float()
    perturbed = real + c * real.std(correction=0) * _uniform(real.shape, real, generator)
    return gradient_penalty(critic, real, perturbed, weight=weight, generator=generator)


def r1_penalty(critic: Critic, real: Tensor, gamma: float = 10.0) -> Tensor:
    """R1 (Mescheder et al. 2018, "Which Training Methods for GANs do actually Converge?", Eq. 9):
    (gamma / 2) * E_{x ~ p_data}[||grad_x D(x)||^2], the critic's gradient penalized on real data.

    Returned with gamma / 2 applied (gamma = 10 as in their experiments and StyleGAN2's FFHQ setup); gamma = 2
    gives the bare expectation. For StyleGAN2's lazy schedule, multiply by ``LazyPenalty.factor``.
    """
    return gamma / 2 * _gradient_norms(critic, real).square().mean()


def r2_penalty(critic: Critic, fake: Tensor, gamma: float = 10.0) -> Tensor:
    """R2 (Mescheder et al. 2018, Eq. 10): (gamma / 2) * E_{x ~ p_G}[||grad_x D(x)||^2], R1 on generated data."""
    return r1_penalty(critic, fake, gamma)


def drift_penalty(critic: Critic, real: Tensor, epsilon: float = 1e-3) -> Tensor:
    """PGGAN's drift term (Karras et al. 2018, "Progressive Growing of GANs", App. A.1): epsilon * E[D(x)^2] on
    real data, epsilon = 1e-3, which keeps a Wasserstein critic's outputs from drifting far from zero."""
    with _full_precision(real.device):
        return epsilon * critic(real.detach().float()).square().mean()


def path_length_penalty(
    images: Tensor,
    ws: Tensor,
    mean: Tensor,
    weight: float = 2.0,
    decay: float = 0.01,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """StyleGAN2's path length regularization (Karras et al. 2020, Sec. 3.2, Eq. 4, and App. B):
    weight * E_{w, y}[(||J_w^T y||_2 - a)^2] with y ~ N(0, I) / sqrt(H W) an image-sized random direction and
    J_w the generator's Jacobian at the styles ``ws``, computed as grad_ws <images, y>. As in the authors' code,
    ||J_w^T y||_2 is sqrt(mean over the num_ws layers of the sum of squares over w's dims), and the target a is
    the running mean of the lengths, updated before use: a <- lerp(mean, E[lengths], decay). As in NVlabs'
    stylegan2-ada-pytorch (training/loss.py, ``pl_mean.lerp(pl_lengths.mean(), pl_decay)``), that target is not
    detached inside the penalty: its decay * E[lengths] part carries gradient; only the stored mean is a constant.

    Args:
        images: generator output (N, C, H, W), differentiable w.r.t. ``ws``.
        ws: the styles that produced them, (N, num_ws, w_dim).
        mean: the current running mean a (a scalar tensor; 0 before the first update).
        weight: the regularization weight (2 in StyleGAN2-ADA).
        decay: the running mean's update rate (0.01).
        generator: draws y; None: the global RNG.

    Returns:
        (the term, its weight applied; the new running mean, detached, for the caller to store). Gradients flow
        into the generator, through the lengths and through the target's decay * E[lengths].
    """
    with _full_precision(images.device):
        device = generator.device if generator is not None else images.device
        directions = torch.randn(images.shape, generator=generator, device=device).to(images.device)
        directions = directions / (images.shape[2] * images.shape[3]) ** 0.5
        (grad,) = torch.autograd.grad((images.float() * directions).sum(), ws, create_graph=True)
        lengths = grad.float().square().sum(dim=2).mean(dim=1).sqrt()
        new_mean = mean.lerp(lengths.mean(), decay)
        return weight * (lengths - new_mean).square().mean(), new_mean.detach()


@dataclass(frozen=True)
class LazyPenalty:
    """Lazy regularization (Karras et al. 2020, StyleGAN2, Sec. 3.1 and App. B): a penalty evaluated only every
    ``interval``-th minibatch and multiplied there by ``factor`` = ``interval``, so that its average gradient
    is that of a penalty on every minibatch.

    Steps count the minibatches the regularized network trains on, from 0 (``GANModule.iterations`` for D):
    interval 4 applies the penalty at steps 0, 4, 8, ... with factor 4; interval 1 on every step, factor 1.

    Where the penalty runs: the shared loop (``GANModule``) adds it to the loss of the ordinary step, so k
    minibatches take k optimizer steps and need no correction. StyleGAN2's reference schedule (zoo/stylegan2.py,
    ``schedule="nvlabs"``) gives it a separate regularization step, k + 1 steps per k minibatches, and corrects
    Adam for the extra step with ``adam_correction``: lr * c and betas ** c, c = k / (k + 1) (NVlabs'
    stylegan2-ada-pytorch training/training_loop.py, ``mb_ratio``).
    """

    interval: int = 1

    def __post_init__(self):
        if self.interval < 1:
            raise ZooError(f"lazy regularization interval must be >= 1, got {self.interval}")

    def applies(self, step: int) -> bool:
        """Whether the penalty is evaluated at this step."""
        return step % self.interval == 0

    @property
    def factor(self) -> int:
        """What the penalty is multiplied by on the steps where it applies."""
        return self.interval

    @property
    def adam_correction(self) -> float:
        """c = k / (k + 1) for interval k > 1, the exponent of Adam's betas and the factor of its lr when the penalty
        takes its own optimizer step (NVlabs' training/training_loop.py, ``mb_ratio``); 1 for k = 1, where the
        penalty joins the main step (NVlabs' "both" phases, no lazy regularization)."""
        return self.interval / (self.interval + 1) if self.interval > 1 else 1.0


def _off_diagonal_gram_energy(weight: Tensor) -> Tensor:
    """||W W^T ⊙ (1 - I)||_F^2 with W the weight reshaped to (out, -1): one row per output unit's filter."""
    w = weight.float().reshape(weight.shape[0], -1)
    gram = w @ w.T
    off_diagonal = 1 - torch.eye(gram.shape[0], device=gram.device)
    return (gram * off_diagonal).square().sum()


def orthogonal_penalty(module: nn.Module, beta: float = 1e-4, include_embeddings: bool = False) -> Tensor:
    """BigGAN's orthogonal regularization (Brock et al. 2019, Sec. 3.1, Eq. 3):
    beta * sum_W ||W W^T ⊙ (1 - I)||_F^2 over the module's weight matrices. Conv weights are reshaped to
    (out, -1), one filter per row (the paper's W^T W has filters as columns). Only off-diagonal entries count:
    filters are pushed to be pairwise orthogonal while their norms stay free.

    Parameters with fewer than 2 dims (biases, norm gains) are skipped, and so are ``nn.Embedding`` tables
    unless ``include_embeddings`` (BigGAN leaves G's shared class embedding out).

    Scale: BigGAN-PyTorch (utils.ortho) adds 2 * beta * (W W^T ⊙ (1 - I)) W straight to the gradient, which is
    the gradient of beta / 2 times this term; pass half their strength here to reproduce their updates.
    """
    skipped = set() if include_embeddings else {id(m.weight) for m in module.modules() if isinstance(m, nn.Embedding)}
    weights = [p for p in module.parameters() if p.dim() >= 2 and id(p) not in skipped]
    if not weights:
        raise ZooError(f"orthogonal_penalty: {type(module).__name__} has no weight matrices to regularize")
    with _full_precision(weights[0].device):
        return beta * sum(_off_diagonal_gram_energy(w) for w in weights)


def mode_seeking_penalty(
    fake1: Tensor, fake2: Tensor, z1: Tensor, z2: Tensor, weight: float = 1.0, eps: float = 1e-5
) -> Tensor:
    """MSGAN's mode-seeking term for G (Mao et al. 2019, Eq. 3 and 4). The paper maximizes
    d_I(G(c, z1), G(c, z2)) / d_z(z1, z2); following the authors' code (github.com/HelenMao/MSGAN), both
    distances are mean absolute differences over the whole batches and the term to minimize is
    weight / (ratio + eps), with eps = 1e-5 and weight (lambda_ms) 1. fake1 and fake2 come from the same
    conditions c; gradients flow into them, i.e. into the generator.
    """
    ratio = (fake1 - fake2).abs().mean() / (z1 - z2).abs().mean()
    return weight / (ratio + eps)


def pulling_away_term(embeddings: Tensor) -> Tensor:
    """EBGAN's pulling-away term (Zhao et al. 2017, Eq. 6) on a batch of encoder outputs S (N, ...):
    1 / (N (N - 1)) * sum_{i != j} cos(S_i, S_j)^2. It pushes the generated samples' embeddings apart and so
    discourages the generator from collapsing onto a few points."""
    n = embeddings.shape[0]
    if n < 2:
        raise ZooError("the pulling-away term needs at least 2 samples per batch")
    with _full_precision(embeddings.device):
        unit = torch.nn.functional.normalize(embeddings.float().flatten(1), dim=1)
        cosine = unit @ unit.T
        return (cosine.square().sum() - cosine.diagonal().square().sum()) / (n * (n - 1))


# ------------------------------------------------------------------------------------ by configuration


@dataclass(frozen=True)
class PenaltyInputs:
    """What a penalty chosen by configuration may use at one training step."""

    critic: Critic  # the discriminator, given the real batch's conditions
    real: Tensor
    fake: Tensor  # detached for discriminator penalties; differentiable for generator ones
    z: Tensor
    generator: nn.Module
    rng: torch.Generator | None


def _half(x: Tensor, which: int) -> Tensor:
    half = x.shape[0] // 2
    return x[which * half : (which + 1) * half]


#: the data arguments of the functions above, by parameter name, taken from a step's PenaltyInputs. MSGAN
#: pairs the two halves of a batch (GANModule draws the same conditions for both halves).
_DATA_ARGUMENTS: dict[str, Callable[[PenaltyInputs], object]] = {
    "critic": lambda i: i.critic,
    "real": lambda i: i.real,
    "fake": lambda i: i.fake,
    "generator": lambda i: i.rng,
    "module": lambda i: i.generator,
    "fake1": lambda i: _half(i.fake, 0),
    "fake2": lambda i: _half(i.fake, 1),
    "z1": lambda i: _half(i.z, 0),
    "z2": lambda i: _half(i.z, 1),
}

#: ``--model.penalties`` names -> (the player whose loss the term joins, the function above)
PENALTIES: dict[str, tuple[str, Callable[..., Tensor]]] = {
    "gp": ("d", gradient_penalty),
    "dragan": ("d", dragan_penalty),
    "r1": ("d", r1_penalty),
    "r2": ("d", r2_penalty),
    "drift": ("d", drift_penalty),
    "orthogonal": ("g", orthogonal_penalty),
    "mode_seeking": ("g", mode_seeking_penalty),
}


@dataclass(frozen=True)
class ConfiguredPenalty:
    """One entry of ``--model.penalties``: a registered penalty, its own arguments, and its lazy schedule."""

    name: str
    args: dict
    schedule: LazyPenalty

    @property
    def player(self) -> str:
        return PENALTIES[self.name][0]

    def __call__(self, inputs: PenaltyInputs) -> Tensor:
        function = PENALTIES[self.name][1]
        data = {k: _DATA_ARGUMENTS[k](inputs) for k in inspect.signature(function).parameters if k in _DATA_ARGUMENTS}
        return self.schedule.factor * function(**data, **self.args)


def configure_penalty(spec: dict) -> ConfiguredPenalty:
    """Builds a penalty from a config entry such as ``{name: gp, weight: 10}`` or ``{name: r1, gamma: 10,
    interval: 16}``: ``name`` picks it, ``interval`` makes it lazy, every other key is an argument of its
    function above (the paper's value when left out). Unknown names and arguments are rejected here, at start-up."""
    spec = dict(spec)
    name = spec.pop("name", None)
    if name not in PENALTIES:
        raise ZooError(
            f"unknown penalty '{name}'; choose one of: {', '.join(PENALTIES)} (e.g. {{name: gp, weight: 10}})"
        )
    interval = spec.pop("interval", 1)
    allowed = set(inspect.signature(PENALTIES[name][1]).parameters) - set(_DATA_ARGUMENTS)
    unknown = set(spec) - allowed
    if unknown:
        raise ZooError(
            f"penalty '{name}' has no argument {', '.join(sorted(unknown))}; its arguments: "
            f"{', '.join(sorted(allowed | {'interval'}))}"
        )
    return ConfiguredPenalty(name, spec, LazyPenalty(int(interval)))
