"""BigGAN (Brock, Donahue and Simonyan 2019, "Large Scale GAN Training for High Fidelity Natural Image
Synthesis", arXiv 1809.11096)."""

from __future__ import annotations

from zoo.logan import LatentOptimised
from zoo.nets import resnet
from zoo.nets.biggan import BIGGAN_ARCHITECTURES, BigGANDiscriminator, BigGANGenerator
from zoo.nn.spectral_norm import Layers


class BigGAN(LatentOptimised):
    """Brock 2019: SAGAN scaled up, with a shared class embedding and hierarchical latent feeding every block's
    conditional BN (Sec. 3, App. B), orthogonal regularization of G (Sec. 3.1, Eq. 3, beta 1e-4, the zoo's
    ``orthogonal`` penalty), orthogonal initialization, spectral norm in G and D (with BigGAN-PyTorch's power
    iteration: from u, and in eval forwards too, not stored there), hinge loss, projection D,
    self-attention, 2 D steps per G step, Adam betas (0, 0.999) with G lr 5e-5 and D lr 2e-4 (App. C, 128 px).

    Sampling tricks live outside the module: an EMA of G (the EMA callback's ``decay``: 0.9999 in the configs)
    and the truncation trick (``cli.py sample --truncation 0.5``), which resamples every |z_i| above the
    threshold, whole z before it is chunked, so every chunk is truncated.

    ``latent_optimisation`` turns it into LOGAN (Wu et al. 2019; zoo/logan.py).
    """

    conditional = True

    def __init__(
        self,
        num_classes: int | None = None,
        resolution: int = 128,
        channels: int = 3,
        g_width: int = 96,
        d_width: int = 96,
        latent_dim: int = 120,
        shared_dim: int = 128,
        hierarchical: bool = True,
        attention: bool = True,
        attention_resolution: int | None = None,
        objective: str = "hinge",
        penalties: list[dict] | None = None,
        d_steps: int = 2,
        g_lr: float = 5e-5,
        d_lr: float = 2e-4,
        g_betas: tuple[float, float] = (0.0, 0.999),
        d_betas: tuple[float, float] = (0.0, 0.999),
        **kwargs,
    ):
        """
        Args:
            num_classes: number of classes, linked from the datamodule.
            resolution: image size, linked from the datamodule: 32, 64, 128 or 256.
            channels: image channels, linked from the datamodule.
            g_width: generator width ch (96 in the paper's 128 px model).
            d_width: discriminator width ch (96).
            latent_dim: size of z, a multiple of the number of chunks (blocks + 1: 6 at 128 px, 120 = 6 x 20).
            shared_dim: size of the shared class embedding (128).
            hierarchical: split z over the blocks (skip-z); False feeds all of z to the first layer.
            attention: a self-attention block in G and D.
            attention_resolution: where it sits (None: half the image size, 64 px for 128 px images).
            penalties: default [{name: orthogonal, beta: 1e-4}] on G.
        """
        super().__init__(
            num_classes=resnet.require_classes(num_classes, "biggan"),
            latent_dim=latent_dim,
            objective=objective,
            penalties=[{"name": "orthogonal", "beta": 1e-4}] if penalties is None else penalties,
            d_steps=d_steps,
            g_lr=g_lr,
            d_lr=d_lr,
            g_betas=g_betas,
            d_betas=d_betas,
            **kwargs,
        )
        arch = resnet.architecture(BIGGAN_ARCHITECTURES, resolution, "biggan")
        where = (attention_resolution or resolution // 2) if attention else None
        layers = Layers(spectral_norm=True, init="orthogonal", authors_power_iteration=True)
        self.generator = BigGANGenerator(
            latent_dim, self.num_classes, arch.g_channels(g_width), arch.bottom, channels, layers, shared_dim,
            hierarchical, where,
        )  # fmt: skip
        self.discriminator = BigGANDiscriminator(
            resolution, channels, arch.d_channels(d_width), arch.downsample, layers, self.num_classes, where
        )
