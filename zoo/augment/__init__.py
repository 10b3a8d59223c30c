"""Discriminator augmentation: StyleGAN2-ADA's pipeline and controller, and DiffAugment (``--model.augment``)."""

from zoo.augment.ada import PIPELINES, AdaPipeline, AugmentParams, apply_augment, draw_parameters
from zoo.augment.controller import ADA_INTERVAL, KINDS, AdaAugment, DiffAugment, make_augmentation

__all__ = [
    "ADA_INTERVAL", "KINDS", "PIPELINES", "AdaAugment", "AdaPipeline", "AugmentParams", "DiffAugment",
    "apply_augment", "draw_parameters", "make_augmentation",
]  # fmt: skip
