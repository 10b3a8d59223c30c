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
from zoo.nets.infogan import (
    InfoGANCelebADiscriminator,
    InfoGANCelebAGenerator,
    InfoGANDiscriminator,
    InfoGANGenerator,
)
from zoo.nn import dcgan_init

ARCHITECTURES = ("auto", "mnist", "celeba", "dcgan")
NOISES = ("uniform", "normal")


def categorical_codes(categorical_dim: int | None, categorical_dims: list[int] | None) -> list[int]:
    """The categories of each categorical code from ``categorical_dim`` (one code; 0: none) or ``categorical_dims``
    (a list); neither: MNIST's one 10-way code."""
    if categorical_dims is None:
        dims = [10] if categorical_dim is None else [categorical_dim] if categorical_dim else []
    else:
        dims = [int(k) for k in categorical_dims]
        if categorical_dim is not None and dims != ([categorical_dim] if categorical_dim else []):
            raise ZooError(
                f"infogan got categorical_dim {categorical_dim} and categorical_dims {dims}: set categorical_dims only"
            )
    if any(k < 2 for k in dims):
        raise ZooError(f"each categorical code needs >= 2 categories, got categorical_dims {dims}")
    return dims


def resolved_architecture(architecture: str, channels: int, resolution: int) -> str:
    """``auto``: Table 1's MNIST nets for one-channel images, Table 3's CelebA nets at 32 px colour, else DCGAN's."""
    if architecture != "auto":
        return architecture
    return "mnist" if channels == 1 else "celeba" if resolution == 32 else "dcgan"


class InfoGAN(GANModule):
    """Chen 2016: the latent is noise z plus codes c, and G is pushed to keep c recoverable from G(z, c).

    min_{G,Q} max_D V(D, G) - lambda L_I(G, Q) (Eq. 6), with the variational lower bound of I(c; G(z, c))
    L_I = E[log Q(c | G(z, c))] + H(c) (Eq. 4-5). Q shares D's layers and adds FC 128 -> BatchNorm -> LeakyReLU
    -> outputs (Sec. 6 and App. C.1, Table 1); -L_I (up to the constant H(c)) joins both D's (so Q's) and G's
    losses. Codes (``categorical_dims``, ``continuous_dim``): any number of categorical codes (one-hot, uniform,
    independent) and of continuous codes U(-1, 1); the latent is [noise | one-hot of each categorical code |
    continuous codes], and L_I sums over the codes, as the authors' code (a product of the codes' distributions,
    openai/InfoGAN infogan_trainer.py). Q models each categorical code with its own softmax and each continuous
    code with a Gaussian of standard deviation 1, as the authors' MNIST code does (``learn_std: true``: exp of a
    network output, App. C's "parameterized through an exponential transformation").
    App. C: MNIST (C.1) one 10-way categorical code, two continuous codes and 62 noise dims (latent 74, the
    defaults); SVHN (C.2) four 10-way categorical codes, four continuous codes and 124 noise dims (168); CelebA
    (C.3) ten 10-way categorical codes and 128 noise dims (228, configs/infogan/celeba.yaml). App. C's defaults:
    lambda 1, Adam lr 2e-4 for D and 1e-3 for G. The noise is U(-1, 1) as the codes (``noise: uniform``, the
    authors' ``Uniform(62)`` in run_mnist_exp.py, distributions.py ``Uniform.sample_prior``); ``noise: normal``
    draws N(0, I), the zoo's usual latent (an option, not the authors').

    Networks (``architecture``): ``auto`` (default) picks Table 1's MNIST nets for one-channel images (``mnist``,
    zoo/nets/infogan.py: G 6,652,481 / D with Q 6,692,173 parameters at 28 px, as openai/InfoGAN builds them),
    Table 3's CelebA nets for colour images at 32 px, the paper's CelebA resolution (``celeba``, the same layers
    as SVHN's Table 2: G 2,908,355 / D with Q 1,201,317 parameters for CelebA's 228-dim latent and 100 Q
    outputs), and DCGAN's (``dcgan``, Radford et al. 2015, Q on D's last hidden layer) otherwise.

    Code names (``code_names``, ``sample --vary_code``): ``categorical`` when there is one categorical code,
    ``cat1``, ``cat2`` ... when there are several, then ``c1``, ``c2`` ... for the continuous codes.

    Differences from the authors' code (openai/InfoGAN infogan_trainer.py): G's update scores the fakes D was just
    updated on (the zoo's shared loop), where the code's separate session runs draw a fresh z for it; the MNIST
    nets' LeakyReLU slope is the paper's 0.1, not the code's 0.01 (zoo/nets/infogan.py).

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
        noise: str = "uniform",
        categorical_dim: int | None = None,
        categorical_dims: list[int] | None = None,
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
            architecture: auto, mnist (Table 1; any resolution divisible by 4), celeba (Table 3; any resolution
                divisible by 16) or dcgan (a power of two >= 8).
            ngf: generator width (64 in Table 1: upconv 64, FC 2 x 64 channels, FC 1024 = 16 x 64; in Table 3:
                FC 2 x 2 x 7 x 64, upconvs 4, 2, 1 x 64).
            ndf: discriminator width (64 in Table 1: conv 64 and 128, FC 1024; in Table 3: conv 64, 128, 256).
            noise_dim: dims of the incompressible noise z.
            noise: the noise's distribution: uniform, U(-1, 1) (the authors' code), or normal, N(0, I).
            categorical_dim: categories of a single categorical code (0: none); the one-code shorthand of
                ``categorical_dims``.
            categorical_dims: categories of each categorical code, e.g. [10] * 10 for CelebA ([]: none).
                Default, with ``categorical_dim`` unset: [10] (MNIST's).
            continuous_dim: number of continuous codes, each U(-1, 1).
            lambda_categorical: weight of the categorical code's term of L_I.
            lambda_continuous: weight of the continuous codes' term of L_I.
            learn_std: Q predicts each continuous code's log-std; false: std fixed at 1.
            q_hidden: units of Q's hidden layer.
        """
        if noise not in NOISES:
            raise ZooError(f"unknown infogan noise '{noise}'; choose one of: {', '.join(NOISES)}")
        # new names: save_hyperparameters reads the arguments' local variables, which must keep what was passed
        codes = categorical_codes(categorical_dim, categorical_dims)
        one_hot = sum(codes)
        latent_dim = noise_dim + one_hot + continuous_dim
        if kwargs.pop("latent_dim", latent_dim) != latent_dim:
            raise ZooError("infogan's latent is noise_dim + sum(categorical_dims) + continuous_dim; set those instead")
        if kwargs.pop("num_classes", None) is not None:
            raise ZooError("infogan is unconditional: its codes are part of the latent, not labels of the data")
        if kwargs.get("packing", 1) != 1:
            raise ZooError("infogan's Q reads the codes of one sample: packing does not apply to it")
        if one_hot + continuous_dim == 0 or min(noise_dim, continuous_dim) < 0:
            raise ZooError(
                "infogan needs at least one code: set categorical_dims (or categorical_dim) or continuous_dim > 0"
            )
        super().__init__(latent_dim=latent_dim, g_lr=g_lr, d_lr=d_lr, **kwargs)
        self.noise_dim, self.continuous_dim = noise_dim, continuous_dim
        #: categories of each categorical code, and their total (the one-hot columns of the latent)
        self.categorical_dims, self.categorical_dim = codes, one_hot
        if architecture not in ARCHITECTURES:
            raise ZooError(f"unknown InfoGAN architecture '{architecture}'; choose one of: {', '.join(ARCHITECTURES)}")
        self.architecture = architecture = resolved_architecture(architecture, channels, resolution)
        self._fake_codes: Tensor | None = None
        q_outputs = one_hot + continuous_dim * (2 if learn_std else 1)
        if architecture == "mnist":
            self.generator = InfoGANGenerator(latent_dim, resolution, channels, ngf)
            self.discriminator = InfoGANDiscriminator(resolution, channels, q_outputs, ndf, q_hidden)
            return
        if architecture == "celeba":
            self.generator = InfoGANCelebAGenerator(latent_dim, resolution, channels, ngf)
            self.discriminator = InfoGANCelebADiscriminator(resolution, channels, q_outputs, ndf, q_hidden)
            return
        self.generator = DCGANGenerator(latent_dim, resolution, channels, ngf)
        trunk = DCGANDiscriminator(resolution, channels, ndf)
        self.discriminator = AuxiliaryHeadDiscriminator(trunk, q_outputs, hidden=q_hidden)
        dcgan_init(self.generator)
        dcgan_init(self.discriminator)

    # --------------------------------------------------------------------------------------- codes

    @property
    def categorical_names(self) -> list[str]:
        """``categorical`` for a single categorical code, ``cat1``, ``cat2`` ... for several."""
        if len(self.categorical_dims) == 1:
            return ["categorical"]
        return [f"cat{j + 1}" for j in range(len(self.categorical_dims))]

    @property
    def code_names(self) -> list[str]:
        """The categorical codes' names (``categorical_names``), then ``c1``, ``c2`` ... for the continuous codes."""
        return self.categorical_names + [f"c{j + 1}" for j in range(self.continuous_dim)]

    def code_categories(self, name: str) -> int:
        """Categories of code ``name``; 0 for a continuous code."""
        self.code_columns(name)
        names = self.categorical_names
        return self.categorical_dims[names.index(name)] if name in names else 0

    def code_columns(self, name: str) -> slice:
        """The latent columns that hold code ``name``."""
        if name not in self.code_names:
            raise ZooError(f"unknown code '{name}'; this model's codes are: {', '.join(self.code_names)}")
        names = self.categorical_names
        if name in names:
            j = names.index(name)
            start = self.noise_dim + sum(self.categorical_dims[:j])
            return slice(start, start + self.categorical_dims[j])
        j = self.noise_dim + self.categorical_dim + int(name[1:]) - 1
        return slice(j, j + 1)

    def sample_latent(
        self, n: int, generator: torch.Generator | None = None, truncation: float | None = None
    ) -> Tensor:
        """[noise | one-hot of each categorical code | continuous codes]; ``truncation`` applies to normal noise
        only. The noise is drawn first, then the continuous codes, then the categorical codes in order. A draw from
        the training stream (no ``generator``) is the iteration's fake batch: its codes are kept for the losses."""
        rng = generator if generator is not None else self._latent_rng
        device = rng.device if rng is not None else self.device
        if self.hparams.noise == "normal":
            noise = super().sample_latent(n, generator, truncation)[:, : self.noise_dim]
        elif truncation is not None:
            raise ZooError("infogan's noise is U(-1, 1): truncation applies to --model.noise normal only")
        else:
            noise = (torch.rand(n, self.noise_dim, generator=rng, device=device) * 2 - 1).to(self.device)
        continuous = torch.rand(n, self.continuous_dim, generator=rng, device=device) * 2 - 1
        codes = []
        for k in self.categorical_dims:
            category = torch.randint(k, (n,), generator=rng, device=device)
            codes.append(F.one_hot(category, k).float())
        codes = torch.cat([*codes, continuous], dim=1).to(self.device)
        if generator is None:
            self._fake_codes = codes
        return torch.cat([noise, codes], dim=1)

    # ------------------------------------------------------------------------------------ the game

    def discriminate(self, x: Tensor, y: Tensor | None) -> Tensor:
        """The source logits alone (what penalties see); Q's outputs are read by the losses."""
        return self.discriminator(x)[0]

    def information_loss(self, q: Tensor, codes: Tensor) -> tuple[Tensor, dict]:
        """lambda_cat CE + lambda_cont NLL = -(weighted) L_I + const: the categorical codes' cross-entropies, each
        under its own softmax over its block of Q's outputs, summed over the codes, plus the continuous codes'
        Gaussian negative log-likelihood (summed over codes), each averaged over the batch, the NLL with its
        log sqrt(2 pi) constant. Q's outputs are [logits of each categorical code | means | log-stds], in the
        latent's order. Logs ``info/mi_categorical`` = sum over the codes of log K_j - CE_j, the categorical part
        of L_I (at most sum log K_j)."""
        k, c = self.categorical_dim, self.continuous_dim
        q, codes = q.float(), codes.float()
        logs, loss = {}, q.new_zeros(())
        if k:
            cross_entropy, entropy, start = q.new_zeros(()), 0.0, 0
            for categories in self.categorical_dims:
                block = slice(start, start + categories)
                cross_entropy = cross_entropy + F.cross_entropy(q[:, block], codes[:, block].argmax(1))
                entropy, start = entropy + math.log(categories), start + categories
            loss = loss + self.hparams.lambda_categorical * cross_entropy
            logs["info/mi_categorical"] = entropy - cross_entropy
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

    # ------------------------------------------------------------------------------------- persistence

    #: 2: the noise is U(-1, 1) and the MNIST nets work on [0, 1] pixels, G ending in a sigmoid (commit cd36d40;
    #: format 1: N(0, I) noise, the MNIST nets on [-1, 1] pixels with a tanh out of G)
    checkpoint_format = 2

    @classmethod
    def unversioned_format(cls, checkpoint: dict) -> int:
        """2 for a checkpoint written between cd36d40 and the zoo's format key (its hyperparameters have ``noise``)."""
        return 2 if "noise" in checkpoint.get("hyper_parameters", {}) else 1

    @classmethod
    def migrate_checkpoint(cls, checkpoint: dict, old: int, source, generator_only: bool) -> str:
        """Format 1 -> 2. The noise stays the N(0, I) it was trained with (``noise: normal``), and a checkpoint
        from before the ``architecture`` option (7dca5fb) keeps the DCGAN nets it had: both exact. Table 1's MNIST
        G converts exactly: its last layer's weights and bias doubled make sigmoid's output what tanh's was, since
        tanh(a) = 2 sigmoid(2a) - 1 (and G maps p -> 2p - 1 to the zoo's pixels). Its D has no exact conversion:
        its first convolution zero-pads [-1, 1] pixels, and 0 there is grey, where the current D zero-pads [0, 1]
        pixels (black); so only a ``generator_only`` reader (sample, evaluate) gets the G, and training from it is
        refused."""
        hparams = checkpoint["hyper_parameters"]
        hparams.setdefault("noise", "normal")
        hparams.setdefault("architecture", "dcgan")
        notes = ["noise normal (the N(0, I) it was trained with; U(-1, 1) is the default since format 2)"]
        architecture = resolved_architecture(hparams["architecture"], hparams["channels"], hparams["resolution"])
        if architecture != "mnist":
            return notes[0]
        if not generator_only:
            raise ZooError(
                f"{source} is a format-1 infogan checkpoint (written before commit cd36d40): its MNIST nets were "
                "trained on [-1, 1] pixels with a tanh out of G, where they now work on [0, 1] pixels (a sigmoid out "
                "of G). Its G converts exactly, so `python cli.py sample` and `evaluate` read it; its D, whose first "
                "convolution zero-pads [-1, 1] pixels, has no exact conversion, so training cannot resume from it: "
                "retrain it with the current zoo (python cli.py fit --model infogan ...)"
            )
        state = checkpoint["state_dict"]
        for net in ("generator.net.", "generator_ema.net."):
            layers = {int(k[len(net) :].split(".")[0]) for k in state if k.startswith(net)}
            if layers:
                for name in ("weight", "bias"):
                    state[f"{net}{max(layers)}.{name}"] = 2 * state[f"{net}{max(layers)}.{name}"]
        notes.append(
            "G's tanh output became the sigmoid's: its last layer doubled (tanh(a) = 2 sigmoid(2a) - 1), the same "
            "samples; its D has no exact conversion and is left as saved: use this model to sample and evaluate only"
        )
        return "; ".join(notes)
