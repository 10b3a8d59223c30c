"""benchmarks/conditional.py (`quality.py conditional`): class accuracy and class coverage of conditional entries,
scored on hand-made models and run end to end at a tiny budget with a stand-in classifier."""

import json
import math
from functools import partial

import pytest
import torch
from torch import nn

from benchmarks import conditional
from benchmarks.results import RESULTS
from metrics.mode_coverage import kl_from_uniform
from tests.conftest import SHARED_MNIST
from tests.helpers import protocol_args, quality_subcommand_args
from zoo import get_model
from zoo.base import GANModule
from zoo.sampling import seeded

needs_mnist = pytest.mark.skipif(
    not (SHARED_MNIST / "MNIST" / "raw").is_dir(), reason=f"no MNIST idx files in {SHARED_MNIST / 'MNIST' / 'raw'}"
)


class DigitReader(nn.Module):
    """Stands in for the MNIST classifier: reads the digit an image encodes as its constant value."""

    def predict(self, digits):
        return ((digits.mean(dim=(1, 2, 3)) + 1) * 4.5).round().long()


class ConstantReader(nn.Module):
    """Stands in for the MNIST classifier: every image is a 7."""

    def predict(self, digits):
        return torch.full((len(digits),), 7)


class DigitPainter(GANModule):
    """A conditional 'GAN' that paints the digit it is asked for, except that it paints 0 for 3."""

    def __init__(self):
        super().__init__(latent_dim=2, num_classes=10)
        self.generator, self.discriminator = nn.Identity(), nn.Identity()

    def generate(self, net, z, y):
        painted = torch.where(y == 3, torch.zeros_like(y), y)
        return (painted.float() / 4.5 - 1)[:, None, None, None].expand(-1, 1, 8, 8)


def labels_drawn(model, n: int, seed: int) -> torch.Tensor:
    """The labels ``model.sample(n, seed=seed)`` (and so the benchmark) asks for."""
    rng = seeded(seed)
    model.sample_latent(n, generator=rng)
    return model.sample_labels(n, generator=rng)


def test_score_counts_requested_classes_read_back_and_the_class_histogram():
    model = DigitPainter()
    score = conditional.conditional_score(model, DigitReader(), num_samples=3000, batch_size=700, seed=2)
    requested = labels_drawn(model, 3000, seed=2)
    predicted = torch.where(requested == 3, 0, requested)
    assert score.samples == 3000 and score.classes_hit == 9  # no sample is read as a 3
    assert score.accuracy == pytest.approx(float((requested != 3).double().mean()))
    assert score.worst_class_accuracy == 0.0  # every 3 is read as a 0
    assert score.kl == pytest.approx(kl_from_uniform(torch.bincount(predicted, minlength=10)))
    assert 0.1 < score.kl < 0.2  # p(0) ~ 0.2, eight classes at ~0.1: 0.2 log 2 = 0.139


#: ``conditional``'s options from command-line words
parse = partial(protocol_args, conditional)


def test_quality_runs_it_as_its_conditional_subcommand(monkeypatch):
    args = quality_subcommand_args(monkeypatch, "conditional", "--root", "mnist", "--generator_steps", "7")
    assert (args.root, args.generator_steps, args.entries) == ("mnist", 7, ["cgan", "acgan", "sngan_projection"])


def test_entries_get_the_benchmark_shape_width_and_their_own_extra_arguments():
    args = parse("--width", "8", "--model_args", '{"acgan": {"latent_dim": 12}}', "--seed", "3")
    model = conditional.build("acgan", args)
    assert (model.latent_dim, model.num_classes, model.hparams.ngf, model.hparams.seed) == (12, 10, 8, 3)
    assert model.sample(2, seed=0).shape == (2, 1, 32, 32)


@needs_mnist
def test_tiny_run_trains_and_scores_each_entry_without_recording():
    before = RESULTS.read_text() if RESULTS.exists() else None
    args = parse("--root", str(SHARED_MNIST), "--entries", "cgan", "acgan", "--generator_steps", "2")
    args.width, args.eval_samples, args.batch_size, args.curve_every, args.curve_samples = 8, 60, 16, 1, 60
    result = conditional.run(args, classifier=ConstantReader())
    sevens = float((labels_drawn(get_model("cgan")(resolution=32, channels=1), 60, seed=0) == 7).double().mean())
    assert result["classifier_accuracy_32px"] == pytest.approx(1028 / 10000)  # the test split has 1,028 sevens
    for entry in ("cgan", "acgan"):
        scored = result["entries"][entry]
        assert (scored["generator_steps"], scored["kimg"], scored["samples"]) == (2, 2 * 16 / 1000, 60)
        assert scored["accuracy"] == pytest.approx(sevens)
        assert (scored["classes_hit"], scored["kl"]) == (1, pytest.approx(math.log(10)))
        assert scored["curve"] == {1: pytest.approx(sevens), 2: pytest.approx(sevens)}  # scored at G steps 1 and 2
    lines = conditional.table(result, args).splitlines()
    assert f"- cgan: 1: {100 * sevens:.1f}%, 2: {100 * sevens:.1f}%" in lines
    assert any(line.startswith("| cgan | 2 | 0 |") for line in lines)
    assert any(line.startswith("| acgan | 2 | 0 |") for line in lines)
    assert (RESULTS.read_text() if RESULTS.exists() else None) == before


@needs_mnist
def test_scoring_during_training_leaves_the_training_run_unchanged():
    from datamodules.mnist import MNISTDataModule

    args = parse("--root", str(SHARED_MNIST), "--generator_steps", "3", "--width", "4", "--batch_size", "8")
    trained = []
    for callbacks in ([], [conditional.accuracy_curve_callback(ConstantReader(), 1, 20, seed=0)]):
        torch.manual_seed(0)
        model = conditional.build("cgan", args)
        conditional.train(model, MNISTDataModule(root=str(SHARED_MNIST), resolution=32, batch_size=8), args, callbacks)
        trained.append(list(model.parameters()) + list(model.buffers()))
    assert list(callbacks[0].curve) == [1, 2, 3]
    assert all(torch.equal(a, b) for a, b in zip(*trained, strict=True))


@needs_mnist
def test_the_budget_counts_generator_steps_whatever_the_entry_s_optimizer_steps_per_iteration():
    from datamodules.mnist import MNISTDataModule

    tiny = {"latent_dim": 8, "w_dim": 8, "channel_base": 64, "channel_max": 8}
    args = parse("--root", str(SHARED_MNIST), "--generator_steps", "3", "--model_args", json.dumps({"stylegan2": tiny}))
    model = conditional.build("stylegan2", args)  # NVlabs' phases: 4, 2 and 2 optimizer steps in iterations 0-2
    conditional.train(model, MNISTDataModule(root=str(SHARED_MNIST), resolution=32, batch_size=8), args)
    assert (model.generator_steps, model.iterations, model.trainer.global_step) == (3, 3, 8)
