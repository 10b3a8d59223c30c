"""Datamodules by short name (``--data digits``)."""

from __future__ import annotations

from zoo.registry import name_of, resolve

#: short name -> "module:Class"
DATAMODULES = {
    "digits": "datamodules.digits:DigitsDataModule",
    "mnist": "datamodules.mnist:MNISTDataModule",
    "toy2d": "datamodules.toy2d:Toy2DDataModule",
}


def get_datamodule(name: str) -> type:
    """The datamodule class registered as ``name``; an unknown name lists the valid ones."""
    return resolve(DATAMODULES, name, "dataset")


def data_name(cls: type) -> str | None:
    return name_of(DATAMODULES, cls)
