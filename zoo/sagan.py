"""SAGAN (Zhang, Goodfellow, Metaxas and Odena 2019, "Self-Attention Generative Adversarial Networks",
arXiv 1805.08318)."""

from __future__ import annotations

from zoo.base import GANModule
from zoo.nets import resnet
from zoo.nn.spectral_norm import Layers


class SAGAN(GANModule):
    """Zhang 2019: the projection-discriminator ResNets with a self-attention block (Sec. 3) in G and D,
    spectral norm in both networks (Sec. 4.1), TTUR with G lr 1e-4 and D lr 4e-4 and one D step per G step
    (Sec. 4.2 and 5), Adam betas (0, 0.9), hinge loss, class-conditional BN in G and projection in D.

    The networks are SNGAN's 128 px ResNets (App. B of Miyato et al. 2018), as in the official code
    (brain-research/self-attention-gan), with its wide D blocks; batch 256 and z of 128 dims in the paper.
    """

    conditional = True

    def __init__(
        self,
        num_classes: int | None = None,
        resolution: int = 128,
        channels: int = 3,
        g_width: int = 64,
        d_width: int = 64,
        attention_resolution: int | None = None,
        latent_dim: int = 128,
        objective: str = "hinge",
        d_steps: int = 1,
        g_lr: float = 1e-4,
        d_lr: float = 4e-4,
        g_betas: tuple[float, float] = (0.0, 0.9),
        d_betas: tuple[float, float] = (0.0, 0.9),
        **kwargs,
    ):
        """
        Args:
            num_classes: number of classes, linked from the datamodule.
            resolution: image size, linked from the datamodule: 32, 48, 64 or 128.
            channels: image channels, linked from the datamodule.
            g_width: generator width (gf_dim, 64 in the official code).
            d_width: discriminator width (df_dim, 64).
            attention_resolution: size of the feature maps where the self-attention block sits, in G and in D
                (None: half the image size, 64 px for 128 px images as BigGAN's; SAGAN's Table 1 compares 8 to 64).
        """
        super().__init__(
            num_classes=resnet.require_classes(num_classes, "sagan"),
            latent_dim=latent_dim,
            objective=objective,
            d_steps=d_steps,
            g_lr=g_lr,
            d_lr=d_lr,
            g_betas=g_betas,
            d_betas=d_betas,
            **kwargs,
        )
        arch = resnet.architecture(resnet.SNGAN_ARCHITECTURES, resolution, "sagan")
        attention = attention_resolution or resolution // 2
        layers = Layers(spectral_norm=True)
        self.generator = resnet.ResNetGenerator(
            latent_dim, arch.g_channels(g_width), arch.bottom, channels, layers, resnet.class_norm(self.num_classes),
            attention,
        )  # fmt: skip
        self.discriminator = resnet.ResNetDiscriminator(
            resolution, channels, arch.d_channels(d_width), arch.downsample, layers, wide=True,
            num_classes=self.num_classes, attention_resolution=attention,
        )  # fmt: skip
