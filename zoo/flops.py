"""Forward-pass FLOP counts (``torch.utils.flop_counter``: convolutions, transposed convolutions and matrix
products at 2 FLOPs per multiply-add; element-wise work uncounted), for comparing the zoo's networks with their
authors' at equal settings, e.g. StyleGAN2's synthesis network against NVlabs' stylegan2-ada-pytorch
(training/networks.py ``SynthesisNetwork``: 30.07 GFLOP per image at ADA's paper256 configuration, 150.77 at
1024 px, counted the same way; Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN")."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def forward_flops(module: nn.Module, *inputs, **kwargs) -> int:
    """The FLOPs of ``module(*inputs, **kwargs)``. Runs with autograd enabled (the counter's module tracker
    needs it) on the inputs' device; on the ``meta`` device nothing is computed, only counted."""
    with torch.enable_grad(), FlopCounterMode(display=False) as counter:
        module(*inputs, **kwargs)
    return counter.get_total_flops()


def synthesis_flops(synthesis: nn.Module, w_dim: int) -> int:
    """FLOPs per image of a style synthesis network (``synthesis(ws, noise_mode)`` with ``synthesis.num_ws``
    ws): one sample in eval mode, as sampling runs it, with constant noise."""
    device = next(synthesis.parameters()).device
    ws = torch.zeros(1, synthesis.num_ws, w_dim, device=device)
    training = synthesis.training
    try:
        return forward_flops(synthesis.eval(), ws, noise_mode="const")
    finally:
        synthesis.train(training)
