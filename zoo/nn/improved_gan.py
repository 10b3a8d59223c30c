"""Layers of "Improved Techniques for Training GANs" (Salimans et al. 2016, Sec. 3): minibatch
discrimination (Sec. 3.2), historical averaging (Sec. 3.3) and virtual batch normalization (Sec. 3.5)."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn


class MinibatchDiscrimination(nn.Module):
    """Sec. 3.2: features f(x_i) in R^A are multiplied by a tensor T in R^{A x B x C} into matrices M_i (B x C);
    o(x_i)_b = sum_{j != i} exp(-||M_{i,b} - M_{j,b}||_1), and [f(x_i), o(x_i)] goes on to D's last layer, so D
    can see how close a sample is to the others of its batch. (The paper's sum includes j = i, a constant 1
    that the next layer's bias absorbs.)"""

    def __init__(self, in_features: int, kernels: int = 100, kernel_dim: int = 5):
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, kernels * kernel_dim) * 0.1)

    @property
    def out_features(self) -> int:
        return self.T.shape[0] + self.kernels

    def forward(self, f: Tensor) -> Tensor:
        m = (f @ self.T).view(f.shape[0], self.kernels, self.kernel_dim).transpose(0, 1)  # (B, N, C)
        l1 = torch.cdist(m, m, p=1)  # (B, N, N): ||M_{i,b} - M_{j,b}||_1
        o = torch.exp(-l1).sum(2) - 1  # drop j = i (exp(0) = 1)
        return torch.cat([f, o.T], dim=1)


class HistoricalAverage(nn.Module):
    """Sec. 3.3: the penalty ||theta - (1/t) sum_{i=1}^t theta[i]||^2 on a player's parameters, with the running
    mean of their past values kept as buffers (so it is checkpointed). ``update`` after each optimizer step."""

    def __init__(self, params: Iterable[nn.Parameter]):
        super().__init__()
        for i, p in enumerate(params):
            self.register_buffer(f"mean{i}", p.detach().clone())
        self.register_buffer("count", torch.ones((), dtype=torch.long))

    def _means(self) -> list[Tensor]:
        return [b for name, b in self.named_buffers() if name != "count"]

    def penalty(self, params: Iterable[nn.Parameter]) -> Tensor:
        return sum((p.float() - m.float()).square().sum() for p, m in zip(params, self._means(), strict=True))

    @torch.no_grad()
    def update(self, params: Iterable[nn.Parameter]) -> None:
        self.count += 1
        for p, m in zip(params, self._means(), strict=True):
            m.add_((p.detach() - m) / self.count)


class VirtualBatchNorm(nn.Module):
    """Sec. 3.5: each example is normalized with the statistics of a fixed reference batch combined with
    itself (weight 1 / (R + 1)), so an output no longer depends on the other examples of its minibatch.

    The input holds the reference batch's activations in its first ``reference_size`` rows (the reference rows
    are normalized by their own statistics); see ``ReferenceBatchGenerator``. Statistics are per channel, over
    the batch and the spatial positions, like batch norm. No running statistics: eval is the same computation.
    """

    def __init__(self, num_features: int, reference_size: int, eps: float = 1e-5):
        super().__init__()
        self.reference_size, self.eps = reference_size, eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: Tensor) -> Tensor:
        r = self.reference_size
        spatial = tuple(range(2, x.dim()))
        per_example_mean = x.mean(spatial, keepdim=True) if spatial else x
        per_example_square = x.square().mean(spatial, keepdim=True) if spatial else x.square()
        ref_mean = per_example_mean[:r].mean(0, keepdim=True)
        ref_square = per_example_square[:r].mean(0, keepdim=True)
        c = 1.0 / (r + 1)
        is_example = (torch.arange(x.shape[0], device=x.device) >= r).view(-1, *[1] * (x.dim() - 1))
        mean = torch.where(is_example, (1 - c) * ref_mean + c * per_example_mean, ref_mean)
        square = torch.where(is_example, (1 - c) * ref_square + c * per_example_square, ref_square)
        shape = (1, -1) + (1,) * len(spatial)
        normed = (x - mean) * torch.rsqrt(square - mean.square() + self.eps)
        return normed * self.weight.view(shape) + self.bias.view(shape)


def replace_batch_norm(net: nn.Module, reference_size: int) -> nn.Module:
    """Swaps every BatchNorm layer of ``net`` for a VirtualBatchNorm of the same width, in place."""
    for name, child in net.named_children():
        if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
            setattr(net, name, VirtualBatchNorm(child.num_features, reference_size))
        else:
            replace_batch_norm(child, reference_size)
    return net


class ReferenceBatchGenerator(nn.Module):
    """A generator with virtual batch norm: runs a fixed reference batch of latents (drawn once, saved in the
    state dict) in front of every batch and returns the batch's outputs only. Costs a forward of R more rows."""

    def __init__(self, net: nn.Module, latent_dim: int, reference_size: int = 64, seed: int = 0):
        super().__init__()
        self.net = replace_batch_norm(net, reference_size)
        z = torch.randn(reference_size, latent_dim, generator=torch.Generator().manual_seed(seed))
        self.register_buffer("reference_z", z)

    def forward(self, z: Tensor) -> Tensor:
        reference = self.reference_z.to(z.dtype)
        return self.net(torch.cat([reference, z]))[reference.shape[0] :]
