"""StackGAN++'s networks (Zhang et al. 2018, "StackGAN++: Realistic Image Synthesis with Stacked Generative
Adversarial Networks", TPAMI; Sec. 4, Fig. 2), as the authors' code has them (hanzhanggit/StackGAN-v2,
code/model.py G_NET, D_NET64/128/256, with cfg/birds_3stages.yml: GF_DIM 64, DF_DIM 64, EMBEDDING_DIM 128,
R_NUM 2, Z_DIM 100, BRANCH_NUM 3, B_CONDITION True), and the colour-consistency term (Sec. 4.3, Eq. 8-9;
code/trainer.py compute_mean_covariance and train_Gnet).

- ``TreeGenerator``: a GLU-gated conditioning augmentation, then branch 1 ([c, z] -> FC to 4x4 -> upsampling blocks
  to the base size), and per further branch a joining block (c tiled, 3x3 conv, GLU), residual blocks and one
  upsampling block (2x the previous size, half its width); every branch ends in its own image (3x3 conv, tanh).
- ``TreeDiscriminators``: one ``StackGANDiscriminator`` per scale (zoo/nets/stackgan.py: the image encoder of
  D_NET64/128/256, a conditional and an unconditional logit).

Logits instead of the code's sigmoid outputs (BCE-with-logits: the same loss). At any base size, branch 1 starts at
``ngf * 2^k`` channels at 4x4 for k upsamplings and ends at ``ngf`` (1024 -> 64 at 64 px, ngf 64).
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.nets.stackgan import ConditioningAugmentation, StackGANDiscriminator, conv3x3, doublings


def gated_block(in_channels: int, out_channels: int, upsample: bool = False) -> nn.Sequential:
    """The code's upBlock (``upsample``) and Block3x3_relu: [2x nearest upsampling], 3x3 conv to twice
    ``out_channels``, batch norm, GLU (Sec. 4.1: gated linear units in G)."""
    layers = [nn.Upsample(scale_factor=2, mode="nearest")] if upsample else []
    layers += [conv3x3(in_channels, out_channels * 2), nn.BatchNorm2d(out_channels * 2), nn.GLU(dim=1)]
    return nn.Sequential(*layers)


class GatedResidualBlock(nn.Module):
    """The code's ResBlock: x + (3x3 conv to 2C, BN, GLU, 3x3 conv to C, BN)(x), no activation after the sum."""

    def __init__(self, channels: int):
        super().__init__()
        self.block = nn.Sequential(
            gated_block(channels, channels), conv3x3(channels, channels), nn.BatchNorm2d(channels)
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.block(x)


class NextBranch(nn.Module):
    """The code's NEXT_STAGE_G: [c tiled, h] -> gated 3x3 block (width kept) -> residual blocks -> gated upsampling
    block to half the width at twice the size."""

    def __init__(self, channels: int, condition_dim: int, residual_blocks: int):
        super().__init__()
        self.joint = gated_block(channels + condition_dim, channels)
        self.residual = nn.Sequential(*(GatedResidualBlock(channels) for _ in range(residual_blocks)))
        self.upsample = gated_block(channels, channels // 2, upsample=True)

    def forward(self, h: Tensor, c: Tensor) -> Tensor:
        h = self.joint(torch.cat([c[:, :, None, None].expand(-1, -1, *h.shape[2:]), h], dim=1))
        return self.upsample(self.residual(h))


class TreeGenerator(nn.Module):
    """StackGAN++'s tree-structured G (Sec. 4.1; G_NET): ``scales`` images of base_resolution * 2^i pixels.

    ``forward(z, embedding)`` returns ([image at each scale], mu, logvar)."""

    def __init__(
        self,
        text_dim: int = 1024,
        latent_dim: int = 100,
        condition_dim: int = 128,
        ngf: int = 64,
        base_resolution: int = 64,
        scales: int = 3,
        residual_blocks: int = 2,
        channels: int = 3,
    ):
        super().__init__()
        if scales < 1:
            raise ZooError(f"StackGAN++ needs at least 1 scale, got {scales}")
        if ngf >> (scales - 1) < 1:
            raise ZooError(f"StackGAN++: ngf {ngf} is too narrow for {scales} scales; use ngf >= {2 ** (scales - 1)}")
        steps = doublings(4, base_resolution, "StackGAN++ base scale")
        self.width = ngf << steps
        self.conditioning = ConditioningAugmentation(text_dim, condition_dim, "glu")
        self.fc = nn.Sequential(
            nn.Linear(condition_dim + latent_dim, self.width * 16 * 2, bias=False),
            nn.BatchNorm1d(self.width * 16 * 2),
            nn.GLU(dim=1),
        )
        self.first = nn.Sequential(*(gated_block(self.width >> i, self.width >> (i + 1), True) for i in range(steps)))
        self.branches = nn.ModuleList(NextBranch(ngf >> i, condition_dim, residual_blocks) for i in range(scales - 1))
        self.to_images = nn.ModuleList(nn.Sequential(conv3x3(ngf >> i, channels), nn.Tanh()) for i in range(scales))

    def forward(self, z: Tensor, embedding: Tensor) -> tuple[list[Tensor], Tensor, Tensor]:
        c, mu, logvar = self.conditioning(embedding)
        h = self.first(self.fc(torch.cat([c, z], dim=1)).view(z.shape[0], self.width, 4, 4))
        images = [self.to_images[0](h)]
        for branch, to_image in zip(self.branches, self.to_images[1:]):
            h = branch(h, c)
            images.append(to_image(h))
        return images, mu, logvar


class TreeDiscriminators(nn.ModuleList):
    """One D per scale (D_NET64, D_NET128, D_NET256 at the paper's sizes): scale i encodes with
    log2(base / 4) + i halvings and i narrowing 3x3 convs, so every D ends at the same width at 4x4; each has a
    conditional and an unconditional logit (Sec. 4.2, Eq. 6); with ``text_dim``, each reads the caption embedding
    through its own ``text_context`` instead of G's mu."""

    def __init__(
        self,
        base_resolution: int = 64,
        scales: int = 3,
        channels: int = 3,
        ndf: int = 64,
        condition_dim: int = 128,
        text_dim: int | None = None,
    ):
        super().__init__(
            StackGANDiscriminator(
                base_resolution << i, channels, ndf, condition_dim, narrowings=i, unconditional=True, text_dim=text_dim
            )
            for i in range(scales)
        )


def mean_and_covariance(images: Tensor) -> tuple[Tensor, Tensor]:
    """Per-image pixel mean (N, C) and covariance (N, C, C) over the H x W pixels, with 1 / (H W) (Sec. 4.3,
    Eq. 8; the code's compute_mean_covariance)."""
    pixels = images.flatten(2)
    mean = pixels.mean(2)
    centred = pixels - mean[:, :, None]
    return mean, centred @ centred.transpose(1, 2) / pixels.shape[2]


def color_consistency(images: list[Tensor], weight: float = 50.0, covariance_weight: float = 5.0) -> Tensor:
    """StackGAN++'s colour-consistency regularizer (Sec. 4.3, Eq. 9): for each pair of adjacent scales,
    weight * (MSE(mu_k, mu_{k-1}) + covariance_weight * MSE(Sigma_k, Sigma_{k-1})), the lower scale's statistics
    detached, as the code's train_Gnet (COLOR_LOSS 50 in its LSUN/ImageNet configs, 0 for birds; 5 on the
    covariance term). MSE averages over the batch and the entries."""
    total = images[0].new_zeros(())
    for low, high in itertools.pairwise(images):
        mean_low, cov_low = (s.detach() for s in mean_and_covariance(low))
        mean_high, cov_high = mean_and_covariance(high)
        total = total + weight * (
            (mean_high - mean_low).square().mean() + covariance_weight * (cov_high - cov_low).square().mean()
        )
    return total
