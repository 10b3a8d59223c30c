"""pytorch/examples' DCGAN (https://github.com/pytorch/examples, dcgan/main.py: ``Generator``, ``Discriminator``)
-> zoo ``dcgan``.

Their main.py saves ``netG_epoch_N.pth`` and ``netD_epoch_N.pth`` after every epoch, each
``torch.save(net.state_dict(), ...)`` of an ``nn.Sequential`` named ``main``. The zoo's DCGAN networks are the
same Sequentials layer for layer (bias-free 4x4 convs, BatchNorm, ReLU/LeakyReLU 0.2, tanh), so ``main.<i>``
becomes ``net.<i>``. Their D ends in a Sigmoid, which has no parameters: the zoo's D returns the logit before it
(its losses take logits). The sizes come from the tensors: nz, ngf, nc from G's first and last convs, ndf from
D's first conv and the resolution from G's depth (64 px in their main.py).
"""

from __future__ import annotations

import re
from pathlib import Path

from zoo.errors import ZooError
from zoo.importers import FileSet, Imported, assemble, read_state_dict, rename, shape_of

NAME = "dcgan-examples"
FILES = FileSet(re.compile(r"net(?P<part>[GD])_epoch_(?P<stem>\d+)\.pth"), "net{part}_epoch_{stem}.pth", ("G", "D"))


def detect(path: Path) -> bool:
    return FILES.detect(path)


def load(path: Path) -> Imported:
    """``netG_epoch_N.pth`` or ``netD_epoch_N.pth`` (and its sibling of the same epoch), or their folder."""
    files = FILES.locate(path, NAME)
    g, d = (read_state_dict(files[part], NAME) for part in ("G", "D"))
    g_convs = [tensor for key, tensor in g.items() if key.endswith(".weight") and tensor.dim() == 4]
    if not g_convs:
        raise ZooError(f"{files['G']} is not pytorch/examples' DCGAN generator: it has no convolutions")
    hparams = {
        "latent_dim": g_convs[0].shape[0],
        "resolution": 4 * 2 ** (len(g_convs) - 1),
        "channels": g_convs[-1].shape[1],
        "ngf": g_convs[-1].shape[0],
        "ndf": shape_of(d, "main.0.weight", files["D"], NAME)[0],
    }
    networks = {
        "generator": rename(g, [(r"main\.", "net.")]),
        "discriminator": rename(d, [(r"main\.", "net.")]),
    }
    return assemble("dcgan", hparams, networks)
