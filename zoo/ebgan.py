"""EBGAN (Zhao, Mathieu and LeCun 2017, "Energy-based Generative Adversarial Network", arXiv 1609.03126)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from zoo.nets.autoencoder import autoencoder_discriminator
from zoo.penalties import pulling_away_term
from zoo.standard import StandardGAN


class EBGAN(StandardGAN):
    """Zhao 2017: an autoencoder discriminator whose reconstruction error is an energy (Sec. 2.3), low on data.

    D minimizes D(x) + [m - D(G(z))]^+ and G minimizes D(G(z)) (Eq. 1-2, the ``energy`` objective), G plus
    lambda_PT times the pulling-away term on the encoder's codes of the fake batch (Eq. 6, lambda_PT 0.1). The
    energy is the per-sample mean squared reconstruction error (the paper's ||Dec(Enc(x)) - x|| up to the norm's
    scale), so the margin (``objective_args: {margin: m}``, default 1) is in those per-pixel units.
    """

    def __init__(self, pt_weight: float = 0.1, code_dim: int = 64, objective: str = "energy", **kwargs):
        """
        Args:
            pt_weight: lambda_PT of the pulling-away term (0: EBGAN without it).
            code_dim: size of the autoencoder's code.
        """
        self.code_dim = code_dim
        super().__init__(objective=objective, **kwargs)
        self.pt_weight = pt_weight

    def build_discriminator(self, input_shape: tuple[int, ...], width: int, norm: str) -> nn.Module:
        return autoencoder_discriminator(input_shape, width, self.code_dim, norm)

    def energy_and_code(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Per-sample mean squared reconstruction error, and the code."""
        x = self.pack(x)
        reconstruction, code = self.discriminator(x)
        return F.mse_loss(reconstruction, x, reduction="none").flatten(1).mean(1), code

    def discriminate(self, x: Tensor, y: Tensor | None) -> Tensor:
        """The energy: D's output for the objective, the penalties and the logs."""
        return self.energy_and_code(x)[0]

    def generator_loss(self, fake, y_fake, real, y_real):
        energy, code = self.energy_and_code(fake)
        loss = self.objective.g_loss(energy)
        logs = {}
        if self.pt_weight:
            pt = pulling_away_term(code)
            loss = loss + self.pt_weight * pt
            logs["g/pulling_away"] = pt
        return loss, {"loss/g": loss, **logs}
