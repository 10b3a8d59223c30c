"""Stacked MNIST mode coverage (metrics/stacked_mnist.py) and its MNIST classifier (metrics/mnist_classifier.py)."""

import math

import pytest
import torch
from torch import nn

from metrics.mnist_classifier import MNISTClassifier, cache_path, load_classifier, mnist_test_accuracy, train_classifier
from metrics.mode_coverage import kl_from_uniform
from metrics.stacked_mnist import classify_stacked, coverage, modes_of_digits, stacked_mnist_coverage
from tests.conftest import SHARED_MNIST
from zoo.base import GANModule
from zoo.errors import ZooError

needs_mnist = pytest.mark.skipif(
    not (SHARED_MNIST / "MNIST" / "raw").is_dir(), reason=f"no MNIST idx files in {SHARED_MNIST / 'MNIST' / 'raw'}"
)


def test_modes_and_kl_of_hand_made_digit_triples():
    digits = torch.tensor([[1, 2, 3], [1, 2, 3], [9, 9, 9], [0, 0, 7]])  # (R, G, B)
    modes = modes_of_digits(digits)
    assert modes.tolist() == [123, 123, 999, 7]
    result = coverage(modes)
    assert (result.modes, result.total_modes, result.samples) == (3, 1000, 4)
    # p = (1/2, 1/4, 1/4): KL = 1/2 log(1000/2) + 2 * 1/4 log(1000/4)
    assert result.kl == pytest.approx(0.5 * math.log(500) + 0.5 * math.log(250))
    assert coverage(torch.full((50,), 42)).kl == pytest.approx(math.log(1000))  # one mode: log K
    every_mode = coverage(torch.arange(1000).repeat(3))
    assert every_mode.modes == 1000 and every_mode.kl == 0.0
    assert kl_from_uniform(torch.tensor([3, 1, 0, 0])) == pytest.approx(0.75 * math.log(3) + 0.25 * math.log(1))


class DigitReader(nn.Module):
    """Stands in for the classifier: reads the digit a channel encodes as its constant value."""

    def predict(self, digits):
        return ((digits.mean(dim=(1, 2, 3)) + 1) * 4.5).round().long()


def digit_images(digits: torch.Tensor, size: int = 8) -> torch.Tensor:
    """(N, 3) digits -> (N, 3, size, size) images whose channel c is the constant d_c / 4.5 - 1."""
    return (digits.float() / 4.5 - 1)[:, :, None, None].expand(-1, -1, size, size)


def test_each_channel_is_classified_in_rgb_order():
    digits = torch.tensor([[4, 0, 2], [0, 0, 9], [7, 7, 1]])
    assert classify_stacked(digit_images(digits), DigitReader()).tolist() == [402, 9, 771]
    with pytest.raises(ZooError, match="3 channels"):
        classify_stacked(torch.zeros(2, 1, 8, 8), DigitReader())


class StackedEcho(GANModule):
    """A conditional 'GAN' over the 1,000 modes that draws exactly the mode of its label."""

    def __init__(self):
        super().__init__(latent_dim=2, num_classes=1000)
        self.discriminator = nn.Identity()
        self.generator = nn.Identity()

    def generate(self, net, z, y):
        return digit_images(torch.stack([y // 100, y // 10 % 10, y % 10], dim=1))


def test_coverage_of_generated_samples_counts_their_modes():
    model = StackedEcho()
    result = stacked_mnist_coverage(model, DigitReader(), num_samples=2600, batch_size=700, seed=1)
    rng = torch.Generator().manual_seed(1)
    model.sample_latent(2600, generator=rng)
    expected = coverage(model.sample_labels(2600, generator=rng))  # the labels model.sample would draw
    assert result == expected and 900 < result.modes < 1000  # 2,600 uniform draws miss about 74 modes


def test_cached_classifier_is_loaded_without_training(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_ZOO_CACHE", str(tmp_path))
    with pytest.raises(ZooError, match="the Stacked MNIST classifier is trained on MNIST: .*MNIST"):
        load_classifier(root=str(tmp_path / "no-data"))  # nothing cached, no data: the message names both
    torch.manual_seed(0)
    stored = MNISTClassifier()
    assert cache_path() == tmp_path / "mnist_classifier_v1.pt"
    torch.save({"state_dict": stored.state_dict(), "test_accuracy": 0.5}, cache_path())
    loaded = load_classifier(root=str(tmp_path / "no-data"))
    for name, value in stored.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value), name
    assert not loaded.training


@needs_mnist
def test_classifier_trained_on_a_subset_reads_test_digits():
    # the cached classifier trains on all 60k digits for 5 epochs (99.3%, benchmarks/stacked_mnist.py);
    # 4,000 digits for 2 epochs must already clear 95% on the first 1,000 test digits
    model = train_classifier(str(SHARED_MNIST), limit=4000, epochs=2, batch_size=32, lr=3e-3)
    assert mnist_test_accuracy(model, str(SHARED_MNIST), limit=1000) >= 0.95
    assert mnist_test_accuracy(model, str(SHARED_MNIST), resolution=32, limit=1000) >= 0.95  # Stacked MNIST's size
