"""GAN-CLS, GAN-INT and GAN-INT-CLS (Reed, Akata, Yan, Logeswaran, Schiele and Lee 2016, "Generative Adversarial
Text to Image Synthesis", ICML; reference code reedscot/icml2016 main_cls_int.lua, main_cls.lua)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zoo.errors import ZooError
from zoo.nets.gan_t2i import T2IDiscriminator, T2IGenerator
from zoo.nn import dcgan_init
from zoo.text_to_image import TextToImageGAN, interpolate_text, interpolated_g_loss, matching_aware_d_loss

#: variant -> (cls_weight, interp_weight): the paper's GAN, GAN-CLS, GAN-INT and GAN-INT-CLS (Sec. 4.2, 4.3;
#: main_cls_int.lua's cls_weight 0.5 and interp_weight 1 in scripts/train_cub.sh)
VARIANTS = {"gan": (0.0, 0.0), "cls": (0.5, 0.0), "int": (0.0, 1.0), "int_cls": (0.5, 1.0)}


class GANT2I(TextToImageGAN):
    """Reed 2016: text-conditional DCGAN, matching-aware D (GAN-CLS) and interpolated text (GAN-INT).

    Networks: zoo/nets/gan_t2i.py (text -> FC 128 + LeakyReLU 0.2 joined to z in G, residual blocks at 4x4 and 8x8;
    the text tiled at 4x4 in D). D loss: log D(x, t) + 0.5 (log(1 - D(x_wrong, t)) + log(1 - D(G(z, t), t))) with
    x_wrong an image of another class (Algorithm 1); G loss: the non-saturating loss on the batch's texts and, with
    INT, on B/2 interpolations beta t1 + (1 - beta) t2, beta = 0.5 (Sec. 4.3), each G step drawing fresh latents for
    the 1.5 B conditions as main_cls_int.lua does. The text input is the mean of 4 caption embeddings of the image.
    Adam 2e-4, beta1 0.5, batch 64, both learning rates halved every 100 epochs, 600 epochs (scripts/train_cub.sh).
    """

    def __init__(
        self,
        variant: str = "int_cls",
        resolution: int = 64,
        channels: int = 3,
        ngf: int = 128,
        ndf: int = 64,
        nt: int = 128,
        interp_beta: float = 0.5,
        lr_halving_epochs: int | None = 100,
        d_residual_block: bool = False,
        **kwargs,
    ):
        """
        Args:
            variant: gan (no matching-aware term, no interpolation: the paper's baseline), cls, int or int_cls.
            resolution: image size, linked from the datamodule (64 in the paper; 32 for captioned MNIST).
            channels: image channels, linked from the datamodule.
            ngf: generator width (128 for CUB and flowers, 196 for COCO).
            ndf: discriminator width (64; 196 for COCO).
            nt: size of the projected text features in G and D (128).
            interp_beta: GAN-INT's beta: conditions beta t1 + (1 - beta) t2.
            lr_halving_epochs: halve both learning rates every this many epochs (None: constant).
            d_residual_block: add the bottleneck residual block main_cls_int.lua defines for D at 4x4 but leaves out
                of its network (an undefined name); off: the reference's network.
        """
        if variant not in VARIANTS:
            raise ZooError(f"unknown gan_t2i variant '{variant}'; choose one of: {', '.join(VARIANTS)}")
        if lr_halving_epochs is not None and lr_halving_epochs < 1:
            raise ZooError(f"lr_halving_epochs must be >= 1 (or null: constant), got {lr_halving_epochs}")
        super().__init__(**kwargs)
        self.cls_weight, self.interp_weight = VARIANTS[variant]
        self.generator = T2IGenerator(self.latent_dim, self.text_dim, resolution, channels, ngf, nt)
        self.discriminator = T2IDiscriminator(self.text_dim, resolution, channels, ndf, nt, d_residual_block)
        for net in (self.generator, self.discriminator):
            dcgan_init(net)  # weights_init: convolutions N(0, 0.02), BN scales N(1, 0.02)
            for m in net.modules():
                if isinstance(m, nn.Linear):
                    m.reset_parameters()  # weights_init leaves the FC layers at Torch's default (PyTorch's is alike)

    def training_step(self, batch, batch_idx: int) -> None:
        d_opt, g_opt = self.start_iteration()
        real, text, _, wrong, wrong_valid = self.text_batch(batch)
        n = real.shape[0]
        with torch.no_grad():
            fake = self.generate(self.generator, self.sample_latent(n), text)

        with self.toggled_optimizer(d_opt):
            real_right = self.discriminate(real, text)
            real_wrong = self.discriminate(real[wrong], text) if self.cls_weight else None
            fake_right = self.discriminate(fake, text)
            d_loss = matching_aware_d_loss(real_right, real_wrong, fake_right, self.cls_weight, wrong_valid)
            d_opt.zero_grad(set_to_none=True)
            self.manual_backward(d_loss)
            d_opt.step()
        logs = {"loss/d": d_loss, "d/real": real_right.mean(), "d/fake": fake_right.mean()}
        if real_wrong is not None:
            logs["d/wrong"] = real_wrong.mean()

        with self.toggled_optimizer(g_opt):
            g_text = text
            if self.interp_weight:
                g_text = torch.cat([text, interpolate_text(text, self.hparams.interp_beta)])
            out = self.discriminate(self.generate(self.generator, self.sample_latent(len(g_text)), g_text), g_text)
            if self.interp_weight:
                g_loss = interpolated_g_loss(out[:n], out[n:], self.interp_weight)
            else:
                g_loss = F.softplus(-out).mean()
            g_opt.zero_grad(set_to_none=True)
            self.manual_backward(g_loss)
            g_opt.step()
            self.after_generator_step()
        self.generator_steps += 1
        logs["loss/g"] = g_loss
        self.finish_iteration(n, [d_loss, g_loss], logs)

    def lr_factor(self) -> float | None:
        """0.5 ** (epoch // lr_halving_epochs), epochs counted from 1 as main_cls_int.lua halves at the start of
        epochs 100, 200, ..."""
        every = self.hparams.lr_halving_epochs
        return None if every is None else 0.5 ** ((self.current_epoch + 1) // every)
