"""The loggers of ``cli.py fit --logger wandb|tensorboard|csv|none``, and what keeps every run's files in its run
folder whatever the logger: ``<run>/tensorboard``, ``<run>/csv``, ``<run>/wandb`` (made in zoo/lightning_cli.py), a
user's own ``--trainer.logger`` with its ``save_dir`` there, and ``config.yaml`` beside ``checkpoints/`` and
``samples/`` (Lightning's SaveConfigCallback writes it to ``trainer.log_dir``, which follows the first logger)."""

from __future__ import annotations

import csv
import inspect
import os
from pathlib import Path

from pytorch_lightning.cli import SaveConfigCallback
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.loggers.logger import rank_zero_experiment

from zoo.errors import ZooError

#: the values of ``--logger``
LOGGER_CHOICES = ("wandb", "tensorboard", "csv", "none")

#: the ``save_dir`` given to a ``--trainer.logger`` that needs one and got none; ZooCLI puts the run folder there
RUN_FOLDER = "<run folder>"


def check_logger_choice(choice: str) -> None:
    """``--logger`` is one of LOGGER_CHOICES."""
    if choice not in LOGGER_CHOICES:
        raise ZooError(f"unknown --logger '{choice}'; choose one of: {', '.join(LOGGER_CHOICES)}")


class ContinuingWriter(ExperimentWriter):
    """Lightning's CSV writer, except that an existing ``metrics.csv`` is continued (a resume appends its rows)
    instead of deleted, with the columns already in the file kept in its header."""

    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                self.metrics_keys = next(csv.reader(file), [])  # in the file's order, which appended rows follow


class ContinuingCSVLogger(CSVLogger):
    """CSVLogger whose ``metrics.csv`` holds the whole history of a run folder, across resumes."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ContinuingWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = ContinuingWriter(log_dir=self.log_dir)
        return self._experiment


def saved_logger_choice(run_dir: Path) -> str | None:
    """The ``--logger`` of the run whose ``config.yaml`` is in ``run_dir`` (None without one), so that a resume
    into the folder continues that logger's history without repeating the flag."""
    import yaml

    path = run_dir / "config.yaml"
    if not path.is_file():
        return None
    saved = yaml.safe_load(path.read_text())
    return saved.get("logger") if isinstance(saved, dict) else None


def folder_logger(choice: str, run_dir: Path):
    """The logger of ``--logger tensorboard|csv`` in ``<run>/<choice>`` (no version subfolder: a resume continues
    the same folder, TensorBoard with one more event file, CSV with more rows), or False for ``none``."""
    if choice == "tensorboard":
        return TensorBoardLogger(save_dir=run_dir, name="tensorboard", version="", default_hp_metric=False)
    if choice == "csv":
        return ContinuingCSVLogger(save_dir=run_dir, name="csv", version="")
    return False


def logger_class(name: str) -> type | None:
    """The class a ``--trainer.logger`` value names: a Lightning logger's class name or a full class path."""
    import importlib

    from pytorch_lightning import loggers

    module, _, cls = name.rpartition(".")
    try:
        return getattr(importlib.import_module(module) if module else loggers, cls, None)
    except (ImportError, TypeError, ValueError):  # not a module path ("..x"): the parser names the bad class
        return None


def save_dir_args(args: list[str]) -> list[str]:
    """``args`` plus ``--trainer.logger.init_args.save_dir <run folder>`` when ``--trainer.logger`` names a class
    whose ``save_dir`` is required and not given (CSVLogger, TensorBoardLogger): the parser would refuse it."""
    values = [a.split("=", 1)[1] for a in args if a.startswith("--trainer.logger=")]
    values += [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--trainer.logger"]
    if not values or any(".save_dir" in a for a in args if a.startswith("--trainer.logger.")):
        return args
    cls = logger_class(values[-1])
    parameter = inspect.signature(cls).parameters.get("save_dir") if isinstance(cls, type) else None
    if parameter is None or parameter.default is not inspect.Parameter.empty:
        return args
    return [*args, "--trainer.logger.init_args.save_dir", RUN_FOLDER]


def place_in_run_folder(logger_config, run_dir: Path) -> None:
    """A user's ``--trainer.logger`` (one or a list) writes in the run folder when its ``save_dir`` is unset or
    ``.`` (WandbLogger's default, the current folder)."""
    for config in logger_config if isinstance(logger_config, list) else [logger_config]:
        init_args = getattr(config, "init_args", None)
        if init_args is not None and "save_dir" in init_args and init_args.save_dir in (None, ".", RUN_FOLDER):
            init_args.save_dir = str(run_dir)


class RunFolderConfig(SaveConfigCallback):
    """Writes ``config.yaml`` into the run folder (``trainer.default_root_dir``) whatever the logger, instead of
    into ``trainer.log_dir`` (the logger's folder, e.g. ``<run>/csv``). ZooCLI passes ``save_to_log_dir=False``."""

    def save_config(self, trainer, pl_module, stage: str) -> None:
        path = os.path.join(trainer.default_root_dir, self.config_filename)
        self.parser.save(self.config, path, skip_none=False, overwrite=self.overwrite, multifile=self.multifile)
