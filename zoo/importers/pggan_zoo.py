"""facebookresearch/pytorch_GAN_zoo's PGAN (https://github.com/facebookresearch/pytorch_GAN_zoo,
models/progressive_gan.py ``ProgressiveGAN``, networks in models/networks/progressive_conv_net.py ``GNet`` and
``DNet``) -> zoo ``pggan`` with ``variant="pytorch_gan_zoo"`` (Karras et al. 2018, "Progressive Growing of GANs",
arXiv 1710.10196).

Their trainer (models/trainer/progressive_gan_trainer.py) writes ``{label}_s{scale}_i{iter}.pt``, which is
``ProgressiveGAN.save()``: ``{'config', 'netG', 'netD', 'avgG'}``, three state dicts and a pickled
``models.utils.config.BaseConfig`` holding the widths (``depthScale0``, ``depthOtherScales``) and the fade-in
``alpha``. That object is rebuilt as plain attributes of ``_Config``, a class of this module standing in for
theirs (``torch.load(weights_only=True)`` with only that one extra global allowed): no pickled code runs.

The conversion, layer for layer:

- Their equalized layers scale the output, bias included, ``(W x + b) * sqrt(2 / fan_in)`` (custom_layers.py
  ``ConstrainedLayer``), for every layer; the zoo's scale the weight by ``gain / sqrt(fan_in)`` and add the bias
  (PGGAN's official gains: sqrt(2) / 4 on the dense layer, 1 on toRGB and the decision layer). So each weight
  is multiplied by their constant over the zoo layer's ``scale`` and each bias by their constant.
- Their fade-in weighs the *old* branch, ``alpha * old + (1 - alpha) * new``; the zoo's ``alpha`` weighs the new
  one: zoo alpha = 1 - theirs. Their alpha 1 (the first iteration of a fade-in, the new layers unused) has no zoo
  equivalent (zoo alpha must be > 0) and is refused.
- G: ``formatLayer`` (dense, one bias per unit: the variant's) -> ``blocks.0.1``, ``groupScale0.0`` ->
  ``blocks.0.5``, ``scaleLayers.<s>.<j>`` -> ``blocks.<s+1>.<1 or 4>``, ``toRGBLayers.<k>`` -> ``to_rgb.<k>``.
- D: ``fromRGBLayers.<k>`` -> ``from_rgb.<k>.0``, ``scaleLayers.<s>.<j>`` -> ``blocks.<s+1>.<0 or 2>``,
  ``groupScaleZero.0`` (3x3 conv after the minibatch stddev) -> ``blocks.0.1``, ``groupScaleZero.1`` ->
  ``blocks.0.4``, ``decisionLayer`` -> ``blocks.0.6``.
- ``avgG`` (their moving average of G) -> ``generator_ema``.

The zoo model's resolution is the checkpoint's (the scales it holds), so a mid-training checkpoint imports as a
network of that size.
"""

from __future__ import annotations

import math
import pickle
import re
import warnings
import zipfile
from pathlib import Path

import torch
from torch import Tensor

from zoo.errors import ZooError
from zoo.importers import Imported, assemble
from zoo.nets.pggan import stage_channels

NAME = "pggan-zoo"
CHECKPOINT = re.compile(r"(?P<label>.+)_s(?P<scale>\d+)_i(?P<iter>\d+)\.pt")


class _Config:
    """Stands in for their ``models.utils.config.BaseConfig`` (a bag of attributes) while unpickling."""


def detect(path: Path) -> bool:
    if path.is_dir():
        return any(CHECKPOINT.fullmatch(p.name) for p in path.iterdir())
    return CHECKPOINT.fullmatch(path.name) is not None


def locate(path: Path) -> Path:
    """The checkpoint ``path`` names, or the newest one (highest scale, then iteration) in the folder ``path``."""
    if not path.is_dir():
        if not CHECKPOINT.fullmatch(path.name):
            raise ZooError(f"{path.name} is not named as pytorch_GAN_zoo names its checkpoints (<label>_s<S>_i<I>.pt)")
        return path
    found = [(int(m["scale"]), int(m["iter"]), p) for p in path.iterdir() if (m := CHECKPOINT.fullmatch(p.name))]
    if not found:
        raise ZooError(f"{path} holds no pytorch_GAN_zoo checkpoint (<label>_s<S>_i<I>.pt)")
    return max(found)[2]


def read_checkpoint(path: Path) -> dict:
    """Their ``{'config', 'netG', 'netD', 'avgG'}`` with ``config`` as a ``_Config``; no pickled code runs."""
    try:
        with torch.serialization.safe_globals([(_Config, "models.utils.config.BaseConfig")]):
            data = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as err:
        raise ZooError(f"{path} is unreadable as a {NAME} checkpoint: {err}".splitlines()[0]) from err
    if not isinstance(data, dict) or not isinstance(data.get("config"), _Config) or not {"netG", "netD"} <= set(data):
        raise ZooError(f"{path} is not a pytorch_GAN_zoo PGAN checkpoint (config, netG, netD, avgG)")
    return data


def hparams_of(config: _Config, scales: int, path: Path) -> dict:
    """The zoo ``pggan`` arguments of their config, refusing what the zoo's networks cannot compute."""
    settings = vars(config)
    required = {
        "equalizedlR": True,
        "perChannelNormalization": True,
        "miniBatchStdDev": True,
        "leakyReluLeak": 0.2,
        "lossCriterion": "WGANGP",
        "categoryVectorDim": 0,
    }
    for key, expected in required.items():
        if settings.get(key, expected) != expected:
            raise ZooError(
                f"{path}: {key} = {settings[key]!r}; the zoo's pggan holds only {key} = {expected!r} networks"
            )
    widths = [config.depthScale0, *config.depthOtherScales][:scales]
    fmap_max, fmap_base = widths[0], widths[-1] * 2**scales
    if [stage_channels(s + 1, fmap_base, fmap_max) for s in range(scales)] != widths:
        raise ZooError(
            f"{path}: widths {widths} are not min(fmap_base / 2**stage, fmap_max) as the zoo's pggan computes them"
        )
    return {
        "resolution": 4 * 2 ** (scales - 1),
        "channels": config.dimOutput,
        "latent_dim": config.latentVectorDim,
        "fmap_base": fmap_base,
        "fmap_max": fmap_max,
        "variant": "pytorch_gan_zoo",
    }


def phase_of(alpha: float, scales: int, path: Path) -> dict:
    """The zoo networks' extra state (depth, alpha) of their fade-in ``alpha``."""
    if scales == 1:
        return {"depth": 0, "alpha": 1.0}
    if not 0 <= alpha < 1:
        raise ZooError(
            f"{path}: alpha {alpha} weighs only the old resolution; the zoo's fade-in needs the new one's weight "
            "1 - alpha > 0 (import a checkpoint written later in the fade-in)"
        )
    if scales == 2 and alpha > 0:
        warnings.warn(
            f"{path}: their D does not fade in at 8x8 (DNet blends only once two scales are added), the zoo's D "
            "does: the imported D differs from theirs until the fade-in ends; G is exact",
            stacklevel=3,
        )
    return {"depth": scales - 1, "alpha": 1.0 - alpha}


def convert(state: dict[str, Tensor], pairs: dict[str, str], network, phase: dict) -> dict[str, Tensor]:
    """The zoo state dict of ``network`` from theirs: ``pairs`` maps their layer names to the zoo's equalized
    layers, whose weights and biases are rescaled (module docstring)."""
    converted = {"_extra_state": phase}
    for theirs, ours in pairs.items():
        weight = state.get(f"{theirs}.module.weight")
        if weight is None:
            raise ZooError(f"the {NAME} checkpoint has no '{theirs}.module.weight'")
        constant = math.sqrt(2.0 / weight[0].numel())
        layer = network.get_submodule(ours)
        converted[f"{ours}.weight"] = weight * (constant / layer.scale)
        converted[f"{ours}.bias"] = state[f"{theirs}.module.bias"] * constant
    return converted


def generator_pairs(scales: int) -> dict[str, str]:
    """Their GNet's equalized layers -> the zoo ``PGGANGenerator``'s (module docstring)."""
    pairs = {"formatLayer": "blocks.0.1", "groupScale0.0": "blocks.0.5"}
    for s in range(scales - 1):
        pairs |= {f"scaleLayers.{s}.0": f"blocks.{s + 1}.1", f"scaleLayers.{s}.1": f"blocks.{s + 1}.4"}
    return pairs | {f"toRGBLayers.{k}": f"to_rgb.{k}" for k in range(scales)}


def discriminator_pairs(scales: int) -> dict[str, str]:
    """Their DNet's equalized layers -> the zoo ``PGGANDiscriminator``'s (module docstring)."""
    pairs = {"groupScaleZero.0": "blocks.0.1", "groupScaleZero.1": "blocks.0.4", "decisionLayer": "blocks.0.6"}
    for s in range(scales - 1):
        pairs |= {f"scaleLayers.{s}.0": f"blocks.{s + 1}.0", f"scaleLayers.{s}.1": f"blocks.{s + 1}.2"}
    return pairs | {f"fromRGBLayers.{k}": f"from_rgb.{k}.0" for k in range(scales)}


def load(path: Path) -> Imported:
    """A ``<label>_s<S>_i<I>.pt`` checkpoint, or the newest in a folder: netG, netD and avgG (as ``generator_ema``)."""
    path = locate(Path(path))
    data = read_checkpoint(path)
    scales = sum(1 for key in data["netG"] if re.fullmatch(r"toRGBLayers\.\d+\.module\.weight", key))
    hparams = hparams_of(data["config"], scales, path)
    phase = phase_of(float(data["config"].alpha), scales, path)
    from zoo import get_model

    template = get_model("pggan")(**hparams)
    g_pairs, d_pairs = generator_pairs(scales), discriminator_pairs(scales)
    networks = {
        "generator": convert(data["netG"], g_pairs, template.generator, phase),
        "discriminator": convert(data["netD"], d_pairs, template.discriminator, phase),
    }
    imported = assemble("pggan", hparams, networks)
    if "avgG" in data:
        ema = convert(data["avgG"], g_pairs, template.generator, phase)
        imported.state_dict |= {f"generator_ema.{key}": value for key, value in ema.items()}
    return imported
