"""StyleGAN2's layers (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN", arXiv
1912.04958): weight modulation and demodulation (Sec. 2.2, Eq. 1-3), noise injection, ToRGB, and the [1, 3, 3, 1]
FIR filter its up- and downsampling use (App. B, after Zhang 2019's anti-aliasing).

Conventions of the authors' code kept here: equalized learning rate (zoo/nn/equalized.py) with gain 1, and the
activation gain sqrt(2) applied after the leaky ReLU (slope 0.2) instead of inside the weights.

Mixed precision as StyleGAN2-ADA runs it (Karras et al. 2020, arXiv 2006.06676, App. D "Mixed-precision training";
NVlabs stylegan2-ada-pytorch training/networks.py, torch_utils/ops/bias_act.py): a layer computes in the dtype
of its input (its fp32 parameters cast to it), ``conv_clamp`` caps the layer's output at +-conv_clamp after bias,
activation and gain (also in fp32 layers), and an fp16 modulated conv normalizes its weights and styles first so
that no intermediate overflows.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.nn.equalized import EqualizedLinear

#: StyleGAN2's activation gain: leaky ReLU 0.2 followed by sqrt(2) keeps the signal's second moment
ACTIVATION_GAIN = math.sqrt(2)

NOISE_MODES = ("random", "const", "none")


def leaky_relu_gain(x: Tensor, gain: float = 1.0, clamp: float | None = None) -> Tensor:
    """leaky_relu(x, 0.2) * sqrt(2) * gain: the activation of every StyleGAN2 layer (``gain`` is the residual
    blocks' extra sqrt(1/2)), then with ``clamp`` capped at +-clamp * gain, as NVlabs' ``bias_act(act='lrelu',
    gain=sqrt(2) * gain, clamp=conv_clamp * gain)`` (networks.py ``Conv2dLayer``, ``SynthesisLayer``)."""
    return clamp_activations(F.leaky_relu(x, 0.2) * (ACTIVATION_GAIN * gain), None if clamp is None else clamp * gain)


def clamp_activations(x: Tensor, clamp: float | None) -> Tensor:
    """x capped at +-clamp (None: unchanged): ``bias_act``'s last step, which keeps fp16 activations below its
    65504 maximum (train.py: ``conv_clamp = 256``). As ``torch.clamp``, the gradient is 0 beyond the cap."""
    return x if clamp is None else x.clamp(-clamp, clamp)


class FIRFilter(nn.Module):
    """The separable [1, 3, 3, 1] low-pass filter (App. B), normalized to unit sum, applied per channel with a
    depthwise ``F.conv2d``: NVlabs' ``upfirdn2d`` (torch_utils/ops/upfirdn2d.py) with its paddings, and the
    resampling convolutions of its ``conv2d_resample`` (torch_utils/ops/conv2d_resample.py), written as plain
    convolutions. Upsampling by 2 inserts zeros and filters with gain 4 (bilinear interpolation, zero-padded at
    the borders); downsampling filters and keeps every second pixel."""

    def __init__(self, taps: tuple[float, ...] = (1.0, 3.0, 3.0, 1.0)):
        super().__init__()
        kernel_1d = torch.tensor(taps)
        kernel = torch.outer(kernel_1d, kernel_1d)
        self.register_buffer("kernel", kernel / kernel.sum(), persistent=False)

    def _depthwise(self, x: Tensor, gain: float = 1.0) -> Tensor:
        c = x.shape[1]
        return (self.kernel * gain).to(x.dtype).expand(c, 1, *self.kernel.shape)

    def blur(self, x: Tensor, padding: int, gain: float = 1.0) -> Tensor:
        """The filter at stride 1 with ``padding`` zeros on every side (size grows by 2 * padding - 3)."""
        return F.conv2d(F.pad(x, [padding] * 4), self._depthwise(x, gain), groups=x.shape[1])

    def upsample(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, C, 2H, 2W): ``upfirdn2d.upsample2d`` (zeros inserted, padding 2 before and 1 after,
        gain 4), as a transposed depthwise conv of stride 2."""
        return F.conv_transpose2d(x, self._depthwise(x, gain=4.0), stride=2, padding=1, groups=x.shape[1])

    def downsample(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, C, H/2, W/2): ``upfirdn2d.downsample2d`` (padding 1, every second pixel)."""
        return F.conv2d(x, self._depthwise(x), stride=2, padding=1, groups=x.shape[1])

    def upsample_conv3x3(self, x: Tensor, weight: Tensor, groups: int = 1) -> Tensor:
        """A 3x3 conv at twice the resolution, (N, C, H, W) -> (N, O, 2H, 2W), as ``conv2d_resample(up=2,
        padding=1)`` runs it for NVlabs' ``SynthesisLayer``: a stride-2 transposed conv of the weight (O, C/groups,
        3, 3), unflipped, at the low resolution, then the filter with gain 4 and 1 pixel of padding."""
        out_channels, in_per_group = weight.shape[:2]
        weight = weight.reshape(groups, out_channels // groups, in_per_group, 3, 3).transpose(1, 2)
        x = F.conv_transpose2d(x, weight.reshape(groups * in_per_group, -1, 3, 3), stride=2, groups=groups)
        return self.blur(x, padding=1, gain=4.0)

    def downsample_conv3x3(self, x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        """A 3x3 conv to half the resolution, (N, C, H, W) -> (N, O, H/2, W/2), as ``conv2d_resample(down=2,
        padding=1)`` runs it for NVlabs' D: the filter with 2 pixels of padding, then a stride-2 conv."""
        return F.conv2d(self.blur(x, padding=2), weight, bias, stride=2)


class ModulatedConv2d(nn.Module):
    """A 3x3 (or 1x1) convolution whose weights every sample scales by its style (Sec. 2.2), NVlabs'
    ``modulated_conv2d`` (training/networks.py):

    s = A(w) (an equalized affine layer, bias initialized to 1), w'_ijk = s_i * w_ijk (Eq. 1), and with
    ``demodulate`` w''_ijk = w'_ijk / sqrt(sum_ik w'_ijk^2 + 1e-8) (Eq. 3), so each output channel j keeps unit
    L2 norm. As in NVlabs' ``SynthesisLayer`` the demodulated conv's weight has no equalized scale (demodulation
    normalizes it); the ToRGB conv (``ToRGBLayer``) scales its styles by 1 / sqrt(fan_in) instead.

    Two equal ways to run it (``fused``; default as NVlabs' ``SynthesisBlock``: fused in eval mode in float32):
    fused, the per-sample weights as one grouped convolution (groups = batch size, the paper's implementation
    note); un-fused, the input scaled by the styles, one ordinary convolution with the shared weight over the
    batch, and the output scaled by the demodulation coefficients. ``up`` doubles the resolution inside the conv
    (``FIRFilter.upsample_conv3x3``: transposed conv, then the filter).
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, w_dim: int, demodulate: bool = True, up=False
    ):
        super().__init__()
        if up and kernel_size != 3:
            raise ZooError(f"an upsampling modulated conv is 3x3, got kernel_size {kernel_size}")
        self.affine = EqualizedLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.style_gain = 1.0 if demodulate else 1 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.demodulate, self.padding = demodulate, kernel_size // 2
        self.resample = FIRFilter() if up else None

    def styles(self, w: Tensor) -> Tensor:
        """s = A(w), (N, in), times ToRGB's 1 / sqrt(fan_in)."""
        styles = self.affine(w)
        return styles if self.style_gain == 1 else styles * self.style_gain

    def _prenormalized(self, styles: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """The shared weight and the styles a conv on ``dtype`` activations modulates: for fp16 with
        demodulation, NVlabs' ``modulated_conv2d`` pre-normalization against fp16 overflow, the weight of each
        output channel divided by its largest |entry| and by sqrt(fan_in), the styles of each sample by their
        largest |entry|. Demodulation (Eq. 3) removes both factors, so the result is unchanged up to rounding."""
        weight = self.weight
        if dtype == torch.float16 and self.demodulate:
            fan_in = weight[0].numel()
            weight = weight / (math.sqrt(fan_in) * weight.abs().amax(dim=(1, 2, 3), keepdim=True))
            styles = styles / styles.abs().amax(dim=1, keepdim=True)
        return weight, styles

    def _modulate(self, weight: Tensor, styles: Tensor) -> tuple[Tensor, Tensor | None]:
        """The (N, out, in, k, k) modulated weights (Eq. 1) and the (N, out) demodulation coefficients (Eq. 3;
        None without demodulation)."""
        weight = weight[None] * styles[:, None, :, None, None]
        if not self.demodulate:
            return weight, None
        return weight, torch.rsqrt(weight.square().sum(dim=(2, 3, 4)) + 1e-8)

    def effective_weight(self, w: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
        """The (N, out, in, k, k) weights sample n convolves with: Eq. 1, then Eq. 3 when demodulating (computed
        in fp32, pre-normalized for ``dtype`` activations)."""
        weight, dcoefs = self._modulate(*self._prenormalized(self.styles(w), dtype))
        return weight if dcoefs is None else weight * dcoefs[:, :, None, None, None]

    def _conv(self, x: Tensor, weight: Tensor, groups: int) -> Tensor:
        if self.resample is not None:
            return self.resample.upsample_conv3x3(x, weight, groups)
        return F.conv2d(x, weight, padding=self.padding, groups=groups)

    def forward(self, x: Tensor, w: Tensor, fused: bool | None = None) -> Tensor:
        if fused is None:
            fused = not self.training and (x.dtype == torch.float32 or x.shape[0] == 1)
        if fused:
            n = x.shape[0]
            weight = self.effective_weight(w, x.dtype).to(x.dtype)
            out = self._conv(x.reshape(1, -1, *x.shape[2:]), weight.flatten(0, 1), groups=n)
            return out.reshape(n, -1, *out.shape[2:])
        weight, styles = self._prenormalized(self.styles(w), x.dtype)
        out = self._conv(x * styles.to(x.dtype)[:, :, None, None], weight.to(x.dtype), groups=1)
        if not self.demodulate:
            return out
        return out * self._modulate(weight, styles)[1].to(x.dtype)[:, :, None, None]


class NoiseInjection(nn.Module):
    """Per-pixel Gaussian noise, one map per sample broadcast over channels, times a learned scale (init 0)
    (StyleGAN, Karras et al. 2019, Sec. 2 "B"; StyleGAN2 Fig. 2c moves it after the convolution).

    ``noise_mode``: ``random`` draws fresh noise (on ``rng`` when given: reproducible training), ``const`` uses a
    fixed map drawn at construction (a buffer), ``none`` adds nothing.
    """

    def __init__(self, resolution: int):
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(()))
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))

    def forward(self, x: Tensor, noise_mode: str = "random", rng: torch.Generator | None = None) -> Tensor:
        if noise_mode == "none":
            return x
        if noise_mode == "const":
            return x + self.noise_const.to(x.dtype) * self.strength
        if noise_mode != "random":
            raise ZooError(f"noise_mode must be one of {', '.join(NOISE_MODES)}, got '{noise_mode}'")
        device = rng.device if rng is not None else x.device
        noise = torch.randn(x.shape[0], 1, *x.shape[2:], generator=rng, device=device).to(x.device, x.dtype)
        return x + noise * self.strength


class StyledConv2d(nn.Module):
    """A synthesis layer (Fig. 2c): modulated, demodulated 3x3 conv, noise, bias, leaky ReLU with gain sqrt(2),
    capped at +-``conv_clamp`` (None: no cap) as NVlabs' ``SynthesisLayer``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        up: bool = False,
        conv_clamp: float | None = None,
    ):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, up=up)
        self.noise = NoiseInjection(resolution)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.conv_clamp = conv_clamp

    def forward(self, x: Tensor, w: Tensor, noise_mode: str = "random", rng: torch.Generator | None = None) -> Tensor:
        x = self.noise(self.conv(x, w), noise_mode, rng)
        return leaky_relu_gain(x + self.bias[:, None, None].to(x.dtype), clamp=self.conv_clamp)


class ToRGB(nn.Module):
    """A modulated 1x1 conv to image channels without demodulation, plus a bias, linear (App. B, Fig. 7), capped
    at +-``conv_clamp`` (None: no cap) as NVlabs' ``ToRGBLayer``."""

    def __init__(self, in_channels: int, channels: int, w_dim: int, conv_clamp: float | None = None):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(channels))
        self.conv_clamp = conv_clamp

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        return clamp_activations(self.conv(x, w) + self.bias[:, None, None].to(x.dtype), self.conv_clamp)
