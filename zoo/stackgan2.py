"""StackGAN++ (Zhang, Xu, Li, Zhang, Wang, Huang and Metaxas 2018, "StackGAN++: Realistic Image Synthesis with
Stacked Generative Adversarial Networks", TPAMI; reference code hanzhanggit/StackGAN-v2)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from zoo.errors import ZooError
from zoo.nets.stackgan import kl_divergence
from zoo.nets.stackgan2 import TreeDiscriminators, TreeGenerator, color_consistency
from zoo.nn import dcgan_init
from zoo.penalties import mode_seeking_penalty
from zoo.stackgan import D_CONDITIONS, StagedImages, fake_loss, real_loss, wrong_loss
from zoo.text_to_image import TextToImageGAN


class StackGAN2(StagedImages, TextToImageGAN):
    """Zhang 2018: one tree-structured G draws the image at ``scales`` sizes (64/128/256 px), one D per size with a
    conditional and an unconditional logit, all trained jointly (Sec. 4, Fig. 2; trainer.py condGANTrainer).

    Per scale, D: (real, c) -> 1 on both logits, (real of another class, c) -> 0 conditional and 1 unconditional
    (a wrong pair is still a real image), (G(z, c), c) -> 0 on both, the unconditional terms weighted by
    ``uncond_weight`` (COEFF.UNCOND_LOSS 1 for birds) and summed (Eq. 6; with ``uncond_weight`` 0 the v1 loss
    real + (wrong + fake) / 2). G: the sum over scales of BCE(D_c, 1) + uncond_weight * BCE(D_u, 1), plus
    ``kl_weight`` * KL (2.0) and ``color_weight`` times the colour-consistency term (Sec. 4.3 Eq. 9; 0 for birds,
    50 in the LSUN/ImageNet configs). D sees mu detached; G's adversarial terms see mu itself (train_Gnet);
    ``d_condition text`` gives every D the caption embedding instead (StackGAN-v1's TF original, see
    zoo/stackgan.py).

    ``mode_seeking_weight`` > 0 is MSGAN's StackGAN++ experiment (Mao et al. 2019, Sec. 4.3; HelenMao/MSGAN
    StackGAN++-Mode-Seeking/trainer.py, COEFF.MS_LOSS 1): two latents per caption, both fakes judged at every scale
    (their D and G terms summed), and lambda / (mean|x1 - x2| / mean|z1 - z2| + 1e-5) on the largest images.

    Real images come at the largest size and are resized (bilinear, antialiased) to the smaller ones, as the
    reference's Scale transforms. One random caption per image; Adam 2e-4, (0.5, 0.999) for G and the Ds; batch 24;
    600 epochs for birds; G's weights averaged with decay 0.999 per step (``--ema.decay 0.999``: the recipes).
    """

    def __init__(
        self,
        resolution: int = 256,
        channels: int = 3,
        scales: int = 3,
        ngf: int = 64,
        ndf: int = 64,
        condition_dim: int = 128,
        residual_blocks: int = 2,
        kl_weight: float = 2.0,
        uncond_weight: float = 1.0,
        color_weight: float = 0.0,
        mode_seeking_weight: float = 0.0,
        d_condition: str = "mu",
        num_captions: int = 1,
        **kwargs,
    ):
        """
        Args:
            resolution: the largest scale's size, linked from the datamodule (256); scale i is resolution / 2^i.
            channels: image channels, linked from the datamodule.
            scales: number of branches of the tree (BRANCH_NUM 3).
            ngf: GF_DIM: the first branch ends at ngf channels, branch i at ngf / 2^i (64).
            ndf: DF_DIM of every D (64).
            condition_dim: size of the conditioning-augmentation code (EMBEDDING_DIM 128).
            residual_blocks: residual blocks per later branch (R_NUM 2).
            kl_weight: weight of the KL term (COEFF.KL 2.0).
            uncond_weight: weight of the unconditional terms (COEFF.UNCOND_LOSS: 1 birds).
            color_weight: weight of the colour-consistency term (COEFF.COLOR_LOSS: 0 birds, 50 LSUN/ImageNet).
            mode_seeking_weight: MSGAN's lambda_ms (0: off; 1 in MSGAN's StackGAN++ config).
            d_condition: what the Ds' conditional logits read: mu (StackGAN-v2's code: G's conditioning-augmentation
                mean, detached for D) or text (a deviation taken from StackGAN-v1's TF original: the caption
                embedding through each D's own FC + leaky_rectify 0.2, zoo/nets/stackgan.py ``text_context``).
            num_captions: caption embeddings averaged per image (1: one random caption, datasets.py).
        """
        if resolution >> (scales - 1) < 8:
            raise ZooError(f"stackgan2: {resolution} px over {scales} scales leaves a base under 8 px")
        if d_condition not in D_CONDITIONS:
            raise ZooError(f"stackgan2's d_condition is one of {', '.join(D_CONDITIONS)}, got '{d_condition}'")
        if min(kl_weight, uncond_weight, color_weight, mode_seeking_weight) < 0:
            raise ZooError("stackgan2's loss weights must be >= 0")
        super().__init__(num_captions=num_captions, **kwargs)
        base = resolution >> (scales - 1)
        self.generator = TreeGenerator(
            self.text_dim, self.latent_dim, condition_dim, ngf, base, scales, residual_blocks, channels
        )
        d_text = self.text_dim if d_condition == "text" else None
        self.discriminator = TreeDiscriminators(base, scales, channels, ndf, condition_dim, d_text)
        dcgan_init(self.generator)
        dcgan_init(self.discriminator)

    def condition(self, text: Tensor, mu: Tensor) -> Tensor:
        """What the Ds read (``d_condition``): G's mu or the caption embeddings."""
        return text if self.hparams.d_condition == "text" else mu

    def discriminate(self, x: Tensor, text: Tensor) -> Tensor:
        """The largest scale's conditional logit, conditioned as in training."""
        return self.discriminator[-1](x, self.condition(text, self.generator.conditioning(text)[1]))

    def training_step(self, batch, batch_idx: int) -> None:
        h = self.hparams
        d_opt, g_opt = self.start_iteration()
        data = self.text_batch(batch)
        n = data.images.shape[0]
        pairs = 2 if h.mode_seeking_weight > 0 else 1
        z = self.sample_latent(n * pairs)
        text = data.text.repeat(pairs, 1)
        fakes, mu, logvar = self.generator(z, text)
        condition = self.condition(text, mu)
        reals = [F.interpolate(data.images, size=x.shape[-1], mode="bilinear", antialias=True) for x in fakes[:-1]]
        reals.append(data.images)

        with self.toggled_optimizer(d_opt):
            d_loss, logs = 0.0, {}
            for d, real, fake in zip(self.discriminator, reals, fakes):
                d_loss = d_loss + self.scale_d_loss(
                    d, real, fake.detach(), condition.detach(), data.wrong, data.wrong_valid
                )
            d_opt.zero_grad(set_to_none=True)
            self.manual_backward(d_loss)
            d_opt.step()

        with self.toggled_optimizer(g_opt):
            adversarial = 0.0
            for d, fake in zip(self.discriminator, fakes):
                features = d.features(fake)
                term = real_loss(d.conditional(features, condition))
                if h.uncond_weight > 0:
                    term = term + h.uncond_weight * real_loss(d.unconditional(features))
                adversarial = adversarial + pairs * term  # the pairs' terms summed, as MSGAN's trainer
            kl = kl_divergence(mu, logvar)
            g_loss = adversarial + h.kl_weight * kl
            if h.color_weight > 0:
                g_loss = g_loss + color_consistency(fakes, h.color_weight)
            if pairs == 2:
                first, second = fakes[-1].chunk(2)
                ms = mode_seeking_penalty(first, second, *z.chunk(2), weight=h.mode_seeking_weight)
                g_loss = g_loss + ms
                logs["penalty/mode_seeking"] = ms
            g_opt.zero_grad(set_to_none=True)
            self.manual_backward(g_loss)
            g_opt.step()
        self.generator_steps += 1
        logs.update({"loss/d": d_loss, "loss/g": g_loss, "g/kl": kl})
        self.finish_iteration(n, [d_loss, g_loss], logs)

    def scale_d_loss(
        self, d, real: Tensor, fake: Tensor, condition: Tensor, wrong: Tensor, wrong_valid: Tensor
    ) -> Tensor:
        """One scale's D loss (train_Dnet) with D conditioned on ``condition`` (one per fake). With two fakes per
        caption (mode seeking) the fake terms are summed over the pairs and the real and wrong pairs take the first
        half's condition, as MSGAN's trainer."""
        n = real.shape[0]
        pairs = fake.shape[0] // n
        real_features, fake_features = d.features(real), d.features(fake)
        c = condition[:n]
        real_c = d.conditional(real_features, c)
        wrong_c = d.conditional(real_features[wrong], c)
        fake_c = d.conditional(fake_features, condition)
        lam = self.hparams.uncond_weight
        if lam == 0:
            return real_loss(real_c) + 0.5 * (wrong_loss(wrong_c, wrong_valid) + pairs * fake_loss(fake_c))
        real_u, fake_u = d.unconditional(real_features), d.unconditional(fake_features)
        wrong_u = real_u[wrong]
        return (
            real_loss(real_c)
            + lam * real_loss(real_u)
            + wrong_loss(wrong_c, wrong_valid)
            + lam * wrong_loss(wrong_u, wrong_valid, target_real=True)
            + pairs * (fake_loss(fake_c) + lam * fake_loss(fake_u))
        )
