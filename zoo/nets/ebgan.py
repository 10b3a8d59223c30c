"""EBGAN's fully connected MNIST networks (Zhao, Mathieu and LeCun 2017, arXiv 1609.03126, Sec. 4.1 and Fig. 9).

What the paper's text fixes:
- Sec. 4.1: the MNIST experiments use fully-connected networks; nLayerG is the number of layers of G, sizeG its
  number of neurons; nLayerD is the number of layers of Enc and Dec put together, and Dec is always a single layer
  (only Enc's depth is searched); sizeD is D's number of neurons; margin 10, Adam with lr 0.001 for both players.
- Fig. 9's caption names the model it trains (the grid search's best EBGAN): nLayerG=5, nLayerD=2, sizeG=1600,
  sizeD=1024, dropoutD=0, Adam for D and G, lr 0.001.

So G is five linear layers, z -> 1600 -> 1600 -> 1600 -> 1600 -> 784, and D an autoencoder of one linear layer each
way, 784 -> 1024 (Enc, whose output is the code the pulling-away term reads) -> 784 (Dec).

What the text read here leaves open is taken from DCGAN's conventions, which the paper's grid-search setting
follows: batch norm after every weight layer except G's output layer and D's input layer, ReLU, tanh on G's output
(images in [-1, 1]), biases present and initialized to 0; D's output layer (the reconstruction) carries neither
batch norm nor an activation. Weights are drawn from N(0, 0.002) in D and N(0, 0.02) in G. These details (and
the size of z, left to the entry's ``latent_dim``) are the appendix's grid-search setting as recalled when this
module was written: the appendix text could not be read from the stored copies, so they stay unverified.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from torch import Tensor, nn

from zoo.nets.autoencoder import AutoencoderDiscriminator
from zoo.nn.init import normal_init

#: Fig. 9's model: nLayerG, sizeG, nLayerD (Enc + Dec), sizeD
G_LAYERS, G_WIDTH, D_LAYERS, D_WIDTH = 5, 1600, 2, 1024


class EBGANMLPGenerator(nn.Module):
    """z -> ``layers - 1`` hidden linear layers of ``width`` (batch norm, ReLU) -> linear to the image, tanh."""

    def __init__(self, latent_dim: int, sample_shape: Sequence[int], width: int = G_WIDTH, layers: int = G_LAYERS):
        super().__init__()
        self.sample_shape = tuple(sample_shape)
        sizes = [latent_dim] + [width] * (layers - 1)
        blocks: list[nn.Module] = []
        for a, b in itertools.pairwise(sizes):
            blocks += [nn.Linear(a, b), nn.BatchNorm1d(b), nn.ReLU(inplace=True)]
        self.net = nn.Sequential(*blocks, nn.Linear(sizes[-1], math.prod(self.sample_shape)), nn.Tanh())
        normal_init(self, 0.02)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.flatten(1)).view(z.shape[0], *self.sample_shape)


class _Flat(nn.Module):
    def __init__(self, sample_shape: Sequence[int]):
        super().__init__()
        self.sample_shape = tuple(sample_shape)

    def forward(self, x: Tensor) -> Tensor:
        return x.view(x.shape[0], *self.sample_shape)


def ebgan_mlp_autoencoder(
    sample_shape: Sequence[int], width: int = D_WIDTH, layers: int = D_LAYERS
) -> AutoencoderDiscriminator:
    """Enc: ``layers - 1`` linear layers of ``width`` with ReLU (batch norm on all but the input layer); Dec: one
    linear layer back to the image. The code is Enc's output, (N, width)."""
    if layers < 2:
        raise ValueError("EBGAN's autoencoder has at least one encoder and one decoder layer")
    pixels = math.prod(sample_shape)
    blocks: list[nn.Module] = [nn.Flatten()]
    c_in = pixels
    for i in range(layers - 1):
        blocks += [nn.Linear(c_in, width)] + ([nn.BatchNorm1d(width)] if i else []) + [nn.ReLU(inplace=True)]
        c_in = width
    encoder = nn.Sequential(*blocks)
    decoder = nn.Sequential(nn.Linear(width, pixels), _Flat(sample_shape))
    autoencoder = AutoencoderDiscriminator(encoder, decoder)
    normal_init(autoencoder, 0.002)
    return autoencoder
