"""junyanz/pytorch-CycleGAN-and-pix2pix (https://github.com/junyanz/pytorch-CycleGAN-and-pix2pix,
models/networks.py: ``ResnetGenerator``, ``ResnetBlock``, ``NLayerDiscriminator``; models/base_model.py
``save_networks``) -> zoo ``cyclegan``.

Their train.py saves ``<epoch>_net_{G_A,G_B,D_A,D_B}.pth`` (``latest`` or an epoch number), each
``torch.save(net.state_dict(), ...)`` of an ``nn.Sequential`` named ``model``. G_A translates A to B and G_B B to
A (the zoo's ``a_to_b``, ``b_to_a``); D_A judges domain B (G_A's outputs) and D_B domain A, so they become the
zoo's ``discriminator.b`` and ``discriminator.a``.

The zoo's translator pads inside its convolutions (``padding_mode="reflect"``) where theirs has
``nn.ReflectionPad2d`` modules, so a layer's index drops by the pads before it (``without_pads``); their
PatchGAN is the zoo's layer for layer. The files do not record the image size: the zoo model gets their test
default, 256 px (``--load_size 256 --crop_size 256``), which ``sample --input`` resizes images to.
"""

from __future__ import annotations

import re
from pathlib import Path

from zoo.errors import ZooError
from zoo.importers import FileSet, Imported, assemble, read_state_dict, rename, shape_of

NAME = "cyclegan"
FILES = FileSet(
    re.compile(r"(?P<stem>.+)_net_(?P<part>[GD]_[AB])\.pth"), "{stem}_net_{part}.pth", ("G_A", "G_B", "D_A", "D_B")
)
#: the image size of their test options, which the files do not record
RESOLUTION = 256


def detect(path: Path) -> bool:
    return FILES.detect(path)


def without_pads(index: int, pads: tuple[int, ...]) -> int:
    """The index of layer ``index`` of their Sequential in the zoo's, which has no layers at ``pads``."""
    return index - sum(pad < index for pad in pads)


def last_layer(state: dict) -> int:
    """The index of the last layer with parameters in their Sequential ``model``."""
    return max(int(key.split(".")[1]) for key in state)


def translator_keys(state: dict) -> dict:
    """Their ResnetGenerator's keys as the zoo's ResnetTranslator's: top-level pads at 0 and before the last conv,
    a ResnetBlock's ``conv_block`` pads at 0 and 4."""
    last = last_layer(state)
    converted = {}
    for key, tensor in state.items():
        block = re.fullmatch(r"model\.(\d+)\.conv_block\.(\d+)\.(\w+)", key)
        if block:
            i, j, name = int(block[1]), int(block[2]), block[3]
            converted[f"net.{without_pads(i, (0, last - 1))}.body.{without_pads(j, (0, 4))}.{name}"] = tensor
        else:
            _, i, name = key.split(".", 2)
            converted[f"net.{without_pads(int(i), (0, last - 1))}.{name}"] = tensor
    return converted


def load(path: Path) -> Imported:
    """One of ``<epoch>_net_{G_A,G_B,D_A,D_B}.pth`` (and its three siblings of the same epoch), or their folder."""
    files = FILES.locate(path, NAME)
    nets = {part: read_state_dict(file, NAME) for part, file in files.items()}
    first = shape_of(nets["G_A"], "model.1.weight", files["G_A"], NAME)
    out_channels = nets["G_A"][f"model.{last_layer(nets['G_A'])}.weight"].shape[0]
    if first[1] != out_channels:
        raise ZooError(
            f"{files['G_A']} translates {first[1]} to {out_channels} channels; zoo cyclegan keeps the channel count"
        )
    d_convs = [key for key in nets["D_A"] if key.endswith(".weight")]
    hparams = {
        "resolution": RESOLUTION,
        "channels": first[1],
        "width": first[0],
        "blocks": len({key.split(".")[1] for key in nets["G_A"] if ".conv_block." in key}),
        "d_width": shape_of(nets["D_A"], "model.0.weight", files["D_A"], NAME)[0],
        "d_layers": len(d_convs) - 2,
    }
    networks = {
        "generator.a_to_b": translator_keys(nets["G_A"]),
        "generator.b_to_a": translator_keys(nets["G_B"]),
        "discriminator.b": rename(nets["D_A"], [(r"model\.", "net.")]),
        "discriminator.a": rename(nets["D_B"], [(r"model\.", "net.")]),
    }
    return assemble("cyclegan", hparams, networks)
