"""Maxout units (Goodfellow et al. 2013), the discriminator nonlinearity of the original GAN paper."""

import torch
from torch import Tensor, nn


class Maxout(nn.Module):
    """A linear layer with ``pieces`` outputs per unit followed by a max over the pieces."""

    def __init__(self, in_features: int, out_features: int, pieces: int):
        super().__init__()
        self.out_features, self.pieces = out_features, pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x: Tensor) -> Tensor:
        y = self.linear(x).view(*x.shape[:-1], self.out_features, self.pieces)
        return torch.amax(y, dim=-1)
