"""yunjey/stargan (https://github.com/yunjey/stargan, model.py: ``Generator``, ``ResidualBlock``,
``Discriminator``; solver.py ``save``/``restore_model``) -> zoo ``stargan``.

Their solver saves ``{iter}-G.ckpt`` and ``{iter}-D.ckpt`` every ``model_save_step`` iterations, each
``torch.save(net.state_dict(), ...)``. The zoo's translator is their G layer for layer (``main.<i>`` ->
``net.<i>``, a residual block's ``main.<j>`` -> ``body.<j>``) with the instance norms' running statistics kept
(``running_stats``), so eval mode equals their ``G.eval()`` and train mode their solver's translations; their D's
trunk ``main``, ``conv1`` (D_src) and ``conv2`` (D_cls) are the zoo's ``trunk``, ``source`` and ``domains``.

The files do not record the domain names: five domains get their solver's CelebA default (``--selected_attrs``
Black_Hair Blond_Hair Brown_Hair Male Young), any other count ``domain_0`` ... The resolution is D_cls's kernel
times 2 per D layer (128 px for theirs).
"""

from __future__ import annotations

import re
from pathlib import Path

from zoo.importers import FileSet, Imported, assemble, read_state_dict, rename, shape_of

NAME = "stargan"
FILES = FileSet(re.compile(r"(?P<stem>\d+)-(?P<part>[GD])\.ckpt"), "{stem}-{part}.ckpt", ("G", "D"))
#: their solver.py's default ``--selected_attrs`` (CelebA), the domains of a five-domain checkpoint
CELEBA_DOMAINS = ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]


def detect(path: Path) -> bool:
    return FILES.detect(path)


def load(path: Path) -> Imported:
    """``{iter}-G.ckpt`` or ``{iter}-D.ckpt`` (and its sibling of the same iteration), or their folder."""
    files = FILES.locate(path, NAME)
    g, d = (read_state_dict(files[part], NAME) for part in ("G", "D"))
    first = shape_of(g, "main.0.weight", files["G"], NAME)
    classifier = shape_of(d, "conv2.weight", files["D"], NAME)
    num_domains, d_layers = classifier[0], len({key.split(".")[1] for key in d if key.startswith("main.")})
    hparams = {
        "domains": CELEBA_DOMAINS if num_domains == 5 else [f"domain_{i}" for i in range(num_domains)],
        "resolution": classifier[2] * 2**d_layers,
        "channels": first[1] - num_domains,
        "width": first[0],
        "blocks": len({key.split(".")[1] for key in g if re.match(r"main\.\d+\.main\.", key)}),
        "d_width": shape_of(d, "main.0.weight", files["D"], NAME)[0],
        "d_layers": d_layers,
        "running_stats": True,
    }
    networks = {
        "generator": rename(g, [(r"main\.(\d+)\.main\.", r"net.\1.body."), (r"main\.", "net.")]),
        "discriminator": rename(d, [(r"main\.", "trunk."), (r"conv1\.", "source."), (r"conv2\.", "domains.")]),
    }
    return assemble("stargan", hparams, networks)
