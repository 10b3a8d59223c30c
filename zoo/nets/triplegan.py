"""Triple-GAN's MNIST networks (Li et al. 2017, "Triple Generative Adversarial Nets", arXiv 1703.02291, App. and
the authors' zhenxuan00/triple-gan x2y_yz2x_xy2p_ssl_mnist.py, nn.py, layers/merge.py, components/shortcuts.py).

The reference works on MNIST pixels in [0, 1] (G ends in a sigmoid, D's input noise has std 0.3 on that scale):
these networks take and return the zoo's images in [-1, 1] and convert at their edges, so every layer sees the
reference's values. The label enters G and D as a one-hot concatenated to the features (MLPConcatLayer).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: the reference classifier's conv layers (cla-1 ... cla-5): (kernel, padding, max-pool 2 and dropout 0.5 after it)
CLASSIFIER_LAYERS = ((5, "valid", True), (3, "same", False), (3, "valid", True), (3, "same", False), (3, "same", False))
#: lasagne's batch_norm: epsilon 1e-4, running averages with alpha 0.1
BN_EPS, BN_MOMENTUM = 1e-4, 0.1


class LasagneBatchNorm(nn.Module):
    """Batch normalization as lasagne's BatchNormLayer keeps it (the reference's ``batch_norm``): scale ``weight``
    (gamma, init 1) and shift ``bias`` (beta, init 0); while training, the batch's mean and biased variance
    normalize, and running averages of the mean and of the INVERSE STANDARD DEVIATION 1 / sqrt(var + eps) move
    by ``alpha`` towards the batch's (init 0 and 1); in eval mode, the running ``mean`` and ``inv_std`` normalize.
    That these buffers are the mean and the inverse std (not PyTorch's running variance) matters to Triple-GAN's
    weight average of C, which averages them as it averages the weights (zoo/triplegan.py ``update_average``)."""

    def __init__(self, num_features: int, eps: float = BN_EPS, alpha: float = BN_MOMENTUM):
        super().__init__()
        self.eps, self.alpha = eps, alpha
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("mean", torch.zeros(num_features))
        self.register_buffer("inv_std", torch.ones(num_features))

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            with torch.no_grad():
                var, mean = torch.var_mean(x.detach(), dim=[d for d in range(x.dim()) if d != 1], correction=0)
                self.mean.lerp_(mean, self.alpha)
                self.inv_std.lerp_(torch.rsqrt(var + self.eps), self.alpha)
            return F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)
        running_var = self.inv_std.reciprocal().square() - self.eps
        return F.batch_norm(x, self.mean, running_var, self.weight, self.bias, False, 0.0, self.eps)


def to_pixels(x: Tensor) -> Tensor:
    """Zoo images in [-1, 1] -> the reference's pixel values in [0, 1], flattened to (N, C*H*W)."""
    return (x.flatten(1) + 1) / 2


def with_label(h: Tensor, one_hot: Tensor) -> Tensor:
    """MLPConcatLayer: the one-hot label appended to the features."""
    return torch.cat([h, one_hot], dim=1)


class TripleGANClassifier(nn.Module):
    """C, p_c(y | x): five conv layers with BN and ReLU (5x5 valid 32, max-pool 2, dropout 0.5; 3x3 same 64; 3x3
    valid 64, max-pool 2, dropout 0.5; 3x3 same 128; 3x3 same 128), global average pooling and a dense softmax layer
    (cla-1 ... cla-6 of the MNIST script); BN as lasagne's (``LasagneBatchNorm``). Convolutions have no bias
    (lasagne's batch_norm removes it; BN's beta is the bias) and N(0, 0.05) weights, the dense layer N(0, 0.01)
    weights: 279,402 parameters for MNIST. ``forward`` returns logits; the reference's softmax is applied by the
    losses."""

    def __init__(self, channels: int = 1, num_classes: int = 10, widths: Sequence[int] = (32, 64, 64, 128, 128)):
        super().__init__()
        if len(widths) != len(CLASSIFIER_LAYERS):
            raise ValueError(f"the classifier has {len(CLASSIFIER_LAYERS)} conv layers, got widths {list(widths)}")
        layers: list[nn.Module] = []
        in_channels = channels
        for width, (kernel, padding, pool) in zip(widths, CLASSIFIER_LAYERS):
            layers += [
                nn.Conv2d(in_channels, width, kernel, padding=padding, bias=False),
                LasagneBatchNorm(width),
                nn.ReLU(),
            ]
            if pool:
                layers += [nn.MaxPool2d(2), nn.Dropout(0.5)]
            in_channels = width
        self.features = nn.Sequential(*layers)
        self.classify = nn.Linear(in_channels, num_classes)
        for m in self.features:
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.05)
        nn.init.normal_(self.classify.weight, std=0.01)
        nn.init.zeros_(self.classify.bias)

    def forward(self, x: Tensor) -> Tensor:
        pixels = (x + 1) / 2
        return self.classify(self.features(pixels).mean(dim=(2, 3)))


class WeightNormLinear(nn.Module):
    """A dense layer with weight normalisation (Salimans & Kingma 2016): each output unit's weight vector is v / ||v||
    times a scale g. Two reference forms: nn.py's ``l2normalize`` (G's last layer: g trainable, init 1, norm
    sqrt(1e-6 + sum v^2)) and nn.py's ``DenseLayer`` (D: g fixed at 1, norm sqrt(sum v^2), v ~ N(0, 0.1))."""

    def __init__(self, in_features: int, out_features: int, trainable_scale: bool, eps: float):
        super().__init__()
        self.direction = nn.Parameter(torch.empty(out_features, in_features))
        self.scale = nn.Parameter(torch.ones(out_features)) if trainable_scale else None
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.eps = eps

    def weight(self) -> Tensor:
        w = self.direction * torch.rsqrt(self.direction.square().sum(1, keepdim=True) + self.eps)
        return w if self.scale is None else w * self.scale[:, None]

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight(), self.bias)


class TripleGANGenerator(nn.Module):
    """G, p_g(x | y): z (100 dims, U(0, 1)) and the one-hot y concatenated before each layer: dense 500 -> BN ->
    softplus, twice, then a weight-normalised dense layer to the pixels with a sigmoid (gen-1 ... gen-8). The
    BN'd dense layers have no bias (lasagne's batch_norm); weights Glorot-uniform (lasagne's default); BN with
    lasagne's epsilon 1e-4."""

    def __init__(
        self, latent_dim: int = 100, num_classes: int = 10, resolution: int = 28, channels: int = 1, hidden: int = 500
    ):
        super().__init__()
        self.num_classes, self.shape = num_classes, (channels, resolution, resolution)
        self.hidden1 = nn.Linear(latent_dim + num_classes, hidden, bias=False)
        self.bn1 = nn.BatchNorm1d(hidden, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.hidden2 = nn.Linear(hidden + num_classes, hidden, bias=False)
        self.bn2 = nn.BatchNorm1d(hidden, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.out = WeightNormLinear(hidden + num_classes, channels * resolution**2, trainable_scale=True, eps=1e-6)
        for w in (self.hidden1.weight, self.hidden2.weight, self.out.direction):
            nn.init.xavier_uniform_(w)

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        y = F.one_hot(y, self.num_classes).to(z.dtype)
        h = F.softplus(self.bn1(self.hidden1(with_label(z, y))))
        h = F.softplus(self.bn2(self.hidden2(with_label(h, y))))
        pixels = torch.sigmoid(self.out(with_label(h, y)))
        return (pixels * 2 - 1).view(-1, *self.shape)


class TripleGANDiscriminator(nn.Module):
    """D, p(x, y) real or not: an MLP on (x, y) with the one-hot y concatenated before each dense layer, Gaussian
    noise (std 0.3 on the input pixels, 0.5 on hidden features) while training, ReLU, weight-normalised dense
    layers 1000, 500, 250, 250, 250 and one output (dis-1 ... dis-19). As the script does, the noise after the
    first layer also covers the label concatenated there, and that layer's output gets y a second time (dis-4 to
    dis-6: 1000 + 10 + 10 inputs to the 500 layer). Returns the logit; the reference's sigmoid is in the losses."""

    def __init__(
        self,
        resolution: int = 28,
        channels: int = 1,
        num_classes: int = 10,
        hidden: Sequence[int] = (1000, 500, 250, 250, 250),
        input_noise: float = 0.3,
        hidden_noise: float = 0.5,
    ):
        super().__init__()
        self.num_classes, self.input_noise, self.hidden_noise = num_classes, input_noise, hidden_noise
        sizes = [channels * resolution**2, *hidden]
        extra = [num_classes] + [2 * num_classes] + [num_classes] * (len(hidden) - 1)
        self.layers = nn.ModuleList(
            WeightNormLinear(n_in + k, n_out, trainable_scale=False, eps=0.0)
            for n_in, k, n_out in zip(sizes, extra, [*hidden, 1])
        )
        for layer in self.layers:
            nn.init.normal_(layer.direction, std=0.1)

    def noise(self, h: Tensor, std: float) -> Tensor:
        return h + torch.randn_like(h) * std if self.training and std else h

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        y = F.one_hot(y, self.num_classes).to(x.dtype)
        h = self.noise(to_pixels(x), self.input_noise)
        h = F.relu(self.layers[0](with_label(h, y)))
        h = with_label(self.noise(with_label(h, y), self.hidden_noise), y)
        for layer in self.layers[1:-1]:
            h = F.relu(layer(h))
            h = with_label(self.noise(h, self.hidden_noise), y)
        return self.layers[-1](h).squeeze(1)
