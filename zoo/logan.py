"""LOGAN's latent optimisation (Wu, Donahue, Balduzzi, Simonyan and Lillicrap 2019, "LOGAN: Latent Optimisation
for Generative Adversarial Networks", arXiv 1912.00953), a switch of the BigGAN entries
(``--model.latent_optimisation true``).

Every iteration (the paper's Algorithm 1): draw z from U(-1, 1), compute f(z) = D(G(z)) and g = df/dz, take one
natural gradient step on z, dz = alpha g / (beta + ||g||^2) (the empirical Fisher g g^T with Tikhonov damping
beta I, inverted in closed form), on a random ``lo_fraction`` of z's elements, clip z' = [z + dz] to [-1, 1],
and compute both players' losses on G(z'). g is taken with ``create_graph``, so dz stays a function of G's and
D's parameters and both updates back-propagate through it: the second-order terms the paper analyses are the
method. The regulariser R_z = w_r ||dz||^2 is added to both losses.

Where each constant comes from (issue 22). [P] is the paper's own text: its ImageNet section (Sec. 5.2; it
refers back to "section 5.1" for SN-GAN), read verbatim in a public copy of that paragraph (a 2019-12-11 post
presenting the arXiv version whose abstract reads "we improve CS-GAN with natural gradient-based latent
optimisation"; the stored copies of the paper's pages, arxiv-vanity, deepai and a2c.fyi, reach only the abstract,
the introduction and the first figure captions). [Q] is the paper as summarised by a secondary page, [V] what a
public implementation does.

- alpha 0.9 [P Sec. 5.2: "the same large step size" as in SN-GAN, Sec. 5.1]; beta 5.0 [P Sec. 5.2: "much
  heavier damping is essential for BigGAN"]; 50% of z's elements optimised [P Sec. 5.2]; w_r 300.0 for the
  regulariser R_z (the paper's eq. 17) [P Sec. 5.2: deeper models have larger Lipschitz constants, as in Tanaka
  2019]; every other hyper-parameter (learning rates, batch 2048, so BigGAN-deep's hinge loss) as BigGAN-deep's
  [P Sec. 5.2]. These are ``LatentOptimised``'s defaults.
- BigGAN-deep's three changes [P Sec. 5.2], the paper's BigGAN-deep baseline too: z of 256 instead of 128 "to
  compensate the randomness of the source lost when optimising z", p(z) = U(-1, 1) instead of N(0, 1) "to be
  consistent with the clipping operation (Algorithm 1)" (so the clip to [-1, 1] is Algorithm 1's), and leaky
  ReLU of slope 0.2 instead of ReLU for a smoother df/dz. The switch brings the prior on every entry
  (``latent_prior``) and the other two on biggan_deep (``paper_architecture``); biggan, which the paper did not
  use, keeps its own z and ReLU.
- the step: natural gradient with the empirical Fisher F' = g g^T + beta I [Q paperswithcode's LOGAN method
  summary, mirrored at vietanh.dev/glossary/logan]; dz = alpha F'^-1 g is exactly alpha g / (beta + ||g||^2)
  (Sherman-Morrison; tests/test_logan.py checks it against a linear solve); the same form is StudioGAN's
  ``latent_optimise`` (POSTECH-CVLab/PyTorch-StudioGAN src/utils/losses.py) [V].
- gradients through dz: [Q] a2c.fyi's Figure 3 caption (the improved latent comes from the gradient of the
  generator loss, which with BigGAN-deep's hinge loss is -f, and its second forward pass gives both players'
  gradients) and emergentmind's summary (the updates keep the second-order terms through dz). With the zoo's
  other objectives the step still ascends f = D(G(z)), not that objective's generator loss.
- R_z = w_r ||dz||^2 in both players' losses: [Q] emergentmind's LOGAN summary ("added to both losses"); the
  text of eq. 17 itself was not read.
- not found: Sec. 5.1's SN-GAN / CIFAR-10 values beyond alpha 0.9. Sec. 5.2's wording implies lighter damping,
  all of z and a smaller w_r there, but the numbers were not read, so no SN-GAN preset is offered. StudioGAN's
  CIFAR-10 config (lo_beta 0.1, lo_rate 0.8 of the samples, lo_lambda 0.1) is no evidence for them: its README
  says it did not reproduce LOGAN.

Reading choices the paper's sentence does not settle: the mask is drawn per sample (each row optimises exactly
round(fraction x dims) elements) and restricts g before the step, so ||g||^2 runs over the optimised elements
(the natural gradient in that subspace); D and G are updated simultaneously from one computation of both losses
(Algorithm 1 updates theta_D and theta_G together), so with ``d_steps`` > 1 the other iterations update D alone;
sampling (``cli.py sample``) draws z from the prior without optimising it. Two backward passes per iteration (one
per player, ``inputs=``): untested under DDP.
"""

from __future__ import annotations

import torch
from torch import Tensor

from zoo.base import GANModule, split_batch
from zoo.errors import ZooError

PRIORS = ("normal", "uniform")
#: Sec. 5.2 [P]: LOGAN's BigGAN-deep has z of 256 (BigGAN-deep: 128) and leaky ReLU of slope 0.2 (BigGAN-deep: ReLU)
PAPER_LATENT_DIM = 256
PAPER_LEAKY_RELU_SLOPE = 0.2


def paper_architecture(
    latent_optimisation: bool, latent_dim: int | None, leaky_relu_slope: float | None, own_latent_dim: int
) -> tuple[int, float | None]:
    """(latent_dim, leaky_relu_slope) of a BigGAN-deep: the values given, else LOGAN's (Sec. 5.2: 256 and 0.2)
    with latent optimisation, else the entry's own (``own_latent_dim`` and None, ReLU)."""
    if latent_dim is None:
        latent_dim = PAPER_LATENT_DIM if latent_optimisation else own_latent_dim
    if leaky_relu_slope is None and latent_optimisation:
        leaky_relu_slope = PAPER_LEAKY_RELU_SLOPE
    return latent_dim, leaky_relu_slope


def natural_gradient_step(
    score: Tensor, z: Tensor, mask: Tensor, step_size: float, damping: float
) -> tuple[Tensor, Tensor]:
    """(z', dz): dz = step_size g / (damping + ||g||^2) per sample, g = mask * d score.sum() / dz (``score``
    one value per sample, computed from ``z``, which requires grad), z' = clip(z + dz, -1, 1). dz keeps its
    graph (``create_graph``): it is a function of whatever parameters ``score`` depends on."""
    (g,) = torch.autograd.grad(score.sum(), z, create_graph=True)
    g = g * mask
    dz = step_size * g / (damping + g.pow(2).sum(dim=1, keepdim=True))
    return (z + dz).clamp(-1.0, 1.0), dz


def latent_mask(n: int, dims: int, fraction: float, generator: torch.Generator | None, device) -> Tensor:
    """(n, dims) of 0/1: in each row exactly round(fraction x dims) ones at random places."""
    keep = round(fraction * dims)
    ranks = torch.rand(n, dims, generator=generator, device=generator.device if generator else device).argsort(1)
    return (ranks.argsort(1) < keep).to(device=device, dtype=torch.float32)


class LatentOptimised(GANModule):
    """A GANModule whose training step can optimise its latents first (LOGAN, module docstring)."""

    def __init__(
        self,
        latent_optimisation: bool = False,
        lo_step_size: float = 0.9,
        lo_damping: float = 5.0,
        lo_fraction: float = 0.5,
        lo_weight: float = 300.0,
        latent_prior: str | None = None,
        **kwargs,
    ):
        """
        Args:
            latent_optimisation: LOGAN's natural-gradient step on z before both players' losses.
            lo_step_size: alpha (0.9, Sec. 5.2).
            lo_damping: beta, the Tikhonov damping of the empirical Fisher (5.0, Sec. 5.2).
            lo_fraction: the fraction of z's elements optimised, per sample (0.5, Sec. 5.2).
            lo_weight: w_r of the regulariser w_r ||dz||^2 in both losses (300.0, Sec. 5.2).
            latent_prior: normal (N(0, I)) or uniform (U(-1, 1)); None: uniform with latent_optimisation
                (LOGAN, to match the clipping), else normal.
        """
        super().__init__(**kwargs)
        prior = latent_prior or ("uniform" if latent_optimisation else "normal")
        if prior not in PRIORS:
            raise ZooError(f"unknown latent_prior '{prior}'; choose one of: {', '.join(PRIORS)}")
        if not 0 < lo_fraction <= 1:
            raise ZooError(f"lo_fraction must be in (0, 1], got {lo_fraction}")
        if lo_step_size <= 0 or lo_damping < 0 or lo_weight < 0:
            raise ZooError("lo_step_size must be > 0, lo_damping and lo_weight >= 0")
        self.latent_prior = prior

    def sample_latent(self, n: int, generator: torch.Generator | None = None, truncation: float | None = None):
        """N(0, I) latents as every entry, or U(-1, 1) ones (``latent_prior``); truncation t < 1 of a uniform
        prior draws from U(-t, t), the prior conditioned on |z_i| <= t."""
        if self.latent_prior == "normal":
            return super().sample_latent(n, generator, truncation)
        if truncation is not None and truncation <= 0:
            raise ZooError(f"truncation must be > 0, got {truncation}")
        rng = generator if generator is not None else self._latent_rng
        device = rng.device if rng is not None else self.device
        z = torch.rand(n, self.latent_dim, generator=rng, device=device) * 2 - 1
        return (z * min(truncation or 1.0, 1.0)).to(self.device)

    def optimise_latents(self, z: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor]:
        """(z', dz) of one natural-gradient step on f(z) = D(G(z), y) (``natural_gradient_step``)."""
        h = self.hparams
        z = z.detach().requires_grad_(True)
        score = self.discriminate(self.generate(self.generator, z, y), y)
        mask = latent_mask(z.shape[0], z.shape[1], h.lo_fraction, self._latent_rng, z.device)
        return natural_gradient_step(score, z, mask, h.lo_step_size, h.lo_damping)

    def training_step(self, batch, batch_idx: int) -> None:
        if not self.hparams.latent_optimisation:
            return super().training_step(batch, batch_idx)
        real, y_real = split_batch(batch)
        if self.num_classes is None:
            y_real = None
        d_opt, g_opt = self.start_iteration()
        generator_turn = (self.iterations + 1) % self.hparams.d_steps == 0
        z, y_fake = self.generator_inputs(real, y_real)
        with self.eager():  # compiled networks have no double backward, which the step through dz needs
            self.latent_optimised_step(real, y_real, z, y_fake, d_opt, g_opt, generator_turn)

    def latent_optimised_step(self, real, y_real, z, y_fake, d_opt, g_opt, generator_turn: bool) -> None:
        """One iteration of Algorithm 1: z' from z, both losses on G(z'), both players updated."""
        z_optimised, dz = self.optimise_latents(z, y_fake)
        fake = self.generate(self.generator, z_optimised, y_fake)
        dz_squared = dz.pow(2).sum(dim=1).mean()
        regulariser = self.hparams.lo_weight * dz_squared

        d_loss, logs = self.discriminator_loss(real, y_real, fake, y_fake)
        d_loss = d_loss + regulariser + self.penalty_terms("d", self.iterations, real, y_real, fake.detach(), z, logs)
        logs.update({"lo/regulariser": regulariser, "lo/dz_squared": dz_squared})
        losses = [d_loss]
        d_opt.zero_grad(set_to_none=True)
        g_opt.zero_grad(set_to_none=True)
        # Algorithm 1: both gradients from the same parameters, each player's through dz as well
        self.manual_backward(d_loss, inputs=list(self.discriminator.parameters()), retain_graph=generator_turn)
        if generator_turn:
            g_loss, g_logs = self.generator_loss(fake, y_fake, real, y_real)
            g_loss = g_loss + regulariser + self.penalty_terms("g", self.generator_steps, real, y_real, fake, z, g_logs)
            self.manual_backward(g_loss, inputs=list(self.generator.parameters()))
            logs.update(g_logs)
            losses.append(g_loss)
        d_opt.step()
        self.after_discriminator_step()
        if generator_turn:
            g_opt.step()
            self.after_generator_step()
            self.generator_steps += 1
        self.finish_iteration(real.shape[0], losses, logs)
