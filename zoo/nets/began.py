"""The networks of BEGAN (Berthelot, Schumm and Metz 2017, arXiv 1703.10717, Sec. 3.5 and Fig. 1), laid out as
carpedm20/BEGAN-tensorflow's models.py (the authors released no code; this is the implementation the paper's
results are usually reproduced with): no normalization anywhere, 3x3 convolutions each followed by an ELU, the
conv stack of each scale repeated twice.

Decoder (G, and D's decoder): a linear layer from the code to 8 x 8 x n, then per scale two 3x3 convs of n
channels, 2x nearest upsampling between scales, and a 3x3 conv to the image, without an output activation.
Encoder: a 3x3 conv to n, then per scale two 3x3 convs of n, 2n, 3n, ... channels and a stride-2 3x3 conv
between scales (sub-sampling), and a linear layer from 8 x 8 x (scales * n) to the code h. The number of scales
is log2(resolution / 8), so the widths at 64 px are n, 2n, 3n, 4n.

Weights are Glorot-uniform and biases zero (TF-slim's defaults). The ELU follows every conv but the output ones
(Fig. 1); models.py's slim layers also apply slim's default ReLU under the ELU, which the paper does not have.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.nn.spectral_norm import Layers

PLAIN = Layers(spectral_norm=False)


def num_scales(resolution: int) -> int:
    """Scales between 8 x 8 and ``resolution``, counting both ends."""
    if resolution < 8 or resolution & (resolution - 1):
        raise ZooError(f"BEGAN's networks need a power-of-two resolution >= 8, got {resolution}; set --data.resolution")
    return int(math.log2(resolution)) - 2


def conv_elu(in_channels: int, out_channels: int, stride: int = 1) -> list[nn.Module]:
    return [PLAIN.conv(in_channels, out_channels, 3, stride), nn.ELU()]


class BEGANDecoder(nn.Module):
    """Fig. 1's decoder, which is also the generator: code (N, h) -> image (N, C, R, R)."""

    def __init__(self, code_dim: int, resolution: int, channels: int, width: int):
        super().__init__()
        self.width = width
        self.linear = PLAIN.linear(code_dim, 8 * 8 * width)
        layers: list[nn.Module] = []
        for scale in range(num_scales(resolution)):
            layers += [nn.Upsample(scale_factor=2, mode="nearest")] if scale else []
            layers += conv_elu(width, width) + conv_elu(width, width)
        self.convs = nn.Sequential(*layers, PLAIN.conv(width, channels, 3))

    def forward(self, code: Tensor) -> Tensor:
        return self.convs(self.linear(code.flatten(1)).view(code.shape[0], self.width, 8, 8))


class BEGANEncoder(nn.Module):
    """Fig. 1's encoder: image (N, C, R, R) -> code (N, h)."""

    def __init__(self, resolution: int, channels: int, width: int, code_dim: int):
        super().__init__()
        scales = num_scales(resolution)
        layers = conv_elu(channels, width)
        for scale in range(scales):
            c_in, c_out = width * max(scale, 1), width * (scale + 1)
            layers += conv_elu(c_in, c_out) + conv_elu(c_out, c_out)
            layers += conv_elu(c_out, c_out, stride=2) if scale < scales - 1 else []
        self.convs = nn.Sequential(*layers)
        self.linear = PLAIN.linear(8 * 8 * width * scales, code_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.convs(x).flatten(1))
