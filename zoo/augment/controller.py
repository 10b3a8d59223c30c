"""The augmentation a GANModule applies to every image its discriminator sees (``--model.augment``).

- ``ada``: StyleGAN2-ADA's adaptive discriminator augmentation (Karras et al. 2020, arXiv 2006.06676, Sec. 3): the
  pipeline of zoo/augment/ada.py with probability p, adjusted by the overfitting heuristic r_t = E[sign(D(x_real))]
  (Eq. 1 and Sec. 3.1) toward ``target``: every ``interval`` (4) iterations p += sign(r_t - target) * (batch *
  interval) / (ada_kimg * 1000), with batch the global one, so p can move by 1 in ada_kimg thousand images; p >= 0.
  As NVlabs' training/training_loop.py ("Execute ADA heuristic") with training/loss.py reporting
  ``Loss/signs/real``: r_t is the mean sign of every real logit observed since the last adjustment, summed over
  DDP ranks (so p stays equal on every rank); the reference clamps p below at 0 only, and so does this. The
  statistic counts the real logits of every D loss (``GANModule.observe_real_logits``); the reference also counts
  those of its separate R1 passes (Dreg, every 16th iteration), which the shared loop folds into the D loss.
- ``fixed``: the same pipeline with a constant p (ADA's ``--aug fixed``).
- ``diffaugment``: DiffAugment (zoo/augment/diffaugment.py), no probability.

p, the running sign sums and the last r_t are saved in checkpoints (a resume continues the same p) and kept on the
device (no host sync per step).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from zoo.augment.ada import AdaPipeline
from zoo.augment.diffaugment import diff_augment, parse_policy
from zoo.errors import ZooError

KINDS = ("none", "ada", "fixed", "diffaugment")
#: iterations between two adjustments of p (NVlabs' ``ada_interval``)
ADA_INTERVAL = 4


def full_precision(images: Tensor):
    """Autocast off: the transform matrices and resampling run in float32 under bf16/fp16 training (a bf16
    coordinate is off by up to 0.4%, a pixel at 256 px)."""
    return torch.autocast(device_type=images.device.type, enabled=False)


class AdaAugment(nn.Module):
    """The ADA pipeline at probability ``p``; ``adaptive`` adjusts p from the observed real logits."""

    def __init__(self, pipe: str, p: float, adaptive: bool, target: float = 0.6, ada_kimg: float = 500):
        super().__init__()
        if not 0 <= p <= 1:
            raise ZooError(f"augment_p must be in [0, 1], got {p}")
        if adaptive and not ada_kimg > 0:
            raise ZooError(f"ada_kimg must be > 0, got {ada_kimg}")
        self.pipeline = AdaPipeline(pipe)
        self.adaptive, self.target, self.ada_kimg = adaptive, target, ada_kimg
        self.register_buffer("p", torch.tensor(float(p)))
        self.register_buffer("rt", torch.tensor(float("nan")))  # r_t of the latest adjustment (nan: none yet)
        # this rank's sum of sign(D(x_real)) and number of logits since the last adjustment: not a buffer, which DDP
        # would overwrite with rank 0's at every forward (broadcast_buffers); saved as extra state
        self.signs = torch.zeros(2)
        self.observed = False  # whether any real logit was reported: an entry that never reports one is refused

    def forward(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        with full_precision(images):
            return self.pipeline(images.float(), self.p, generator)

    def observe_real_logits(self, logits: Tensor) -> None:
        """Adds D's outputs on real images to the r_t statistic (on the device)."""
        if self.adaptive:
            self.observed = True
            if self.signs.device != logits.device:
                self.signs = self.signs.to(logits.device)
            self.signs[0] += logits.detach().sign().sum().float()
            self.signs[1] += logits.numel()

    def end_iteration(self, iterations: int, global_batch: int, reduce_sum: Callable[[Tensor], Tensor]) -> None:
        """After iteration number ``iterations`` (counted from 1) of ``global_batch`` real images over all ranks:
        every ADA_INTERVAL iterations, r_t from the signs summed over ranks (``reduce_sum``) and p's step. An
        interval in which no real logit was observed leaves p as it is."""
        if not self.adaptive or iterations % ADA_INTERVAL:
            return
        if not self.observed:
            raise ZooError(
                "--model.augment ada steers p by D's outputs on real images, which this entry's D loss never reports "
                "(GANModule.observe_real_logits); use --model.augment fixed (a constant --model.augment_p) or none"
            )
        total, count = reduce_sum(self.signs.to(self.p.device).clone()).unbind()
        rt = total / count.clamp(min=1)
        step = torch.sign(rt - self.target) * (global_batch * ADA_INTERVAL) / (self.ada_kimg * 1000)
        self.p.copy_(torch.where(count > 0, self.p + step, self.p).clamp(min=0))
        self.rt.copy_(torch.where(count > 0, rt, self.rt))
        self.signs.zero_()

    def logs(self) -> dict[str, Tensor]:
        return {"augment/p": self.p, "augment/rt": self.rt} if self.adaptive else {"augment/p": self.p}

    def get_extra_state(self) -> dict:
        return {"signs": self.signs}

    def set_extra_state(self, state: dict) -> None:
        self.signs = state["signs"].to(self.p.device)


class DiffAugment(nn.Module):
    """DiffAugment with ``policy`` (comma-separated names of zoo/augment/diffaugment.py)."""

    def __init__(self, policy: str):
        super().__init__()
        self.policy = parse_policy(policy)

    def forward(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        with full_precision(images):
            return diff_augment(images.float(), self.policy, generator)

    def observe_real_logits(self, logits: Tensor) -> None:
        """No statistic: DiffAugment's strength is fixed."""

    def end_iteration(self, iterations: int, global_batch: int, reduce_sum) -> None:
        """Nothing to adjust."""

    def logs(self) -> dict[str, Tensor]:
        return {}


def make_augmentation(
    kind: str, p: float, target: float, ada_kimg: float, pipe: str, policy: str
) -> AdaAugment | DiffAugment | None:
    """The ``--model.augment`` module (None for ``none``)."""
    if kind not in KINDS:
        raise ZooError(f"unknown augment '{kind}'; choose one of: {', '.join(KINDS)}")
    if kind == "none":
        return None
    if kind == "diffaugment":
        return DiffAugment(policy)
    return AdaAugment(pipe, p, adaptive=kind == "ada", target=target, ada_kimg=ada_kimg)
