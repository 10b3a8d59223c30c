"""Small training harness for in-process tests (the CLI is tested through subprocesses)."""

from __future__ import annotations

import argparse
import logging
import struct
import sys
import warnings

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image

from callbacks import AtomicCheckpointIO
from datamodules.digits import DigitsDataModule
from zoo.dcgan import DCGAN

logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", ".*does not have many workers.*")


def tiny_dcgan(**kwargs) -> DCGAN:
    return DCGAN(**{"resolution": 16, "channels": 1, "ngf": 8, "ndf": 8, "latent_dim": 16, **kwargs})


def tiny_digits(**kwargs) -> DigitsDataModule:
    return DigitsDataModule(**{"resolution": 16, "batch_size": 32, **kwargs})


def make_trainer(iterations: int, d_steps: int = 1, callbacks=(), **kwargs) -> pl.Trainer:
    """A CPU trainer that stops after ``iterations`` D updates: under manual optimization
    max_steps counts optimizer steps, one per D update plus one per G update."""
    steps = iterations + iterations // d_steps
    defaults = {
        "accelerator": "cpu",
        "max_steps": steps,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "use_distributed_sampler": False,
        "plugins": [AtomicCheckpointIO()],
    }
    return pl.Trainer(callbacks=list(callbacks), **{**defaults, **kwargs})


def printed_config_group(capsys, group: str) -> str:
    """The ``group:`` section of what ``python cli.py fit --model dcgan --print_config`` prints."""
    import pytest

    from cli import main

    with pytest.raises(SystemExit) as exit_code:
        main(["fit", "--model", "dcgan", "--print_config"])
    assert exit_code.value.code == 0
    config = capsys.readouterr().out
    return config[config.index(f"\n{group}:") :].split("\n\n")[0]


def first_batch(dm):
    """The first training batch of a datamodule, as the model receives it (after the batch hooks)."""
    dm.setup("fit")
    images, labels = next(iter(dm.train_dataloader()))
    return dm.on_after_batch_transfer([images, labels], 0)


def write_idx(path, array: torch.Tensor, magic: int):
    """Writes ``array`` in the idx format of the MNIST files (big-endian header, then uint8 data)."""
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(header + array.to(torch.uint8).numpy().tobytes())


def grid_size(rows: int, columns: int, px: int, padding: int = 2) -> tuple[int, int]:
    """(width, height) of a torchvision ``make_grid`` picture of ``rows`` x ``columns`` px-sized tiles."""
    return columns * (px + padding) + padding, rows * (px + padding) + padding


#: line 2 of list_attr_celeba.txt
ATTRIBUTE_HEADER = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair Blond_Hair "
    "Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup High_Cheekbones "
    "Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose Receding_Hairline "
    "Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat Wearing_Lipstick "
    "Wearing_Necklace Wearing_Necktie Young"
)
PARTITION = [0, 0, 0, 0, 1, 2]  # images 1-4 train, 5 valid, 6 test
RED, GREEN = (230, 20, 20), (20, 230, 0)


def attributes_of(k: int) -> list[int]:
    """Image k's attributes in the file's -1/1 coding: attribute j is set when (j + k) % 3 == 0."""
    return [1 if (j + k) % 3 == 0 else -1 for j in range(40)]


def face(k: int) -> Image.Image:
    """A 178x218 'aligned face': red border, green central 140x140 square (the crop-140 region, left 19,
    top 39), whose blue channel is 40 * k to identify image k."""
    array = np.zeros((218, 178, 3), dtype=np.uint8)
    array[:] = RED
    array[39:179, 19:159] = (*GREEN[:2], 40 * k)
    return Image.fromarray(array)


def write_celeba(tmp_path):
    """tmp_path/celeba/ as torchvision lays it out, with 6 images."""
    folder = tmp_path / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    for k, split in enumerate(PARTITION, start=1):
        face(k).save(folder / "img_align_celeba" / f"{k:06d}.jpg", quality=95)
    (folder / "list_eval_partition.txt").write_text("".join(f"{k:06d}.jpg {s}\n" for k, s in enumerate(PARTITION, 1)))
    rows = [f"{k:06d}.jpg " + " ".join(f"{v:2d}" for v in attributes_of(k)) for k in range(1, 7)]
    (folder / "list_attr_celeba.txt").write_text(f"6\n{ATTRIBUTE_HEADER} \n" + "\n".join(rows) + "\n")
    return tmp_path


def protocol_args(module, *argv: str) -> argparse.Namespace:
    """A benchmark protocol ``module``'s options parsed from ``argv`` (its defaults for the rest)."""
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser.parse_args(list(argv))


def quality_subcommand_args(monkeypatch, name: str, *argv: str) -> argparse.Namespace:
    """The options ``python benchmarks/quality.py NAME ARGV`` hands to ``benchmarks/NAME.py``'s ``main_with``."""
    from benchmarks import quality

    seen = []
    monkeypatch.setattr(getattr(quality, name), "main_with", seen.append)
    monkeypatch.setattr(sys, "argv", ["quality.py", name, *argv])
    quality.main()
    (args,) = seen
    return args
