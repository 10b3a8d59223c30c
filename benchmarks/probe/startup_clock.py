"""The clock of benchmarks/startup.py: a Lightning callback that writes the wall-clock time (``time.time()``) at
which the first training iteration ended to the file named by ``$GAN_ZOO_STARTUP_CLOCK``.

The benchmark adds it on the command line (``--trainer.callbacks+=startup_clock.FirstIterationClock``, with this
folder on PYTHONPATH), so it times any checkout of the zoo, the one before this file existed included, and the
project's own training loop carries no timing code. This folder holds only this module: putting it on PYTHONPATH
shadows nothing of the checkout being timed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from pytorch_lightning import Callback


class FirstIterationClock(Callback):
    """Writes the time once, when the first training batch (one D+G iteration) has been processed on rank 0."""

    def __init__(self):
        super().__init__()
        self.written = False

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not self.written and trainer.is_global_zero:
            Path(os.environ["GAN_ZOO_STARTUP_CLOCK"]).write_text(f"{time.time()!r}\n")
            self.written = True
