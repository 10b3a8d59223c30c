"""PGGAN (Karras, Aila, Laine and Lehtinen 2018, "Progressive Growing of GANs for Improved Quality, Stability,
and Variation", arXiv 1710.10196)."""

from __future__ import annotations

from zoo.base import GANModule
from zoo.nets.pggan import GrowingGAN, PGGANDiscriminator, PGGANGenerator


class PGGAN(GrowingGAN, GANModule):
    """Karras 2018: G and D grown from 4x4 to the full resolution with faded-in blocks (Sec. 2).

    Equalized learning rate (Sec. 4.1), pixel norm in G (Sec. 4.2), minibatch stddev in D (Sec. 3), WGAN-GP with
    lambda 10 plus the drift term eps * E[D(x)^2], eps 1e-3, n_critic 1, Adam lr 1e-3 betas (0, 0.99) eps 1e-8,
    z of 512 dims (App. A.1). The phases (800k images per fade-in and per stabilization, batch size per
    resolution) come from callbacks/progressive.py, which calls ``grow`` (``GrowingGAN``); without it the networks
    run at full resolution. Real batches are pooled to the phase resolution (and blended during a fade-in).

    Samples, FID and the EMA generator see the resolution of the current phase: a checkpoint written during
    the 16x16 phase samples 16x16 images.
    """

    def __init__(
        self,
        resolution: int = 128,
        channels: int = 3,
        latent_dim: int = 512,
        fmap_base: int = 8192,
        fmap_max: int = 512,
        mbstd_group_size: int = 4,
        variant: str = "official",
        objective: str = "wasserstein",
        penalties: list[dict] | None = None,
        g_lr: float = 1e-3,
        d_lr: float = 1e-3,
        g_betas: tuple[float, float] = (0.0, 0.99),
        d_betas: tuple[float, float] = (0.0, 0.99),
        **kwargs,
    ):
        """
        Args:
            resolution: the final image size, linked from the datamodule (a power of two >= 4).
            channels: image channels, linked from the datamodule.
            fmap_base: widths are min(fmap_base / 2**(log2(res) - 1), fmap_max) (official code: 8192, 512).
            fmap_max: the widest layer.
            mbstd_group_size: samples per minibatch-stddev group (4; the batch must be divisible by it).
            variant: "official" (the authors' TensorFlow code) or "pytorch_gan_zoo" (facebookresearch's PGAN, as
                its checkpoints are imported: per-unit bias of G's dense layer, its minibatch stddev grouping).
        """
        gp_and_drift = [{"name": "gp", "weight": 10.0}, {"name": "drift", "epsilon": 1e-3}]
        super().__init__(
            latent_dim=latent_dim,
            objective=objective,
            penalties=gp_and_drift if penalties is None else penalties,
            g_lr=g_lr,
            d_lr=d_lr,
            g_betas=g_betas,
            d_betas=d_betas,
            **kwargs,
        )
        self.generator = PGGANGenerator(latent_dim, resolution, channels, fmap_base, fmap_max, variant)
        self.discriminator = PGGANDiscriminator(
            resolution, channels * self.packing, fmap_base, fmap_max, mbstd_group_size, variant=variant
        )
