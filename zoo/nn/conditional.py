"""Class conditioning of the ResNet family: conditional batch norm in the generator (de Vries et al. 2017;
Dumoulin et al. 2017) and the projection head of the discriminator (Miyato & Koyama 2018, "cGANs with
Projection Discriminator", arXiv 1802.05637, Eq. 3)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from zoo.nn.spectral_norm import Layers


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm without its own affine, then a gain and a bias computed from the condition c:
    y = (1 + gamma(c)) * BN(x) + beta(c), so zero offsets give plain (affine-free) batch norm.

    ``gamma`` and ``beta`` map a batch of conditions to (N, C): per-class embeddings (``by_class``) or, in
    BigGAN, linear layers on a vector (``by_vector``)."""

    def __init__(self, num_features: int, gamma: nn.Module, beta: nn.Module, eps: float = 1e-5):
        super().__init__()
        self.norm = nn.BatchNorm2d(num_features, eps=eps, affine=False)
        self.gamma, self.beta = gamma, beta

    @classmethod
    def by_class(cls, num_features: int, num_classes: int) -> ConditionalBatchNorm2d:
        """Categorical conditional BN of the projection-discriminator and SAGAN generators: one gain and one bias
        per class, starting at gain 1 and bias 0 (the authors' CategoricalConditionalBatchNormalization)."""
        gamma, beta = nn.Embedding(num_classes, num_features), nn.Embedding(num_classes, num_features)
        nn.init.zeros_(gamma.weight)
        nn.init.zeros_(beta.weight)
        return cls(num_features, gamma, beta)

    @classmethod
    def by_vector(
        cls, num_features: int, condition_dim: int, layers: Layers, eps: float = 1e-5
    ) -> ConditionalBatchNorm2d:
        """BigGAN's conditional BN (Brock et al. 2019, Sec. 3 and App. B): gain and bias are linear projections,
        without bias, of the shared class embedding concatenated with the block's chunk of z (BigGAN-deep: with
        all of z). ``eps``: the batch norm's (1e-5 in BigGAN-PyTorch, 1e-4 in the TF-Hub BigGAN-deep models)."""
        gamma = layers.linear(condition_dim, num_features, bias=False)
        beta = layers.linear(condition_dim, num_features, bias=False)
        return cls(num_features, gamma, beta, eps)

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        gain = 1 + self.gamma(condition)[:, :, None, None]
        return self.norm(x) * gain + self.beta(condition)[:, :, None, None]


class UnconditionalBatchNorm2d(nn.BatchNorm2d):
    """Plain batch norm (with affine) that accepts the condition argument of ``ConditionalBatchNorm2d`` and
    ignores it, so one generator block serves conditional and unconditional generators."""

    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        return super().forward(x)


class ProjectionHead(nn.Module):
    """The discriminator's output from pooled features phi(x): psi(phi(x)) + <embed(y), phi(x)> (Miyato &
    Koyama 2018, Eq. 3 and Fig. 1: psi a linear layer, embed the class embedding V), or psi(phi(x)) alone
    without classes. Both layers come from ``layers`` (spectrally normalized in the authors' code); ``bias``: whether
    psi has one (not in the authors' 32 px discriminator)."""

    def __init__(self, features: int, num_classes: int | None, layers: Layers, bias: bool = True):
        super().__init__()
        self.psi = layers.linear(features, 1, bias=bias)
        self.embed = layers.embedding(num_classes, features) if num_classes is not None else None

    def forward(self, phi: Tensor, y: Tensor | None = None) -> Tensor:
        out = self.psi(phi).squeeze(1)
        if self.embed is not None:
            out = out + torch.sum(self.embed(y) * phi, dim=1)
        return out
