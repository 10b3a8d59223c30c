"""WGAN-GP (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", arXiv 1704.00028)."""

from __future__ import annotations

from torch import nn

from zoo.errors import ZooError
from zoo.nets.standard import data_kind
from zoo.nets.wgan_gp import RESOLUTIONS, check_resolution, wgan_gp_discriminator, wgan_gp_generator
from zoo.standard import StandardGAN

ARCHITECTURES = ("auto", "dcgan", *RESOLUTIONS)
#: the authors' networks that ``auto`` picks by image size; other sizes get the zoo's DCGAN nets
AUTO = {32: "resnet32", 64: "resnet64"}
#: default widths of the authors' networks (DIM_G / DIM_D of gan_cifar_resnet.py, DIM of gan_64x64.py)
WIDTHS = {"resnet32": 128, "resnet64": 64, "dcgan64": 64, "dcgan": 64}


def resolve_architecture(architecture: str, sample_shape: tuple[int, ...]) -> str:
    """The architecture ``auto`` stands for at this sample shape; points always train on the toy MLPs."""
    if architecture not in ARCHITECTURES:
        raise ZooError(f"unknown WGAN-GP architecture '{architecture}'; choose one of: {', '.join(ARCHITECTURES)}")
    if data_kind(sample_shape) == "points":
        if architecture not in ("auto", "dcgan"):
            raise ZooError(f"the {architecture} networks are for images; 2D points train on the toy MLPs")
        return "dcgan"
    if architecture == "auto":
        return AUTO.get(sample_shape[1], "dcgan")
    if architecture != "dcgan":
        check_resolution(architecture, sample_shape[1])
    return architecture


class WGANGP(StandardGAN):
    """Gulrajani 2017: the Wasserstein critic with a gradient penalty on interpolates instead of clipping (Eq. 3).

    Algorithm 1's defaults: lambda 10, n_critic 5, Adam lr 1e-4 with betas (0, 0.9), z of 128 dims (the authors'
    code); no batch norm in the critic (Sec. 4: the penalty is per sample), layer norm in its place.

    Networks (``architecture``, zoo/nets/wgan_gp.py): ``auto`` (default) picks the paper's by image size, the
    CIFAR-10 ResNet of Table 3 at 32 px (``resnet32``, gan_cifar_resnet.py: G 1,204,483 / D 1,053,825
    parameters) and the 64 px ResNet of gan_64x64.py at 64 px (``resnet64``: 8,540,483 / 7,491,841), and the zoo's
    DCGAN nets (``dcgan``, any power of two, bias-free 4x4 kernels; ``d_norm`` applies to these only) at other
    sizes; ``dcgan64`` is gan_64x64.py's DCGAN baseline (5,364,739 / 4,316,545).
    """

    def __init__(
        self,
        architecture: str = "auto",
        sample_shape: tuple[int, ...] = (1, 16, 16),
        ngf: int | None = None,
        ndf: int | None = None,
        latent_dim: int = 128,
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
        """
        Args:
            architecture: auto, resnet32, resnet64, dcgan64 (the authors' networks) or dcgan (the zoo's DCGAN nets).
            ngf: generator width (None: the architecture's, 128 for resnet32, else 64).
            ndf: critic width (None: the architecture's, 128 for resnet32, else 64).
        """
        self.architecture = resolve_architecture(architecture, tuple(sample_shape))
        super().__init__(
            sample_shape=sample_shape,
            ngf=WIDTHS[self.architecture] if ngf is None else ngf,
            ndf=WIDTHS[self.architecture] if ndf is None else ndf,
            latent_dim=latent_dim,
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

    def build_generator(self, sample_shape: tuple[int, ...], width: int) -> nn.Module:
        if self.architecture == "dcgan":
            return super().build_generator(sample_shape, width)
        return wgan_gp_generator(self.architecture, self.latent_dim, sample_shape[0], width)

    def build_discriminator(self, input_shape: tuple[int, ...], width: int, norm: str) -> nn.Module:
        if self.architecture == "dcgan":
            return super().build_discriminator(input_shape, width, norm)
        return wgan_gp_discriminator(self.architecture, input_shape[0], width)
