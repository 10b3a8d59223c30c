"""StyleGAN2's networks (Karras et al. 2020, arXiv 1912.04958, config F: Sec. 2-4, Fig. 7, App. B), with the
conditioning and the width rule of StyleGAN2-ADA (Karras et al. 2020, arXiv 2006.06676, App. D).

- ``MappingNetwork``: z -> w through pixel-normalized input and fully connected layers with lr multiplier 0.01;
  a class embedding, normalized the same way, is concatenated to z in the conditional variant. It tracks the
  average w (``w_avg``, beta 0.995) for the truncation trick w' = lerp(w_avg, w, psi) on the first ``cutoff`` ws.
- ``SynthesisNetwork``: a learned 4x4 constant, per resolution two modulated convs and a ToRGB, in the "skip"
  architecture (Fig. 7): rgb = upsample(rgb) + torgb(x). No progressive growing.
- ``Discriminator``: the "residual" architecture: fromRGB at full resolution, per resolution two 3x3 convs and a
  1x1 skip, both downsampling, summed and scaled by sqrt(1/2); then minibatch stddev, a conv, two FC layers.
  Conditional D projects the output features on a class embedding mapped through its own 8-layer mapping
  network (ADA's cmap; the ``map`` option of ADA's train.py is G's only).

Widths: min(channel_base / resolution, channel_max) channels at each resolution (32768 and 512 in config F).
The networks compute NVlabs' stylegan2-ada-pytorch functions (training/networks.py: ``MappingNetwork``,
``SynthesisNetwork``, ``Discriminator`` with architectures "skip" and "resnet"/"orig"), resampling as its
``conv2d_resample`` does: G's upsampling convs are stride-2 transposed convs followed by the [1, 3, 3, 1] filter,
D's downsampling 3x3 convs filter first and then run at stride 2; the parameter tensors are NVlabs' (an importer
maps their names: zoo/importers/nvlabs.py).
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.nn.equalized import EqualizedConv2d, EqualizedLinear
from zoo.nn.modulated import FIRFilter, StyledConv2d, ToRGB, leaky_relu_gain
from zoo.nn.pggan import MinibatchStdDev, PixelNorm


def channels_at(resolution: int, channel_base: int, channel_max: int) -> int:
    """Feature maps at a resolution: min(channel_base / resolution, channel_max)."""
    return min(channel_base // resolution, channel_max)


def check_resolution(resolution: int) -> int:
    if resolution < 4 or resolution & (resolution - 1):
        raise ZooError(f"stylegan2 needs a power-of-two resolution >= 4, got {resolution}; set --data.resolution")
    return resolution


class MappingNetwork(nn.Module):
    """z (and a class) -> ``num_ws`` copies of w (one per synthesis layer), or a single vector when ``num_ws`` is
    None (D's class mapping, ``z_dim`` 0). Every layer: equalized FC, lr multiplier 0.01, leaky ReLU with gain."""

    def __init__(
        self,
        z_dim: int,
        w_dim: int,
        num_ws: int | None,
        num_layers: int = 8,
        num_classes: int | None = None,
        lr_multiplier: float = 0.01,
        w_avg_beta: float | None = 0.995,
    ):
        super().__init__()
        self.z_dim, self.num_ws, self.w_avg_beta = z_dim, num_ws, w_avg_beta
        self.normalize = PixelNorm()
        self.embed = EqualizedLinear(num_classes, w_dim) if num_classes is not None else None
        features = [z_dim + (w_dim if num_classes is not None else 0)] + [w_dim] * num_layers
        self.layers = nn.ModuleList(
            EqualizedLinear(a, b, lr_multiplier=lr_multiplier) for a, b in itertools.pairwise(features)
        )
        if w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(
        self,
        z: Tensor | None,
        y: Tensor | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        update_w_avg: bool = True,
    ) -> Tensor:
        parts = [self.normalize(z)] if self.z_dim else []
        if self.embed is not None:
            if y is None:
                raise ZooError("this network is class-conditional: pass labels y")
            parts.append(self.normalize(self.embed(F.one_hot(y, self.embed.weight.shape[1]).to(self.embed.weight))))
        w = torch.cat(parts, dim=1)
        for layer in self.layers:
            w = leaky_relu_gain(layer(w))
        if self.w_avg_beta is not None and self.training and update_w_avg:
            self.w_avg.copy_(w.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        if self.num_ws is None:
            return w
        ws = w[:, None].expand(-1, self.num_ws, -1)
        if truncation_psi != 1:
            cutoff = self.num_ws if truncation_cutoff is None else truncation_cutoff
            truncated = self.w_avg.lerp(ws[:, :cutoff], truncation_psi)
            ws = torch.cat([truncated, ws[:, cutoff:]], dim=1)
        return ws


class SynthesisBlock(nn.Module):
    """One resolution of the skip generator: (upsampling conv,) conv, ToRGB added to the upsampled image."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, channels: int):
        super().__init__()
        first = resolution == 4
        self.conv0 = None if first else StyledConv2d(in_channels, out_channels, w_dim, resolution, up=True)
        self.conv1 = StyledConv2d(out_channels, out_channels, w_dim, resolution)
        self.torgb = ToRGB(out_channels, channels, w_dim)
        self.resample = None if first else FIRFilter()
        self.num_conv = 1 if first else 2

    def forward(self, x: Tensor, img: Tensor | None, ws: Tensor, noise_mode: str, rng) -> tuple[Tensor, Tensor]:
        """``ws``: (N, num_conv + 1, w_dim), the ws of the convs and of ToRGB."""
        if self.conv0 is not None:
            x = self.conv0(x, ws[:, 0], noise_mode, rng)
        x = self.conv1(x, ws[:, self.num_conv - 1], noise_mode, rng)
        rgb = self.torgb(x, ws[:, self.num_conv])
        return x, (rgb if img is None else self.resample.upsample(img) + rgb)


class SynthesisNetwork(nn.Module):
    """ws (N, num_ws, w_dim) -> images: the constant input, then one ``SynthesisBlock`` per resolution 4..R.
    Layer ws: 1 + 2 per block after the first, and one more for the last ToRGB (18 at 1024 px); the ToRGB of a
    block shares its w with the next block's first conv, as in the authors' code."""

    def __init__(self, w_dim: int, resolution: int, channels: int, channel_base: int, channel_max: int = 512):
        super().__init__()
        resolutions = [2**i for i in range(2, int(math.log2(check_resolution(resolution))) + 1)]
        widths = [channels_at(r, channel_base, channel_max) for r in resolutions]
        self.const = nn.Parameter(torch.randn(widths[0], 4, 4))
        self.blocks = nn.ModuleList(
            SynthesisBlock(c_in, c_out, w_dim, r, channels)
            for r, c_in, c_out in zip(resolutions, [widths[0], *widths[:-1]], widths)
        )
        self.num_ws = sum(block.num_conv for block in self.blocks) + 1

    def forward(self, ws: Tensor, noise_mode: str = "random", rng: torch.Generator | None = None) -> Tensor:
        x, img, index = self.const.to(ws.dtype).expand(ws.shape[0], -1, -1, -1), None, 0
        for block in self.blocks:
            x, img = block(x, img, ws[:, index : index + block.num_conv + 1], noise_mode, rng)
            index += block.num_conv
        return img


class StyleGenerator(nn.Module):
    """``mapping`` then ``synthesis``: G(z, y, truncation_psi, truncation_cutoff, noise_mode) -> images. The protocol
    of StyleGAN and StyleGAN2 generators: ``synthesis(ws, noise_mode, rng)`` with ``synthesis.num_ws`` ws, and a
    ``MappingNetwork`` giving that many."""

    def __init__(
        self, synthesis: nn.Module, z_dim: int, w_dim: int, mapping_layers: int = 8, num_classes: int | None = None
    ):
        super().__init__()
        self.synthesis = synthesis
        self.mapping = MappingNetwork(z_dim, w_dim, synthesis.num_ws, mapping_layers, num_classes)

    def forward(
        self,
        z: Tensor,
        y: Tensor | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        noise_mode: str = "random",
        rng: torch.Generator | None = None,
    ) -> Tensor:
        ws = self.mapping(z, y, truncation_psi, truncation_cutoff)
        return self.synthesis(ws, noise_mode, rng)


class Generator(StyleGenerator):
    """StyleGAN2's generator: the mapping network and the skip ``SynthesisNetwork``."""

    def __init__(
        self,
        z_dim: int,
        w_dim: int,
        resolution: int,
        channels: int,
        channel_base: int,
        channel_max: int = 512,
        mapping_layers: int = 8,
        num_classes: int | None = None,
    ):
        synthesis = SynthesisNetwork(w_dim, resolution, channels, channel_base, channel_max)
        super().__init__(synthesis, z_dim, w_dim, mapping_layers, num_classes)


def mix_styles(
    mapping: MappingNetwork,
    z: Tensor,
    y: Tensor | None,
    probability: float,
    rng: torch.Generator | None,
    num_active: int | None = None,
) -> Tensor:
    """Training ws (N, num_ws, w_dim) with style mixing regularization (StyleGAN, Karras et al. 2019, Sec. 3.1):
    with ``probability`` the layers from a random cutoff in [1, num_active) on take the w of a second latent
    (``num_active``: the layers in use, all by default; fewer in a progressive phase, as the authors'
    ``cur_layers``). Drawn on device from ``rng`` (the global RNG when None), without a host sync."""
    ws = mapping(z, y)
    if probability <= 0:
        return ws
    num_ws = ws.shape[1]
    device = rng.device if rng is not None else ws.device
    cutoff = torch.randint(1, num_active or num_ws, (), generator=rng, device=device)
    mixing = torch.rand((), generator=rng, device=device) < probability
    cutoff = torch.where(mixing, cutoff, num_ws).to(ws.device)
    other = mapping(torch.randn(z.shape, generator=rng, device=device).to(z), y, update_w_avg=False)
    mixed = (torch.arange(num_ws, device=ws.device) >= cutoff)[None, :, None]
    return torch.where(mixed, other, ws)


def _conv(in_channels: int, out_channels: int, kernel_size: int, bias: bool = True) -> EqualizedConv2d:
    return EqualizedConv2d(in_channels, out_channels, kernel_size, bias=bias)


class DownsamplingConv2d(EqualizedConv2d):
    """An equalized 3x3 conv to half the resolution: NVlabs' ``Conv2dLayer(down=2)``, the [1, 3, 3, 1] filter
    with 2 pixels of padding, then the conv at stride 2 (``FIRFilter.downsample_conv3x3``)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels, 3)
        self.resample = FIRFilter()

    def forward(self, x: Tensor) -> Tensor:
        return self.resample.downsample_conv3x3(x, self.weight * self.scale, self.bias)


class DiscriminatorBlock(nn.Module):
    """One resolution of D (NVlabs' ``DiscriminatorBlock``): (fromRGB,) 3x3 conv, downsampling 3x3 conv, plus
    with ``residual`` a 1x1 skip without bias on the filtered, downsampled input; the sum is scaled by sqrt(1/2)
    (Fig. 7c). ``residual`` False is ADA's "orig"."""

    def __init__(self, in_channels: int, out_channels: int, image_channels: int | None, residual: bool):
        super().__init__()
        self.fromrgb = _conv(image_channels, in_channels, 1) if image_channels is not None else None
        self.conv0 = _conv(in_channels, in_channels, 3)
        self.conv1 = DownsamplingConv2d(in_channels, out_channels)
        self.skip = _conv(in_channels, out_channels, 1, bias=False) if residual else None
        self.resample = FIRFilter() if residual else None

    def forward(self, x: Tensor) -> Tensor:
        if self.fromrgb is not None:
            x = leaky_relu_gain(self.fromrgb(x))
        h = self.conv1(leaky_relu_gain(self.conv0(x)))
        if self.skip is None:
            return leaky_relu_gain(h)
        gain = math.sqrt(0.5)
        return self.skip(self.resample.downsample(x)) * gain + leaky_relu_gain(h, gain)


class Discriminator(nn.Module):
    """Blocks from R px down to 4 px, then the epilogue at 4x4: minibatch stddev (``mbstd_group``, one
    channel), 3x3 conv, FC, and an output FC; one logit per sample. Conditional: the output FC gives cmap_dim
    features projected on ``mapping(y)`` and scaled by 1/sqrt(cmap_dim) (StyleGAN2-ADA's cmap)."""

    def __init__(
        self,
        resolution: int,
        channels: int,
        channel_base: int,
        channel_max: int = 512,
        mbstd_group: int = 4,
        num_classes: int | None = None,
        mapping_layers: int = 8,
        residual: bool = True,
    ):
        super().__init__()
        resolutions = [2**i for i in range(int(math.log2(check_resolution(resolution))), 2, -1)]
        width = [channels_at(r, channel_base, channel_max) for r in resolutions]
        out4 = channels_at(4, channel_base, channel_max)
        self.blocks = nn.Sequential(
            *(
                DiscriminatorBlock(c_in, c_out, channels if i == 0 else None, residual)
                for i, (c_in, c_out) in enumerate(zip(width, [*width[1:], out4]))
            )
        )
        self.fromrgb = _conv(channels, out4, 1) if not resolutions else None  # 4 px images have no blocks
        self.mbstd = MinibatchStdDev(mbstd_group, 1)
        self.conv = _conv(out4 + 1, out4, 3)
        self.fc = EqualizedLinear(out4 * 16, out4)
        self.cmap_dim = out4 if num_classes is not None else None
        self.out = EqualizedLinear(out4, self.cmap_dim or 1)
        self.mapping = (
            MappingNetwork(0, out4, None, mapping_layers, num_classes, w_avg_beta=None) if num_classes else None
        )

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        x = self.blocks(x) if self.fromrgb is None else leaky_relu_gain(self.fromrgb(x))
        x = leaky_relu_gain(self.conv(self.mbstd(x)))
        out = self.out(leaky_relu_gain(self.fc(x.flatten(1))))
        if self.mapping is None:
            return out.squeeze(1)
        return (out * self.mapping(None, y)).sum(dim=1) / math.sqrt(self.cmap_dim)
