"""benchmarks/translation.py: the domain renderings, the CelebA-layout tree read back by the celeba datamodule,
and a short CycleGAN run on real MNIST that must learn most of the inversion it is scored on."""

from argparse import Namespace

import numpy as np
import pytest
import torch

from benchmarks import translation
from datamodules.celeba import CelebADataModule
from tests.conftest import SHARED_MNIST

#: a short run: 120 iterations at width 8 put 77% of the pixels within 32 levels of the truth in both directions
#: (2026-11-24, this repo's 2-core CPU); untrained, 3%
ITERATIONS, FLOOR = 120, 0.6


def test_renderings_of_the_four_domains():
    digit = np.array([[[0, 200]]], dtype=np.uint8)  # one 1x2 "digit"
    cases = {(0, 0): [[0, 0, 0], [200, 200, 200]], (0, 1): [[0, 0, 0], [200, 0, 0]],
             (1, 0): [[255, 255, 255], [55, 55, 55]], (1, 1): [[255, 255, 255], [55, 255, 255]]}  # fmt: skip
    for (inverted, red), pixels in cases.items():
        assert translation.render(digit, np.array([inverted]), np.array([red]))[0, 0].tolist() == pixels


def test_celeba_layout_holds_each_digit_in_its_drawn_domain(tmp_path):
    rng = np.random.default_rng(1)
    train, test = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8), rng.integers(0, 256, (4, 28, 28), dtype=np.uint8)
    args = Namespace(train_images=12, test_images=4, seed=0)
    root, held_out = translation.write_celeba_layout(tmp_path, train, test, args)
    domains = np.random.default_rng(0).integers(0, 2, (16, 2))  # what the writer drew, seed 0
    assert (held_out["digits"] == test).all() and (held_out["domains"] == domains[12:]).all()
    for split, digits, drawn in (("train", train, domains[:12]), ("test", test, domains[12:])):
        dm = CelebADataModule(str(root), split=split, attributes=translation.DOMAINS, resolution=28, cache=False)
        dm.setup()
        for i in range(len(dm.dataset)):
            image, labels, _ = dm.dataset[i]
            expected = translation.render(digits[i : i + 1], drawn[i : i + 1, 0], drawn[i : i + 1, 1])[0]
            assert labels.tolist() == drawn[i].tolist()
            assert torch.equal(image, torch.from_numpy(expected).permute(2, 0, 1))


@pytest.mark.skipif(
    not (SHARED_MNIST / "MNIST" / "raw").is_dir(), reason=f"no MNIST idx files in {SHARED_MNIST / 'MNIST' / 'raw'}"
)
def test_a_short_cyclegan_run_learns_most_of_the_inversion(tmp_path):
    args = Namespace(root=str(SHARED_MNIST), entries=["cyclegan"], generator_steps=ITERATIONS, batch_size=8, width=8,
                     blocks=1, train_images=400, test_images=50, seed=0, work_dir=str(tmp_path), record=False,
                     block="unused")  # fmt: skip
    result = translation.run(args)["entries"]["cyclegan"]
    assert result["iterations"] == result["generator_steps"] == ITERATIONS
    for task in ("A -> B", "B -> A"):
        # inverting changes nearly every pixel by ~240 levels on average; the run must get most pixels right
        assert result["identity"][task].mae > 200 and result["untrained"][task].within < 0.2
        assert result["trained"][task].within > FLOOR, (task, result["trained"][task])
