"""Networks of the image-to-image family.

``ResnetTranslator`` is the image transformation network of Johnson et al. 2016 ("Perceptual Losses for
Real-Time Style Transfer and Super-Resolution", Sec. 3) in the two forms the zoo uses:

- CycleGAN (Zhu et al. 2017, App. 7.2): c7s1-64, d128, d256, 9 residual blocks R256 (6 below 256 px), u128,
  u64, c7s1-3; reflection padding in the 7x7 and residual convolutions, 3x3 stride-2 down and up convolutions,
  instance norm without affine parameters;
- StarGAN (Choi et al. 2018, Table 4): the same plan with 4x4 down and up convolutions, 6 residual blocks,
  zero padding, affine instance norm and no convolution biases; its input is the image with the target-domain
  label broadcast as extra channels.

Instance norm normalizes with each image's own statistics in training; in evaluation too, unless ``running_stats``
keeps running averages as BatchNorm does (StarGAN's ``nn.InstanceNorm2d(affine=True, track_running_stats=True)``,
yunjey/stargan model.py), which evaluation then uses.

``StarGANDiscriminator`` is StarGAN's (Table 5): six 4x4 stride-2 convolutions with LeakyReLU 0.01 and no
normalization, then two heads on the last feature map: D_src, a 3x3 convolution to one real/fake score per
position (a PatchGAN), and D_cls, a convolution over the whole map to one logit per domain.

``PatchDiscriminator`` is the 70x70 PatchGAN of Isola et al. 2017 (pix2pix, App. 6.1.2) that CycleGAN uses
(App. 7.2): C64-C128-C256-C512 of 4x4 convolutions (stride 2, 2, 2, then 1), LeakyReLU 0.2, instance norm except
on C64, and a 4x4 convolution to one output per 70x70 patch (30x30 outputs for a 256 px image).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from zoo.errors import ZooError


def instance_norm(channels: int, affine: bool, running_stats: bool = False) -> nn.InstanceNorm2d:
    return nn.InstanceNorm2d(channels, affine=affine, track_running_stats=running_stats)


class ResidualBlock(nn.Module):
    """x + (conv3x3, IN, ReLU, conv3x3, IN)(x): the residual block of Johnson et al. 2016 without its last ReLU,
    as both CycleGAN and StarGAN build it."""

    def __init__(self, channels: int, padding_mode: str, bias: bool, affine: bool, running_stats: bool = False):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=bias, padding_mode=padding_mode),
            instance_norm(channels, affine, running_stats),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=bias, padding_mode=padding_mode),
            instance_norm(channels, affine, running_stats),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResnetTranslator(nn.Module):
    """An image -> an image of the same size in [-1, 1]. With ``labels`` (StarGAN), each label vector is broadcast
    to constant channels and concatenated to the image, so ``in_channels`` counts image and label channels.

    Args:
        in_channels: input channels (image channels, plus the label channels of StarGAN).
        out_channels: image channels of the output.
        width: channels of the first layer (64); the two downsamplings double it twice.
        blocks: residual blocks at the bottleneck (CycleGAN: 9 at 256 px, 6 at 128 px; StarGAN: 6).
        padding_mode: "reflect" (CycleGAN) or "zeros" (StarGAN) for the 7x7 and residual convolutions.
        sampling_kernel: kernel of the stride-2 convolutions: 3 (CycleGAN) or 4 (StarGAN).
        bias: convolution biases (CycleGAN: yes; StarGAN: no).
        affine: learned instance-norm scale and shift (CycleGAN: no; StarGAN: yes).
        running_stats: instance norms keep running averages of their statistics and use them in eval mode
            (CycleGAN: no; StarGAN's code: yes).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        width: int = 64,
        blocks: int = 9,
        padding_mode: str = "reflect",
        sampling_kernel: int = 3,
        bias: bool = True,
        affine: bool = False,
        running_stats: bool = False,
    ):
        super().__init__()
        k, pad = sampling_kernel, 1  # 3x3 and 4x4 stride-2 convolutions both halve with padding 1
        extra = 1 if k == 3 else 0  # a 3x3 transposed convolution needs output_padding 1 to double

        def unit(conv: nn.Module, channels: int) -> list[nn.Module]:
            return [conv, instance_norm(channels, affine, running_stats), nn.ReLU(inplace=True)]

        layers = unit(nn.Conv2d(in_channels, width, 7, 1, 3, bias=bias, padding_mode=padding_mode), width)
        c = width
        for _ in range(2):
            layers += unit(nn.Conv2d(c, 2 * c, k, 2, pad, bias=bias), 2 * c)
            c *= 2
        layers += [ResidualBlock(c, padding_mode, bias, affine, running_stats) for _ in range(blocks)]
        for _ in range(2):
            layers += unit(nn.ConvTranspose2d(c, c // 2, k, 2, pad, output_padding=extra, bias=bias), c // 2)
            c //= 2
        layers += [nn.Conv2d(c, out_channels, 7, 1, 3, bias=bias, padding_mode=padding_mode), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        if labels is not None:
            planes = labels.to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[2:])
            x = torch.cat([x, planes], dim=1)
        return self.net(x)


class StarGANDiscriminator(nn.Module):
    """x -> (D_src scores (N, 1, r / 2^layers, r / 2^layers), D_cls logits (N, num_domains)); widths double
    from ``width`` at every layer (64 ... 2048 at 128 px)."""

    def __init__(self, channels: int, resolution: int, num_domains: int, width: int = 64, layers: int = 6):
        super().__init__()
        size = resolution // 2**layers
        if size < 1 or resolution % 2**layers:
            raise ZooError(
                f"StarGAN's discriminator halves the image {layers} times: --data.resolution must be a multiple of "
                f"{2**layers}, got {resolution}; or set --model.d_layers"
            )
        modules: list[nn.Module] = []
        c_in, c = channels, width
        for _ in range(layers):
            modules += [nn.Conv2d(c_in, c, 4, 2, 1), nn.LeakyReLU(0.01, inplace=True)]
            c_in, c = c, 2 * c
        self.trunk = nn.Sequential(*modules)
        self.source = nn.Conv2d(c_in, 1, 3, 1, 1, bias=False)
        self.domains = nn.Conv2d(c_in, num_domains, size, bias=False)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.trunk(x)
        return self.source(h), self.domains(h).flatten(1)


class PatchDiscriminator(nn.Module):
    """The PatchGAN: one real/fake score per overlapping patch, (N, 1, H', W'); with ``layers`` = 3 every score
    sees a 70x70 patch. Each extra layer (up to C512) widens the patch."""

    def __init__(self, channels: int, width: int = 64, layers: int = 3):
        super().__init__()
        modules: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        c = width
        for n in range(1, layers + 1):
            out = width * min(2**n, 8)
            stride = 2 if n < layers else 1
            modules += [nn.Conv2d(c, out, 4, stride, 1), instance_norm(out, False), nn.LeakyReLU(0.2, inplace=True)]
            c = out
        modules.append(nn.Conv2d(c, 1, 4, 1, 1))
        self.net = nn.Sequential(*modules)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
