"""StackGAN's networks (Zhang et al. 2017, "StackGAN: Text to Photo-realistic Image Synthesis with Stacked
Generative Adversarial Networks", ICCV; Sec. 3-4, Fig. 2), as the authors' PyTorch port has them
(hanzhanggit/StackGAN-Pytorch, code/model.py, with code/miscc/config.py's birds defaults GF_DIM 128, DF_DIM 64,
CONDITION_DIM 128, R_NUM 4, Z_DIM 100, TEXT.DIMENSION 1024).

- ``ConditioningAugmentation`` (Sec. 3.1): the text embedding phi_t -> FC -> (mu, log sigma^2), c = mu + sigma * eps
  with eps ~ N(0, I), and ``kl_divergence`` to N(0, I), the G loss term of Eq. 2 and 4 (the code's KL_loss).
- ``StageOneGenerator`` (Sec. 3.2): [z, c] -> FC to 4x4 -> nearest-upsampling blocks -> a low-resolution image.
- ``StageTwoGenerator`` (Sec. 3.3): the frozen stage-I image, downsampled by a conv encoder, joined with its own c,
  residual blocks, then upsampling blocks to 4x the stage-I size.
- ``StackGANDiscriminator``: stride-2 convs down to 4x4 (plus 3x3 convs narrowing back, stage II), a conditional
  logit on the features joined with c tiled over 4x4 (Sec. 3.2 "the text embedding ... spatially replicated"), and
  for stage II the port's unconditional logit too.

The port's D ends in a sigmoid and trains with BCELoss; ours return logits for a BCE-with-logits loss (the same
loss, numerically safer). Widths follow the port at any resolution: G halves its channels per doubling from
``8 * ngf`` at 4x4, the stage-I D doubles them per halving from ``ndf``; the stage-II D narrows back to the stage-I
D's width with one 3x3 conv per extra halving (two at 256 px). Parameter counts at the paper's configuration equal
the port's (tests/test_stackgan_nets.py).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from zoo.errors import ZooError


def conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    """The port's 3x3 convolution: stride 1, padding 1, no bias."""
    return nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False)


def doublings(low: int, high: int, what: str) -> int:
    """How many 2x steps lead from ``low`` to ``high`` pixels; refuses sizes that are not low * 2^k."""
    steps = math.log2(high / low) if high >= low > 0 else -1
    if steps < 1 or steps != int(steps):
        raise ZooError(f"{what}: {high} px is not {low} px times a power of two >= 2; set --data.resolution")
    return int(steps)


def upsampling_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """The port's upBlock: 2x nearest-neighbour upsampling, 3x3 conv, batch norm, ReLU (Sec. 4 "upsampling
    blocks ... nearest-neighbor upsampling followed by a 3x3 stride 1 convolution")."""
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        conv3x3(in_channels, out_channels),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class ResidualBlock(nn.Module):
    """The port's ResBlock: x + (3x3 conv, BN, ReLU, 3x3 conv, BN)(x), then ReLU."""

    def __init__(self, channels: int):
        super().__init__()
        self.block = nn.Sequential(
            conv3x3(channels, channels),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            conv3x3(channels, channels),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(x + self.block(x))


CA_ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2), "glu": lambda: nn.GLU(dim=1)}


class ConditioningAugmentation(nn.Module):
    """Conditioning augmentation (Sec. 3.1): phi_t -> FC -> activation -> (mu, log sigma^2), each ``condition_dim``
    wide, and c = mu + exp(log sigma^2 / 2) * eps, eps ~ N(0, I) (the reparameterization the port's CA_NET uses).

    ``activation`` "relu": StackGAN-Pytorch's FC to 2 * condition_dim with ReLU (so log sigma^2 >= 0 and a unit
    whose input turns negative for every caption stops learning); "leaky_relu": the TF original's leaky_rectify 0.2
    (hanzhanggit/StackGAN stageI/model.py generate_condition; it reads the second half as log sigma and truncates
    eps, which this module does not); "glu": StackGAN-v2's FC to 4 * condition_dim with a GLU (Zhang et al. 2018,
    TPAMI, Sec. 4.1; StackGAN-v2 code/model.py CA_NET).

    ``augment`` False is the paper's ablation without conditioning augmentation (Sec. 5.2, Table 3 "CA: No"), as
    the authors' switch does it (hanzhanggit/StackGAN misc/config.py TRAIN.COND_AUGMENTATION False, stageI/trainer.py
    sample_encoded_context): c = mu, the same code for the same text, and the entry drops the KL term.
    """

    def __init__(self, text_dim: int, condition_dim: int = 128, activation: str = "relu", augment: bool = True):
        super().__init__()
        if activation not in CA_ACTIVATIONS:
            raise ZooError(
                f"unknown conditioning-augmentation activation '{activation}'; choose one of: relu, leaky_relu"
            )
        self.condition_dim, self.augment = condition_dim, augment
        self.fc = nn.Linear(text_dim, condition_dim * (4 if activation == "glu" else 2))
        self.activation = CA_ACTIVATIONS[activation]()

    def forward(self, embedding: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(c, mu, logvar) for a batch of text embeddings."""
        mu, logvar = self.activation(self.fc(embedding)).chunk(2, dim=1)
        if not self.augment:
            return mu, mu, logvar
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu), mu, logvar


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """D_KL(N(mu, diag(exp(logvar))) || N(0, I)) per dimension, averaged over the batch and the dimensions, as the
    authors' KL_loss: mean(-1/2 (1 + logvar - mu^2 - exp(logvar))) (Sec. 3.1, Eq. 2's regularizer)."""
    return (-0.5 * (1 + logvar - mu.square() - logvar.exp())).mean()


class StageOneGenerator(nn.Module):
    """Stage-I G (Sec. 3.2; the port's STAGE1_G): [z, c] -> FC (no bias) to 8 ngf x 4 x 4, BN, ReLU -> upsampling
    blocks halving the width to ``resolution`` -> 3x3 conv to the image, tanh. At 64 px: 1024 -> 512 -> 256 -> 128
    -> 64 channels (ngf 128)."""

    def __init__(
        self,
        text_dim: int = 1024,
        latent_dim: int = 100,
        condition_dim: int = 128,
        ngf: int = 128,
        resolution: int = 64,
        channels: int = 3,
        ca_activation: str = "relu",
        augment: bool = True,
    ):
        super().__init__()
        steps = doublings(4, resolution, "StackGAN stage I")
        width = ngf * 8
        if width >> steps < 1:
            raise ZooError(f"StackGAN stage I: ngf {ngf} is too narrow for {resolution} px; use ngf >= {2**steps // 8}")
        self.width = width
        self.conditioning = ConditioningAugmentation(text_dim, condition_dim, ca_activation, augment)
        self.fc = nn.Sequential(
            nn.Linear(latent_dim + condition_dim, width * 16, bias=False), nn.BatchNorm1d(width * 16), nn.ReLU(True)
        )
        self.upsample = nn.Sequential(*(upsampling_block(width >> i, width >> (i + 1)) for i in range(steps)))
        self.to_image = nn.Sequential(conv3x3(width >> steps, channels), nn.Tanh())

    def forward(self, z: Tensor, embedding: Tensor) -> tuple[list[Tensor], Tensor, Tensor]:
        """([image], mu, logvar): the generators of this module and zoo/nets/stackgan2.py return their images
        smallest first."""
        c, mu, logvar = self.conditioning(embedding)
        h = self.fc(torch.cat([z, c], dim=1)).view(z.shape[0], self.width, 4, 4)
        return [self.to_image(self.upsample(h))], mu, logvar


class StageTwoGenerator(nn.Module):
    """Stage-II G (Sec. 3.3; the port's STAGE2_G): the stage-I image (computed by ``stage_one``, frozen, detached)
    -> 3x3 conv to ngf, ReLU, two stride-2 4x4 convs with BN and ReLU to 4 ngf at a quarter of its size; its own
    conditioning augmentation c tiled there and joined by a 3x3 conv (4 ngf, BN, ReLU); ``residual_blocks``
    residual blocks; upsampling blocks halving the width up to ``resolution``; 3x3 conv to the image, tanh.
    At 64 -> 256 px: 16x16 -> 32 -> 64 -> 128 -> 256 with 256 -> 128 -> 64 -> 32 channels (ngf 128, 4 blocks).

    ``encoder_halvings`` < 2 is a deviation (not the port's): that many of the two widening convs halve the size,
    the others are stride-1 3x3 convs, so the residual blocks work on a finer grid (8x8 or 16x16 for a 16 px
    stage I, where the port's ratio leaves 4x4) and fewer upsampling blocks follow."""

    def __init__(
        self,
        stage_one: StageOneGenerator,
        stage_one_resolution: int = 64,
        text_dim: int = 1024,
        condition_dim: int = 128,
        ngf: int = 128,
        residual_blocks: int = 4,
        resolution: int = 256,
        channels: int = 3,
        ca_activation: str = "relu",
        augment: bool = True,
        encoder_halvings: int = 2,
    ):
        super().__init__()
        if encoder_halvings not in (0, 1, 2):
            raise ZooError(f"StackGAN stage II: encoder_halvings is 0, 1 or 2 (the port's), got {encoder_halvings}")
        if stage_one_resolution < 8:
            raise ZooError(f"StackGAN stage II: the stage-I images must be >= 8 px, got {stage_one_resolution}")
        steps = doublings(stage_one_resolution >> encoder_halvings, resolution, "StackGAN stage II")
        if (ngf * 4) >> steps < 1:
            raise ZooError(f"StackGAN stage II: ngf {ngf} is too narrow for {resolution} px")
        self.stage_one = stage_one.requires_grad_(False)
        self.conditioning = ConditioningAugmentation(text_dim, condition_dim, ca_activation, augment)
        self.encoder = nn.Sequential(conv3x3(channels, ngf), nn.ReLU(True))
        for i, width in enumerate((ngf * 2, ngf * 4)):
            widening = (
                nn.Conv2d(width // 2, width, 4, 2, 1, bias=False)
                if i < encoder_halvings
                else conv3x3(width // 2, width)
            )
            self.encoder.extend([widening, nn.BatchNorm2d(width), nn.ReLU(True)])
        self.joint = nn.Sequential(conv3x3(ngf * 4 + condition_dim, ngf * 4), nn.BatchNorm2d(ngf * 4), nn.ReLU(True))
        self.residual = nn.Sequential(*(ResidualBlock(ngf * 4) for _ in range(residual_blocks)))
        width = ngf * 4
        self.upsample = nn.Sequential(*(upsampling_block(width >> i, width >> (i + 1)) for i in range(steps)))
        self.to_image = nn.Sequential(conv3x3(width >> steps, channels), nn.Tanh())

    def forward(self, z: Tensor, embedding: Tensor) -> tuple[list[Tensor], Tensor, Tensor]:
        """([stage-I image, stage-II image], mu, logvar); mu and logvar are stage II's own."""
        low = self.stage_one(z, embedding)[0][0].detach()
        h = self.encoder(low)
        c, mu, logvar = self.conditioning(embedding)
        h = self.joint(torch.cat([h, c[:, :, None, None].expand(-1, -1, *h.shape[2:])], dim=1))
        return [low, self.to_image(self.upsample(self.residual(h)))], mu, logvar


class ImageEncoder(nn.Sequential):
    """D's image path: ``halvings`` stride-2 4x4 convs (no bias; BN after all but the first; LeakyReLU 0.2)
    doubling the width from ``ndf``, then ``narrowings`` 3x3 convs with BN and LeakyReLU halving it, ending at 4x4.
    StackGAN's stage-I D and StackGAN-v2's 64 px D: 4 halvings; stage II at 256 px: 6 and 2 (the port's
    STAGE2_D.encode_img); StackGAN-v2's 128/256 px Ds: 5 and 1, 6 and 2."""

    def __init__(self, channels: int, ndf: int, halvings: int, narrowings: int = 0):
        layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        width = ndf
        for _ in range(halvings - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2)]
            layers += [nn.LeakyReLU(0.2, True)]
            width *= 2
        for _ in range(narrowings):
            layers += [conv3x3(width, width // 2), nn.BatchNorm2d(width // 2), nn.LeakyReLU(0.2, True)]
            width //= 2
        super().__init__(*layers)
        self.out_channels = width


class ConditionalLogit(nn.Module):
    """The port's D_GET_LOGITS with a condition: [features (4x4), c tiled over 4x4] -> 3x3 conv back to the
    features' width, BN, LeakyReLU 0.2 -> 4x4 conv (stride 4, with bias) -> one logit per sample."""

    def __init__(self, channels: int, condition_dim: int):
        super().__init__()
        self.net = nn.Sequential(
            conv3x3(channels + condition_dim, channels),
            nn.BatchNorm2d(channels),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(channels, 1, 4, 4),
        )

    def forward(self, features: Tensor, c: Tensor) -> Tensor:
        tiled = c[:, :, None, None].expand(-1, -1, *features.shape[2:])
        return self.net(torch.cat([features, tiled], dim=1)).flatten()


def text_context(text_dim: int, condition_dim: int) -> nn.Sequential:
    """The TF original's D context embedding (hanzhanggit/StackGAN stageI/model.py ``context_embedding``, used by
    ``get_discriminator``): the caption embedding itself -> FC to ``condition_dim`` -> leaky_rectify 0.2, D's own
    reading of the text, in place of G's conditioning-augmentation mean."""
    return nn.Sequential(nn.Linear(text_dim, condition_dim), nn.LeakyReLU(0.2))


class StackGANDiscriminator(nn.Module):
    """StackGAN's D at one stage: ``features(x)`` (an ``ImageEncoder`` to 4x4), ``conditional(features, c)`` and,
    with ``unconditional``, ``unconditional(features)`` (a 4x4 stride-4 conv, the port's stage-II
    get_uncond_logits and StackGAN-v2's uncond_logits). Stage I: ``halvings`` log2(resolution / 4),
    ``narrowings`` 0, no unconditional logit; stage II: the stage-I D's halvings plus two, narrowing back.

    ``c`` is G's conditioning-augmentation mean mu (the PyTorch ports) or, with ``text_dim``, the caption
    embedding, which D reads through its own ``text_context`` (the TF original)."""

    def __init__(
        self,
        resolution: int = 64,
        channels: int = 3,
        ndf: int = 64,
        condition_dim: int = 128,
        narrowings: int = 0,
        unconditional: bool = False,
        text_dim: int | None = None,
    ):
        super().__init__()
        self.encoder = ImageEncoder(channels, ndf, doublings(4, resolution, "StackGAN discriminator"), narrowings)
        width = self.encoder.out_channels
        self.context = text_context(text_dim, condition_dim) if text_dim is not None else nn.Identity()
        self.conditional_logit = ConditionalLogit(width, condition_dim)
        self.unconditional_logit = nn.Conv2d(width, 1, 4, 4) if unconditional else None

    def features(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def conditional(self, features: Tensor, c: Tensor) -> Tensor:
        return self.conditional_logit(features, self.context(c))

    def unconditional(self, features: Tensor) -> Tensor:
        if self.unconditional_logit is None:
            raise ZooError("this StackGAN discriminator has no unconditional logit (stage I)")
        return self.unconditional_logit(features).flatten()

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        """The conditional logit of images ``x`` with conditions ``c``."""
        return self.conditional(self.features(x), c)
