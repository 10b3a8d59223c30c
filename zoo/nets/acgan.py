"""The networks of ACGAN's appendix (Odena et al. 2017, arXiv 1610.09585, the appendix's CIFAR-10 and ImageNet
tables), laid out as kimhc6028/acgan-pytorch's PyTorch reproduction of those tables (network.py, as kept in its
fork ilyakava/ACGAN-PyTorch: _netG_CIFAR10 / _netD_CIFAR10 and _netG / _netD):

Generator: [z | one-hot class] (110 = 100 + 10) -> a linear layer (384 at 32 px, 768 at 128 px) read as a 1 x 1
map, then bias-free transposed convs with BatchNorm and ReLU, the last one to the image with tanh.
Discriminator: six bias-free 3x3 convs (16, 32, 64, 128, 256, 512 channels; strides 2, 1, 2, 1, 2, 1), LeakyReLU
0.2 and dropout 0.5 after each, BatchNorm after all but the first; two linear layers on the flattened last map,
the source logit and the class logits. Weights from N(0, 0.02), biases 0 (the tables' "isotropic gaussian").

The reference's 32 px generator has 4x4 kernels (the table's 5x5 cannot reach 32 px from 1 x 1 in stride-2 steps)
and its 128 px one ends in an 8x8 kernel; its 128 px discriminator's stride-1 convs are unpadded (13 x 13 at the
end), its 32 px one's padded (4 x 4).
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
    ``d_padding``: padding of the discriminator's stride-1 convs; ``d_size``: its last map's size."""

    resolution: int
    linear: int
    g_convs: tuple[tuple[int, int, int, int], ...]
    g_output: tuple[int, int, int]
    d_padding: int
    d_size: int


ARCHITECTURES = {
    "cifar10": ACGANArchitecture(32, 384, ((192, 4, 1, 0), (96, 4, 2, 1), (48, 4, 2, 1)), (4, 2, 1), 1, 4),
    "imagenet": ACGANArchitecture(
        128, 768, ((384, 5, 2, 0), (256, 5, 2, 0), (192, 5, 2, 0), (64, 5, 2, 0)), (8, 2, 0), 0, 13
    ),
}
D_WIDTHS = (16, 32, 64, 128, 256, 512)


class ACGANGeneratorNet(nn.Module):
    def __init__(self, in_features: int, channels: int, arch: ACGANArchitecture):
        super().__init__()
        self.linear = nn.Linear(in_features, arch.linear)
        layers: list[nn.Module] = []
        c_in = arch.linear
        for c_out, kernel, stride, padding in arch.g_convs:
            layers += [nn.ConvTranspose2d(c_in, c_out, kernel, stride, padding, bias=False), nn.BatchNorm2d(c_out)]
            layers.append(nn.ReLU(inplace=True))
            c_in = c_out
        layers += [nn.ConvTranspose2d(c_in, channels, *arch.g_output, bias=False), nn.Tanh()]
        self.convs = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.convs(self.linear(x)[:, :, None, None])


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
            layers.append(nn.Conv2d(c_in, c_out, 3, stride, 1 if stride == 2 else arch.d_padding, bias=False))
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
