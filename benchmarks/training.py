"""The Lightning Trainer the benchmark scripts train with (``benchmark_trainer``) and its timed fit (``timed_fit``).

A measurement needs none of Lightning's extras: one device, no logger, checkpoints, progress bar or model summary,
and the datamodule's own sampler (its seeded order, not a distributed sampler's). Training has no epoch limit; it
ends at ``max_steps`` optimizer steps (passed through ``options``), after ``generator_steps`` generator updates, or
when a callback (a time budget) stops it. Lightning is imported only when a trainer is built, so the scripts'
``--help`` and argument parsing stay fast."""

from __future__ import annotations

import time


def stop_after(generator_steps: int):
    """A callback that ends training once the model has made ``generator_steps`` generator updates (its
    ``generator_steps``, the unit SNGAN and BigGAN count budgets in; Lightning's optimizer steps per G update depend
    on the entry's schedule: d_steps + 1 in the shared loop, more where StyleGAN2's NVlabs phases regularize)."""
    import pytorch_lightning as pl

    class StopAfter(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if pl_module.generator_steps >= generator_steps:
                trainer.should_stop = True

    return StopAfter()


def benchmark_trainer(device: str = "cpu", callbacks=(), generator_steps: int | None = None, **options):
    """A ``pl.Trainer`` on one ``device`` (``cpu`` or ``cuda``) with ``callbacks``, plus ``stop_after``
    ``generator_steps`` when given; ``options`` (``max_steps``, ``precision``) go to ``pl.Trainer`` as they are."""
    import pytorch_lightning as pl

    stop = [stop_after(generator_steps)] if generator_steps is not None else []
    return pl.Trainer(
        accelerator=device, devices=1, max_epochs=-1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, use_distributed_sampler=False,
        callbacks=[*callbacks, *stop], **options,
    )  # fmt: skip


def timed_fit(model, data, device: str = "cpu", callbacks=(), generator_steps: int | None = None, **options) -> float:
    """Trains ``model`` on ``data`` with ``benchmark_trainer`` (the same arguments); returns the wall seconds the
    fit took (the trainer's construction not included)."""
    trainer = benchmark_trainer(device, callbacks, generator_steps, **options)
    start = time.perf_counter()
    trainer.fit(model, data)
    return time.perf_counter() - start
