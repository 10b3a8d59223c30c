"""The networks of ACGAN's appendix (Odena et al. 2017, arXiv 1610.09585).

``imagenet`` is the appendix's ImageNet table (App. A, Table 1: the paper's only network table), layer by layer:
G, from the 110-dim input (100 noise + 10 classes: each AC-GAN sees 10 classes): Linear to 768 maps, no batch
norm, ReLU; 5x5 stride-2 transposed convs to 384, 256 and 192 maps with batch norm and ReLU; a 5x5 stride-2
transposed conv to the 3 image channels with tanh. D: six 3x3 convs of 16, 32, 64, 128, 256 and 512 maps with
strides 2, 1, 2, 1, 2, 1, batch norm on all but the first, dropout 0.5 and LeakyReLU 0.2 after each; a Linear to
K + 1 outputs (the "Soft-Sigmoid": a sigmoid on the source unit, a softmax on the K class units; here two linear
heads, the same parameters). Weights from N(0, 0.02), biases constant 0 (so every layer has a bias).

What the table leaves open, and how it is filled: four stride-2 transposed convs reach 128 px only from an 8 x 8
map, so the Linear's 768 maps are 8 x 8 (Linear 110 -> 8 * 8 * 768) and the convs are "same"-padded (5x5, padding
2, output padding 1: each doubles the size); D's convs are "same"-padded too (padding 1), so its last map is
16 x 16 x 512. Table 1's caption also mentions "activation noise in the discriminator as suggested in Salimans et
al. (2016)" without a scale or placement; the networks here add none. Its Adam beta2, printed "10-3", is read as
1 - 1e-3 = 0.999 (configs/acgan), the value AC-GAN reimplementations use.

``cifar10`` (and ``imagenet_kimhc``, kept as a named option) follow kimhc6028/acgan-pytorch's network.py (as kept
in its fork ilyakava/ACGAN-PyTorch: _netG_CIFAR10 / _netD_CIFAR10 and _netG / _netD), because the paper publishes
no CIFAR-10 networks (App. A has the ImageNet table only): G a Linear read as a 1 x 1 map without an activation,
then bias-free transposed convs (32 px: 4x4 kernels to 192, 96 and the image; 128 px: 5x5 to 384, 256, 192, 64,
then an 8x8 kernel to the image); D bias-free 3x3 convs as above, the 128 px one's stride-1 convs unpadded (13 x 13
at the end), the 32 px one's padded (4 x 4).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from zoo.nets.conditional import LabelConcatGenerator
from zoo.nn import dcgan_init


@dataclass(frozen=True)
class ACGANArchitecture:
    """``linear``: the generator's linear layer width; ``g_convs``: (out channels, kernel, stride, padding) of
    each transposed conv before the output one, ``g_output``: (kernel, stride, padding) of the output one;
    ``d_padding``: padding of the discriminator's stride-1 convs; ``d_size``: its last map's size; ``linear_size``:
    the size of the map the linear layer's output is read as; ``linear_relu``: a ReLU after the linear layer;
    ``output_padding``: of G's transposed convs; ``bias``: biases on the convs."""

    resolution: int
    linear: int
    g_convs: tuple[tuple[int, int, int, int], ...]
    g_output: tuple[int, int, int]
    d_padding: int
    d_size: int
    linear_size: int = 1
    linear_relu: bool = False
    output_padding: int = 0
    bias: bool = False


ARCHITECTURES = {
    "cifar10": ACGANArchitecture(32, 384, ((192, 4, 1, 0), (96, 4, 2, 1), (48, 4, 2, 1)), (4, 2, 1), 1, 4),
    "imagenet": ACGANArchitecture(
        128,
        768,
        ((384, 5, 2, 2), (256, 5, 2, 2), (192, 5, 2, 2)),
        (5, 2, 2),
        1,
        16,
        linear_size=8,
        linear_relu=True,
        output_padding=1,
        bias=True,
    ),
    "imagenet_kimhc": ACGANArchitecture(
        128, 768, ((384, 5, 2, 0), (256, 5, 2, 0), (192, 5, 2, 0), (64, 5, 2, 0)), (8, 2, 0), 0, 13
    ),
}
#: the architecture ``auto`` picks at each resolution
AUTO = {32: "cifar10", 128: "imagenet"}
D_WIDTHS = (16, 32, 64, 128, 256, 512)


class ACGANGeneratorNet(nn.Module):
    def __init__(self, in_features: int, channels: int, arch: ACGANArchitecture):
        super().__init__()
        self.arch = arch
        self.linear = nn.Linear(in_features, arch.linear * arch.linear_size**2)
        layers: list[nn.Module] = [nn.ReLU(inplace=True)] if arch.linear_relu else []
        c_in, extra = arch.linear, {"output_padding": arch.output_padding, "bias": arch.bias}
        for c_out, kernel, stride, padding in arch.g_convs:
            layers += [nn.ConvTranspose2d(c_in, c_out, kernel, stride, padding, **extra), nn.BatchNorm2d(c_out)]
            layers.append(nn.ReLU(inplace=True))
            c_in = c_out
        layers += [nn.ConvTranspose2d(c_in, channels, *arch.g_output, **extra), nn.Tanh()]
        self.convs = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        size = self.arch.linear_size
        return self.convs(self.linear(x).view(x.shape[0], self.arch.linear, size, size))


def acgan_generator(latent_dim: int, num_classes: int, channels: int, arch: ACGANArchitecture) -> nn.Module:
    """G(z, y) = net([z, onehot(y)])."""
    net = ACGANGeneratorNet(latent_dim + num_classes, channels, arch)
    dcgan_init(net)
    return LabelConcatGenerator(net, num_classes)


class ACGANDiscriminator(nn.Module):
    """Returns (source logits (N,), class logits (N, num_classes)), as ``AuxiliaryHeadDiscriminator``."""

    def __init__(self, channels: int, num_classes: int, arch: ACGANArchitecture, dropout: float = 0.5):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = channels
        for i, c_out in enumerate(D_WIDTHS):
            stride = 2 if i % 2 == 0 else 1
            padding = 1 if stride == 2 else arch.d_padding
            layers.append(nn.Conv2d(c_in, c_out, 3, stride, padding, bias=arch.bias))
            layers += [nn.BatchNorm2d(c_out)] if i else []
            layers += [nn.LeakyReLU(0.2, inplace=True), nn.Dropout(dropout)]
            c_in = c_out
        self.convs = nn.Sequential(*layers, nn.Flatten())
        features = D_WIDTHS[-1] * arch.d_size**2
        self.source, self.classes = nn.Linear(features, 1), nn.Linear(features, num_classes)
        dcgan_init(self)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.convs(x)
        return self.source(h).squeeze(1), self.classes(h)
