"""WGAN (Arjovsky, Chintala and Bottou 2017, "Wasserstein GAN", arXiv 1701.07875)."""

from __future__ import annotations

from zoo.standard import StandardGAN


class WGAN(StandardGAN):
    """Arjovsky 2017: a critic trained on E[D(x)] - E[D(G(z))] with weights clipped to [-c, c] (Algorithm 1).

    Algorithm 1's defaults: RMSprop with lr 5e-5, clipping c = 0.01, n_critic = 5 critic updates per generator
    update. The critic keeps DCGAN's batch norm, as in the paper's DCGAN experiments (Sec. 4). The reference
    code's extra 100-critic-step bursts (first 25 generator steps, every 500th) are not in the paper and not here.
    """

    def __init__(
        self,
        objective: str = "wasserstein",
        weight_clip: float | None = 0.01,
        d_steps: int = 5,
        optimizer: str = "rmsprop",
        g_lr: float = 5e-5,
        d_lr: float = 5e-5,
        **kwargs,
    ):
        super().__init__(
            objective=objective,
            weight_clip=weight_clip,
            d_steps=d_steps,
            optimizer=optimizer,
            g_lr=g_lr,
            d_lr=d_lr,
            **kwargs,
        )
