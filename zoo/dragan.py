"""DRAGAN (Kodali et al. 2017, "On Convergence and Stability of GANs", arXiv 1705.07215)."""

from __future__ import annotations

from zoo.standard import StandardGAN


class DRAGAN(StandardGAN):
    """Kodali 2017: the standard (non-saturating) GAN game with a gradient penalty around the real data (Sec. 5).

    Defaults of the authors' code: lambda 10, perturbation c = 0.5 batch standard deviations, Adam lr 1e-4 with
    betas (0.5, 0.9). D uses layer norm: the penalty is per sample, which batch norm would couple.
    """

    def __init__(
        self,
        penalties: list[dict] | None = None,
        g_lr: float = 1e-4,
        d_lr: float = 1e-4,
        g_betas: tuple[float, float] = (0.5, 0.9),
        d_betas: tuple[float, float] = (0.5, 0.9),
        d_norm: str = "layer",
        **kwargs,
    ):
        super().__init__(
            penalties=[{"name": "dragan", "weight": 10.0, "c": 0.5}] if penalties is None else penalties,
            g_lr=g_lr,
            d_lr=d_lr,
            g_betas=g_betas,
            d_betas=d_betas,
            d_norm=d_norm,
            **kwargs,
        )
