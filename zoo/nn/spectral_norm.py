"""Spectral normalization (Miyato et al. 2018, "Spectral Normalization for Generative Adversarial Networks",
arXiv 1802.05957, Sec. 2.1 and Algorithm 1) and ``Layers``, the factory of (optionally) normalized layers that
the ResNet family's networks are built from.

A normalized layer uses W / sigma(W), with sigma(W) the largest singular value of W reshaped to (out, -1),
estimated by power iteration: one iteration per forward in training mode, continuing from the vectors of the
previous forward (Algorithm 1), none in eval mode. This is ``torch.nn.utils.parametrizations.spectral_norm``:
its u and v are buffers (``parametrizations.weight.0._u`` / ``._v``), so they are saved in checkpoints and a
resumed run continues the same iteration; the unnormalized weight is ``parametrizations.weight.original``.
torch's iteration starts from the stored v (u <- W v, then v <- W^T u). ``authors_power_iteration`` gives the
authors' iteration instead, which starts from the stored u (v <- W^T u, then u <- W v) and runs in eval forwards
too, without storing them there (BigGAN-PyTorch, layers.py ``power_iteration`` and ``SN.W_``: ``update=self.training``;
Miyato's Chainer ``max_singular_value``, u stored only when ``chainer.config.train``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import _SpectralNorm
from torch.nn.utils.parametrizations import spectral_norm as _torch_spectral_norm

from zoo.errors import ZooError

#: weight initializers by name; ``gain`` is the Glorot gain (SNGAN's code: sqrt 2 on residual convs), which the
#: other initializers ignore
INITIALIZERS: dict[str, Callable[[Tensor, float], None]] = {
    # Glorot uniform, as the SNGAN / projection authors' Chainer code (GlorotUniform, gain sqrt 2 or 1)
    "xavier": lambda weight, gain: nn.init.xavier_uniform_(weight, gain),
    # orthogonal (Saxe et al. 2014), BigGAN's initialization of every layer (Brock et al. 2019, App. C)
    "orthogonal": lambda weight, gain: nn.init.orthogonal_(weight),
    # N(0, 0.02), as DCGAN and the standard-CNN code of the SNGAN experiments (chainer-gan-lib)
    "normal": lambda weight, gain: nn.init.normal_(weight, 0.0, 0.02),
}


class _AuthorsSpectralNorm(_SpectralNorm):
    """torch's spectral norm with the authors' power iteration (``spectral_norm(..., authors_power_iteration=True)``,
    module docstring): from u, and in eval forwards too, where nothing is stored."""

    @torch.no_grad()
    def _power_method(self, weight_mat: Tensor, n_power_iterations: int) -> None:
        for _ in range(n_power_iterations):
            self._v = F.normalize(torch.mv(weight_mat.H, self._u), dim=0, eps=self.eps, out=self._v)
            self._u = F.normalize(torch.mv(weight_mat, self._v), dim=0, eps=self.eps, out=self._u)

    def forward(self, weight: Tensor) -> Tensor:
        if self.training or weight.ndim == 1:
            return super().forward(weight)
        weight_mat = self._reshape_weight_to_matrix(weight)
        with torch.no_grad():
            v = F.normalize(torch.mv(weight_mat.H, self._u), dim=0, eps=self.eps)
            u = F.normalize(torch.mv(weight_mat, v), dim=0, eps=self.eps)
        return weight / torch.vdot(u, torch.mv(weight_mat, v))


def spectral_norm(module: nn.Module, eps: float = 1e-12, authors_power_iteration: bool = False) -> nn.Module:
    """``module`` with its weight divided by its spectral norm, one power iteration per training forward (and,
    with ``authors_power_iteration``, the authors' iteration, also run but not stored in eval forwards)."""
    if not authors_power_iteration:
        return _torch_spectral_norm(module, n_power_iterations=1, eps=eps)
    parametrize.register_parametrization(module, "weight", _AuthorsSpectralNorm(module.weight, 1, 0, eps))
    return module


@dataclass(frozen=True)
class Layers:
    """Builds convolutions, linear layers and embeddings initialized by ``init`` and spectrally normalized
    when ``spectral_norm`` (weights are initialized first, so the power iteration starts from the final weight),
    with the authors' power iteration when ``authors_power_iteration`` (module docstring); ``sn_eps``: the epsilon
    of the power iteration's normalizations (BigGAN-deep's launch script: 1e-6)."""

    spectral_norm: bool = True
    init: str = "xavier"
    authors_power_iteration: bool = False
    sn_eps: float = 1e-12

    def __post_init__(self):
        if self.init not in INITIALIZERS:
            raise ZooError(f"unknown initialization '{self.init}'; choose one of: {', '.join(INITIALIZERS)}")

    def conv(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int | None = None,
        gain: float = 1.0,
        bias: bool = True,
    ) -> nn.Module:
        """A 2D convolution; ``padding`` defaults to kernel_size // 2 (same size for odd kernels at stride 1)."""
        padding = kernel_size // 2 if padding is None else padding
        return self._finish(nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=bias), gain)

    def linear(self, in_features: int, out_features: int, bias: bool = True) -> nn.Module:
        return self._finish(nn.Linear(in_features, out_features, bias=bias), 1.0)

    def embedding(self, num_embeddings: int, embedding_dim: int) -> nn.Module:
        return self._finish(nn.Embedding(num_embeddings, embedding_dim), 1.0)

    def _finish(self, module: nn.Module, gain: float) -> nn.Module:
        INITIALIZERS[self.init](module.weight, gain)
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)
        return (
            spectral_norm(module, eps=self.sn_eps, authors_power_iteration=self.authors_power_iteration)
            if self.spectral_norm
            else module
        )
