"""Checkpoint files that are never torn and never run pickled code when loaded."""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from zoo.checkpoint_format import upgrade
from zoo.errors import ZooError
from zoo.temporaries import temporary


def read_checkpoint(
    path: str | os.PathLike, map_location: Any = "cpu", weights_only: bool = True, generator_only: bool = False
) -> dict:
    """``torch.load`` with ``weights_only=True`` by default; a missing, truncated or foreign file
    raises one ZooError that names it. A zoo checkpoint of an older format comes back converted to its entry's
    current one, or is refused (zoo/checkpoint_format.py ``upgrade``; ``generator_only``: the caller uses the
    generators alone)."""
    path = Path(path)
    if not path.is_file():
        raise ZooError(f"checkpoint not found: {path}")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=weights_only)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as err:
        if str(err).startswith("Weights only load failed"):  # torch's refusal to unpickle anything but tensors
            raise ZooError(
                f"checkpoint {path} is unreadable: it contains code objects (pickled Python code, not only tensors) "
                "and was refused for safety; GAN Zoo checkpoints hold only tensors and plain values"
            ) from err
        raise ZooError(
            f"checkpoint {path} is unreadable (truncated, corrupt or not a PyTorch checkpoint): {err}".splitlines()[0]
        ) from err
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ZooError(f"{path} is not a Lightning checkpoint (it has no state_dict)")
    return upgrade(checkpoint, path, generator_only)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves to a temporary file beside the target, fsyncs it and renames it over the target, so an
    interrupted save leaves the previous checkpoint intact. (Lightning's own save stages the file in
    the system temp folder and moves it, which is a plain copy when that is another filesystem.)
    Loads with ``weights_only=True`` unless asked otherwise. A write that fails (a full disk, a
    read-only folder) raises one ZooError and leaves the previous file as it was. ``last_written``
    is the newest file this run completed, which the non-finite guard names as the last good one."""

    def __init__(self):
        super().__init__()
        self.last_written: Path | None = None

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if "://" in str(path):  # remote filesystems: fsspec's transactional write
            return super().save_checkpoint(checkpoint, path, storage_options)
        path = Path(path)
        tmp = temporary(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except (OSError, RuntimeError) as err:
            # torch.save reports a failed write of the file object as a RuntimeError raised from the OSError
            cause = err if isinstance(err, OSError) else err.__context__
            if not isinstance(cause, OSError):
                raise
            kept = f"the {path.name} before this save is intact" if path.is_file() else "no earlier file was there"
            raise ZooError(
                f"could not write checkpoint {path}: {cause.strerror or cause}; {kept}. Free space there or choose "
                "another folder with --checkpoint.dirpath, then resume with --ckpt_path."
            ) from err
        finally:
            tmp.unlink(missing_ok=True)
        self.last_written = path

    def load_checkpoint(self, path, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        if "://" in str(path):
            return upgrade(
                super().load_checkpoint(
                    path, map_location, weights_only=True if weights_only is None else weights_only
                ),
                path,
            )
        return read_checkpoint(path, map_location, weights_only=True if weights_only is None else weights_only)


def load_gan(path: str | os.PathLike, expected_model: str | None = None):
    """Rebuilds the GAN stored in a GAN Zoo checkpoint (its registered class, its hyperparameters,
    its weights and training progress) without unpickling any code. A checkpoint trained with the EMA
    callback also restores ``generator_ema``, which sampling then uses. A file that is not a zoo checkpoint
    but one of the authors' own (``netG_epoch_0.pth``, ``latest_net_G_A.pth`` ...) is imported when a source of
    zoo/importers recognizes it."""
    from zoo.importers import Imported, build, detect_source, import_checkpoint, to_checkpoint

    try:
        checkpoint = read_checkpoint(path, generator_only=True)
    except ZooError:
        if (source := detect_source(path)) is None:
            raise
        checkpoint = to_checkpoint(import_checkpoint(source, path))
    stored = checkpoint.get("zoo_model")
    if stored is None:
        raise ZooError(f"{path} was not written by GAN Zoo (it has no zoo_model entry)")
    if expected_model and expected_model != stored:
        raise ZooError(f"{path} holds a '{stored}' model, not '{expected_model}'")
    hparams = {k: v for k, v in checkpoint["hyper_parameters"].items() if not k.startswith("_")}  # drop CLI bookkeeping
    return build(Imported(stored, hparams, checkpoint["state_dict"]))
