"""Resuming with flags: which of this run's values apply to a checkpoint, and which conflict with it.

A resumed run takes its hyperparameters from the checkpoint, so a user need not repeat the flags of the
original run. A flag given now wins where it can apply to the trained state: learning rates, Adam betas,
loss weights, penalty schedules (``GANModule.resume_overridable``). Any other value that differs from the
checkpoint's (a width, the resolution, the latent size, the objective) would either fail to load or
silently train something else, so it is refused with one line naming both values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from zoo.errors import ZooError


def stored_hparams(checkpoint: Mapping) -> dict[str, Any]:
    """The model's constructor arguments stored in a checkpoint, without the CLI's bookkeeping entries."""
    return {k: v for k, v in checkpoint.get("hyper_parameters", {}).items() if not k.startswith("_")}


def same(a: Any, b: Any) -> bool:
    """Equal as configuration values (a tuple and a list with equal items are equal)."""

    def plain(v):
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, Mapping):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(a) == plain(b)


def flags_given(argv: Iterable[str], group: str) -> set[str]:
    """Option names of ``group`` written on the command line: ``--model.ngf 32`` and ``--model.ngf=32`` give ngf."""
    prefix = f"--{group}."
    return {arg[len(prefix) :].split("=", 1)[0].split(".", 1)[0] for arg in argv if arg.startswith(prefix)}


def merge_for_resume(
    config: Any,
    defaults: Any,
    stored: Mapping[str, Any],
    given: set[str],
    overridable: Iterable[str] = (),
    group: str = "model",
) -> list[str]:
    """Fills ``config`` (the ``group`` namespace of the parsed config: the model's, or the data's for values
    linked into the model such as the resolution) with the checkpoint's values.

    A value counts as given now when its flag is on the command line or it differs from the parser's default
    (a --config file). Given values that differ from the checkpoint's stay when ``overridable`` names them
    (returned as notes for the user) and raise a ZooError otherwise; all other values become the checkpoint's.
    """
    notes = []
    for key, value in stored.items():
        if key not in config:
            continue  # not an option of this group (values linked from the data: see check_built_model)
        now = config[key]
        explicit = key in given or not same(now, defaults.get(key))
        if same(now, value) or not explicit:
            config[key] = value
        elif key in overridable:
            notes.append(f"{key} {now!r} (the checkpoint was trained with {value!r})")
        else:
            raise conflict(key, now, value, f"--{group}.{key}")
    return notes


def check_built_model(hparams: Mapping[str, Any], stored: Mapping[str, Any], overridable: Iterable[str]) -> None:
    """The built model against the checkpoint: catches values linked from the data (resolution, channels,
    number of classes), which the command line sets through ``--data``."""
    for key, value in stored.items():
        if key in hparams and key not in overridable and not same(hparams[key], value):
            raise conflict(key, hparams[key], value, "this run's data")


def conflict(key: str, now: Any, stored: Any, source: str) -> ZooError:
    return ZooError(
        f"the checkpoint was trained with {key} {stored!r}, but {source} gives {now!r}: resuming cannot change it. "
        f"Drop the flag to resume as trained, or start a new run without --ckpt_path."
    )
