"""Networks of the conditional family: label-conditioned wrappers around the zoo's nets, CGAN's MNIST MLPs,
and a DCGAN discriminator with an auxiliary head (ACGAN's classifier, InfoGAN's Q).

- ``LabelConcatGenerator``: G(z, y) = net([z, onehot(y)]), the label concatenated to z (Mirza & Osindero 2014,
  Sec. 3.2; ACGAN's generator input of 110 = 100 noise + 10 classes, Odena et al. 2017, App. Tables).
- ``LabelChannelsDiscriminator``: D(x, y) = net([x, onehot(y) broadcast over H x W]), the label as K constant
  input channels, the convolutional form of CGAN's "y fed to D as an additional input layer" (Sec. 3.2).
- ``MLPConditionalGenerator`` / ``MaxoutConditionalDiscriminator``: CGAN's MNIST networks (Sec. 4.1): z and y
  each through their own hidden layer, then a joint hidden layer; ReLU in G, maxout in D, dropout in both.
- ``AuxiliaryHeadDiscriminator``: D's source logit plus a second head on the same last hidden layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.nets.dcgan import DCGANDiscriminator
from zoo.nets.mlp import MLPDiscriminator, MLPGenerator
from zoo.nn import Maxout


def one_hot(y: Tensor, num_classes: int, like: Tensor) -> Tensor:
    """(N,) integer labels -> (N, num_classes) one-hot rows in the dtype of ``like``."""
    return F.one_hot(y, num_classes).to(like.dtype)


class LabelConcatGenerator(nn.Module):
    """G(z, y) = net([z, onehot(y)]) for any ``net`` that takes latent_dim + num_classes inputs."""

    def __init__(self, net: nn.Module, num_classes: int):
        super().__init__()
        self.net, self.num_classes = net, num_classes

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        return self.net(torch.cat([z, one_hot(y, self.num_classes, z)], dim=1))


class LabelChannelsDiscriminator(nn.Module):
    """D(x, y) = net([x, onehot(y) broadcast over H x W]) for any ``net`` built with channels + num_classes inputs."""

    def __init__(self, net: nn.Module, num_classes: int):
        super().__init__()
        self.net, self.num_classes = net, num_classes

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        maps = one_hot(y, self.num_classes, x)[:, :, None, None].expand(-1, -1, *x.shape[2:])
        return self.net(torch.cat([x, maps], dim=1))


class MLPConditionalGenerator(nn.Module):
    """CGAN's MNIST generator (Mirza & Osindero 2014, Sec. 4.1): z -> ReLU layer of ``hidden[0]`` units (200),
    y -> ReLU layer of ``hidden[1]`` units (1000), both into a joint ReLU layer of ``hidden[2]`` units (1200), then
    the image. Dropout after the two branch layers (the paper applies dropout 0.5 to G without saying where);
    tanh output for the zoo's [-1, 1] images where the paper has sigmoid units for [0, 1] pixels."""

    def __init__(
        self, latent_dim: int, num_classes: int, sample_shape: Sequence[int], hidden: Sequence[int], dropout: float
    ):
        super().__init__()
        z_units, y_units, joint_units = hidden
        self.num_classes = num_classes
        self.z_branch = nn.Sequential(nn.Linear(latent_dim, z_units), nn.ReLU(inplace=True), nn.Dropout(dropout))
        self.y_branch = nn.Sequential(nn.Linear(num_classes, y_units), nn.ReLU(inplace=True), nn.Dropout(dropout))
        self.joint = MLPGenerator(z_units + y_units, sample_shape, (joint_units,), False, "tanh")

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        return self.joint(torch.cat([self.z_branch(z), self.y_branch(one_hot(y, self.num_classes, z))], dim=1))


class MaxoutConditionalDiscriminator(nn.Module):
    """CGAN's MNIST discriminator (Mirza & Osindero 2014, Sec. 4.1): x -> maxout layer of ``hidden[0]`` units
    (240, 5 pieces), y -> maxout layer of ``hidden[1]`` units (50, 5 pieces), both into a joint maxout layer of
    ``hidden[2]`` units (240, 4 pieces), then one logit; dropout after every maxout layer."""

    def __init__(
        self,
        sample_shape: Sequence[int],
        num_classes: int,
        hidden: Sequence[int],
        pieces: Sequence[int],
        dropout: float,
    ):
        super().__init__()
        x_units, y_units, joint_units = hidden
        x_pieces, y_pieces, joint_pieces = pieces
        self.num_classes = num_classes
        self.x_branch = nn.Sequential(
            nn.Flatten(), Maxout(math.prod(sample_shape), x_units, x_pieces), nn.Dropout(dropout)
        )
        self.y_branch = nn.Sequential(Maxout(num_classes, y_units, y_pieces), nn.Dropout(dropout))
        self.joint = MLPDiscriminator((x_units + y_units,), (joint_units,), joint_pieces, dropout)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.joint(torch.cat([self.x_branch(x), self.y_branch(one_hot(y, self.num_classes, x))], dim=1))


def auxiliary_head(features: int, out_features: int, hidden: int = 0) -> nn.Sequential:
    """Linear, or Linear -> BatchNorm -> LeakyReLU(0.1) -> Linear with ``hidden`` units (InfoGAN's Q head)."""
    layers: list[nn.Module] = [nn.Flatten()]
    if hidden:
        layers += [nn.Linear(features, hidden), nn.BatchNorm1d(hidden), nn.LeakyReLU(0.1, inplace=True)]
    return nn.Sequential(*layers, nn.Linear(hidden or features, out_features))


class AuxiliaryHeadDiscriminator(nn.Module):
    """A DCGAN discriminator whose last hidden layer (N, C, 4, 4) feeds both its own source logit and an auxiliary
    head of ``out_features`` outputs: Linear for ACGAN's class logits (Odena et al. 2017, Sec. 3: "an auxiliary
    decoder network that outputs the class label"), or Linear -> BatchNorm -> LeakyReLU(0.1) -> Linear with
    ``hidden`` units for InfoGAN's Q (Chen et al. 2016, Sec. 6 and Table 1: Q shares D's layers, then FC 128).
    Returns (source logits (N,), auxiliary outputs (N, out_features))."""

    def __init__(self, trunk: DCGANDiscriminator, out_features: int, hidden: int = 0):
        super().__init__()
        self.trunk = trunk
        self.head = auxiliary_head(trunk.net[-1].in_channels * 4 * 4, out_features, hidden)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.trunk.features(x)
        return self.trunk.net[-1](h).flatten(1).squeeze(1), self.head(h)
