"""EBGAN (Zhao, Mathieu and LeCun 2017, "Energy-based Generative Adversarial Network", arXiv 1609.03126)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.nets.autoencoder import autoencoder_discriminator, conv_autoencoder
from zoo.nets.ebgan import D_WIDTH, G_WIDTH, EBGANMLPGenerator, ebgan_mlp_autoencoder
from zoo.nets.standard import data_kind
from zoo.penalties import pulling_away_term
from zoo.standard import StandardGAN

ARCHITECTURES = ("auto", "mnist", "ebgan", "dcgan")


class EBGAN(StandardGAN):
    """Zhao 2017: an autoencoder discriminator whose reconstruction error is an energy (Sec. 2.3), low on data.

    D minimizes D(x) + [m - D(G(z))]^+ and G minimizes D(G(z)) (Eq. 1-2, the ``energy`` objective), G plus
    lambda_PT times the pulling-away term on the encoder's codes of the fake batch (Eq. 6, lambda_PT 0.1). The
    energy is the per-sample mean squared reconstruction error (the paper's ||Dec(Enc(x)) - x|| up to the norm's
    scale), so the margin (``objective_args: {margin: m}``, default 1) is in those per-pixel units.

    Networks (``architecture``): ``auto`` (default) picks ``mnist`` for 28 px one-channel images and ``ebgan`` for
    other images. ``mnist``: Sec. 4.1's fully connected nets in the configuration of Fig. 9 (zoo/nets/ebgan.py: G
    z-1600-1600-1600-1600-784, D an autoencoder 784-1024-784 whose 1024-unit code the pulling-away term reads;
    9,114,384 / 1,607,440 parameters with z of 100; ``ngf``/``ndf`` set sizeG/sizeD, 1600/1024 by default); the
    paper trains it with margin 10 and Adam lr 0.001 for both players. ``ebgan``, the appendix's 64 px model: G
    DCGAN's generator from 1024 maps at 4x4 ((1024)4c-(512)4c2s-(256)4c2s-(128)4c2s-(3)4c2s, ``ngf`` 128) and D
    the convolutional autoencoder of zoo/nets/autoencoder.py (``ndf`` 64; 12,658,432 / 1,318,016 parameters at
    64 px with z of 100), the pulling-away term on the encoder's feature maps; ``dcgan``: DCGAN's nets, the
    autoencoder's code a ``code_dim`` vector (``ngf``/``ndf`` 64). 2D points train on MLPs either way.
    """

    def __init__(
        self,
        pt_weight: float = 0.1,
        code_dim: int = 64,
        architecture: str = "auto",
        ngf: int | None = None,
        ndf: int | None = None,
        objective: str = "energy",
        **kwargs,
    ):
        """
        Args:
            pt_weight: lambda_PT of the pulling-away term (0: EBGAN without it).
            code_dim: size of the autoencoder's code (the dcgan architecture's).
            architecture: auto, mnist (Sec. 4.1 / Fig. 9's MLPs), ebgan (the appendix's 64 px conv model) or dcgan
                (DCGAN's layers, a code vector).
            ngf: generator width (None: 1600 for mnist, 128 for ebgan's image G, else 64).
            ndf: discriminator width (None: 1024 for mnist, else 64).
        """
        if architecture not in ARCHITECTURES:
            raise ZooError(f"unknown EBGAN architecture '{architecture}'; choose one of: {', '.join(ARCHITECTURES)}")
        self.code_dim, self.architecture = code_dim, architecture
        super().__init__(objective=objective, ngf=ngf, ndf=ndf, **kwargs)
        self.pt_weight = pt_weight

    def networks(self, sample_shape: tuple[int, ...]) -> str:
        """The architecture for samples of ``sample_shape`` (one sample, before packing): toy points always train
        on MLPs (``dcgan``'s path)."""
        if data_kind(sample_shape) != "image":
            return "dcgan"
        if self.architecture == "auto":
            return "mnist" if sample_shape[0] == 1 and sample_shape[1] == 28 else "ebgan"
        return self.architecture

    def build_generator(self, sample_shape: tuple[int, ...], width: int | None) -> nn.Module:
        self._networks = networks = self.networks(sample_shape)
        if networks == "mnist":
            return EBGANMLPGenerator(self.latent_dim, sample_shape, G_WIDTH if width is None else width)
        if width is None:
            width = 128 if networks == "ebgan" else 64
        return super().build_generator(sample_shape, width)

    def build_discriminator(self, input_shape: tuple[int, ...], width: int | None, norm: str) -> nn.Module:
        networks = self._networks  # chosen from the unpacked sample shape by build_generator
        if networks == "mnist":
            return ebgan_mlp_autoencoder(input_shape, D_WIDTH if width is None else width)
        width = 64 if width is None else width
        if networks == "ebgan":
            return conv_autoencoder(input_shape, width)
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
