"""huggingface/pytorch-pretrained-BigGAN (the ``pytorch-pretrained-biggan`` package, model.py ``BigGAN``,
config.py ``BigGANConfig``) -> zoo ``biggan_deep``: the authors' TF-Hub BigGAN-deep generators (biggan-deep-128,
-256, -512), converted by that package (convert_tf_to_pytorch.py), the ImageNet checkpoints users hold.

Files: ``pytorch_model.bin`` (``torch.save(model.state_dict())``, read with ``weights_only=True``) beside its
``config.json``, as ``BigGAN.from_pretrained(folder)`` reads them, or the names of its download links
(``biggan-deep-128-pytorch_model.bin`` beside ``biggan-deep-128-config.json``). Only G was released: the zoo
model's D is freshly initialized at G's width.

Their network is BigGANdeep.py's G (zoo/nets/biggan_deep.py) with these differences, which the conversion or the
zoo model's options absorb so that the imported G gives their outputs:

- Their condition vector is [z, embedding]; BigGAN-PyTorch's and the zoo's [embedding, z]: the columns of the
  first linear layer and of every conditional BN's projections (and their spectral norm's v) are reordered.
- The class embedding is a linear layer on a class vector (one-hot, or any mixture of classes); the zoo's an
  embedding of class indices (its weight transposed): one-hot vectors only.
- The first linear layer's output is read as TensorFlow's (4, 4, C) layout: its rows (and u) are reordered into
  the zoo's (C, 4, 4).
- The output conv has ch channels, of which the first 3 are kept (spectral norm over all of them): the zoo model
  gets ``rgb_channels`` = ch.
- Batch norm and spectral norm epsilon 1e-4 (config ``eps``): ``bn_eps``, ``sn_eps`` 1e-4. Their spectral norm is
  torch's (eval forwards use the stored u and v, no iteration): ``power_iteration: torch``.
- Batch norm only in eval mode, with "standing statistics" precomputed in TF for ``n_stats`` truncations
  (0, 1/(n_stats - 1), ..., 1); a forward picks them for its ``truncation``. A zoo model holds one set: the
  import takes those of ``truncation`` (1.0 by default, the untruncated prior), with their code's interpolation
  between grid points, weights included (``standing_statistics``). Their ``truncation`` is also the scale of the
  z they expect: truncation x truncnorm(-2, 2) (utils.py ``truncated_noise_sample``).
- Their skip drops half the channels where ours keeps ``out``: the same wherever a block halves the width, as in
  every layout they ship (checked against the zoo's architecture, ``check_layers``).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import torch
from torch import Tensor

from zoo.errors import ZooError
from zoo.importers import Imported, assemble, read_state_dict
from zoo.nets.biggan_deep import BIGGAN_DEEP_ARCHITECTURES

NAME = "pretrained-biggan"
WEIGHTS = re.compile(r"(?P<prefix>biggan-deep-\d+-)?pytorch_model\.bin")
ATTENTION = {"snconv1x1_theta": "g", "snconv1x1_phi": "f", "snconv1x1_g": "h", "snconv1x1_o_conv": "v"}
SPECTRAL = {"weight_orig": "parametrizations.weight.original", "weight_u": "parametrizations.weight.0._u"}
SPECTRAL["weight_v"] = "parametrizations.weight.0._v"


def files_of(path: Path) -> tuple[Path, Path] | None:
    """(weights, config) of ``path`` (the weights file or their folder), None when it is not one of theirs."""
    if path.is_dir():
        weights, config = path / "pytorch_model.bin", path / "config.json"
    elif match := WEIGHTS.fullmatch(path.name):
        weights, config = path, path.parent / f"{match['prefix'] or ''}config.json"
    else:
        return None
    return (weights, config) if weights.is_file() and config.is_file() else None


def detect(path: Path) -> bool:
    return files_of(path) is not None


def read_config(path: Path) -> dict:
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ZooError(f"{path} is unreadable as a {NAME} config.json: {err}") from err
    needed = {"output_dim", "z_dim", "channel_width", "num_classes", "layers", "attention_layer_position", "eps"}
    if not isinstance(config, dict) or not needed <= config.keys():
        raise ZooError(f"{path} is not a {NAME} config.json: it lacks {sorted(needed - set(config or {}))}")
    return config


def check_layers(config: dict, path: Path) -> int:
    """The zoo resolution whose BigGAN-deep G (depth 2) has their ``layers`` [(upsample, in, out) x ch]."""
    resolution = config["output_dim"]
    arch = BIGGAN_DEEP_ARCHITECTURES.get(resolution)
    expected = []
    for c_in, c_out in zip(arch.g_in, arch.g_out) if arch else ():
        expected += [[False, c_in, c_in], [True, c_in, c_out]]
    if [list(layer) for layer in config["layers"]] != expected or expected[-1][2] != 1:
        raise ZooError(
            f"{path}: the layers {config['layers']} are not the zoo's biggan_deep G at {resolution} px "
            f"(supported: {', '.join(str(r) for r in BIGGAN_DEEP_ARCHITECTURES)} px ending at ch channels)"
        )
    position = config["attention_layer_position"]
    if not 0 < position <= len(expected) or not expected[position - 1][0]:
        raise ZooError(f"{path}: attention before layer {position}, not after a resolution's last block")
    return resolution


def standing_statistics(stats: Tensor, truncation: float) -> Tensor:
    """Their ``BigGANBatchNorm.forward``'s choice among the (n_stats, C) rows for ``truncation``: row i when
    truncation / step is i exactly, else coef x row i + (1 - coef) x row i + 1 with (coef, i) = modf(truncation /
    step), as their code weighs them."""
    coef, start = math.modf(truncation / (1.0 / (stats.shape[0] - 1)))
    start = int(start)
    return stats[start] if coef == 0.0 else stats[start] * coef + stats[start + 1] * (1 - coef)


def spectral(prefix: str, ours: str, state: dict[str, Tensor], out: dict[str, Tensor], bias: bool = True) -> None:
    """Their old-style spectral norm tensors of layer ``prefix`` as the zoo layer ``ours``'s parametrization."""
    for theirs, name in SPECTRAL.items():
        out[f"{ours}.{name}"] = state[f"{prefix}.{theirs}"]
    if bias:
        out[f"{ours}.bias"] = state[f"{prefix}.bias"]


def condition_first(prefix: str, ours: str, state: dict[str, Tensor], out: dict, z_dim: int) -> None:
    """A layer reading their [z, embedding] as the zoo's [embedding, z]: weight columns and v reordered."""
    for theirs, name in (("weight_orig", SPECTRAL["weight_orig"]), ("weight_v", SPECTRAL["weight_v"])):
        t = state[f"{prefix}.{theirs}"]
        out[f"{ours}.{name}"] = torch.cat([t[..., z_dim:], t[..., :z_dim]], dim=-1)
    out[f"{ours}.{SPECTRAL['weight_u']}"] = state[f"{prefix}.weight_u"]


def norm_stats(prefix: str, ours: str, state: dict[str, Tensor], out: dict, truncation: float) -> None:
    out[f"{ours}.running_mean"] = standing_statistics(state[f"{prefix}.running_means"], truncation)
    out[f"{ours}.running_var"] = standing_statistics(state[f"{prefix}.running_vars"], truncation)
    out[f"{ours}.num_batches_tracked"] = torch.tensor(0)


def generator_state(state: dict[str, Tensor], config: dict, truncation: float) -> dict[str, Tensor]:
    """The zoo ``BigGANDeepGenerator``'s state dict of their ``BigGAN``'s."""
    z_dim, ch, position = config["z_dim"], config["channel_width"], config["attention_layer_position"]
    out = {"shared.weight": state["embeddings.weight"].T}
    g = "generator"
    rows = torch.arange(16 * 16 * ch).view(16, 16 * ch).T.reshape(-1)  # (4, 4, C) -> (C, 4, 4)
    linear = {}
    condition_first(f"{g}.gen_z", "linear", state, linear, z_dim)
    for key in (f"linear.{SPECTRAL['weight_orig']}", f"linear.{SPECTRAL['weight_u']}"):
        out[key] = linear[key][rows]
    out[f"linear.{SPECTRAL['weight_v']}"] = linear[f"linear.{SPECTRAL['weight_v']}"]
    out["linear.bias"] = state[f"{g}.gen_z.bias"][rows]
    for i in range(len(config["layers"])):
        theirs, ours = f"{g}.layers.{i + (i >= position)}", f"blocks.{i}.0"
        for k in range(4):
            spectral(f"{theirs}.conv_{k}", f"{ours}.conv{k + 1}", state, out)
            condition_first(f"{theirs}.bn_{k}.scale", f"{ours}.bn{k + 1}.gamma", state, out, z_dim)
            condition_first(f"{theirs}.bn_{k}.offset", f"{ours}.bn{k + 1}.beta", state, out, z_dim)
            norm_stats(f"{theirs}.bn_{k}", f"{ours}.bn{k + 1}.norm", state, out, truncation)
    attention = f"blocks.{position - 1}.1"
    for theirs, ours in ATTENTION.items():
        spectral(f"{g}.layers.{position}.{theirs}", f"{attention}.{ours}", state, out, bias=False)
    out[f"{attention}.gamma"] = state[f"{g}.layers.{position}.gamma"].reshape(())
    out["out.0.weight"], out["out.0.bias"] = state[f"{g}.bn.weight"], state[f"{g}.bn.bias"]
    norm_stats(f"{g}.bn", "out.0", state, out, truncation)
    spectral(f"{g}.conv_to_rgb", "out.2", state, out)
    return out


def load(path: Path, truncation: float = 1.0) -> Imported:
    """Their ``pytorch_model.bin`` (or its folder) and ``config.json`` as zoo ``biggan_deep``, its batch norms'
    statistics those of ``truncation`` (module docstring)."""
    found = files_of(Path(path))
    if found is None:
        raise ZooError(f"{path}: {NAME} weights are pytorch_model.bin beside config.json (or their folder)")
    weights, config_path = found
    if not 0 < truncation <= 1:
        raise ZooError(f"truncation must be in (0, 1] (their standing statistics), got {truncation}")
    config = read_config(config_path)
    resolution = check_layers(config, config_path)
    state = read_state_dict(weights, NAME)
    if "embeddings.weight" not in state:
        raise ZooError(f"{weights} is not a {NAME} BigGAN: it has no 'embeddings.weight'")
    ch, eps = config["channel_width"], config["eps"]
    hparams = {
        "num_classes": config["num_classes"],
        "resolution": resolution,
        "channels": 3,
        "g_width": ch,
        "d_width": ch,
        "latent_dim": config["z_dim"],
        "shared_dim": config["z_dim"],
        "attention_resolution": 8 * 2 ** ((config["attention_layer_position"] - 1) // 2),
        "bn_eps": eps,
        "sn_eps": eps,
        "power_iteration": "torch",
        "rgb_channels": ch,
    }
    try:
        generator = generator_state(state, config, truncation)
    except KeyError as err:
        raise ZooError(f"{weights} is not the {NAME} network its config.json describes: no {err}") from err
    return assemble("biggan_deep", hparams, {"generator": generator})
