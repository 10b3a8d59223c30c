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

Mixed precision as StyleGAN2-ADA trains (arXiv 2006.06676, App. D; networks.py ``num_fp16_res``, ``conv_clamp``):
the blocks of the ``num_fp16_res`` highest resolutions (G's ``SynthesisBlock``, D's ``DiscriminatorBlock``;
never 4 px) cast their input to a low-precision dtype and compute in it, while their parameters stay fp32;
ToRGB's output and D's epilogue return to fp32. Every conv output is capped at +-``conv_clamp`` after bias,
activation and gain, in every block whatever its dtype, and in D's epilogue conv (not D's 1x1 skips, FC layers
or mapping). ``low_precision`` picks the dtype: NVlabs' ``fp16`` (on CUDA only: a CPU computes fp16 blocks in
fp32, see ``block_input``) or ``bf16`` (fp32's exponent range, so nothing overflows; any device).
"""

from __future__ import annotations

import functools
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


#: the dtypes ``low_precision`` names
LOW_PRECISION = {"fp16": torch.float16, "bf16": torch.bfloat16}


def low_precision_dtype(num_fp16_res: int, conv_clamp: float | None, low_precision: str) -> torch.dtype:
    """The dtype of the low-precision blocks, after checking the mixed-precision arguments."""
    if not isinstance(num_fp16_res, int) or num_fp16_res < 0:
        raise ZooError(f"num_fp16_res must be an integer >= 0 (0: every block in fp32), got {num_fp16_res!r}")
    if conv_clamp is not None and not conv_clamp > 0:
        raise ZooError(f"conv_clamp must be > 0 (or null: no clamping), got {conv_clamp!r}")
    if low_precision not in LOW_PRECISION:
        raise ZooError(f"low_precision must be one of {', '.join(LOW_PRECISION)}, got {low_precision!r}")
    return LOW_PRECISION[low_precision]


def fp16_resolution(resolution: int, num_fp16_res: int) -> int:
    """The lowest resolution whose blocks run in low precision, NVlabs' max(2 ** (log2 R + 1 - num_fp16_res), 8):
    the ``num_fp16_res`` highest resolutions, never 4 px (above R when ``num_fp16_res`` is 0)."""
    return max(2 ** (int(math.log2(resolution)) + 1 - num_fp16_res), 8)


def block_input(x: Tensor, low_precision: torch.dtype | None) -> Tensor:
    """``x`` in the dtype of the block it enters (NVlabs' ``x.to(dtype)`` at every block's input): fp32 when
    ``low_precision`` is None, else that dtype, except fp16 off CUDA, which stays fp32 (NVlabs trains on GPUs only,
    its train.py needs --gpus >= 1; CPU fp16 convolutions are slow). Under autocast ``x`` is left as it is:
    autocast then picks every op's dtype (whole-net mixed precision, ``--trainer.precision bf16-mixed``)."""
    device = x.device.type
    if torch.amp.is_autocast_available(device) and torch.is_autocast_enabled(device):
        return x
    if low_precision is None or (low_precision == torch.float16 and x.device.type != "cuda"):
        return x.float()
    return x.to(low_precision)


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
            # in fp32 whatever autocast made of w (bf16-mixed: the FC layers' outputs are bf16)
            self.w_avg.copy_(w.detach().mean(dim=0).float().lerp(self.w_avg, self.w_avg_beta))
        if self.num_ws is None:
            return w
        ws = w[:, None].expand(-1, self.num_ws, -1)
        if truncation_psi != 1:
            cutoff = self.num_ws if truncation_cutoff is None else truncation_cutoff
            truncated = self.w_avg.to(ws.dtype).lerp(ws[:, :cutoff], truncation_psi)
            ws = torch.cat([truncated, ws[:, cutoff:]], dim=1)
        return ws


class SynthesisBlock(nn.Module):
    """One resolution of the skip generator: (upsampling conv,) conv, ToRGB added to the upsampled image. The
    block computes in ``low_precision`` (None: fp32) and returns the image in fp32; its convs are capped at
    +-``conv_clamp`` (NVlabs' ``SynthesisBlock``)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        channels: int,
        conv_clamp: float | None = None,
        low_precision: torch.dtype | None = None,
    ):
        super().__init__()
        first = resolution == 4
        layer = functools.partial(StyledConv2d, w_dim=w_dim, resolution=resolution, conv_clamp=conv_clamp)
        self.conv0 = None if first else layer(in_channels, out_channels, up=True)
        self.conv1 = layer(out_channels, out_channels)
        self.torgb = ToRGB(out_channels, channels, w_dim, conv_clamp=conv_clamp)
        self.resample = None if first else FIRFilter()
        self.num_conv = 1 if first else 2
        self.low_precision = low_precision

    def forward(self, x: Tensor, img: Tensor | None, ws: Tensor, noise_mode: str, rng) -> tuple[Tensor, Tensor]:
        """``ws``: (N, num_conv + 1, w_dim), the ws of the convs and of ToRGB."""
        x = block_input(x, self.low_precision)
        if self.conv0 is not None:
            x = self.conv0(x, ws[:, 0], noise_mode, rng)
        x = self.conv1(x, ws[:, self.num_conv - 1], noise_mode, rng)
        rgb = self.torgb(x, ws[:, self.num_conv]).float()
        return x, (rgb if img is None else self.resample.upsample(img) + rgb)


class SynthesisNetwork(nn.Module):
    """ws (N, num_ws, w_dim) -> images: the constant input, then one ``SynthesisBlock`` per resolution 4..R.
    Layer ws: 1 + 2 per block after the first, and one more for the last ToRGB (18 at 1024 px); the ToRGB of a
    block shares its w with the next block's first conv, as in the authors' code. ``num_fp16_res``,
    ``conv_clamp``, ``low_precision``: the mixed precision of the module docstring (NVlabs' defaults: fp32, no
    clamp; its train.py trains with 4 and 256)."""

    def __init__(
        self,
        w_dim: int,
        resolution: int,
        channels: int,
        channel_base: int,
        channel_max: int = 512,
        num_fp16_res: int = 0,
        conv_clamp: float | None = None,
        low_precision: str = "fp16",
    ):
        super().__init__()
        dtype = low_precision_dtype(num_fp16_res, conv_clamp, low_precision)
        resolutions = [2**i for i in range(2, int(math.log2(check_resolution(resolution))) + 1)]
        widths = [channels_at(r, channel_base, channel_max) for r in resolutions]
        lowest = fp16_resolution(resolution, num_fp16_res)
        self.const = nn.Parameter(torch.randn(widths[0], 4, 4))
        self.blocks = nn.ModuleList(
            SynthesisBlock(c_in, c_out, w_dim, r, channels, conv_clamp, dtype if r >= lowest else None)
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
        num_fp16_res: int = 0,
        conv_clamp: float | None = None,
        low_precision: str = "fp16",
    ):
        synthesis = SynthesisNetwork(
            w_dim, resolution, channels, channel_base, channel_max, num_fp16_res, conv_clamp, low_precision
        )
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
        weight, bias = (self.weight * self.scale).to(x.dtype), self.bias.to(x.dtype)
        return self.resample.downsample_conv3x3(x, weight, bias)


class DiscriminatorBlock(nn.Module):
    """One resolution of D (NVlabs' ``DiscriminatorBlock``): (fromRGB,) 3x3 conv, downsampling 3x3 conv, plus
    with ``residual`` a 1x1 skip without bias on the filtered, downsampled input; the sum is scaled by sqrt(1/2)
    (Fig. 7c). ``residual`` False is ADA's "orig". Computes in ``low_precision`` (None: fp32); fromRGB and the
    3x3 convs are capped at +-``conv_clamp`` (times the residual gain for the second), the skip is not."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        image_channels: int | None,
        residual: bool,
        conv_clamp: float | None = None,
        low_precision: torch.dtype | None = None,
    ):
        super().__init__()
        self.fromrgb = _conv(image_channels, in_channels, 1) if image_channels is not None else None
        self.conv0 = _conv(in_channels, in_channels, 3)
        self.conv1 = DownsamplingConv2d(in_channels, out_channels)
        self.skip = _conv(in_channels, out_channels, 1, bias=False) if residual else None
        self.resample = FIRFilter() if residual else None
        self.conv_clamp, self.low_precision = conv_clamp, low_precision

    def forward(self, x: Tensor) -> Tensor:
        x, clamp = block_input(x, self.low_precision), self.conv_clamp
        if self.fromrgb is not None:
            x = leaky_relu_gain(self.fromrgb(x), clamp=clamp)
        h = self.conv1(leaky_relu_gain(self.conv0(x), clamp=clamp))
        if self.skip is None:
            return leaky_relu_gain(h, clamp=clamp)
        gain = math.sqrt(0.5)
        return self.skip(self.resample.downsample(x)) * gain + leaky_relu_gain(h, gain, clamp)


class Discriminator(nn.Module):
    """Blocks from R px down to 4 px, then the epilogue at 4x4 in fp32: minibatch stddev (``mbstd_group``, one
    channel), 3x3 conv, FC, and an output FC; one logit per sample. Conditional: the output FC gives cmap_dim
    features projected on ``mapping(y)`` and scaled by 1/sqrt(cmap_dim) (StyleGAN2-ADA's cmap). ``num_fp16_res``,
    ``conv_clamp``, ``low_precision``: as ``SynthesisNetwork``'s (the epilogue conv is clamped too)."""

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
        num_fp16_res: int = 0,
        conv_clamp: float | None = None,
        low_precision: str = "fp16",
    ):
        super().__init__()
        dtype = low_precision_dtype(num_fp16_res, conv_clamp, low_precision)
        resolutions = [2**i for i in range(int(math.log2(check_resolution(resolution))), 2, -1)]
        width = [channels_at(r, channel_base, channel_max) for r in resolutions]
        out4 = channels_at(4, channel_base, channel_max)
        lowest = fp16_resolution(resolution, num_fp16_res)
        self.blocks = nn.Sequential(
            *(
                DiscriminatorBlock(
                    c_in, c_out, channels if i == 0 else None, residual, conv_clamp, dtype if r >= lowest else None
                )
                for i, (r, c_in, c_out) in enumerate(zip(resolutions, width, [*width[1:], out4]))
            )
        )
        self.conv_clamp = conv_clamp
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
        if self.fromrgb is None:
            x = block_input(self.blocks(x), None)
        else:
            x = leaky_relu_gain(self.fromrgb(block_input(x, None)), clamp=self.conv_clamp)
        x = leaky_relu_gain(self.conv(self.mbstd(x)), clamp=self.conv_clamp)
        out = self.out(leaky_relu_gain(self.fc(x.flatten(1))))
        if self.mapping is None:
            return out.squeeze(1)
        return (out * self.mapping(None, y)).sum(dim=1) / math.sqrt(self.cmap_dim)
