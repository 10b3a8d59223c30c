"""Clustering accuracy: how well unsupervised clusters (e.g. InfoGAN's categorical code) match the true classes."""

from __future__ import annotations

import torch
from torch import Tensor


def confusion_matrix(clusters: Tensor, labels: Tensor, num_clusters: int, num_classes: int) -> Tensor:
    """(num_clusters, num_classes) int64 counts: entry (k, c) counts the examples of class c put in cluster k."""
    return torch.bincount(clusters * num_classes + labels, minlength=num_clusters * num_classes).view(
        num_clusters, num_classes
    )


def clustering_accuracy(confusion: Tensor) -> tuple[float, dict[int, int]]:
    """The accuracy of the best one-to-one mapping of clusters to classes, and the mapping {cluster: class}: the
    assignment that maximizes the matched counts of ``confusion`` (clusters x classes), found exactly by the Hungarian
    method (scipy's linear_sum_assignment), as unsupervised-clustering papers score MNIST."""
    from scipy.optimize import linear_sum_assignment

    counts = confusion.double().cpu().numpy()
    rows, cols = linear_sum_assignment(counts, maximize=True)
    matched = counts[rows, cols].sum()
    return float(matched / counts.sum()), {int(r): int(c) for r, c in zip(rows, cols)}
