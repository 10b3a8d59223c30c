"""Mode coverage on Stacked MNIST: the VEEGAN/PacGAN protocol (REFERENCES.md).

VEEGAN (Srivastava et al. 2017, arXiv 1705.07761, Sec. 5.2, Table 2) and PacGAN (Lin et al. 2018,
arXiv 1712.04086, Sec. 5.2, Table 2): generate 26,000 samples, label each of the 3 channels with a
pre-trained MNIST classifier, so each sample falls in one of 1,000 modes (``100 * d_R + 10 * d_G +
d_B``, as datamodules/stacked_mnist.py labels the real data); report the number of modes with at least
one sample and the KL divergence of the generated mode histogram from the uniform distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from metrics.mnist_classifier import MNISTClassifier
from metrics.mode_coverage import kl_from_uniform
from zoo.errors import ZooError
from zoo.sampling import sample_batches

NUM_MODES = 1000
CHANNEL_WEIGHTS = torch.tensor([100, 10, 1])  # R, G, B digits -> mode


@dataclass(frozen=True)
class StackedMNISTCoverage:
    modes: int  # modes hit by at least one sample
    total_modes: int
    kl: float  # KL(generated mode histogram || uniform over the modes)
    samples: int


def coverage(modes: Tensor, total_modes: int = NUM_MODES) -> StackedMNISTCoverage:
    """Modes hit and KL from uniform for the mode index (N,) of each sample."""
    counts = torch.bincount(modes.long().flatten(), minlength=total_modes)
    return StackedMNISTCoverage(int((counts > 0).sum()), total_modes, kl_from_uniform(counts), len(modes))


def modes_of_digits(digits: Tensor) -> Tensor:
    """(N, 3) channel digits (R, G, B) -> (N,) mode indices 100 R + 10 G + B."""
    return (digits.long() * CHANNEL_WEIGHTS.to(digits.device)).sum(dim=1)


def classify_stacked(images: Tensor, classifier: MNISTClassifier) -> Tensor:
    """The mode (N,) of each (N, 3, H, W) Stacked MNIST image: every channel classified as a digit."""
    if images.dim() != 4 or images.shape[1] != 3:
        raise ZooError(f"Stacked MNIST images have 3 channels (N, 3, H, W), got shape {tuple(images.shape)}")
    n = images.shape[0]
    digits = classifier.predict(images.reshape(n * 3, 1, *images.shape[-2:]))
    return modes_of_digits(digits.view(n, 3))


def stacked_mnist_coverage(
    model, classifier: MNISTClassifier, num_samples: int = 26_000, batch_size: int = 500, seed: int = 0
) -> StackedMNISTCoverage:
    """The protocol's numbers for a GAN trained on Stacked MNIST (26,000 samples by default)."""
    modes = [classify_stacked(images, classifier) for images, _ in sample_batches(model, num_samples, batch_size, seed)]
    return coverage(torch.cat(modes))
