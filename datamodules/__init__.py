"""Datamodules by short name (``--data digits``)."""

from __future__ import annotations

from zoo.registry import name_of, resolve

#: short name -> "module:Class"
DATAMODULES = {
    "digits": "datamodules.digits:DigitsDataModule",
    "mnist": "datamodules.mnist:MNISTDataModule",
    "fashion_mnist": "datamodules.mnist:FashionMNISTDataModule",
    "stacked_mnist": "datamodules.stacked_mnist:StackedMNISTDataModule",
    "cifar10": "datamodules.cifar:CIFAR10DataModule",
    "cifar100": "datamodules.cifar:CIFAR100DataModule",
    "toy2d": "datamodules.toy2d:Toy2DDataModule",
    "folder": "datamodules.folder:FolderDataModule",
    "celeba": "datamodules.celeba:CelebADataModule",
    "celeba_hq": "datamodules.celeba:CelebAHQDataModule",
    "lsun": "datamodules.lsun:LSUNDataModule",
    "imagenet": "datamodules.imagenet:ImageNetDataModule",
    "ffhq": "datamodules.ffhq:FFHQDataModule",
    "unpaired": "datamodules.unpaired:UnpairedDataModule",
    "captions": "datamodules.captions:CaptionsDataModule",
    "captioned_mnist": "datamodules.captioned_mnist:CaptionedMNISTDataModule",
}


def get_datamodule(name: str) -> type:
    """The datamodule class registered as ``name``; an unknown name lists the valid ones."""
    return resolve(DATAMODULES, name, "dataset")


def data_name(cls: type) -> str | None:
    return name_of(DATAMODULES, cls)
