"""COCO-GAN (Lin, Chang, Chen, Juan, Wei and Chen 2019, "COCO-GAN: Generation by Parts via Conditional
Coordinating", ICCV 2019, arXiv 1904.00284; reference code hubert0527/COCO-GAN)."""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.base import GANModule, eval_mode, make_optimizer, split_batch
from zoo.errors import ZooError
from zoo.nets.cocogan import MacroPatchDiscriminator, MicroPatchGenerator, SpatialHead
from zoo.patches import PatchGeometry, assemble
from zoo.penalties import gradient_penalty

GRADIENT_PENALTIES = ("reference", "wgan_gp")


def coordinate_loss(predicted: Tensor, target: Tensor, weight: float) -> Tensor:
    """The spatial consistency loss (Sec. 3.2, Eq. 4): ``weight`` * mean squared error between the spatial head's
    prediction and the macro coordinate, averaged over samples and coordinates (trainer.py ``coord_mse_*``)."""
    return weight * F.mse_loss(predicted, target)


def reference_gradient_penalty(critic, real: Tensor, fake: Tensor, weight: float, generator=None) -> Tensor:
    """trainer.py ``_calc_gradient_penalty``: one interpolation weight per element (``tf.random_uniform`` of the
    patch's shape), and the gradient's L2 norm taken over the height axis only (``reduction_indices=[1]`` of NHWC),
    so every (sample, column, channel) has its own slope pulled to 1; weight * mean (slope - 1)^2."""
    device = generator.device if generator is not None else real.device
    alpha = torch.rand(real.shape, generator=generator, device=device).to(real.device)
    x_hat = (real + alpha * (fake - real)).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return weight * (grad.square().sum(dim=2).sqrt() - 1).square().mean()


class COCOGAN(GANModule):
    """Lin 2019: G draws micro patches G(z, c) at micro coordinates c; D judges macro patches, r x r adjacent micro
    patches of one z, conditioned on the macro coordinate by projection, with a spatial head that regresses the
    macro coordinate (Sec. 3, Fig. 2). Training never builds a full image: each sample is one macro patch, its
    micro patches drawn with one shared z (trainer.py ``_dup_z_for_macro``), and the real macro patch is cropped
    at the same position. Sampling draws all R x R micro patches of one z at the grid's coordinates and joins them
    without overlap (``generate_full_image_gpu``); ``extrapolate`` goes past the boundary (Sec. 4.3).

    Losses (trainer.py ``_compose_losses``): WGAN with gradient penalty (lambda 10), L_D = -E D(real) + E D(fake) +
    GP + L_S, L_G = -E D(fake) + L_S, with L_S = 100 [MSE(head(real), c) + MSE(head(fake), c)] in both (Eq. 4-6).
    The spatial head is in both players' optimizers, as its "GD_" scope puts it in the reference's var lists.
    Adam (0, 0.999), G lr 1e-4, D lr 4e-4, one D step per G step, z of 128 dims U(-1, 1) (configs/*.yaml).

    Reference-code details kept by default, each with its switch: the gradient penalty's per-element
    interpolation and height-axis norm (``gradient_penalty: wgan_gp`` for Gulrajani et al.'s per-sample one) and
    the conditional BN's division by sqrt(var^2 + eps) (``cbn_normalisation: standard``). The critic on the
    interpolates has no projection term (the reference calls D with no coordinate there).
    """

    def __init__(
        self,
        resolution: int = 64,
        channels: int = 3,
        micro_size: int = 16,
        macro_size: int = 32,
        latent_dim: int = 128,
        ngf: int = 64,
        ndf: int = 64,
        aux_dim: int = 128,
        coord_loss_weight: float = 100.0,
        gp_weight: float = 10.0,
        gradient_penalty: str = "reference",
        cbn_normalisation: str = "reference",
        objective: str | None = "wasserstein",
        g_lr: float = 1e-4,
        d_lr: float = 4e-4,
        g_betas: tuple[float, float] = (0.0, 0.999),
        d_betas: tuple[float, float] = (0.0, 0.999),
        num_classes: int | None = None,
        **kwargs,
    ):
        """
        Args:
            resolution: full image size, linked from the datamodule (64 for the paper's CelebA N2M2S32).
            channels: image channels, linked from the datamodule.
            micro_size: side of the micro patches G draws (16 at CelebA 64; 8 for MNIST 32).
            macro_size: side of the macro patches D judges (32 at CelebA 64: 2x2 micro patches; 16 for MNIST 32).
            latent_dim: size of z (128), drawn U(-1, 1).
            ngf: generator base width (64).
            ndf: discriminator base width (64).
            aux_dim: hidden units of the spatial head (128).
            coord_loss_weight: weight of the spatial consistency loss in both players' losses (100).
            gp_weight: lambda of the gradient penalty (10).
            gradient_penalty: reference (trainer.py's) or wgan_gp (Gulrajani et al. 2017, per-sample).
            cbn_normalisation: reference (divide by sqrt(var^2 + eps), generator.py) or standard (sqrt(var + eps)).
            objective: the adversarial loss (wasserstein: WGAN's, to which the penalty is added).
            g_lr: generator learning rate (1e-4).
            d_lr: discriminator learning rate (4e-4).
            g_betas: Adam betas of the generator ((0, 0.999)).
            d_betas: Adam betas of the discriminator ((0, 0.999)).
            num_classes: linked from the datamodule; COCO-GAN is unconditional and ignores the labels.
        """
        if gradient_penalty not in GRADIENT_PENALTIES:
            raise ZooError(
                f"unknown gradient_penalty '{gradient_penalty}'; choose one of: {', '.join(GRADIENT_PENALTIES)}"
            )
        if kwargs.get("penalties") or kwargs.get("packing", 1) != 1:
            raise ZooError("cocogan has its own gradient penalty (--model.gp_weight): penalties, packing unsupported")
        super().__init__(
            latent_dim=latent_dim, objective=objective, g_lr=g_lr, d_lr=d_lr, g_betas=g_betas, d_betas=d_betas, **kwargs
        )
        self.geometry = PatchGeometry(resolution, macro_size, micro_size)
        self.generator = MicroPatchGenerator(latent_dim, micro_size, channels, ngf, cbn=cbn_normalisation)
        self.discriminator = MacroPatchDiscriminator(macro_size, channels, ndf)
        self.spatial_head = SpatialHead(self.discriminator.features, aux_dim)

    # ----------------------------------------------------------------------------------- contract

    def sample_latent(self, n: int, generator: torch.Generator | None = None, truncation: float | None = None):
        """n latents U(-1, 1) (trainer.py ``sample_prior``)."""
        if truncation is not None:
            raise ZooError("cocogan draws uniform latents and has no truncation; drop --truncation")
        rng = generator if generator is not None else self._latent_rng
        device = rng.device if rng is not None else self.device
        return (torch.rand(n, self.latent_dim, generator=rng, device=device) * 2 - 1).to(self.device)

    def generate(self, net: nn.Module, z: Tensor, y: Tensor | None = None, truncation: float | None = None) -> Tensor:
        """Full images: every micro patch of the grid drawn from one z each, joined without overlap."""
        return self.draw_grid(net, z, 0)

    def draw_grid(self, net: nn.Module, z: Tensor, steps: int) -> Tensor:
        """Images of (R + 2 steps)^2 micro patches per z at ``PatchGeometry.full_coordinates(steps)``."""
        coordinates = self.geometry.full_coordinates(steps).to(z.device)
        per_image = coordinates.shape[0]
        patches = net(z.repeat_interleave(per_image, dim=0), coordinates.repeat(z.shape[0], 1))
        return assemble(patches, self.geometry.micro_per_side + 2 * steps)

    @torch.no_grad()
    def extrapolate(self, n: int, steps: int, seed: int = 0) -> Tensor:
        """n beyond-boundary images (Sec. 4.3): the micro grid extended by ``steps`` patches on every side, at
        coordinates past [-1, 1], so (full + 2 steps micro) px a side; the sampling generator in eval mode."""
        z = self.sample_latent(n, generator=torch.Generator().manual_seed(seed))
        net = self.generator_ema if self.generator_ema is not None else self.generator
        with eval_mode(net):
            return self.draw_grid(net, z, steps)

    # ------------------------------------------------------------------------------ the game

    def spatial_terms(self, real_features: Tensor, fake_features: Tensor, coordinates: Tensor, logs: dict) -> Tensor:
        """L_S for real and fake macro patches at ``coordinates``, logged as coord/real and coord/fake."""
        weight = self.hparams.coord_loss_weight
        real = coordinate_loss(self.spatial_head(real_features), coordinates, weight)
        fake = coordinate_loss(self.spatial_head(fake_features), coordinates, weight)
        logs.update({"coord/real": real, "coord/fake": fake})
        return real + fake

    def penalty(self, real: Tensor, fake: Tensor) -> Tensor:
        """The gradient penalty on real/fake macro interpolates, D without its projection term."""

        def critic(x):
            return self.discriminator(x)[0]

        weight = self.hparams.gp_weight
        if self.hparams.gradient_penalty == "reference":
            return reference_gradient_penalty(critic, real, fake, weight, self._latent_rng)
        return gradient_penalty(critic, real, fake, weight, generator=self._latent_rng)

    def training_step(self, batch, batch_idx: int) -> None:
        """One iteration on a batch of real images: a random macro position per sample (shared by the real and
        the fake patch, as the reference feeds one coordinate set to both), the real macro patches cropped there,
        the fake ones joined from micro patches of one z; then the D update and the G update (every d_steps)."""
        real_images, _ = split_batch(batch)
        n = real_images.shape[0]
        d_opt, g_opt = self.start_iteration()
        generator_turn = (self.iterations + 1) % self.hparams.d_steps == 0
        geometry = self.geometry
        positions = geometry.sample_positions(n, self._latent_rng, self.device)
        macro_coordinates = geometry.macro_coordinates(positions)
        real = geometry.crop_macro(real_images, positions)
        z = self.sample_latent(n).repeat_interleave(geometry.micro_per_macro**2, dim=0)
        with torch.set_grad_enabled(generator_turn):
            fake = assemble(self.generator(z, geometry.micro_coordinates(positions)), geometry.micro_per_macro)

        logs: dict[str, Tensor] = {}
        with self.toggled_optimizer(d_opt):
            real_out, real_features = self.discriminator(real, macro_coordinates)
            fake_out, fake_features = self.discriminator(fake.detach(), macro_coordinates)
            adversarial = self.objective.d_loss(real_out, fake_out)
            with self.eager():
                gp = self.penalty(real, fake.detach())
            d_loss = adversarial + gp + self.spatial_terms(real_features, fake_features, macro_coordinates, logs)
            d_opt.zero_grad(set_to_none=True)
            self.manual_backward(d_loss)
            d_opt.step()
        logs.update({"loss/d": d_loss, "d/real": real_out.mean(), "d/fake": fake_out.mean(), "penalty/gp": gp})
        losses = [d_loss]

        if generator_turn:
            with self.toggled_optimizer(g_opt):
                fake_out, fake_features = self.discriminator(fake, macro_coordinates)
                _, real_features = self.discriminator(real, macro_coordinates)
                g_logs: dict[str, Tensor] = {}
                spatial = self.spatial_terms(real_features, fake_features, macro_coordinates, g_logs)
                g_loss = self.objective.g_loss(fake_out) + spatial
                g_opt.zero_grad(set_to_none=True)
                self.manual_backward(g_loss)
                g_opt.step()
                self.after_generator_step()
            self.generator_steps += 1
            logs["loss/g"] = g_loss
            losses.append(g_loss)
        self.finish_iteration(n, losses, logs)

    # --------------------------------------------------------------------------- optimization

    def configure_optimizers(self):
        """D's optimizer over D and the spatial head, G's over G and the spatial head (the head's "GD_" scope)."""
        h = self.hparams
        head = list(self.spatial_head.parameters())
        d_params = itertools.chain(self.discriminator.parameters(), head)
        g_params = itertools.chain(self.generator.parameters(), head)
        d_opt = make_optimizer(h.optimizer, d_params, h.d_lr, h.d_betas)
        g_opt = make_optimizer(h.optimizer, g_params, h.g_lr, h.g_betas)
        return [d_opt, g_opt]
