"""Importers: checkpoints written by the authors' own code, turned into zoo models (issue 19, part 2).

Each source is a module (``SOURCES``) that defines ``NAME``, ``detect(path) -> bool`` (whether ``path`` looks
like one of its files, by the names its code writes) and ``load(path) -> Imported``. A source's checkpoint may
be several files (pytorch/examples DCGAN's netG/netD, CycleGAN's four networks, StarGAN's G and D): ``load``
takes any one of them and finds its siblings in the same folder, or takes the folder and picks the newest
checkpoint in it (``FileSet``).

``import_checkpoint`` picks the source (named, or detected), ``to_checkpoint`` makes what ``load_gan`` and
``fit --ckpt_path`` read, and ``write_checkpoint`` writes it atomically (``python cli.py import``).

An imported checkpoint starts a run at step 0: Lightning's restore (pytorch_lightning
``_CheckpointConnector.restore_optimizers_and_schedulers``) insists on ``optimizer_states`` and ``lr_schedulers``
when fitting, and the authors' files hold weights only, so the checkpoint carries the zoo model's freshly built
optimizers (empty Adam moments, the model's learning rates), as a run's first step would see them; no loop
state, so epoch, global step and ``images_seen`` start at 0.
"""

from __future__ import annotations

import importlib
import os
import pickle
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from zoo.checkpoint_format import FORMAT_KEY
from zoo.errors import ZooError


@dataclass
class Imported:
    model: str  # zoo model name, e.g. "dcgan"
    hparams: dict  # constructor arguments of that zoo model
    state_dict: dict  # the zoo model's state_dict (generator.*, discriminator.*, optionally generator_ema.*)


#: source name -> module path; each module defines NAME, detect(path: Path) -> bool, load(path: Path) -> Imported
SOURCES = {
    "dcgan-examples": "zoo.importers.dcgan_examples",
    "cyclegan": "zoo.importers.cyclegan",
    "stargan": "zoo.importers.stargan",
    "biggan-pytorch": "zoo.importers.biggan_pytorch",
    "pggan-zoo": "zoo.importers.pggan_zoo",
    "nvlabs": "zoo.importers.nvlabs",
    "pretrained-biggan": "zoo.importers.pretrained_biggan",
}


def source_module(source: str):
    """The importer module of ``source``; an unknown name lists the known ones."""
    if source not in SOURCES:
        raise ZooError(f"unknown import source '{source}'; choose one of: {', '.join(SOURCES)}")
    return importlib.import_module(SOURCES[source])


def detect_source(path: str | os.PathLike) -> str | None:
    """The first source whose ``detect`` recognizes ``path``; None when none does."""
    return next((name for name in SOURCES if source_module(name).detect(Path(path))), None)


def import_checkpoint(source: str | None, path: str | os.PathLike) -> Imported:
    """The zoo model held by the authors' checkpoint ``path`` of ``source`` (None: detected from the file names)."""
    path = Path(path)
    if not path.exists():
        raise ZooError(f"checkpoint not found: {path}")
    if source is None and (source := detect_source(path)) is None:
        raise ZooError(
            f"{path} is not a file of any known source ({', '.join(SOURCES)}) by its name; name one with --from"
        )
    return source_module(source).load(path)


def build(imported: Imported):
    """The zoo model of ``imported`` with its weights loaded, ``generator_ema`` included when the state dict
    holds one (the EMA callback's average, or the authors' G_ema / avgG)."""
    from callbacks.ema import EMA_PREFIX, frozen_copy
    from zoo import get_model

    model = get_model(imported.model)(**imported.hparams)
    if any(key.startswith(EMA_PREFIX) for key in imported.state_dict):
        model.generator_ema = frozen_copy(model.generator)
    model.load_state_dict(imported.state_dict)
    return model


def to_checkpoint(imported: Imported) -> dict:
    """A zoo checkpoint of ``imported``: what ``load_gan`` reads, plus the fresh optimizer states and the empty
    scheduler list that ``fit --ckpt_path`` needs to fine-tune from it (see the module docstring)."""
    import pytorch_lightning as pl

    model = build(imported)
    return {
        "state_dict": model.state_dict(),
        "hyper_parameters": dict(model.hparams),
        "zoo_model": imported.model,
        FORMAT_KEY: model.checkpoint_format,
        "pytorch-lightning_version": pl.__version__,
        "epoch": 0,
        "global_step": 0,
        "optimizer_states": [optimizer.state_dict() for optimizer in model.configure_optimizers()],
        "lr_schedulers": [],
    }


def write_checkpoint(imported: Imported, out: str | os.PathLike) -> Path:
    """Writes ``to_checkpoint(imported)`` to ``out`` through a temporary file renamed into place."""
    from callbacks.checkpoint_io import AtomicCheckpointIO

    AtomicCheckpointIO().save_checkpoint(to_checkpoint(imported), Path(out))
    return Path(out)


# ------------------------------------------------------------------------------------ for the sources


def read_state_dict(path: Path, source: str) -> dict[str, Tensor]:
    """A plain state dict saved with ``torch.save(net.state_dict(), path)``, loaded with ``weights_only=True`` (no
    pickled code runs); anything else raises one ZooError naming the file."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as err:
        raise ZooError(f"{path} is unreadable as a {source} file: {err}".splitlines()[0]) from err
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ZooError(f"{path} is not a {source} file: it does not hold a state dict of tensors")
    return state


def assemble(model: str, hparams: dict, networks: dict[str, dict[str, Tensor]]) -> Imported:
    """Builds zoo ``model`` with ``hparams``, loads each converted state dict into the submodule it is keyed by
    (``generator``, ``discriminator.a`` ...) strictly (every tensor there, none left over, shapes equal), and
    returns the model's whole state dict."""
    from zoo import get_model

    gan = get_model(model)(**hparams)
    for name, state in networks.items():
        try:
            gan.get_submodule(name).load_state_dict(state)
        except RuntimeError as err:
            raise ZooError(f"the converted weights do not fit zoo {model}'s {name}: {err}".splitlines()[0]) from err
    return Imported(model, hparams, gan.state_dict())


@dataclass(frozen=True)
class FileSet:
    """The files that make one checkpoint of a source: names matching ``pattern``, whose groups ``stem`` (the
    epoch or iteration) and ``part`` (the network) fill ``template``, one file per part of ``parts``."""

    pattern: re.Pattern
    template: str
    parts: tuple[str, ...]

    def detect(self, path: Path) -> bool:
        """Whether ``path`` is one of these files, or a folder holding some."""
        if path.is_dir():
            return any(self.pattern.fullmatch(p.name) for p in path.iterdir())
        return self.pattern.fullmatch(path.name) is not None

    def locate(self, path: Path, source: str) -> dict[str, Path]:
        """part -> file of the checkpoint that ``path`` belongs to; a folder gives its newest checkpoint
        ("latest" first, then the highest number)."""
        if path.is_dir():
            stems = {m["stem"] for p in path.iterdir() if (m := self.pattern.fullmatch(p.name))}
            if not stems:
                raise ZooError(f"{path} holds no {source} files ({self.template.format(stem='*', part='*')})")
            folder, stem = path, max(stems, key=lambda s: (s == "latest", int(s) if s.isdigit() else -1))
        elif match := self.pattern.fullmatch(path.name):
            folder, stem = path.parent, match["stem"]
        else:
            names = self.template.format(stem="*", part="*")
            raise ZooError(f"{path.name} is not named as {source} names its files ({names})")
        files = {part: folder / self.template.format(stem=stem, part=part) for part in self.parts}
        missing = [f.name for f in files.values() if not f.is_file()]
        if missing:
            every = ", ".join(f.name for f in files.values())
            raise ZooError(f"a {source} checkpoint is {every}: {', '.join(missing)} is missing in {folder}")
        return files


def rename(state: dict[str, Tensor], rules: list[tuple[str, str]]) -> dict[str, Tensor]:
    """``state`` with each key rewritten (``re.sub``) by the first rule whose pattern matches at its start; a key
    that no rule matches is kept as it is, so the strict load in ``assemble`` names it."""
    renamed = {}
    for key, tensor in state.items():
        rule = next(((p, r) for p, r in rules if re.match(p, key)), None)
        renamed[re.sub(rule[0], rule[1], key, count=1) if rule else key] = tensor
    return renamed


def shape_of(state: dict[str, Tensor], key: str, path: Path, source: str) -> torch.Size:
    """The shape of ``state[key]``; a missing key raises one ZooError (the file is not the network expected)."""
    if key not in state:
        raise ZooError(f"{path} is not the {source} network expected: it has no '{key}'")
    return state[key].shape
