"""ajbrock/BigGAN-PyTorch (https://github.com/ajbrock/BigGAN-PyTorch, BigGAN.py ``Generator`` and
``Discriminator``, layers.py) -> zoo ``biggan`` (Brock et al. 2019, "Large Scale GAN Training for High Fidelity
Natural Image Synthesis", arXiv 1809.11096).

Their utils.py ``save_weights`` writes ``G.pth``, ``D.pth`` and, with ``--ema``, ``G_ema.pth`` (and copies named
``G_best<N>.pth``, ``G_ema_copy<N>.pth``, ...), each ``torch.save(net.state_dict())``, into the experiment's
weights folder; ``state_dict.pth`` (the config, pickled with ``nn.ReLU`` objects) is not read: every size comes
from the tensors.

The zoo's networks are theirs layer for layer (GBlock / DBlock, ccbn as ``ConditionalBatchNorm2d.by_vector``,
the hierarchical z, the projection head), so the conversion renames:

- ``blocks.<i>.0.{conv1, conv2, conv_sc}`` -> ``blocks.<i>.{conv1, conv2, shortcut}``; ccbn ``bn<k>.{gain,
  bias}`` -> ``bn<k>.{gamma, beta}`` and their ``stored_mean`` / ``stored_var`` -> the BN's ``running_mean`` /
  ``running_var`` (the eval-mode statistics, as their eval forward uses them); ``output_layer.{0, 2}`` ->
  ``out.{0, 2}``; D's ``linear`` / ``embed`` -> ``head.psi`` / ``head.embed``.
- Attention ``theta`` (queries), ``phi`` (keys), ``g`` (values), ``o`` -> the zoo's ``g``, ``f``, ``h``, ``v``.
- Spectral norm: their ``u0`` (one left singular vector estimate, (1, out)) -> ``_u``; ``_v`` is set to
  normalize(W^T u), which the next power iteration recomputes from u anyway; ``sv0`` (logged only) is dropped.
  Their SN iterates from u (v first) and in eval forwards too, without storing it there; so does the zoo's
  ``biggan`` (``Layers(authors_power_iteration=True)``), so eval and training forwards both equal theirs.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from zoo.errors import ZooError
from zoo.importers import Imported, assemble, read_state_dict, rename, shape_of
from zoo.nets import biggan

NAME = "biggan-pytorch"
FILE = re.compile(r"(?P<part>G_ema|G|D)(?P<suffix>_(?:best|copy)\d+)?\.pth")
BLOCK_LAYERS = [
    (r"conv_sc\.", "shortcut."),
    (r"bn(\d)\.gain\.", r"bn\1.gamma."),
    (r"bn(\d)\.bias\.", r"bn\1.beta."),
    (r"bn(\d)\.stored_", r"bn\1.norm.stored_"),
]
ATTENTION = {"theta": "g", "phi": "f", "g": "h", "o": "v"}


def detect(path: Path) -> bool:
    if path.is_dir():
        return (path / "G.pth").is_file() and (path / "D.pth").is_file()
    return FILE.fullmatch(path.name) is not None


def locate(path: Path) -> dict[str, Path]:
    """part (G, D, G_ema) -> file: the save ``path`` names (its copy suffix, if any) and its siblings, or the
    latest save (no suffix) in the folder ``path``; G_ema is optional (their ``--ema``)."""
    if path.is_dir():
        folder, suffix = path, ""
    elif match := FILE.fullmatch(path.name):
        folder, suffix = path.parent, match["suffix"] or ""
    else:
        raise ZooError(f"{path.name} is not named as BigGAN-PyTorch names its weights (G.pth, D.pth, G_ema.pth)")
    files = {part: folder / f"{part}{suffix}.pth" for part in ("G", "D", "G_ema")}
    for part in ("G", "D"):
        if not files[part].is_file():
            raise ZooError(f"a {NAME} checkpoint is G{suffix}.pth and D{suffix}.pth: {files[part].name} is missing")
    if not files["G_ema"].is_file():
        del files["G_ema"]
    return files


def spectral(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Their SN layers' ``weight`` / ``u0`` as torch's parametrization (``original``, ``_u``, ``_v``); ``sv0``
    dropped; a BN's ``stored_*`` as ``running_*`` with ``num_batches_tracked``; other tensors as they are."""
    converted = {}
    for key, tensor in state.items():
        prefix, _, name = key.rpartition(".")
        if name == "sv0":
            continue
        if name == "u0":
            weight = state[f"{prefix}.weight"]
            u = tensor.reshape(-1)
            converted[f"{prefix}.parametrizations.weight.0._u"] = u
            converted[f"{prefix}.parametrizations.weight.0._v"] = F.normalize(
                weight.reshape(u.numel(), -1).T @ u, dim=0
            )
        elif name == "weight" and f"{prefix}.u0" in state:
            converted[f"{prefix}.parametrizations.weight.original"] = tensor
        elif name in ("stored_mean", "stored_var"):
            converted[f"{prefix}.running_{name.removeprefix('stored_')}"] = tensor
            converted[f"{prefix}.num_batches_tracked"] = torch.tensor(0)
        else:
            converted[key] = tensor
    return converted


def attention_blocks(state: dict[str, Tensor]) -> list[int]:
    """The indices of the blocks followed by an attention layer (``blocks.<i>.1.gamma``)."""
    return sorted(int(m[1]) for key in state if (m := re.fullmatch(r"blocks\.(\d+)\.1\.gamma", key)))


def attention_rules(source: str, target: str) -> list[tuple[str, str]]:
    """Renames their attention layer at ``source`` to the zoo's at ``target``."""
    return [(rf"{re.escape(source)}\.{theirs}\.", f"{target}.{ours}.") for theirs, ours in ATTENTION.items()] + [
        (rf"{re.escape(source)}\.gamma", f"{target}.gamma")
    ]


def generator_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """The zoo ``BigGANGenerator``'s state dict of their G's (or G_ema's)."""
    rules = []
    for i in attention_blocks(state):
        rules += attention_rules(f"blocks.{i}.1", "attention")
    for i in sorted({int(m[1]) for key in state if (m := re.match(r"blocks\.(\d+)\.0\.", key))}):
        rules += [(rf"blocks\.{i}\.0\.{p}", rf"blocks.{i}.{r}") for p, r in BLOCK_LAYERS]
        rules.append((rf"blocks\.{i}\.0\.", f"blocks.{i}."))
    rules += [(r"output_layer\.0\.gain", "out.0.weight"), (r"output_layer\.", "out.")]
    return spectral(rename(state, rules))


def discriminator_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """The zoo ``BigGANDiscriminator``'s state dict of their D's."""
    attended = attention_blocks(state)
    rules = []
    for n, i in enumerate(attended):  # the first attention is the zoo D's ``attention``, the others in the block
        target = "attention" if n == 0 else f"blocks.{i}.1"
        rules += attention_rules(f"blocks.{i}.1", target)
        if n:
            rules += [
                (rf"blocks\.{i}\.0\.conv_sc\.", f"blocks.{i}.0.shortcut."),
                (rf"blocks\.{i}\.0\.", f"blocks.{i}.0."),
            ]
    rules += [(r"(blocks\.\d+)\.0\.conv_sc\.", r"\1.shortcut."), (r"(blocks\.\d+)\.0\.", r"\1.")]
    rules += [(r"linear\.", "head.psi."), (r"embed\.", "head.embed.")]
    return spectral(rename(state, rules))


def hparams_of(g: dict[str, Tensor], d: dict[str, Tensor], files: dict[str, Path]) -> dict:
    """The zoo ``biggan`` arguments from their tensors' shapes; what the zoo cannot hold raises a ZooError."""
    if "shared.weight" not in g:
        raise ZooError(f"{files['G']}: a G without --G_shared (per-class BN embeddings); the zoo's biggan shares one")
    num_classes, shared_dim = g["shared.weight"].shape
    blocks = len({m[1] for key in g if (m := re.match(r"blocks\.(\d+)\.0\.", key))})
    resolution = 4 * 2**blocks
    if resolution not in biggan.BIGGAN_ARCHITECTURES:
        raise ZooError(f"{files['G']}: {blocks} G blocks make {resolution} px; the zoo's biggan has 32-256 px")
    arch = biggan.BIGGAN_ARCHITECTURES[resolution]
    chunk = shape_of(g, "linear.weight", files["G"], NAME)[1]
    hierarchical = shape_of(g, "blocks.0.0.bn1.gain.weight", files["G"], NAME)[1] == shared_dim + chunk
    g_attention = [4 * 2 ** (i + 1) for i in attention_blocks(g)]
    if len(g_attention) > 1:
        raise ZooError(f"{files['G']}: attention at {g_attention} px; the zoo's biggan has one attention layer in G")
    expected = biggan.attention_blocks(resolution, g_attention[0] if g_attention else None)
    if attention_blocks(d) != expected:
        raise ZooError(
            f"{files['D']}: attention after D blocks {attention_blocks(d)}; the zoo's biggan has one attention size "
            f"for G and D, which puts it after D blocks {expected} (their G_attn and D_attn differ)"
        )
    return {
        "num_classes": num_classes,
        "resolution": resolution,
        "channels": shape_of(g, "output_layer.2.weight", files["G"], NAME)[0],
        "g_width": g["linear.weight"].shape[0] // (arch.bottom**2 * arch.generator[0]),
        "d_width": shape_of(d, "blocks.0.0.conv1.weight", files["D"], NAME)[0] // arch.discriminator[0],
        "latent_dim": chunk * (blocks + 1) if hierarchical else chunk,
        "shared_dim": shared_dim,
        "hierarchical": hierarchical,
        "attention": bool(g_attention),
        "attention_resolution": g_attention[0] if g_attention else None,
    }


def load(path: Path) -> Imported:
    """``G.pth``, ``D.pth`` or ``G_ema.pth`` (or a copy: ``G_best0.pth`` ...) and its siblings, or their folder:
    G, D and G_ema (as ``generator_ema``); a BigGAN-deep save becomes zoo ``biggan_deep``."""
    files = locate(Path(path))
    states = {part: read_state_dict(file, NAME) for part, file in files.items()}
    from zoo.importers import biggan_pytorch_deep  # it imports from this module

    if biggan_pytorch_deep.is_deep(states["D"]):  # their --model BigGANdeep writes the same files
        return biggan_pytorch_deep.convert(states, files)
    hparams = hparams_of(states["G"], states["D"], files)
    networks = {"generator": generator_state(states["G"]), "discriminator": discriminator_state(states["D"])}
    imported = assemble("biggan", hparams, networks)
    if "G_ema" in states:
        ema = assemble("biggan", hparams, {"generator": generator_state(states["G_ema"])}).state_dict
        prefix = "generator."
        imported.state_dict |= {f"generator_ema.{k[len(prefix) :]}": v for k, v in ema.items() if k.startswith(prefix)}
    return imported
