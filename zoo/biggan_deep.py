"""BigGAN-deep (Brock, Donahue and Simonyan 2019, "Large Scale GAN Training for High Fidelity Natural Image
Synthesis", arXiv 1809.11096, App. B), with the recipe of the authors' PyTorch code
(ajbrock/BigGAN-PyTorch, scripts/launch_BigGAN_deep.sh)."""

from __future__ import annotations

from torch import nn

from zoo.errors import ZooError
from zoo.logan import LatentOptimised, paper_architecture
from zoo.nets import resnet
from zoo.nets.biggan_deep import BigGANDeepDiscriminator, BigGANDeepGenerator, architecture
from zoo.nn.spectral_norm import Layers

#: spectral norm's power iteration: BigGAN-PyTorch's (from u, also run in eval forwards without storing) or
#: torch's (from v; eval forwards use the stored u and v, as pytorch-pretrained-BigGAN's converted models)
POWER_ITERATIONS = {"authors": True, "torch": False}


class BigGANDeep(LatentOptimised):
    """Brock 2019, App. B: BigGAN with bottleneck residual blocks, two per resolution (zoo/nets/biggan_deep.py),
    the whole z with the shared class embedding in every conditional BN, and no orthogonal regularization.
    Defaults are launch_BigGAN_deep.sh's: ch 128 in G and D, z and shared embedding of 128, self-attention at
    64 px (half the image size below 128 px), hinge loss, 1 D step per G step, G lr 1e-4 and D lr 4e-4 with Adam betas
    (0, 0.999) and eps 1e-6, spectral norm eps 1e-6 in G and D, BN eps 1e-5, orthogonal init, G_ortho 0. Their
    batch of 2048 is 256 x 8 accumulations, which the zoo reaches with devices x batch_size only (the config's
    comment). The EMA of G (decay 0.9999 from 20k iterations) is the EMA callback's, sampling in eval mode.

    ``latent_optimisation`` turns it into LOGAN (Wu et al. 2019; zoo/logan.py), with LOGAN's BigGAN-deep changes
    (Sec. 5.2) unless given: z of 256 and leaky ReLU of slope 0.2, the activation of every G layer and of D's inner
    layers (and U(-1, 1) latents, zoo/logan.py).
    """

    conditional = True
    #: 2: with latent optimisation, no ``leaky_relu_slope`` now means LOGAN's 0.2, where format 1 meant ReLU
    checkpoint_format = 2

    def __init__(
        self,
        num_classes: int | None = None,
        resolution: int = 128,
        channels: int = 3,
        g_width: int = 128,
        d_width: int = 128,
        latent_dim: int | None = None,
        shared_dim: int = 128,
        depth: int = 2,
        attention: bool = True,
        attention_resolution: int | None = None,
        bn_eps: float = 1e-5,
        sn_eps: float = 1e-6,
        power_iteration: str = "authors",
        rgb_channels: int | None = None,
        leaky_relu_slope: float | None = None,
        objective: str = "hinge",
        penalties: list[dict] | None = None,
        d_steps: int = 1,
        g_lr: float = 1e-4,
        d_lr: float = 4e-4,
        g_betas: tuple[float, float] = (0.0, 0.999),
        d_betas: tuple[float, float] = (0.0, 0.999),
        adam_eps: float = 1e-6,
        **kwargs,
    ):
        """
        Args:
            num_classes: number of classes, linked from the datamodule.
            resolution: image size, linked from the datamodule: 32, 64, 128, 256 or 512.
            channels: image channels, linked from the datamodule.
            g_width: generator width ch (128 in launch_BigGAN_deep.sh).
            d_width: discriminator width ch (128).
            latent_dim: size of z (None: 128, LOGAN's 256 with latent_optimisation).
            shared_dim: size of the shared class embedding (128).
            depth: residual blocks per resolution in G and D (their G_depth / D_depth: 2).
            attention: a self-attention layer in G and D.
            attention_resolution: the stage it follows (None: 64 px, their G_attn / D_attn, or half the image
                size below 128 px).
            bn_eps: batch norm epsilon (1e-5; the TF-Hub models 1e-4).
            sn_eps: spectral norm epsilon (1e-6).
            power_iteration: authors or torch (``POWER_ITERATIONS``).
            rgb_channels: output conv width, its first ``channels`` kept (None: ``channels``; TF-Hub: ch).
            leaky_relu_slope: LeakyReLU slope instead of ReLU (None: ReLU, LOGAN's 0.2 with latent_optimisation;
                0: ReLU).
            penalties: default none (G_ortho 0.0 in their launch script).
            adam_eps: Adam's epsilon for both players (1e-6).
        """
        if power_iteration not in POWER_ITERATIONS:
            raise ZooError(f"unknown power_iteration '{power_iteration}'; choose one of: {', '.join(POWER_ITERATIONS)}")
        if not adam_eps > 0:
            raise ZooError(f"adam_eps must be > 0, got {adam_eps}")
        latent_dim, leaky_relu_slope = paper_architecture(
            kwargs.get("latent_optimisation", False), latent_dim, leaky_relu_slope, own_latent_dim=128
        )
        super().__init__(
            num_classes=resnet.require_classes(num_classes, "biggan_deep"),
            latent_dim=latent_dim,
            objective=objective,
            penalties=[] if penalties is None else penalties,
            d_steps=d_steps,
            g_lr=g_lr,
            d_lr=d_lr,
            g_betas=g_betas,
            d_betas=d_betas,
            **kwargs,
        )
        self.hparams.update(latent_dim=latent_dim, leaky_relu_slope=leaky_relu_slope)  # the resolved values
        arch = architecture(resolution)
        where = (attention_resolution or min(64, resolution // 2)) if attention else None
        layers = Layers(
            spectral_norm=True, init="orthogonal", authors_power_iteration=POWER_ITERATIONS[power_iteration],
            sn_eps=sn_eps,
        )  # fmt: skip
        activation = nn.LeakyReLU(leaky_relu_slope) if leaky_relu_slope else nn.ReLU()
        self.generator = BigGANDeepGenerator(
            latent_dim, self.num_classes, arch, g_width, channels, layers, shared_dim, depth, where, bn_eps,
            rgb_channels, activation,
        )  # fmt: skip
        self.discriminator = BigGANDeepDiscriminator(
            arch, d_width, channels, layers, self.num_classes, depth, where, activation
        )

    def configure_optimizers(self):
        """The shared loop's optimizers with launch_BigGAN_deep.sh's Adam epsilon (``adam_eps``)."""
        optimizers = super().configure_optimizers()
        for optimizer in optimizers:
            for group in optimizer.param_groups:
                if "eps" in group:  # the Adam family
                    group["eps"] = self.hparams.adam_eps
        return optimizers

    @classmethod
    def migrate_checkpoint(cls, checkpoint: dict, old: int, source, generator_only: bool) -> str:
        """Format 1 -> 2, exact: a format-1 model trained with latent optimisation and no ``leaky_relu_slope`` used
        ReLU, which format 2 writes as slope 0 (its None now brings LOGAN's 0.2); every other format-1 file means
        the same in format 2 (its ``latent_dim`` was always saved)."""
        hparams = checkpoint.get("hyper_parameters", {})
        if hparams.get("latent_optimisation") and hparams.get("leaky_relu_slope") is None:
            hparams["leaky_relu_slope"] = 0.0
            return "its ReLU (latent optimisation with no leaky_relu_slope) written as leaky_relu_slope 0"
        return ""
