"""Importer of NVlabs' StyleGAN2-ADA snapshots (stylegan2-ada-pytorch, ``network-snapshot-*.pkl`` as
training/training_loop.py pickles them: a dict with ``G``, ``D``, ``G_ema``) into the zoo's ``stylegan2``
(Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"; StyleGAN2-ADA, Karras et al. 2020,
"Training Generative Adversarial Networks with Limited Data"), whose networks compute the same functions.

The snapshot's networks are ``torch_utils.persistence`` objects that carry NVlabs' source code and rebuild their
classes by executing it. Nothing of that runs here: ``AllowListUnpickler`` resolves only the globals needed to
rebuild tensors, maps NVlabs' reconstruct function and ``EasyDict`` to inert stand-ins that keep the module
state (constructor arguments, parameters, buffers, submodules) and refuses every other global with a ZooError.

The mixed precision of the snapshot's networks is imported with them: ``conv_clamp`` and ``num_fp16_res`` (G's
``synthesis_kwargs``, D's own arguments; ADA's train.py writes 256 and 4, its ``--fp32`` None and 0; NVlabs'
class defaults, which a snapshot omits, are None and 0), so the zoo's networks clamp and cast where theirs do.
"""

from __future__ import annotations

import collections
import io
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from zoo.allowlist_pickle import AllowListUnpickler
from zoo.errors import ZooError
from zoo.importers import Imported, assemble

NAME = "nvlabs"


class Persistent:
    """Stand-in for an object of an NVlabs ``@persistent_class``: the meta dict its pickle carries
    (``class_name``, ``state`` = the module's ``__dict__``, ``module_src`` that is never run)."""

    def __init__(self, meta: dict):
        self.class_name = meta.get("class_name")
        self.state = meta.get("state") or {}

    @property
    def init_kwargs(self) -> dict:
        return dict(self.state.get("_init_kwargs") or {})

    def tensors(self, prefix: str = "") -> dict[str, Tensor]:
        """The module's state dict: persistent parameters and buffers, submodules' under their names."""
        state, skipped = self.state, self.state.get("_non_persistent_buffers_set") or set()
        out = {prefix + k: v for k, v in (state.get("_parameters") or {}).items() if v is not None}
        out.update(
            {prefix + k: v for k, v in (state.get("_buffers") or {}).items() if v is not None and k not in skipped}
        )
        for name, module in (state.get("_modules") or {}).items():
            if isinstance(module, Persistent):
                out.update(module.tensors(f"{prefix}{name}."))
            elif module is not None:
                raise ZooError(f"unexpected module {name} ({type(module).__name__}) in the snapshot")
        return {k: v.detach() if isinstance(v, Tensor) else v for k, v in out.items()}


class EasyDict(dict):
    """Stand-in for ``dnnlib.EasyDict``: a plain dict."""


def _load_storage(data: bytes):
    """``torch.storage._load_from_bytes`` without executing pickled code: the legacy ``torch.save`` bytes of one
    storage, read by torch's weights-only unpickler."""
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _numpy_scalar(dtype, data: bytes = b""):
    """``numpy.core.multiarray.scalar`` for numeric dtypes only (an object scalar would read a pointer)."""
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biufc":
        raise ZooError(f"refusing a numpy scalar of dtype {dtype!r} in the snapshot")
    return np.frombuffer(data, dtype=dtype, count=1)[0]


#: every global a snapshot may name, mapped to what it builds here
SAFE_GLOBALS = {
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): Persistent,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib", "EasyDict"): EasyDict,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
}


def read_snapshot(path: str | Path) -> dict:
    """The snapshot dict with ``Persistent`` stand-ins for its networks (no NVlabs code runs)."""
    try:
        with open(path, "rb") as f:
            data = AllowListUnpickler(f, SAFE_GLOBALS, "an NVlabs snapshot").load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError, RuntimeError) as err:
        raise ZooError(f"{path} is not a readable NVlabs snapshot: {err}") from err
    if not isinstance(data, dict) or not all(isinstance(data.get(k), Persistent) for k in ("G", "D", "G_ema")):
        raise ZooError(f"{path} holds no G, D and G_ema networks of an NVlabs snapshot")
    return data


def detect(path: str | Path) -> bool:
    """True for a pickle (not a zip, as torch.save writes) whose bytes name NVlabs' persistence module."""
    path = Path(path)
    if not path.is_file() or zipfile.is_zipfile(path):
        return False
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    return head[:1] == b"\x80" and b"torch_utils.persistence" in head


ANY = object()  # any value of a keyword argument is supported
FIR_TAPS = [1, 3, 3, 1]
ACTIVATION = {"activation": ("lrelu",)}

#: NVlabs' constructor arguments the zoo supports, with the values it supports (``ANY``, or a tuple); nested
#: dicts are keyword groups (``mapping_kwargs``, ...). ``None`` in a tuple is NVlabs' default where it is one.
GENERATOR_KWARGS = {
    "z_dim": ANY, "c_dim": ANY, "w_dim": ANY, "img_resolution": ANY, "img_channels": ANY,
    "mapping_kwargs": {"num_layers": ANY, "lr_multiplier": (0.01,), "w_avg_beta": (0.995,), **ACTIVATION,
                       "embed_features": (None, "w_dim"), "layer_features": (None, "w_dim")},
    "synthesis_kwargs": {"channel_base": ANY, "channel_max": ANY, "num_fp16_res": ANY, "conv_clamp": ANY,
                         "fp16_channels_last": ANY, "architecture": ("skip",), "resample_filter": (FIR_TAPS,),
                         "use_noise": (True,), **ACTIVATION},
}  # fmt: skip
DISCRIMINATOR_KWARGS = {
    "c_dim": ANY, "img_resolution": ANY, "img_channels": ANY, "architecture": ("resnet", "orig"),
    "channel_base": ("channel_base",), "channel_max": ("channel_max",), "num_fp16_res": ANY, "conv_clamp": ANY,
    "cmap_dim": (None,),
    "block_kwargs": {"fp16_channels_last": ANY, "freeze_layers": ANY, "resample_filter": (FIR_TAPS,), **ACTIVATION},
    "mapping_kwargs": {"num_layers": (8,), "lr_multiplier": (0.01,), **ACTIVATION},
    "epilogue_kwargs": {"mbstd_group_size": ANY, "mbstd_num_channels": (1,), **ACTIVATION},
}  # fmt: skip


#: the mixed-precision arguments of G's synthesis_kwargs and of D, with NVlabs' class defaults (networks.py)
MIXED_PRECISION = {"num_fp16_res": 0, "conv_clamp": None}


def check_kwargs(kwargs: dict, supported: dict, known: dict, where: str) -> None:
    """A ZooError naming the first argument whose value the zoo's networks do not compute; a string in a
    tuple of ``supported`` stands for the value of that name in ``known`` (G's sizes)."""
    for key, value in kwargs.items():
        accepted = supported.get(key)
        if isinstance(accepted, dict) and isinstance(value, dict):
            check_kwargs(value, accepted, known, f"{where}.{key}")
        elif accepted is not ANY and (
            accepted is None or value not in [known.get(v, v) if isinstance(v, str) else v for v in accepted]
        ):
            raise ZooError(f"the zoo's stylegan2 cannot import an NVlabs network with {where}.{key}={value!r}")


def stylegan2_hparams(generator: Persistent, discriminator: Persistent) -> dict:
    """The zoo ``stylegan2`` arguments of NVlabs' G and D (their ``init_kwargs``, defaults as NVlabs')."""
    g, d = generator.init_kwargs, discriminator.init_kwargs
    if generator.state.get("_init_args") or discriminator.state.get("_init_args"):
        raise ZooError("the NVlabs networks were built with positional arguments; the importer reads keywords")
    synthesis = dict(g.get("synthesis_kwargs") or {})
    sizes = {"channel_base": synthesis.get("channel_base", 32768), "channel_max": synthesis.get("channel_max", 512)}
    check_kwargs(g, GENERATOR_KWARGS, {"w_dim": g.get("w_dim")}, "G")
    check_kwargs(d, DISCRIMINATOR_KWARGS, sizes, "D")
    if any(g.get(k) != d.get(k) for k in ("c_dim", "img_resolution", "img_channels")):
        raise ZooError("the snapshot's G and D differ in c_dim, img_resolution or img_channels")
    precision = {key: (synthesis.get(key, default), d.get(key, default)) for key, default in MIXED_PRECISION.items()}
    if any(g_value != d_value for g_value, d_value in precision.values()):
        raise ZooError(f"the snapshot's G and D differ in mixed precision (G, D): {precision}; the zoo has one setting")
    return {
        "num_classes": g["c_dim"] or None,
        "resolution": g["img_resolution"],
        "channels": g["img_channels"],
        "latent_dim": g["z_dim"],
        "w_dim": g["w_dim"],
        "mapping_layers": (g.get("mapping_kwargs") or {}).get("num_layers", 8),
        **sizes,
        "mbstd_group": (d.get("epilogue_kwargs") or {}).get("mbstd_group_size", 4),
        "d_residual": d.get("architecture", "resnet") == "resnet",
        **{key: g_value for key, (g_value, _) in precision.items()},
    }


#: NVlabs' layer tensors -> the zoo's, within a synthesis layer or ToRGB
SYNTHESIS_LAYER_NAMES = {
    "affine.weight": "conv.affine.weight",
    "affine.bias": "conv.affine.bias",
    "weight": "conv.weight",
    "noise_strength": "noise.strength",
    "noise_const": "noise.noise_const",
}


def _tensors(net: Persistent | dict[str, Tensor]) -> dict[str, Tensor]:
    """The network's state (a snapshot's network or an NVlabs ``state_dict()``) without NVlabs'
    ``resample_filter`` buffers, which must be the filter the zoo builds."""
    tensors = dict(net) if isinstance(net, dict) else net.tensors()
    for key in [key for key in tensors if key.endswith("resample_filter")]:
        taps = torch.tensor(FIR_TAPS, dtype=torch.float32)
        if not torch.allclose(tensors.pop(key), torch.outer(taps, taps) / taps.sum() ** 2):
            raise ZooError(f"{getattr(net, 'class_name', 'the network')}'s {key} is not the [1, 3, 3, 1] filter")
    return tensors


def _mapping_name(key: str) -> str:
    """``mapping.fcN.*`` -> ``mapping.layers.N.*`` (G's and D's mapping networks)."""
    return re.sub(r"^mapping\.fc(\d+)\.", r"mapping.layers.\1.", key)


def generator_state(generator: Persistent | dict[str, Tensor]) -> dict[str, Tensor]:
    """NVlabs' ``Generator`` state -> the zoo ``Generator``'s: block ``bR`` is ``blocks.(log2 R - 2)``."""
    state = {}
    for key, tensor in _tensors(generator).items():
        if key == "synthesis.b4.const":
            key = "synthesis.const"
        elif match := re.fullmatch(r"synthesis\.b(\d+)\.(conv0|conv1|torgb)\.(.+)", key):
            resolution, layer, name = match.groups()
            key = f"synthesis.blocks.{int(resolution).bit_length() - 3}.{layer}.{SYNTHESIS_LAYER_NAMES.get(name, name)}"
            tensor = tensor[None, None] if name == "noise_const" else tensor
        state[_mapping_name(key)] = tensor
    return state


def discriminator_state(discriminator: Persistent | dict[str, Tensor], resolution: int) -> dict[str, Tensor]:
    """NVlabs' ``Discriminator`` state -> the zoo's: block ``bR`` is ``blocks.(log2 resolution - log2 R)``, the
    epilogue ``b4`` the zoo D's own layers."""
    state = {}
    for key, tensor in _tensors(discriminator).items():
        if match := re.fullmatch(r"b(\d+)\.(fromrgb|conv0|conv1|skip)\.(.+)", key):
            block_resolution, layer, name = match.groups()
            key = f"blocks.{resolution.bit_length() - int(block_resolution).bit_length()}.{layer}.{name}"
        state[_mapping_name(re.sub(r"^b4\.(conv|fc|out)\.", r"\1.", key))] = tensor
    return state


def load(path: str | Path) -> Imported:
    """The zoo ``stylegan2`` of an NVlabs snapshot: its G, D and G_ema (``generator_ema``)."""
    snapshot = read_snapshot(path)
    hparams = stylegan2_hparams(snapshot["G"], snapshot["D"])
    networks = {
        "generator": generator_state(snapshot["G"]),
        "discriminator": discriminator_state(snapshot["D"], hparams["resolution"]),
    }
    imported = assemble("stylegan2", hparams, networks)
    ema = assemble("stylegan2", hparams, {"generator": generator_state(snapshot["G_ema"])}).state_dict
    prefix = "generator."
    imported.state_dict.update({f"generator_ema.{k[len(prefix) :]}": v for k, v in ema.items() if k.startswith(prefix)})
    return imported
