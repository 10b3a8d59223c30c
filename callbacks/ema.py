"""Exponential moving average of the generator's weights (``pl_module.generator_ema``).

Two schedules:

- a half-life in thousands of real images, as StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the
  Image Quality of StyleGAN", App. B) and StyleGAN2-ADA's training_loop.py: ``ema_nimg = half_life_kimg *
  1000``, with the optional ramp-up ``ema_nimg = min(ema_nimg, images_seen * rampup)``, and
  ``beta = 0.5 ** (batch_images / max(ema_nimg, 1e-8))``, where ``batch_images`` is the number of real
  images (summed over ranks) since the previous update, so the half-life means the same at any batch size,
  ``d_steps`` or GPU count;
- a constant ``decay`` per generator step, as BigGAN (Brock et al. 2019, Sec. 4 and App. C: 0.9999,
  started after 20k iterations), with the average a plain copy until ``start_kimg``.

Parameters are averaged; buffers (BatchNorm running statistics, spectral-norm power-iteration vectors) are
copied, as both reference implementations do. Only the generator is averaged: no copy of the
discriminator or of any metric network.
"""

from __future__ import annotations

import copy

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from torch import nn

from zoo.errors import ZooError

EMA_PREFIX = "generator_ema."


def frozen_copy(generator: nn.Module) -> nn.Module:
    """A deep copy of ``generator`` in eval mode whose parameters take no gradients."""
    average = copy.deepcopy(generator)
    average.requires_grad_(False)
    return average.eval()


@torch.no_grad()
def update_average(average: nn.Module, net: nn.Module, beta: float) -> None:
    """``average <- beta * average + (1 - beta) * net`` for parameters; buffers copied from ``net``.
    ``beta = 0`` copies exactly (``lerp`` is exact at its end points)."""
    torch._foreach_lerp_(list(average.parameters()), list(net.parameters()), 1.0 - beta)
    for mine, theirs in zip(average.buffers(), net.buffers()):
        mine.copy_(theirs)


class EMA(Callback):
    """Keeps ``pl_module.generator_ema``, updated after every generator step; ``sample``, the sample grids,
    ``cli.py sample`` and FID use it. Off unless ``half_life_kimg`` or ``decay`` is set.

    The average is created in ``setup``, which Lightning runs before it restores a checkpoint, so the
    ``generator_ema.*`` weights of a checkpoint load with the model; the image count of the last update is
    callback state, so a resumed run continues the average exactly. A checkpoint written without EMA
    starts the average from its generator; resuming an EMA checkpoint with EMA off is refused.
    """

    def __init__(
        self,
        half_life_kimg: float | None = None,
        rampup: float | None = None,
        decay: float | None = None,
        start_kimg: float = 0.0,
    ):
        """
        Args:
            half_life_kimg: StyleGAN2's ema_kimg: the average's half-life in thousands of real images
                (10 in config F, 20 in StyleGAN2-ADA's paper256, 500 for CIFAR-10). None: off.
            rampup: StyleGAN2-ADA's ema_rampup: the half-life is at most ``rampup`` times the images seen
                so far (0.05 in ADA's auto and cifar configs; None: no ramp-up).
            decay: a constant per-generator-step decay instead (BigGAN: 0.9999). None: off.
            start_kimg: with ``decay``, the average copies the generator until this many thousand images.
        """
        if half_life_kimg is not None and decay is not None:
            raise ZooError("choose one EMA schedule: --ema.half_life_kimg (StyleGAN2) or --ema.decay (BigGAN)")
        if half_life_kimg is not None and half_life_kimg <= 0:
            raise ZooError(f"--ema.half_life_kimg must be > 0, got {half_life_kimg}")
        if decay is not None and not 0 <= decay < 1:
            raise ZooError(f"--ema.decay must be in [0, 1), got {decay}")
        if rampup is not None and rampup <= 0:
            raise ZooError(f"--ema.rampup must be > 0 (or null for no ramp-up), got {rampup}")
        if start_kimg < 0:
            raise ZooError(f"--ema.start_kimg must be >= 0, got {start_kimg}")
        self.half_life_kimg, self.rampup, self.decay, self.start_kimg = half_life_kimg, rampup, decay, start_kimg
        self._last_update: tuple[int, int] | None = None  # (generator_steps, images_seen) at the last update
        self._load_hook = None

    @property
    def enabled(self) -> bool:
        return self.half_life_kimg is not None or self.decay is not None

    def beta(self, images_seen: int, images_at_last_update: int) -> float:
        """The weight of the old average in an update made at ``images_seen`` real images."""
        if self.decay is not None:
            return self.decay if images_seen >= self.start_kimg * 1000 else 0.0
        ema_nimg = self.half_life_kimg * 1000
        if self.rampup is not None:  # ADA ramps with the images seen before this update's batch
            ema_nimg = min(ema_nimg, images_at_last_update * self.rampup)
        return 0.5 ** ((images_seen - images_at_last_update) / max(ema_nimg, 1e-8))

    # ---------------------------------------------------------------------------------------- hooks

    def setup(self, trainer: pl.Trainer, pl_module, stage: str) -> None:
        if self.enabled and pl_module.generator_ema is None:
            pl_module.generator_ema = frozen_copy(pl_module.generator)
        if self._load_hook is None:
            self._load_hook = pl_module.register_load_state_dict_pre_hook(self._match_checkpoint)

    def teardown(self, trainer: pl.Trainer, pl_module, stage: str) -> None:
        if self._load_hook is not None:
            self._load_hook.remove()
            self._load_hook = None

    def _match_checkpoint(self, module, state_dict: dict, prefix: str, *args) -> None:
        """Runs before the model loads a checkpoint's ``state_dict``: a checkpoint without an average
        starts it from its generator; one with an average needs EMA on to keep updating it."""
        has_average = any(k.startswith(prefix + EMA_PREFIX) for k in state_dict)
        if self.enabled and not has_average:
            generator = prefix + "generator."
            for key in [k for k in state_dict if k.startswith(generator)]:
                state_dict[prefix + EMA_PREFIX + key[len(generator) :]] = state_dict[key]
        elif not self.enabled and has_average:
            raise ZooError(
                "the checkpoint holds an EMA generator (generator_ema.*), but EMA is off: resume with the "
                "EMA options it was trained with (--ema.half_life_kimg or --ema.decay, see its config.yaml)"
            )

    def on_fit_start(self, trainer: pl.Trainer, pl_module) -> None:
        # Lightning warns about every module in eval mode when training starts (a check for forgotten
        # .train() calls, made between on_fit_start and on_train_start): the average is in train mode
        # only across that check. It is never run in training; sampling puts it in eval mode anyway.
        if self.enabled:
            pl_module.generator_ema.train()

    def on_train_start(self, trainer: pl.Trainer, pl_module) -> None:
        if not self.enabled:
            return
        pl_module.generator_ema.eval()
        if self._last_update is None:  # a fresh run, or a checkpoint written without EMA
            self._last_update = (pl_module.generator_steps, pl_module.images_seen)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if not self.enabled:
            return
        steps, images_seen = pl_module.generator_steps, pl_module.images_seen
        last_steps, last_images = self._last_update
        if steps == last_steps:  # no generator step in this iteration (d_steps > 1)
            return
        update_average(pl_module.generator_ema, pl_module.generator, self.beta(images_seen, last_images))
        self._last_update = (steps, images_seen)

    # ---------------------------------------------------------------------------------- persistence

    def state_dict(self) -> dict:
        if self._last_update is None:
            return {}
        return {"generator_steps": self._last_update[0], "images_seen": self._last_update[1]}

    def load_state_dict(self, state_dict: dict) -> None:
        if state_dict:
            self._last_update = (int(state_dict["generator_steps"]), int(state_dict["images_seen"]))
