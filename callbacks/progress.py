"""One progress bar for the whole run, in kimg (thousands of real images shown to D, the unit of the run's
schedules and of ``--trainer.max_kimg``), instead of Lightning's bar of the batches of one epoch.

The bar runs from where the run starts (``images_seen`` of a resumed checkpoint) to where it will stop: the first
of ``max_kimg``, ``max_steps`` (in optimizer steps, converted to iterations) and ``max_epochs`` (in batches),
converted to images at the current global batch size and recomputed at every refresh, so a batch size that
changes mid-run (progressive growing) keeps the total, img/s and the time left right. Without a limit it shows
the position and no total. It shows the iteration, img/s, the time left and the last D and G losses (rank 0's
under DDP: only rank 0 shows the bar), and reaches 100% when the run ends; a run stopped by a signal or an error
leaves it where it stopped.

No host sync per iteration: ``GANModule`` keeps its last losses as device tensors (``last_losses``) and the bar
reads them to the host once per refresh (every ``refresh_rate`` iterations, at most every ``refresh_seconds``).
When the output is not a terminal (CI logs, ``> log.txt``) there is no redrawn bar: one plain line every
``line_percent`` % of the run or every ``line_seconds`` seconds keeps the log readable.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ProgressBar
from tqdm import tqdm

from callbacks.kimg import kimg_images, next_grid_point

#: the losses the bar shows: GANModule.last_losses key -> label
SHOWN_LOSSES = {"loss/d": "D", "loss/g": "G"}
#: weight of the latest refresh interval in the img/s average (tqdm's default smoothing)
RATE_SMOOTHING = 0.3


@dataclass(frozen=True)
class RunEnd:
    """Where a run will stop: its ``images_seen`` and ``iterations`` then."""

    images: int
    iterations: int


def iterations_for_steps(steps_left: int, iteration: int, steps: Callable[[int, int], int]) -> int:
    """Iterations from ``iteration`` on until ``steps_left`` more optimizer steps are taken, where ``steps(iteration,
    n)`` counts the optimizer steps of n iterations (``GANModule.optimizer_steps``). Lightning checks ``max_steps``
    between batches, so the run ends after the first iteration that reaches it."""
    low, high = 0, max(steps_left, 0)  # every iteration takes >= 1 step, so steps_left iterations are enough
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if steps(iteration, middle) >= steps_left else (middle + 1, high)
    return low


def run_end(trainer: pl.Trainer, module: pl.LightningModule, batch: int | None, starting: bool) -> RunEnd | None:
    """The nearest of the run's limits at ``batch`` images per iteration (summed over ranks): ``max_kimg``
    (``ZooTrainer``), ``max_steps`` and ``max_epochs``. None without a limit or before the batch size is known.
    ``starting``: called before training starts, not after an iteration."""
    if not batch:
        return None
    images, iteration = module.images_seen, module.iterations
    left: list[int] = []  # iterations until each limit
    if (max_kimg := getattr(trainer, "max_kimg", None)) is not None:
        left.append(-(-max(0, kimg_images(max_kimg) - images) // batch))
    if trainer.max_steps >= 0:
        left.append(iterations_for_steps(trainer.max_steps - trainer.global_step, iteration, module.optimizer_steps))
    per_epoch, epochs = trainer.num_training_batches, trainer.max_epochs
    if epochs is not None and epochs >= 0 and math.isfinite(per_epoch):
        # the datamodules' sampler ends every epoch at a multiple of per_epoch iterations (datamodules/sampler.py),
        # also the one after a max_steps stop mid-epoch, which Lightning counts as a new epoch
        n = int(per_epoch)
        this_epoch = (-iteration) % n or (n if starting else 0)
        later = max(0, epochs - trainer.current_epoch - 1) * n
        left.append(this_epoch + later if trainer.current_epoch < epochs else 0)
    if not left:
        return None
    n = min(left)
    return RunEnd(images + n * batch, iteration + n)


def losses_to_host(last_losses: dict[str, torch.Tensor]) -> dict[str, float]:
    """The shown losses as numbers, labelled ``D`` and ``G``: one host read (a device sync) for all of them."""
    keys = [k for k in SHOWN_LOSSES if k in last_losses]
    if not keys:
        return {}
    values = torch.stack([last_losses[k].float() for k in keys]).tolist()
    return {SHOWN_LOSSES[k]: v for k, v in zip(keys, values)}


def status_text(images: int, iteration: int, end: RunEnd | None, rate: float | None, losses: dict[str, float]) -> str:
    """The bar's numbers, e.g. ``1.28/2.56 kimg, iteration 40/80, 812 img/s, 0:00:02 left, D 0.693 G 0.812``."""
    if end is None:
        parts = [f"{images / 1000:,.2f} kimg (no total: no max_kimg, max_steps, max_epochs)", f"iteration {iteration}"]
    else:
        parts = [f"{images / 1000:,.2f}/{end.images / 1000:,.2f} kimg", f"iteration {iteration}/{end.iterations}"]
    if rate:
        parts.append(f"{rate:,.0f} img/s")
        if end is not None:
            parts.append(f"{timedelta(seconds=round(max(0, end.images - images) / rate))} left")
    if losses:
        parts.append(" ".join(f"{label} {value:.3f}" for label, value in losses.items()))
    return ", ".join(parts)


class KimgProgressBar(ProgressBar):
    """The whole run as one bar in kimg on a terminal, or as a plain line every few percent elsewhere (see the
    module docstring). ``ZooTrainer`` uses it instead of Lightning's TQDM bar; only rank 0 shows it."""

    def __init__(
        self,
        refresh_rate: int = 1,
        refresh_seconds: float = 0.5,
        line_percent: float = 5.0,
        line_seconds: float = 60.0,
        stream=None,
    ):
        """
        Args:
            refresh_rate: redraw the bar (and read the losses) at most every this many iterations.
            refresh_seconds: ... and at most every this many seconds.
            line_percent: not on a terminal: one line every this many percent of the run ...
            line_seconds: ... or after this many seconds without a line.
            stream: where to write (None: sys.stdout at the start of training, as Lightning's bar).
        """
        super().__init__()
        self.refresh_rate, self.refresh_seconds = refresh_rate, refresh_seconds
        self.line_percent, self.line_seconds = line_percent, line_seconds
        self.stream = stream
        self._enabled = True
        self._bar: tqdm | None = None
        self._open = False
        self.end: RunEnd | None = None  # where the run stops, as last computed
        self.losses: dict[str, float] = {}  # the last losses read, e.g. {"D": 0.69, "G": 0.81}
        self.rate: float | None = None  # img/s, smoothed over refreshes
        self.refreshes = 0

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._enabled:
            return
        self._out = self.stream if self.stream is not None else sys.stdout
        self._terminal = self._out.isatty()
        self._prev_images = pl_module.images_seen  # an iteration's global batch: how much images_seen grew
        batch_size = getattr(trainer.datamodule, "batch_size", None)
        self._batch = batch_size * trainer.world_size if batch_size else None
        self._since_refresh, self._refreshed, self._clock_started = 0, (time.monotonic(), pl_module.images_seen), False
        self.losses, self.rate, self.refreshes = {}, None, 0
        self.end = run_end(trainer, pl_module, self._batch, starting=True)
        if self._terminal:
            self._bar = tqdm(file=self._out, bar_format="{desc}", dynamic_ncols=True, mininterval=0)
        self._open, self._next_line, self._last_line = True, math.inf, None
        self._show(pl_module)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx):
        if not self._enabled or not self._open:
            return
        images = pl_module.images_seen
        self._batch, self._prev_images = (images - self._prev_images) or self._batch, images
        self._since_refresh += 1
        now = time.monotonic()
        if not self._clock_started:  # img/s from here: the first iteration also timed the start-up
            self._refreshed, self._clock_started = (now, images), True
        if self._terminal:
            due = self._since_refresh >= self.refresh_rate and now - self._refreshed[0] >= self.refresh_seconds
        else:
            due = now - self._refreshed[0] >= self.line_seconds or (self.end is not None and images >= self._next_line)
        if due:
            self._update(trainer, pl_module, now)
            self._show(pl_module)

    def _update(self, trainer: pl.Trainer, pl_module: pl.LightningModule, now: float) -> None:
        """Reads the losses (the only host sync) and updates img/s and where the run ends."""
        self.losses = losses_to_host(pl_module.last_losses)
        then, images_then = self._refreshed
        if now > then:
            rate = (pl_module.images_seen - images_then) / (now - then)
            self.rate = rate if self.rate is None else RATE_SMOOTHING * rate + (1 - RATE_SMOOTHING) * self.rate
        self.end = run_end(trainer, pl_module, self._batch, starting=False)
        self._since_refresh, self._refreshed = 0, (now, pl_module.images_seen)
        self.refreshes += 1

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """The run reached its end, whichever limit (or early stop) ended it: the bar shows it full."""
        if not self._enabled or not self._open:
            return
        if self._since_refresh:
            self._update(trainer, pl_module, time.monotonic())
        self.end = RunEnd(pl_module.images_seen, pl_module.iterations)
        self._show(pl_module)
        self._close()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        """A signal (GracefulInterrupt) or an error: the bar stays where the run stopped."""
        self._close()

    def _show(self, pl_module: pl.LightningModule) -> None:
        text = status_text(pl_module.images_seen, pl_module.iterations, self.end, self.rate, self.losses)
        total = self.end.images / 1000 if self.end is not None and self.end.images > 0 else None
        if self._bar is not None:
            self._bar.bar_format = "{percentage:3.0f}%|{bar}| {desc}" if total else "{desc}"
            self._bar.total, self._bar.n = total, pl_module.images_seen / 1000
            self._bar.set_description_str(text)  # redraws
            return
        percent = f" {100 * pl_module.images_seen / self.end.images:.0f}%" if total else ""
        line = f"progress{percent}: {text}"
        if line != self._last_line:  # the last iteration's line is also the end's
            print(line, file=self._out, flush=True)
            self._last_line = line
        step = self.end.images * self.line_percent / 100 if total else 0
        self._next_line = next_grid_point(pl_module.images_seen, step) if step else math.inf

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar, self._open = None, False
