"""BEGAN (Berthelot, Schumm and Metz 2017, "BEGAN: Boundary Equilibrium Generative Adversarial Networks",
arXiv 1703.10717)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.nets.autoencoder import AutoencoderDiscriminator, autoencoder_discriminator
from zoo.nets.began import BEGANDecoder, BEGANEncoder
from zoo.nets.standard import data_kind
from zoo.standard import StandardGAN

ARCHITECTURES = ("began", "dcgan")


class BEGAN(StandardGAN):
    """Berthelot 2017: an autoencoder D and losses on its L1 reconstruction error, balanced by proportional control.

    With L(v) = mean |v - D(v)| (Eq. 2, eta = 1): D minimizes L(x) - k_t L(G(z)), G minimizes L(G(z)), and
    k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1) (Eq. 4), k_0 = 0. The convergence measure
    M_global = L(x) + |gamma L(x) - L(G(z))| (Sec. 3.4.1) is logged as ``began/m_global`` beside ``began/k``.
    Defaults of the paper: gamma 0.5, lambda_k 0.001, Adam lr 1e-4, code and z of 64 dims, no batch norm, and z drawn
    uniformly from [-1, 1]^{N_z} (Sec. 3.5; carpedm20/BEGAN-tensorflow's trainer.py draws it with
    tf.random_uniform(minval=-1, maxval=1)); ``latent_distribution: normal`` draws N(0, I) as the rest of the zoo.

    Networks (``architecture``): ``began`` (default), Fig. 1's ELU / nearest-upsampling autoencoder and a G of
    the decoder's layout, n = 128 (zoo/nets/began.py; at 64 px G 1,716,611 / D 13,405,379 parameters, as
    carpedm20/BEGAN-tensorflow's models.py builds them); ``dcgan``, DCGAN's layers as the encoder and decoder (the
    decoder without tanh, G with it, batch norm in G and the decoder, ``d_norm`` in the encoder). 2D points
    train on MLPs either way.
    """

    def __init__(
        self,
        gamma: float = 0.5,
        lambda_k: float = 0.001,
        code_dim: int = 64,
        architecture: str = "began",
        ngf: int | None = None,
        ndf: int | None = None,
        objective: str | None = None,
        latent_dim: int = 64,
        g_lr: float = 1e-4,
        d_lr: float = 1e-4,
        d_norm: str = "none",
        latent_distribution: str = "uniform",
        **kwargs,
    ):
        """
        Args:
            gamma: diversity ratio E[L(G(z))] / E[L(x)] that the control keeps (Eq. 3).
            lambda_k: proportional gain of the k update.
            code_dim: size of the autoencoder's code (h in the paper).
            architecture: began (Fig. 1) or dcgan (DCGAN's layers).
            ngf: generator width (None: n = 128 for began, 64 for dcgan).
            ndf: discriminator width (None: n = 128 for began, 64 for dcgan).
            objective: must stay None: BEGAN's losses are its own.
            latent_distribution: uniform (U[-1, 1], the paper's) or normal (N(0, I)).
        """
        if latent_distribution not in ("uniform", "normal"):
            raise ZooError(f"latent_distribution must be uniform or normal, got '{latent_distribution}'")
        if objective is not None:
            raise ZooError("began trains on its own equilibrium losses; --model.objective does not apply to it")
        if not 0 < gamma <= 1:
            raise ZooError(f"gamma must be in (0, 1], got {gamma}")
        if architecture not in ARCHITECTURES:
            raise ZooError(f"unknown BEGAN architecture '{architecture}'; choose one of: {', '.join(ARCHITECTURES)}")
        self.code_dim, self.architecture = code_dim, architecture
        width = 128 if architecture == "began" else 64
        super().__init__(
            objective=None,
            latent_dim=latent_dim,
            g_lr=g_lr,
            d_lr=d_lr,
            ngf=width if ngf is None else ngf,
            ndf=width if ndf is None else ndf,
            d_norm=d_norm,
            **kwargs,
        )
        self.gamma, self.lambda_k = gamma, lambda_k
        self.latent_distribution = latent_distribution
        self.register_buffer("k", torch.zeros(()))
        self._balance: Tensor | None = None

    def sample_latent(
        self, n: int, generator: torch.Generator | None = None, truncation: float | None = None
    ) -> Tensor:
        """z from U[-1, 1]^{N_z} (or N(0, I) with ``latent_distribution: normal``); ``truncation`` t keeps
        |z_i| <= t, which for the uniform draw is U[-t, t]."""
        if self.latent_distribution == "normal":
            return super().sample_latent(n, generator, truncation)
        if truncation is not None and truncation <= 0:
            raise ZooError(f"truncation must be > 0, got {truncation}")
        rng = generator if generator is not None else self._latent_rng
        device = rng.device if rng is not None else self.device
        z = torch.rand(n, self.latent_dim, generator=rng, device=device) * 2 - 1
        if truncation is not None and self.truncation_space == "z":
            z = z * min(truncation, 1.0)
        return z.to(self.device)

    def uses_paper_networks(self, shape: tuple[int, ...]) -> bool:
        return self.architecture == "began" and data_kind(shape) == "image"

    def build_generator(self, sample_shape: tuple[int, ...], width: int) -> nn.Module:
        if not self.uses_paper_networks(sample_shape):
            return super().build_generator(sample_shape, width)
        return BEGANDecoder(self.latent_dim, sample_shape[1], sample_shape[0], width)

    def build_discriminator(self, input_shape: tuple[int, ...], width: int, norm: str) -> nn.Module:
        if not self.uses_paper_networks(input_shape):
            return autoencoder_discriminator(input_shape, width, self.code_dim, norm)
        channels, resolution = input_shape[0], input_shape[1]
        return AutoencoderDiscriminator(
            BEGANEncoder(resolution, channels, width, self.code_dim),
            BEGANDecoder(self.code_dim, resolution, channels, width),
        )

    def discriminate(self, x: Tensor, y: Tensor | None) -> Tensor:
        """L(x): the per-sample mean absolute reconstruction error."""
        x = self.pack(x)
        return (self.discriminator(x)[0] - x).abs().flatten(1).mean(1)

    def discriminator_loss(self, real, y_real, fake, y_fake):
        real_error, fake_error = self.discriminate(real, y_real).mean(), self.discriminate(fake, y_fake).mean()
        loss = real_error - self.k * fake_error
        self._balance = (self.gamma * real_error - fake_error).detach()
        logs = {
            "loss/d": loss,
            "d/real": real_error,
            "d/fake": fake_error,
            "began/k": self.k.clone(),
            "began/m_global": real_error.detach() + self._balance.abs(),
        }
        return loss, logs

    def generator_loss(self, fake, y_fake, real, y_real):
        loss = self.discriminate(fake, y_fake).mean()
        return loss, {"loss/g": loss}

    def after_discriminator_step(self) -> None:
        """k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1), on device: no host sync."""
        super().after_discriminator_step()
        self.k.copy_((self.k + self.lambda_k * self._balance).clamp(0.0, 1.0))
