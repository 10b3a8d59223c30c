"""StyleGAN's networks (Karras, Laine and Aila 2019, "A Style-Based Generator Architecture for Generative
Adversarial Networks", arXiv 1812.04948: Sec. 2, Fig. 1b, App. C; Table 1 configs E/F; official code:
networks_stylegan.py ``G_synthesis`` and ``D_basic``).

- The mapping network is StyleGAN2's ``MappingNetwork`` (zoo/nets/stylegan2.py): normalized z, 8 equalized FC
  layers with lr multiplier 0.01 and leaky ReLU 0.2, the tracked ``w_avg`` and truncation in W. The authors' v1
  code puts the gain sqrt(2) into the weights, before the bias, where that class applies it after the
  activation: the same function with the bias scaled by sqrt(2), i.e. a reparametrization of a zero-initialized bias.
- ``StyleSynthesis``: a learned 4x4 constant (ones), per resolution two ``StyleLayer``s (conv, per-channel noise,
  bias, leaky ReLU 0.2, ``AdaIN``), the first after a 2x nearest upsampling + 3x3 conv + [1, 2, 1] blur
  (bilinear upsampling, as the authors' non-fused path); a linear 1x1 toRGB per resolution. It grows as PGGAN's
  generator does (``Progressive``: the newest resolution faded in over the upsampled previous toRGB).
- D is PGGAN's discriminator (zoo/nets/pggan.py) with ``blur=True``.

Widths: min(fmap_base / 2**(log2(res) - 1), fmap_max), 8192 and 512 in the paper (512 up to 32 px, 16 at 1024).
One w per layer: num_ws = 2 log2(R) - 2 (18 at 1024 px).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.nets.pggan import HE_GAIN, SLOPE, Blur, Progressive, stage_channels, upsample
from zoo.nets.stylegan2 import StyleGenerator
from zoo.nn.equalized import EqualizedConv2d, EqualizedLinear
from zoo.nn.modulated import NoiseInjection


class AdaIN(nn.Module):
    """Adaptive instance normalization (Sec. 2, Eq. 1): each channel of each sample normalized to zero mean and unit
    variance over its pixels (eps 1e-8), then scaled and shifted by the style y = A(w): y_s = 1 + A_s(w) and
    y_b = A_b(w), A an equalized affine layer with gain 1 (official ``style_mod``: the scale's bias starts at 1)."""

    def __init__(self, channels: int, w_dim: int, eps: float = 1e-8):
        super().__init__()
        self.affine = EqualizedLinear(w_dim, 2 * channels)
        self.eps = eps

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        x = x - x.mean(dim=(2, 3), keepdim=True)
        x = x * torch.rsqrt(x.square().mean(dim=(2, 3), keepdim=True) + self.eps)
        scale, bias = self.affine(w)[:, :, None, None].to(x.dtype).chunk(2, dim=1)
        return x * (scale + 1) + bias


class ChannelNoise(NoiseInjection):
    """StyleGAN's noise inputs (Sec. 2, Fig. 1b "B"): one per-pixel Gaussian map per sample, scaled by a learned
    per-feature-map factor (init 0), where StyleGAN2 learns one scalar per layer."""

    def __init__(self, resolution: int, channels: int):
        super().__init__(resolution)
        self.strength = nn.Parameter(torch.zeros(channels, 1, 1))


class StyleLayer(nn.Module):
    """One synthesis layer (Fig. 1b): ``conv`` (none on the 4x4 constant), noise, bias, leaky ReLU 0.2, AdaIN."""

    def __init__(self, conv: nn.Module | None, channels: int, w_dim: int, resolution: int):
        super().__init__()
        self.conv = conv
        self.noise = ChannelNoise(resolution, channels)
        self.bias = nn.Parameter(torch.zeros(channels))
        self.adain = AdaIN(channels, w_dim)

    def forward(self, x: Tensor, w: Tensor, noise_mode: str, rng: torch.Generator | None) -> Tensor:
        if self.conv is not None:
            x = self.conv(x)
        x = self.noise(x, noise_mode, rng)
        return self.adain(F.leaky_relu(x + self.bias[:, None, None].to(x.dtype), SLOPE), w)


def _conv3x3(in_channels: int, out_channels: int) -> EqualizedConv2d:
    return EqualizedConv2d(in_channels, out_channels, 3, bias=False, gain=HE_GAIN)


class StyleBlock(nn.Module):
    """The two layers of one resolution: at 4x4 the constant then a conv; above, upsample-conv-blur then a conv."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int):
        super().__init__()
        first = (
            None
            if resolution == 4
            else nn.Sequential(nn.Upsample(scale_factor=2), _conv3x3(in_channels, out_channels), Blur())
        )
        self.layers = nn.ModuleList(
            [
                StyleLayer(first, out_channels, w_dim, resolution),
                StyleLayer(_conv3x3(out_channels, out_channels), out_channels, w_dim, resolution),
            ]
        )

    def forward(self, x: Tensor, ws: Tensor, noise_mode: str, rng: torch.Generator | None) -> Tensor:
        """``ws``: (N, 2, w_dim), one w per layer."""
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i], noise_mode, rng)
        return x


class StyleSynthesis(Progressive):
    """ws (N, num_ws, w_dim) -> images at the current phase's resolution; the blocks of higher resolutions (and
    their ws) are unused until their phase. During a fade-in the output is
    ``lerp(upsample(toRGB_prev(h_prev)), toRGB(block(h_prev)), alpha)``, as PGGAN (official ``structure='linear'``)."""

    def __init__(self, w_dim: int, resolution: int, channels: int, fmap_base: int = 8192, fmap_max: int = 512):
        super().__init__(resolution)
        widths = [stage_channels(depth + 1, fmap_base, fmap_max) for depth in range(self.max_depth + 1)]
        self.const = nn.Parameter(torch.ones(widths[0], 4, 4))
        self.blocks = nn.ModuleList(
            StyleBlock(c_in, c_out, w_dim, 4 * 2**depth)
            for depth, (c_in, c_out) in enumerate(zip([widths[0], *widths[:-1]], widths))
        )
        self.to_rgb = nn.ModuleList(EqualizedConv2d(width, channels, 1) for width in widths)
        self.num_ws = 2 * len(self.blocks)

    def forward(self, ws: Tensor, noise_mode: str = "random", rng: torch.Generator | None = None) -> Tensor:
        x = self.const.to(ws.dtype).expand(ws.shape[0], -1, -1, -1)
        for depth, block in enumerate(self.blocks[: self.depth + 1]):
            previous, x = x, block(x, ws[:, 2 * depth : 2 * depth + 2], noise_mode, rng)
        images = self.to_rgb[self.depth](x)
        if self.fading:
            images = torch.lerp(upsample(self.to_rgb[self.depth - 1](previous)), images, self.alpha)
        return images

    @property
    def num_active_ws(self) -> int:
        """The ws the current phase uses (the authors' ``cur_layers`` for style mixing)."""
        return 2 * (self.depth + 1)


class StyleGANGenerator(StyleGenerator):
    """The mapping network and the progressive ``StyleSynthesis``; ``grow`` sets the synthesis's phase."""

    def __init__(
        self,
        z_dim: int,
        w_dim: int,
        resolution: int,
        channels: int,
        fmap_base: int = 8192,
        fmap_max: int = 512,
        mapping_layers: int = 8,
    ):
        super().__init__(StyleSynthesis(w_dim, resolution, channels, fmap_base, fmap_max), z_dim, w_dim, mapping_layers)

    def grow(self, resolution: int, alpha: float = 1.0) -> None:
        self.synthesis.grow(resolution, alpha)
