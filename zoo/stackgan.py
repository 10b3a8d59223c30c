"""StackGAN (Zhang, Xu, Li, Zhang, Wang, Huang and Metaxas 2017, "StackGAN: Text to Photo-realistic Image Synthesis
with Stacked Generative Adversarial Networks", ICCV; the authors' PyTorch port hanzhanggit/StackGAN-Pytorch)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from callbacks.checkpoint_io import read_checkpoint
from zoo.base import eval_mode, make_optimizer
from zoo.errors import ZooError
from zoo.nets.stackgan import (
    StackGANDiscriminator,
    StageOneGenerator,
    StageTwoGenerator,
    doublings,
    kl_divergence,
)
from zoo.nn import dcgan_init
from zoo.text_to_image import TextToImageGAN, matching_aware_d_loss

#: hyperparameters a stage-II model shares with the stage-I checkpoint it loads
STAGE_ONE_SHAPE = (
    "text_dim",
    "latent_dim",
    "condition_dim",
    "ngf",
    "channels",
    "ca_activation",
    "conditioning_augmentation",
)
#: what D's conditional logit reads (``StackGAN``'s ``d_condition``)
D_CONDITIONS = ("mu", "text")


def real_loss(logits: Tensor) -> Tensor:
    """BCE(sigmoid(logits), 1), a batch mean (the authors' BCELoss on D's sigmoid output)."""
    return F.softplus(-logits).mean()


def fake_loss(logits: Tensor) -> Tensor:
    """BCE(sigmoid(logits), 0), a batch mean."""
    return F.softplus(logits).mean()


def wrong_loss(logits: Tensor, valid: Tensor, target_real: bool = False) -> Tensor:
    """BCE of D on (real image, caption of another class) pairs, averaged over the items that have such a partner
    (TextToImageGAN.text_batch's ``wrong_valid``): target 0 for the conditional logit, 1 (``target_real``) for
    StackGAN-v2's unconditional one, which sees a real image."""
    per_item = F.softplus(-logits if target_real else logits)
    weights = valid.to(per_item.dtype)
    return (per_item * weights).sum() / weights.sum().clamp(min=1)


class StagedImages:
    """Sampling for generators that return ([image of every stage, smallest first], mu, logvar): the last stage is
    the model's image; ``sample_stages`` (TextToImageGAN's per-stage hook) gives them all."""

    def generate(self, net, z: Tensor, text: Tensor, truncation: float | None = None) -> Tensor:
        return net(z, text)[0][-1]

    def sample_stages(self, z: Tensor, text: Tensor) -> list[Tensor]:
        net = self.generator_ema if self.generator_ema is not None else self.generator
        with torch.no_grad(), eval_mode(net):
            return [x.float().cpu() for x in net(z.to(self.device), text.to(self.device))[0]]


class StackGAN(StagedImages, TextToImageGAN):
    """Zhang 2017: text -> conditioning augmentation -> a 64 px stage-I image -> a 256 px stage-II image that
    re-reads the text (Sec. 3, Fig. 2); trained one stage after the other (Sec. 4: stage I for 600 epochs, then
    stage II with stage I frozen).

    ``stage 1`` (the port's STAGE1_G/STAGE1_D): D on (real, c) -> 1, (real of another class, c) -> 0 and
    (G(z, c), c) -> 0 weighted 1, 1/2, 1/2 (Sec. 3.2 Eq. 3, matching-aware as Reed et al. 2016; utils.py
    compute_discriminator_loss); G on BCE(D(G(z, c), c), 1) + kl_weight * KL(N(mu, sigma) || N(0, I)) (Eq. 4,
    KL weight 2.0 in every released config). D is conditioned on G's mu, detached (the port's trainer), or with
    ``d_condition text`` on the caption embedding through its own FC + leaky ReLU (the TF original's D): on
    captioned MNIST the KL term shrinks mu until the port's D sees no text (D AUC 0.500,
    benchmarks/stackgan_conditioning.py), and the captioned-MNIST recipe uses the TF original's, with its leaky
    conditioning augmentation (``ca_activation leaky_relu``).

    ``stage 2`` (STAGE2_G/STAGE2_D): G takes the frozen stage-I generator of ``stage1_ckpt`` (a zoo checkpoint of
    this entry at stage 1), ``residual_blocks`` residual blocks, 4x the stage-I size; D has the port's conditional
    and unconditional logits: (real_c + real_u) / 2 + (fake_c + wrong_c + fake_u) / 3; G adds BCE(D_u(fake), 1).

    One random caption embedding per image (the port's datasets.py; the TF birds configs average 4:
    ``--model.num_captions 4``). Adam 2e-4, betas (0.5, 0.999); both learning rates halve every
    ``lr_halving_epochs`` (birds: 50 for stage I, 100 for stage II, hanzhanggit/StackGAN stageI|stageII/cfg/birds.yml;
    COCO: 20). Init N(0, 0.02), BN scales N(1, 0.02) (utils.py weights_init). Sampling and ``sample_stages``
    return every stage's images, smallest first.
    """

    def __init__(
        self,
        stage: int = 1,
        stage1_ckpt: str | None = None,
        resolution: int = 64,
        stage1_resolution: int | None = None,
        channels: int = 3,
        ngf: int = 128,
        ndf: int = 64,
        condition_dim: int = 128,
        residual_blocks: int = 4,
        encoder_halvings: int = 2,
        kl_weight: float = 2.0,
        ca_activation: str = "relu",
        d_condition: str = "mu",
        conditioning_augmentation: bool = True,
        lr_halving_epochs: int | None = None,
        num_captions: int = 1,
        **kwargs,
    ):
        """
        Args:
            stage: 1 (train the low-resolution stage) or 2 (train stage II on a frozen stage I).
            stage1_ckpt: stage 2 only: the stage-I checkpoint (``fit --model stackgan --model.stage 1``) whose
                generator stage II builds on; its text_dim, latent_dim, condition_dim, ngf, channels must be these,
                its resolution ``stage1_resolution``.
            resolution: image size of this stage, linked from the datamodule (64 for stage I, 256 for stage II).
            stage1_resolution: stage 2 only: the stage-I image size (None: a quarter of ``resolution``, the paper's
                64 -> 256; captioned MNIST uses 16 -> 32).
            channels: image channels, linked from the datamodule.
            ngf: GF_DIM: stage I's G starts at 8 ngf channels at 4x4, stage II's encoder reaches 4 ngf (128 birds).
            ndf: DF_DIM: the discriminators' first width (64 birds).
            condition_dim: size of the conditioning-augmentation code c (128).
            residual_blocks: stage II's residual blocks (R_NUM: 4 birds, 2 COCO).
            encoder_halvings: stage II's encoder halves the stage-I image this many times before the residual
                blocks: 2 (the port: 64 px -> 16x16); 1 or 0 is a deviation that keeps a finer grid. The
                captioned-MNIST preset mnist_stage2 takes 1: from a 16 px stage I the port's two leave 4x4, and
                stage II's digit size then ignores the caption (benchmarks/stacked_text2image.py).
            kl_weight: weight of the KL term in G's loss (COEFF.KL 2.0).
            ca_activation: the conditioning augmentation's activation: relu (the PyTorch port) or leaky_relu (the TF
                original's leaky_rectify 0.2, under which a mean or log-variance can be negative and keeps learning).
            d_condition: what D's conditional logit reads: mu (the PyTorch port: G's conditioning-augmentation
                mean, detached) or text (the TF original: the caption embedding through D's own FC + leaky_rectify
                0.2, ``text_context``), under which D sees the text however far the KL term shrinks mu.
            conditioning_augmentation: False: the paper's ablation without conditioning augmentation (Sec. 5.2,
                Table 3; the TF original's TRAIN.COND_AUGMENTATION False): G takes c = mu, one code per text, and
                its loss has no KL term.
            lr_halving_epochs: halve both learning rates every this many epochs (LR_DECAY_EPOCH); None: constant.
            num_captions: caption embeddings averaged per image (1: one random caption, the PyTorch port).
        """
        if stage not in (1, 2):
            raise ZooError(f"stackgan's stage is 1 or 2, got {stage}")
        if stage == 2 and stage1_ckpt is None:
            raise ZooError(
                "stackgan stage 2 builds on a trained stage I: pass --model.stage1_ckpt PATH, a checkpoint of "
                "python cli.py fit --model stackgan --model.stage 1"
            )
        if d_condition not in D_CONDITIONS:
            raise ZooError(f"stackgan's d_condition is one of {', '.join(D_CONDITIONS)}, got '{d_condition}'")
        if lr_halving_epochs is not None and lr_halving_epochs < 1:
            raise ZooError(f"lr_halving_epochs must be >= 1 (or null), got {lr_halving_epochs}")
        super().__init__(num_captions=num_captions, **kwargs)
        text, z = self.text_dim, self.latent_dim
        d_text = text if d_condition == "text" else None
        if stage == 1:
            self.generator = StageOneGenerator(
                text, z, condition_dim, ngf, resolution, channels, ca_activation, conditioning_augmentation
            )
            self.discriminator = StackGANDiscriminator(resolution, channels, ndf, condition_dim, text_dim=d_text)
        else:
            low = stage1_resolution or resolution // 4
            augment = conditioning_augmentation
            stage_one = StageOneGenerator(text, z, condition_dim, ngf, low, channels, ca_activation, augment)
            self.generator = StageTwoGenerator(
                stage_one, low, text, condition_dim, ngf, residual_blocks, resolution, channels, ca_activation, augment,
                encoder_halvings=encoder_halvings,
            )  # fmt: skip
            narrowings = doublings(low, resolution, "StackGAN stage II")  # back to stage I's D width: 2 at 64 -> 256
            self.discriminator = StackGANDiscriminator(
                resolution, channels, ndf, condition_dim, narrowings=narrowings, unconditional=True, text_dim=d_text
            )
        dcgan_init(self.generator)
        dcgan_init(self.discriminator)

    # ------------------------------------------------------------------------------------------ stage II

    def setup(self, stage: str) -> None:
        """Stage 2 loads its frozen stage I before training (a resumed run's checkpoint then overwrites it with the
        same weights)."""
        super().setup(stage)
        if stage == "fit" and self.hparams.stage == 2:
            self.load_stage_one(self.hparams.stage1_ckpt)

    def load_stage_one(self, path: str | Path) -> None:
        """Copies the generator of a stage-1 stackgan checkpoint into stage II's frozen ``stage_one``, refusing any
        other checkpoint with a ZooError that says what is wrong."""
        try:
            checkpoint = read_checkpoint(path)
        except ZooError as err:
            raise ZooError(f"--model.stage1_ckpt: {err}") from err
        hparams = checkpoint.get("hyper_parameters", {})
        if checkpoint.get("zoo_model") != "stackgan" or hparams.get("stage") != 1:
            found = f"a '{checkpoint.get('zoo_model')}' model" + (
                f" at stage {hparams['stage']}" if "stage" in hparams else ""
            )
            raise ZooError(
                f"--model.stage1_ckpt {path} holds {found}, not a stackgan stage-1 model: train one with "
                "python cli.py fit --model stackgan --model.stage 1"
            )
        mine = {**{k: self.hparams[k] for k in STAGE_ONE_SHAPE if k != "text_dim"}, "text_dim": self.text_dim}
        mine["resolution"] = self.hparams.stage1_resolution or self.hparams.resolution // 4
        differ = [f"{k} {hparams.get(k)} (stage II needs {v})" for k, v in mine.items() if hparams.get(k) != v]
        if differ:
            raise ZooError(f"--model.stage1_ckpt {path} does not fit this stage II: its {', '.join(differ)}")
        prefix = "generator."
        state = {k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
        self.generator.stage_one.load_state_dict(state)

    def configure_optimizers(self):
        """Adam for D, and for G's trainable weights only (stage II leaves stage I out, as the port's netG_para)."""
        h = self.hparams
        d_opt = make_optimizer(h.optimizer, self.discriminator.parameters(), h.d_lr, h.d_betas)
        trainable = (p for p in self.generator.parameters() if p.requires_grad)
        return [d_opt, make_optimizer(h.optimizer, trainable, h.g_lr, h.g_betas)]

    def lr_factor(self) -> float | None:
        """0.5 ** (epoch // lr_halving_epochs): the port's step decay at the start of every such epoch."""
        if self.hparams.lr_halving_epochs is None:
            return None
        return 0.5 ** (self.current_epoch // self.hparams.lr_halving_epochs)

    # ------------------------------------------------------------------------------------------- the game

    def d_condition(self, text: Tensor, mu: Tensor) -> Tensor:
        """What D is conditioned on (``d_condition``): G's mu, detached, or the caption embeddings."""
        return text if self.hparams.d_condition == "text" else mu.detach()

    def discriminate(self, x: Tensor, text: Tensor) -> Tensor:
        """D's conditional logit for images and caption embeddings, conditioned as in training (the matching-aware
        AUC's scores)."""
        return self.discriminator(x, self.d_condition(text, self.generator.conditioning(text)[1]))

    def training_step(self, batch, batch_idx: int) -> None:
        d_opt, g_opt = self.start_iteration()
        data = self.text_batch(batch)
        real, n = data.images, data.images.shape[0]
        images, mu, logvar = self.generator(self.sample_latent(n), data.text)
        fake, condition = images[-1], self.d_condition(data.text, mu)

        with self.toggled_optimizer(d_opt):
            d_loss, logs = self.stage_d_loss(real, fake.detach(), condition, data.wrong, data.wrong_valid)
            d_opt.zero_grad(set_to_none=True)
            self.manual_backward(d_loss)
            d_opt.step()

        with self.toggled_optimizer(g_opt):
            features = self.discriminator.features(fake)
            adversarial = real_loss(self.discriminator.conditional(features, condition))
            if self.hparams.stage == 2:
                adversarial = adversarial + real_loss(self.discriminator.unconditional(features))
            g_loss, kl = self.generator_loss(adversarial, mu, logvar)
            g_opt.zero_grad(set_to_none=True)
            self.manual_backward(g_loss)
            g_opt.step()
        self.generator_steps += 1
        logs.update({"loss/g": g_loss, "g/kl": kl})
        self.finish_iteration(n, [d_loss, g_loss], logs)

    def generator_loss(self, adversarial: Tensor, mu: Tensor, logvar: Tensor) -> tuple[Tensor, Tensor]:
        """(G's loss, KL): adversarial + kl_weight * KL (Eq. 4), or the adversarial term alone without
        conditioning augmentation (the KL is then reported, not trained)."""
        kl = kl_divergence(mu, logvar)
        if not self.hparams.conditioning_augmentation:
            return adversarial, kl.detach()
        return adversarial + self.hparams.kl_weight * kl, kl

    def stage_d_loss(self, real: Tensor, fake: Tensor, c: Tensor, wrong: Tensor, wrong_valid: Tensor):
        """D's loss at this stage (the port's compute_discriminator_loss): real and fake images with their own
        conditions, and every real image's features with the condition of an item of another class."""
        d = self.discriminator
        real_features, fake_features = d.features(real), d.features(fake)
        real_c = d.conditional(real_features, c)
        wrong_c = d.conditional(real_features[wrong], c)
        fake_c = d.conditional(fake_features, c)
        logs = {"d/real": real_c.mean(), "d/wrong": wrong_c.mean(), "d/fake": fake_c.mean()}
        if self.hparams.stage == 1:
            loss = matching_aware_d_loss(real_c, wrong_c, fake_c, 0.5, wrong_valid)
        else:
            real_u, fake_u = d.unconditional(real_features), d.unconditional(fake_features)
            loss = (real_loss(real_c) + real_loss(real_u)) / 2
            loss = loss + (fake_loss(fake_c) + wrong_loss(wrong_c, wrong_valid) + fake_loss(fake_u)) / 3
        logs["loss/d"] = loss
        return loss, logs
