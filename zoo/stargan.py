"""StarGAN (Choi, Choi, Kim, Ha, Kim and Choo 2018, "StarGAN: Unified Generative Adversarial Networks for
Multi-Domain Image-to-Image Translation", CVPR, arXiv 1711.09020)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.nets.translation import ResnetTranslator, StarGANDiscriminator
from zoo.translation import TranslationGAN, reject_knobs

#: CelebA's hair colours: a target sets one of them and clears the others (the authors' ``create_labels``)
HAIR_COLOURS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")


def domain_classification_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Binary cross-entropy of every domain logit, summed over domains and averaged over the batch (Eq. 2, 3 for
    multi-label attributes, as the authors' code computes it)."""
    return F.binary_cross_entropy_with_logits(logits.float(), labels.float(), reduction="sum") / len(logits)


def single_domain_changes(labels: Tensor, domains: list[str]) -> list[Tensor]:
    """StarGAN's test targets (Fig. 4): for each domain, ``labels`` with that one domain changed. A hair colour is
    set and the other hair colours cleared; any other attribute (Male, Young, ...) is flipped."""
    hair = [i for i, name in enumerate(domains) if name in HAIR_COLOURS]
    targets = []
    for i, name in enumerate(domains):
        target = labels.clone()
        if i in hair:
            target[:, hair] = 0
            target[:, i] = 1
        else:
            target[:, i] = 1 - target[:, i]
        targets.append(target)
    return targets


class StarGAN(TranslationGAN):
    """Choi 2018: one translator G(x, c) for every target domain c, a PatchGAN critic with a domain classifier,
    WGAN-GP, classification and reconstruction losses.

    Each iteration takes real images x with their domain labels c' (CelebA attributes) and targets c, the labels of
    the batch shuffled (as the authors' code draws them); with D = (D_src, D_cls):

    - D minimizes E[D_src(G(x, c))] - E[D_src(x)] + lambda_gp GP + lambda_cls BCE(D_cls(x), c') (Eq. 8, 3);
    - every ``d_steps`` (5) iterations, G minimizes -E[D_src(G(x, c))] + lambda_cls BCE(D_cls(G(x, c)), c)
      + lambda_rec |x - G(G(x, c), c')|_1 (Eq. 4, 5, 6);

    lambda_cls 1, lambda_rec 10, lambda_gp 10 (the zoo's ``gp`` penalty on D_src), Adam lr 1e-4 with betas
    (0.5, 0.999), batch 16, 128 px CelebA with five domains (Sec. 4, App. 7.2). The adversarial game is the zoo's
    objective (``wasserstein`` by default), so ``--model.objective non_saturating`` and an empty penalty list give
    the paper's Eq. 1 form. Multi-dataset training with mask vectors (CelebA + RaFD, Sec. 3.2) is not implemented.
    """

    default_data = "celeba"
    uses_attribute_labels = True

    def __init__(
        self,
        domains: list[str] | None = None,
        resolution: int = 128,
        channels: int = 3,
        width: int = 64,
        blocks: int = 6,
        d_width: int = 64,
        d_layers: int = 6,
        running_stats: bool = True,
        lambda_cls: float = 1.0,
        lambda_rec: float = 10.0,
        objective: str | None = "wasserstein",
        penalties: list[dict] | None = None,
        d_steps: int = 5,
        g_lr: float = 1e-4,
        d_lr: float = 1e-4,
        **kwargs,
    ):
        """
        Args:
            domains: names of the target domains, linked from the datamodule (CelebA: --data.attributes
                [Black_Hair, Blond_Hair, Brown_Hair, Male, Young], the paper's five).
            resolution: image size, linked from the datamodule (a multiple of 2^d_layers).
            channels: image channels, linked from the datamodule.
            width: channels of the translator's first layer (64).
            blocks: residual blocks of the translator (6).
            d_width: channels of the discriminator's first layer (64).
            d_layers: stride-2 layers of the discriminator (6 at 128 px: D_src scores 2x2 positions).
            running_stats: the translator's instance norms keep running averages of their statistics, as the
                authors' ``nn.InstanceNorm2d(affine=True, track_running_stats=True)`` (yunjey/stargan model.py), and
                normalize with them in eval mode (sampling), as their ``G.eval()`` does; their solver itself never
                calls ``eval()`` and so translates with each image's own statistics, which false gives.
            lambda_cls: weight of the domain classification losses (1).
            lambda_rec: weight of the reconstruction loss (10).
            penalties: D penalties (default: [{name: gp, weight: 10}], WGAN-GP on D_src).
            d_steps: discriminator updates per generator update (5).
        """
        if not domains:
            raise ZooError(
                "stargan translates between attribute domains: name them with --data.attributes, e.g. "
                "'[Black_Hair, Blond_Hair, Brown_Hair, Male, Young]' (the paper's CelebA domains)"
            )
        if objective is None:
            raise ZooError("stargan needs an adversarial objective (--model.objective, default wasserstein)")
        reject_knobs(
            "stargan",
            kwargs,
            {"packing": 1, "num_classes": None},
            "its domains are attribute vectors (--data.attributes), and D judges single images",
        )
        super().__init__(
            latent_dim=0,
            objective=objective,
            penalties=[{"name": "gp", "weight": 10.0}] if penalties is None else penalties,
            d_steps=d_steps,
            g_lr=g_lr,
            d_lr=d_lr,
            **kwargs,
        )
        self.domains = list(domains)
        self.generator = ResnetTranslator(
            channels + len(domains), channels, width, blocks, padding_mode="zeros", sampling_kernel=4, bias=False,
            affine=True, running_stats=running_stats,
        )  # fmt: skip
        self.discriminator = StarGANDiscriminator(channels, resolution, len(domains), d_width, d_layers)

    # ------------------------------------------------------------------------------------------- the game

    def generator_inputs(self, real: Tensor, y_real: Tensor | None) -> tuple[Tensor, Tensor]:
        """The real images and their targets: the batch's labels in a random order."""
        order = torch.randperm(len(real), generator=self._latent_rng, device=self._latent_rng.device)
        return real, y_real[order.to(y_real.device)].float()

    def discriminate(self, x: Tensor, y: Tensor | None) -> Tensor:
        """D_src: the real/fake scores, which the objective and the penalties see."""
        return self.discriminator(x)[0]

    def discriminator_loss(self, real, y_real, fake, y_fake):
        real_src, real_cls = self.discriminator(real)
        fake_src = self.discriminate(fake, y_fake)
        adversarial = self.objective.d_loss(real_src, fake_src)
        classification = domain_classification_loss(real_cls, y_real)
        loss = adversarial + self.hparams.lambda_cls * classification
        logs = {
            "loss/d": loss,
            "d/real": real_src.mean(),
            "d/fake": fake_src.mean(),
            "d/classification": classification,
        }
        return loss, logs

    def generator_loss(self, fake, y_fake, real, y_real):
        fake_src, fake_cls = self.discriminator(fake)
        real_src = self.discriminate(real, y_real) if self.objective.g_needs_real else None
        adversarial = self.objective.g_loss(fake_src, real_src)
        classification = domain_classification_loss(fake_cls, y_fake)
        reconstruction = F.l1_loss(self.generator(fake, y_real.float()), real)
        loss = adversarial + self.hparams.lambda_cls * classification + self.hparams.lambda_rec * reconstruction
        return loss, {"loss/g": loss, "g/classification": classification, "g/reconstruction": reconstruction}

    # ------------------------------------------------------------------------------------------- sampling

    def run_translator(self, net: nn.Module, images: Tensor, labels: Tensor | None, direction: str) -> Tensor:
        if labels is None:
            raise ZooError(f"stargan translates to target domains: name them with --target ({', '.join(self.domains)})")
        return net(images, labels.to(images.device).float())

    def target_labels(self, names: list[str]) -> Tensor:
        """The label row with ``names`` set and every other domain cleared."""
        unknown = [name for name in names if name not in self.domains]
        if unknown:
            raise ZooError(f"unknown domain(s) {', '.join(unknown)}; this model's domains: {', '.join(self.domains)}")
        return torch.tensor([[float(name in names) for name in self.domains]])

    def translation_picture(self, examples: list[Tensor]) -> tuple[Tensor, int]:
        """One row per example: the input, then its translation with each single domain changed (Fig. 4)."""
        images, labels = examples[0].to(self.device), examples[1].float()
        columns = [images] + [self.translate(images, t) for t in single_domain_changes(labels, self.domains)]
        grid = torch.stack([c.float().cpu() for c in columns], dim=1)
        return grid.flatten(0, 1), len(columns)
