"""BEGAN (Berthelot, Schumm and Metz 2017, "BEGAN: Boundary Equilibrium Generative Adversarial Networks",
arXiv 1703.10717)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.nets.autoencoder import autoencoder_discriminator
from zoo.standard import StandardGAN


class BEGAN(StandardGAN):
    """Berthelot 2017: an autoencoder D and losses on its L1 reconstruction error, balanced by proportional control.

    With L(v) = mean |v - D(v)| (Eq. 2, eta = 1): D minimizes L(x) - k_t L(G(z)), G minimizes L(G(z)), and
    k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1) (Eq. 4), k_0 = 0. The convergence measure
    M_global = L(x) + |gamma L(x) - L(G(z))| (Sec. 3.4.1) is logged as ``began/m_global`` beside ``began/k``.
    Defaults of the paper: gamma 0.5, lambda_k 0.001, Adam lr 1e-4, code and z of 64 dims, no batch norm.
    The autoencoder uses DCGAN's layers rather than the paper's ELU / nearest-upsampling blocks.
    """

    def __init__(
        self,
        gamma: float = 0.5,
        lambda_k: float = 0.001,
        code_dim: int = 64,
        objective: str | None = None,
        latent_dim: int = 64,
        g_lr: float = 1e-4,
        d_lr: float = 1e-4,
        d_norm: str = "none",
        **kwargs,
    ):
        """
        Args:
            gamma: diversity ratio E[L(G(z))] / E[L(x)] that the control keeps (Eq. 3).
            lambda_k: proportional gain of the k update.
            code_dim: size of the autoencoder's code (h in the paper).
            objective: must stay None: BEGAN's losses are its own.
        """
        if objective is not None:
            raise ZooError("began trains on its own equilibrium losses; --model.objective does not apply to it")
        if not 0 < gamma <= 1:
            raise ZooError(f"gamma must be in (0, 1], got {gamma}")
        self.code_dim = code_dim
        super().__init__(objective=None, latent_dim=latent_dim, g_lr=g_lr, d_lr=d_lr, d_norm=d_norm, **kwargs)
        self.gamma, self.lambda_k = gamma, lambda_k
        self.register_buffer("k", torch.zeros(()))
        self._balance: Tensor | None = None

    def build_discriminator(self, input_shape: tuple[int, ...], width: int, norm: str) -> nn.Module:
        return autoencoder_discriminator(input_shape, width, self.code_dim, norm)

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
