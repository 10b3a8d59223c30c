"""WGAN-GP (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", arXiv 1704.00028)."""

from __future__ import annotations

from zoo.standard import StandardGAN


class WGANGP(StandardGAN):
    """Gulrajani 2017: the Wasserstein critic with a gradient penalty on interpolates instead of clipping (Eq. 3).

    Algorithm 1's defaults: lambda 10, n_critic 5, Adam lr 1e-4 with betas (0, 0.9); no batch norm in the critic
    (Sec. 4: the penalty is per sample), layer norm in its place.
    """

    def __init__(
        self,
        objective: str = "wasserstein",
        penalties: list[dict] | None = None,
        d_steps: int = 5,
        g_lr: float = 1e-4,
        d_lr: float = 1e-4,
        g_betas: tuple[float, float] = (0.0, 0.9),
        d_betas: tuple[float, float] = (0.0, 0.9),
        d_norm: str = "layer",
        **kwargs,
    ):
        super().__init__(
            objective=objective,
            penalties=[{"name": "gp", "weight": 10.0}] if penalties is None else penalties,
            d_steps=d_steps,
            g_lr=g_lr,
            d_lr=d_lr,
            g_betas=g_betas,
            d_betas=d_betas,
            d_norm=d_norm,
            **kwargs,
        )
