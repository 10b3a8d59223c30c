"""InfoGAN (Chen et al. 2016, "InfoGAN: Interpretable Representation Learning by Information Maximizing
Generative Adversarial Nets", arXiv 1606.03657)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from zoo.base import GANModule
from zoo.errors import ZooError
from zoo.nets.conditional import AuxiliaryHeadDiscriminator
from zoo.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from zoo.nets.infogan import InfoGANDiscriminator, InfoGANGenerator
from zoo.nn import dcgan_init

ARCHITECTURES = ("auto", "mnist", "dcgan")


class InfoGAN(GANModule):
    """Chen 2016: the latent is noise z plus codes c, and G is pushed to keep c recoverable from G(z, c).

    min_{G,Q} max_D V(D, G) - lambda L_I(G, Q) (Eq. 6), with the variational lower bound of I(c; G(z, c))
    L_I = E[log Q(c | G(z, c))] + H(c) (Eq. 4-5). Q shares D's layers and adds FC 128 -> BatchNorm -> LeakyReLU
    -> outputs (Sec. 6 and App. C.1, Table 1); -L_I (up to the constant H(c)) joins both D's (so Q's) and G's
    losses. Codes of MNIST (App. C.1): one 10-way categorical code (one-hot, uniform) and two continuous codes
    U(-1, 1), with 62 noise dims: latent [noise | one-hot | continuous] of 74. Q models the categorical code with
    a softmax and each continuous code with a Gaussian of standard deviation 1, as the authors' MNIST code does
    (``learn_std: true``: exp of a network output, App. C's "parameterized through an exponential transformation").
    App. C's defaults: lambda 1, Adam lr 2e-4 for D and 1e-3 for G; the noise is N(0, I).

    Networks (``architecture``): ``auto`` (default) picks Table 1's MNIST nets for one-channel images (``mnist``,
    zoo/nets/infogan.py: G 6,652,481 / D with Q 6,692,173 parameters at 28 px, as openai/InfoGAN builds them) and
    DCGAN's (``dcgan``, Radford et al. 2015, Q on D's last hidden layer) otherwise.

    Not class-conditional: ``num_classes`` is None and ``sample_latent`` draws the codes, so every sampler of the
    zoo works unchanged; ``zoo.infogan_sampling.vary_code`` sweeps one code with the rest fixed.
    """

    def __init__(
        self,
        resolution: int = 64,
        channels: int = 3,
        architecture: str = "auto",
        ngf: int = 64,
        ndf: int = 64,
        noise_dim: int = 62,
        categorical_dim: int = 10,
        continuous_dim: int = 2,
        lambda_categorical: float = 1.0,
        lambda_continuous: float = 1.0,
        learn_std: bool = False,
        q_hidden: int = 128,
        g_lr: float = 1e-3,
        d_lr: float = 2e-4,
        **kwargs,
    ):
        """
        Args:
            resolution: image size, linked from the datamodule (a power of two >= 8).
            channels: image channels, linked from the datamodule.
            architecture: auto, mnist (Table 1; any resolution divisible by 4) or dcgan (a power of two >= 8).
            ngf: generator width (64 in Table 1: upconv 64, FC 2 x 64 channels, FC 1024 = 16 x 64).
            ndf: discriminator width (64 in Table 1: conv 64 and 128, FC 1024).
            noise_dim: dims of the incompressible noise z.
            categorical_dim: categories of the one categorical code (0: none).
            continuous_dim: number of continuous codes, each U(-1, 1).
            lambda_categorical: weight of the categorical code's term of L_I.
            lambda_continuous: weight of the continuous codes' term of L_I.
            learn_std: Q predicts each continuous code's log-std; false: std fixed at 1.
            q_hidden: units of Q's hidden layer.
        """
        latent_dim = noise_dim + categorical_dim + continuous_dim
        if kwargs.pop("latent_dim", latent_dim) != latent_dim:
            raise ZooError("infogan's latent is noise_dim + categorical_dim + continuous_dim; set those instead")
        if kwargs.pop("num_classes", None) is not None:
            raise ZooError("infogan is unconditional: its codes are part of the latent, not labels of the data")
        if kwargs.get("packing", 1) != 1:
            raise ZooError("infogan's Q reads the codes of one sample: packing does not apply to it")
        if categorical_dim + continuous_dim == 0 or min(noise_dim, categorical_dim, continuous_dim) < 0:
            raise ZooError("infogan needs at least one code: set categorical_dim or continuous_dim > 0")
        super().__init__(latent_dim=latent_dim, g_lr=g_lr, d_lr=d_lr, **kwargs)
        self.noise_dim, self.categorical_dim, self.continuous_dim = noise_dim, categorical_dim, continuous_dim
        if architecture not in ARCHITECTURES:
            raise ZooError(f"unknown InfoGAN architecture '{architecture}'; choose one of: {', '.join(ARCHITECTURES)}")
        if architecture == "auto":
            architecture = "mnist" if channels == 1 else "dcgan"
        self.architecture = architecture
        self._fake_codes: Tensor | None = None
        q_outputs = categorical_dim + continuous_dim * (2 if learn_std else 1)
        if architecture == "mnist":
            self.generator = InfoGANGenerator(latent_dim, resolution, channels, ngf)
            self.discriminator = InfoGANDiscriminator(resolution, channels, q_outputs, ndf, q_hidden)
            return
        self.generator = DCGANGenerator(latent_dim, resolution, channels, ngf)
        trunk = DCGANDiscriminator(resolution, channels, ndf)
        self.discriminator = AuxiliaryHeadDiscriminator(trunk, q_outputs, hidden=q_hidden)
        dcgan_init(self.generator)
        dcgan_init(self.discriminator)

    # --------------------------------------------------------------------------------------- codes

    @property
    def code_names(self) -> list[str]:
        """``categorical`` (when there is one) and ``c1``, ``c2`` ... for the continuous codes."""
        names = ["categorical"] if self.categorical_dim else []
        return names + [f"c{j + 1}" for j in range(self.continuous_dim)]

    def code_columns(self, name: str) -> slice:
        """The latent columns that hold code ``name``."""
        if name not in self.code_names:
            raise ZooError(f"unknown code '{name}'; this model's codes are: {', '.join(self.code_names)}")
        start = self.noise_dim + self.categorical_dim
        if name == "categorical":
            return slice(self.noise_dim, start)
        j = start + int(name[1:]) - 1
        return slice(j, j + 1)

    def sample_latent(
        self, n: int, generator: torch.Generator | None = None, truncation: float | None = None
    ) -> Tensor:
        """[noise | one-hot category | continuous codes]; ``truncation`` applies to the noise only. A draw from the
        training stream (no ``generator``) is the iteration's fake batch: its codes are kept for the losses."""
        noise = super().sample_latent(n, generator, truncation)[:, : self.noise_dim]
        rng = generator if generator is not None else self._latent_rng
        device = rng.device if rng is not None else self.device
        codes = [torch.rand(n, self.continuous_dim, generator=rng, device=device) * 2 - 1]
        if self.categorical_dim:
            category = torch.randint(self.categorical_dim, (n,), generator=rng, device=device)
            codes.insert(0, F.one_hot(category, self.categorical_dim).float())
        codes = torch.cat(codes, dim=1).to(self.device)
        if generator is None:
            self._fake_codes = codes
        return torch.cat([noise, codes], dim=1)

    # ------------------------------------------------------------------------------------ the game

    def discriminate(self, x: Tensor, y: Tensor | None) -> Tensor:
        """The source logits alone (what penalties see); Q's outputs are read by the losses."""
        return self.discriminator(x)[0]

    def information_loss(self, q: Tensor, codes: Tensor) -> tuple[Tensor, dict]:
        """lambda_cat CE + lambda_cont NLL = -(weighted) L_I + const: the categorical code's cross-entropy under
        Q's softmax plus the continuous codes' Gaussian negative log-likelihood (summed over codes, averaged over
        the batch, with its log sqrt(2 pi) constant). Logs ``info/mi_categorical`` = log K - CE, the categorical
        part of L_I (at most log K)."""
        k, c = self.categorical_dim, self.continuous_dim
        q, codes = q.float(), codes.float()
        logs, loss = {}, q.new_zeros(())
        if k:
            cross_entropy = F.cross_entropy(q[:, :k], codes[:, :k].argmax(1))
            loss = loss + self.hparams.lambda_categorical * cross_entropy
            logs["info/mi_categorical"] = math.log(k) - cross_entropy
        if c:
            mean = q[:, k : k + c]
            log_std = q[:, k + c :] if self.hparams.learn_std else torch.zeros_like(mean)
            nll = log_std + 0.5 * math.log(2 * math.pi) + 0.5 * ((codes[:, k:] - mean) * torch.exp(-log_std)).square()
            nll = nll.sum(1).mean()
            loss = loss + self.hparams.lambda_continuous * nll
            logs["info/continuous_nll"] = nll
        return loss, logs

    def discriminator_loss(self, real, y_real, fake, y_fake):
        real_source = self.discriminate(real, None)
        fake_source, q = self.discriminator(fake)
        adversarial = self.objective.d_loss(real_source, fake_source)
        information, logs = self.information_loss(q, self._fake_codes)
        loss = adversarial + information
        return loss, {"loss/d": loss, "d/real": real_source.mean(), "d/fake": fake_source.mean(), **logs}

    def generator_loss(self, fake, y_fake, real, y_real):
        fake_source, q = self.discriminator(fake)
        real_source = self.discriminate(real, None) if self.objective.g_needs_real else None
        information, _ = self.information_loss(q, self._fake_codes)
        loss = self.objective.g_loss(fake_source, real_source) + information
        return loss, {"loss/g": loss, "info/g_information": information}
