"""ajbrock/BigGAN-PyTorch's BigGAN-deep (BigGANdeep.py ``Generator`` and ``Discriminator``, their ``--model
BigGANdeep``) -> zoo ``biggan_deep``. Their utils.py ``save_weights`` writes the same files as for BigGAN (``G.pth``,
``D.pth``, ``G_ema.pth``), so the ``biggan-pytorch`` source reads them and hands them here when D has BigGAN-deep's
input conv (``is_deep``).

The zoo's networks nest their modules as theirs (zoo/nets/biggan_deep.py), so the conversion renames only what
the zoo calls differently, as zoo/importers/biggan_pytorch.py does for BigGAN: ccbn ``gain`` / ``bias`` /
``stored_*`` -> ``gamma`` / ``beta`` / ``norm.running_*``, attention ``theta, phi, g, o`` -> ``g, f, h, v``, D's
``conv_sc`` -> ``shortcut``, ``linear`` / ``embed`` -> ``head.psi`` / ``head.embed``, ``output_layer`` -> ``out``,
and their SN ``u0`` -> torch's ``_u`` / ``_v`` (``biggan_pytorch.spectral``). Every size comes from the tensors.
"""

from __future__ import annotations

import re
from pathlib import Path

from torch import Tensor

from zoo.errors import ZooError
from zoo.importers import Imported, assemble, rename, shape_of
from zoo.importers.biggan_pytorch import ATTENTION, NAME, spectral
from zoo.nets.biggan_deep import BIGGAN_DEEP_ARCHITECTURES

ATTENTION_RULES = [(rf"(blocks\.\d+\.\d+)\.{theirs}\.", rf"\1.{ours}.") for theirs, ours in ATTENTION.items()]
GENERATOR_RULES = [
    (r"(blocks\.\d+\.0\.bn\d)\.gain\.", r"\1.gamma."),
    (r"(blocks\.\d+\.0\.bn\d)\.bias\.", r"\1.beta."),
    (r"(blocks\.\d+\.0\.bn\d)\.stored_", r"\1.norm.stored_"),
    *ATTENTION_RULES,
    (r"output_layer\.0\.gain", "out.0.weight"),
    (r"output_layer\.", "out."),
]
DISCRIMINATOR_RULES = [
    (r"(blocks\.\d+\.\d+)\.conv_sc\.", r"\1.shortcut."),
    *ATTENTION_RULES,
    (r"linear\.", "head.psi."),
    (r"embed\.", "head.embed."),
]


def is_deep(d_state: dict[str, Tensor]) -> bool:
    """Whether a BigGAN-PyTorch D is BigGAN-deep's (its stem conv; BigGAN's D starts with a residual block)."""
    return "input_conv.weight" in d_state


def indices(state: dict[str, Tensor], pattern: str) -> list[int]:
    return sorted({int(m[1]) for key in state if (m := re.fullmatch(pattern, key))})


def hparams_of(g: dict[str, Tensor], d: dict[str, Tensor], files: dict[str, Path]) -> dict:
    """The zoo ``biggan_deep`` arguments from their tensors' shapes; what the zoo cannot hold raises a ZooError."""
    if "shared.weight" not in g:
        raise ZooError(f"{files['G']}: a G without --G_shared; the zoo's biggan_deep shares one class embedding")
    num_classes, shared_dim = g["shared.weight"].shape
    stages = len(indices(d, r"blocks\.(\d+)\.0\.conv1\.weight"))
    depth = len(indices(d, r"blocks\.0\.(\d+)\.conv1\.weight"))
    resolution = next((r for r, a in BIGGAN_DEEP_ARCHITECTURES.items() if len(a.d_in) == stages), None)
    if resolution is None or resolution > 256:
        raise ZooError(f"{files['D']}: {stages} D resolutions; BigGANdeep.py has 32-256 px (3-6 resolutions)")
    arch = BIGGAN_DEEP_ARCHITECTURES[resolution]
    g_blocks = indices(g, r"blocks\.(\d+)\.0\.conv1\.weight")
    if len(g_blocks) != stages * depth:
        raise ZooError(
            f"{files['G']}: {len(g_blocks)} G blocks for {stages} resolutions of {depth} (G_depth != D_depth)"
        )
    g_attention = {8 * 2 ** (k // depth) for k in indices(g, r"blocks\.(\d+)\.1\.gamma")}
    d_attention = indices(d, rf"blocks\.(\d+)\.{depth}\.gamma")
    if len(g_attention) > 1:
        raise ZooError(f"{files['G']}: attention at {sorted(g_attention)} px; the zoo's biggan_deep has one in G")
    where = next(iter(g_attention), None)
    if d_attention != [i for i, size in enumerate(arch.d_sizes) if size == where]:
        raise ZooError(f"{files['D']}: D attention after resolutions {d_attention}; the zoo's has it where G's is")
    latent_dim = shape_of(g, "linear.weight", files["G"], NAME)[1] - shared_dim
    return {
        "num_classes": num_classes,
        "resolution": resolution,
        "channels": shape_of(g, "output_layer.2.weight", files["G"], NAME)[0],
        "g_width": g["linear.weight"].shape[0] // (16 * arch.g_in[0]),
        "d_width": shape_of(d, "input_conv.weight", files["D"], NAME)[0] // arch.d_in[0],
        "latent_dim": latent_dim,
        "shared_dim": shared_dim,
        "depth": depth,
        "attention": where is not None,
        "attention_resolution": where,
    }


def convert(states: dict[str, dict[str, Tensor]], files: dict[str, Path]) -> Imported:
    """The zoo ``biggan_deep`` of their G, D and (if saved) G_ema state dicts (as ``generator_ema``)."""
    hparams = hparams_of(states["G"], states["D"], files)
    networks = {
        "generator": spectral(rename(states["G"], GENERATOR_RULES)),
        "discriminator": spectral(rename(states["D"], DISCRIMINATOR_RULES)),
    }
    imported = assemble("biggan_deep", hparams, networks)
    if "G_ema" in states:
        ema = assemble("biggan_deep", hparams, {"generator": spectral(rename(states["G_ema"], GENERATOR_RULES))})
        prefix = "generator."
        imported.state_dict |= {
            f"generator_ema.{k[len(prefix) :]}": v for k, v in ema.state_dict.items() if k.startswith(prefix)
        }
    return imported
