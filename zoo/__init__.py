"""The model zoo: short names (``--model dcgan``) mapped to GANModule classes."""

from __future__ import annotations

from zoo.registry import name_of, resolve

#: short name -> "module:Class"
MODELS = {
    "gan": "zoo.gan:GAN",
    "dcgan": "zoo.dcgan:DCGAN",
    "lsgan": "zoo.lsgan:LSGAN",
    "wgan": "zoo.wgan:WGAN",
    "wgan_gp": "zoo.wgan_gp:WGANGP",
    "dragan": "zoo.dragan:DRAGAN",
    "fgan": "zoo.fgan:FGAN",
    "relativistic": "zoo.relativistic:RelativisticGAN",
    "ebgan": "zoo.ebgan:EBGAN",
    "began": "zoo.began:BEGAN",
    "improved_gan": "zoo.improved_gan:ImprovedGAN",
    "cgan": "zoo.cgan:CGAN",
    "acgan": "zoo.acgan:ACGAN",
    "infogan": "zoo.infogan:InfoGAN",
    "sngan": "zoo.sngan:SNGAN",
    "sngan_projection": "zoo.sngan_projection:SNGANProjection",
    "sagan": "zoo.sagan:SAGAN",
    "biggan": "zoo.biggan:BigGAN",
    "pggan": "zoo.pggan:PGGAN",
    "stylegan": "zoo.stylegan:StyleGAN",
    "stylegan2": "zoo.stylegan2:StyleGAN2",
    "cyclegan": "zoo.cyclegan:CycleGAN",
    "stargan": "zoo.stargan:StarGAN",
}


def get_model(name: str) -> type:
    """The GANModule class registered as ``name``; an unknown name lists the valid ones."""
    return resolve(MODELS, name, "model", hint=" (see: python cli.py models)")


def model_name(cls: type) -> str | None:
    return name_of(MODELS, cls)


def summary(cls: type) -> str:
    """The first line of a class docstring: the one-line description shown by ``cli.py models``."""
    return (cls.__doc__ or "").strip().splitlines()[0]
