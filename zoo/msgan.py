"""MSGAN (Mao, Lee, Tseng, Ma and Yang 2019, "Mode Seeking Generative Adversarial Networks for Diverse Image
Synthesis", CVPR; reference code HelenMao/MSGAN, DCGAN-Mode-Seeking/)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from zoo.base import GANModule
from zoo.errors import ZooError
from zoo.nets.conditional import LabelChannelsDiscriminator, LabelConcatGenerator
from zoo.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from zoo.penalties import configure_penalty


class MSGAN(GANModule):
    """Mao 2019: a conditional DCGAN whose G also minimizes the mode-seeking term (Eq. 3-4), the paper's categorical
    generation setting on CIFAR-10 (Sec. 4.2, Table 1; DCGAN-Mode-Seeking/model.py CDCGAN).

    Every iteration draws two latents z1, z2 for each real image and gives G the real image's class for both
    (model.py forward: the batch of z1 then the batch of z2, with the labels twice). D is trained on both pairs
    (real, fake1) and (real, fake2): BCE(real) + BCE(fake1) + BCE(real) + BCE(fake2), the sum of two backward_D
    terms; G on BCE(fake1 -> real) + BCE(fake2 -> real) + lambda_ms / (mean|G(c, z1) - G(c, z2)| / mean|z1 - z2|
    + 1e-5) (update_G; zoo/penalties.py mode_seeking_penalty), lambda_ms 1. Both sums are twice the zoo's mean
    over the 2n fakes, which is how they are computed here.

    Networks (networks.py, d = 128): G [z (100), one-hot (10)] -> ConvT 4x4 to 512 at 4x4, BN, ReLU -> 256 -> 128
    -> ConvT to 3 channels at 32x32, tanh; D [x, label planes (10)] -> conv 4x4 s2 128, LeakyReLU 0.2 -> 256, BN
    -> 512, BN -> conv 4x4 to 1, sigmoid (our D returns the logit). Every conv has a bias; conv weights from
    N(0, 0.02), biases and BN left at PyTorch's defaults (gaussian_weights_init). Adam 2e-4, betas (0.5, 0.999),
    weight decay 1e-4 for both; batch 32; 200 epochs (options.py, model.py).

    ``mode_seeking_weight`` 0 trains the same pairs without the term (the paper's DCGAN baseline). The term can
    also join another entry's G through ``--model.penalties [{name: mode_seeking}]`` (zoo/penalties.py), and
    stackgan2 takes ``--model.mode_seeking_weight`` (the paper's StackGAN++ experiment, Sec. 4.3).
    """

    conditional = True

    def __init__(
        self,
        resolution: int = 32,
        channels: int = 3,
        num_classes: int = 10,
        ngf: int = 128,
        ndf: int = 128,
        mode_seeking_weight: float = 1.0,
        weight_decay: float = 1e-4,
        **kwargs,
    ):
        """
        Args:
            resolution: image size, linked from the datamodule (32 in the paper).
            channels: image channels, linked from the datamodule.
            num_classes: number of classes, linked from the datamodule.
            ngf: G's width at its last hidden layer (the reference's d = 128).
            ndf: D's width at its first layer (d = 128).
            mode_seeking_weight: lambda_ms of the mode-seeking term (1 in the paper; 0: the baseline without it).
            weight_decay: Adam's L2 weight decay of both networks (1e-4 in the reference).
        """
        if num_classes is None:
            raise ZooError("msgan is class-conditional: train it on labelled data (--data mnist, cifar10, digits ...)")
        if mode_seeking_weight < 0 or weight_decay < 0:
            raise ZooError(
                f"mode_seeking_weight and weight_decay must be >= 0, got {mode_seeking_weight}, {weight_decay}"
            )
        super().__init__(num_classes=num_classes, **kwargs)
        if mode_seeking_weight > 0:
            self.penalties.append(configure_penalty({"name": "mode_seeking", "weight": mode_seeking_weight}))
        g_net = DCGANGenerator(self.latent_dim + num_classes, resolution, channels, ngf, bias=True)
        d_net = DCGANDiscriminator(resolution, channels + num_classes, ndf, bias=True)
        for net in (g_net, d_net):
            for m in net.modules():
                if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                    nn.init.normal_(m.weight, 0.0, 0.02)
        self.generator = LabelConcatGenerator(g_net, num_classes)
        self.discriminator = LabelChannelsDiscriminator(d_net, num_classes)

    def generator_inputs(self, real: Tensor, y_real: Tensor | None) -> tuple[Tensor, Tensor]:
        """2n latents, z1 for every real image then z2 for every real image, each with that image's class."""
        n = real.shape[0]
        return self.sample_latent(2 * n), torch.cat([y_real, y_real])

    def discriminator_loss(self, real: Tensor, y_real: Tensor | None, fake: Tensor, y_fake: Tensor | None):
        loss, logs = super().discriminator_loss(real, y_real, fake, y_fake)
        logs["loss/d"] = 2 * loss
        return 2 * loss, logs

    def generator_loss(self, fake: Tensor, y_fake: Tensor | None, real: Tensor, y_real: Tensor | None):
        loss, logs = super().generator_loss(fake, y_fake, real, y_real)
        logs["loss/g"] = 2 * loss
        return 2 * loss, logs

    def configure_optimizers(self):
        optimizers = super().configure_optimizers()
        for optimizer in optimizers:
            for group in optimizer.param_groups:
                group["weight_decay"] = self.hparams.weight_decay
        return optimizers
