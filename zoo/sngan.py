"""SNGAN (Miyato, Kataoka, Koyama and Yoshida 2018, "Spectral Normalization for Generative Adversarial
Networks", arXiv 1802.05957)."""

from __future__ import annotations

from torch import nn

from zoo.base import GANModule
from zoo.errors import ZooError
from zoo.nets import resnet
from zoo.nets.sngan_cnn import SNGANCNNDiscriminator, SNGANCNNGenerator
from zoo.nn.spectral_norm import Layers

ARCHITECTURES = ("resnet", "cnn")


class SNGAN(GANModule):
    """Miyato 2018: every discriminator weight divided by its spectral norm (Sec. 2.1, one power iteration
    per step), hinge loss (Eq. 16), the ResNet (App. B, Tables 4-6) or the standard CNN (Table 3).

    Defaults are the ResNet experiments' (Sec. 4 and App. B; the authors' CIFAR-10 config): z of 128 dims,
    Adam lr 2e-4 with betas (0, 0.9), 5 D steps per G step, batch 64, no normalization but batch norm in G.
    The 32 px D's output layer has no bias, as in the authors' dis_models/snresnet_32.py (pfnet-research/
    sngan_projection; G 4,276,739 / D 1,053,824 parameters).
    """

    conditional = False

    def __init__(
        self,
        resolution: int = 32,
        channels: int = 3,
        architecture: str = "resnet",
        g_width: int = 64,
        d_width: int = 64,
        latent_dim: int = 128,
        objective: str = "hinge",
        d_steps: int = 5,
        g_lr: float = 2e-4,
        d_lr: float = 2e-4,
        g_betas: tuple[float, float] = (0.0, 0.9),
        d_betas: tuple[float, float] = (0.0, 0.9),
        **kwargs,
    ):
        """
        Args:
            resolution: image size, linked from the datamodule: 32, 48, 64 or 128 (ResNet), 32 or 48 (CNN).
            channels: image channels, linked from the datamodule.
            architecture: resnet (Tables 4-6) or cnn (the standard CNN of Table 3).
            g_width: generator width (64 in the paper; the ResNet's channels are multiples of it, e.g. 4x = 256
                everywhere at 32 px).
            d_width: discriminator width (64 in the paper; the 32 px ResNet has 2x = 128 channels everywhere).
        """
        super().__init__(
            latent_dim=latent_dim,
            objective=objective,
            d_steps=d_steps,
            g_lr=g_lr,
            d_lr=d_lr,
            g_betas=g_betas,
            d_betas=d_betas,
            **kwargs,
        )
        if self.num_classes is not None and not self.conditional:
            raise ZooError("sngan is unconditional; for class-conditional SNGAN use --model sngan_projection")
        if architecture not in ARCHITECTURES:
            raise ZooError(f"unknown SNGAN architecture '{architecture}'; choose one of: {', '.join(ARCHITECTURES)}")
        d_channels = channels * self.packing
        if architecture == "cnn":
            if self.num_classes is not None:
                raise ZooError("the projection discriminator is built on the ResNet: use --model.architecture resnet")
            self.generator: nn.Module = SNGANCNNGenerator(latent_dim, resolution, channels, g_width)
            self.discriminator: nn.Module = SNGANCNNDiscriminator(resolution, d_channels, d_width)
            return
        arch = resnet.architecture(resnet.SNGAN_ARCHITECTURES, resolution, type(self).__name__)
        self.generator = resnet.ResNetGenerator(
            latent_dim, arch.g_channels(g_width), arch.bottom, channels, Layers(spectral_norm=False),
            resnet.class_norm(self.num_classes),
        )  # fmt: skip
        self.discriminator = resnet.ResNetDiscriminator(
            resolution, d_channels, arch.d_channels(d_width), arch.downsample, Layers(), wide=False,
            num_classes=self.num_classes, head_bias=resolution != 32,
        )  # fmt: skip
