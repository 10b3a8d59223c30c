"""Fully connected generator and discriminator (Goodfellow et al. 2014; PacGAN's toy networks).

The generator maps z to any sample shape (a flattened image or a 2D point); the discriminator
uses maxout units as in the original GAN paper, or ReLU when ``maxout_pieces`` is 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn

from zoo.nn import Maxout

OUTPUT_ACTIVATIONS = {"tanh": nn.Tanh, "identity": nn.Identity, "sigmoid": nn.Sigmoid}


class MLPGenerator(nn.Module):
    """z -> [Linear -> (BatchNorm) -> ReLU] x len(hidden) -> Linear -> output activation."""

    def __init__(
        self,
        latent_dim: int,
        sample_shape: Sequence[int],
        hidden: Sequence[int],
        batch_norm: bool,
        output_activation: str,
    ):
        super().__init__()
        self.sample_shape = tuple(sample_shape)
        layers: list[nn.Module] = []
        width = latent_dim
        for h in hidden:
            layers += [nn.Linear(width, h, bias=not batch_norm)]
            layers += [nn.BatchNorm1d(h)] if batch_norm else []
            layers += [nn.ReLU(inplace=True)]
            width = h
        layers += [nn.Linear(width, math.prod(self.sample_shape)), OUTPUT_ACTIVATIONS[output_activation]()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(z.shape[0], *self.sample_shape)


class MLPDiscriminator(nn.Module):
    """x -> [Maxout(pieces) (-> Dropout)] x len(hidden) -> Linear -> one logit per sample."""

    def __init__(self, sample_shape: Sequence[int], hidden: Sequence[int], maxout_pieces: int, dropout: float):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(sample_shape)
        for h in hidden:
            if maxout_pieces > 1:
                layers += [Maxout(width, h, maxout_pieces)]
            else:
                layers += [nn.Linear(width, h), nn.LeakyReLU(0.2, inplace=True)]
            layers += [nn.Dropout(dropout)] if dropout > 0 else []
            width = h
        layers += [nn.Linear(width, 1)]
        self.net = nn.Sequential(*layers)

    def features(self, x: Tensor) -> Tensor:
        """The last hidden layer: what feature matching compares (Salimans et al. 2016, Sec. 3.1)."""
        return self.net[:-1](x)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(1)
