"""benchmarks/limited_data.py (`quality.py limited_data`): the balanced MNIST subset, the coverage and confidence
scores on a stand-in classifier, and a tiny end-to-end run of augment none vs ada."""

import math
from functools import partial

import pytest
import torch
from torch import nn

from benchmarks import limited_data
from benchmarks.results import RESULTS
from metrics.mnist_classifier import read_mnist
from tests.conftest import SHARED_MNIST
from tests.helpers import protocol_args, quality_subcommand_args

needs_mnist = pytest.mark.skipif(
    not (SHARED_MNIST / "MNIST" / "raw").is_dir(), reason=f"no MNIST idx files in {SHARED_MNIST / 'MNIST' / 'raw'}"
)


class SevenReader(nn.Module):
    """Stands in for the MNIST classifier: logits that give class 7 probability 3 / 12 for every image."""

    def forward(self, digits):
        logits = torch.zeros(len(digits), 10)
        logits[:, 7] = math.log(3)
        return logits


#: ``limited_data``'s options from command-line words
parse = partial(protocol_args, limited_data)


def test_coverage_counts_classes_and_averages_the_top_probability():
    scored = limited_data.coverage(SevenReader(), torch.zeros(5, 1, 16, 16))
    assert scored == {"classes_hit": 1, "kl": pytest.approx(math.log(10)), "confidence": pytest.approx(0.25)}


def test_quality_runs_it_as_its_limited_data_subcommand(monkeypatch):
    args = quality_subcommand_args(monkeypatch, "limited_data", "--root", "mnist", "--iterations", "7")
    assert (args.root, args.iterations, args.entry, args.per_class) == ("mnist", 7, "dcgan", 100)
    assert args.augments == ["none", "ada"]


@needs_mnist
def test_the_subset_is_the_first_digits_of_each_class_in_file_order():
    data = limited_data.BalancedMNIST(3, root=str(SHARED_MNIST), resolution=16)
    data.setup()
    _, labels = read_mnist(str(SHARED_MNIST), train=True)
    first = sorted(i for c in range(10) for i in (labels == c).nonzero()[:3, 0].tolist())
    assert torch.equal(data.dataset.labels, labels[first])
    assert torch.bincount(data.dataset.labels).tolist() == [3] * 10 and data.dataset.images.shape == (30, 1, 16, 16)


@needs_mnist
def test_tiny_run_trains_and_scores_none_and_ada_without_recording():
    before = RESULTS.read_text() if RESULTS.exists() else None
    args = parse("--root", str(SHARED_MNIST), "--iterations", "4", "--per_class", "4", "--batch_size", "8")
    args.width, args.eval_samples = 4, 40
    result = limited_data.run(args, classifier=SevenReader())
    assert result["train_digits"] == 40 and result["real_held_out"]["classes_hit"] == 1
    none, ada = result["runs"]["none"], result["runs"]["ada"]
    assert none["kimg"] == ada["kimg"] == 4 * 8 / 1000 and none["p"] is None and none["rt"] is None
    # one ADA update after 4 iterations: p = max(0, 0 + sign(r_t - 0.6) * 8 * 4 / (10 * 1000))
    assert ada["p"] == pytest.approx(0.0032 if ada["rt"] > 0.6 else 0.0)
    assert -1 <= ada["sign_train"] <= 1 and (ada["classes_hit"], ada["confidence"]) == (1, pytest.approx(0.25))
    lines = limited_data.table(result, args).splitlines()
    assert any(line.startswith("| none | 0 |") and line.endswith("| - | - |") for line in lines)
    assert any(line.startswith("| ada | 0 |") for line in lines)
    assert (RESULTS.read_text() if RESULTS.exists() else None) == before
