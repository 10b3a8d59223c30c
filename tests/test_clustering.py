"""metrics/clustering.py: the best one-to-one mapping of clusters to classes, checked by hand."""

import pytest
import torch

from metrics.clustering import clustering_accuracy, confusion_matrix


def test_a_permuted_perfect_clustering_scores_100_percent():
    permutation = torch.tensor([3, 0, 4, 1, 2])
    confusion = torch.diag(torch.tensor([5, 6, 7, 8, 9]))[permutation]
    accuracy, mapping = clustering_accuracy(confusion)
    assert accuracy == 1.0
    assert mapping == {k: int(permutation[k]) for k in range(5)}


def test_the_hungarian_mapping_beats_the_greedy_one():
    # greedy would give cluster 0 class 0 (count 10), then cluster 1 class 1 (count 1): 11 of 29;
    # the best one-to-one mapping is 0 -> 1, 1 -> 0: 9 + 9 = 18 of 29
    confusion = torch.tensor([[10, 9], [9, 1]])
    accuracy, mapping = clustering_accuracy(confusion)
    assert accuracy == pytest.approx(18 / 29)
    assert mapping == {0: 1, 1: 0}


def test_confusion_matrix_counts_cluster_class_pairs():
    clusters, labels = torch.tensor([0, 0, 1, 2, 2, 2]), torch.tensor([1, 1, 0, 2, 2, 0])
    assert confusion_matrix(clusters, labels, 3, 3).tolist() == [[0, 2, 0], [1, 0, 0], [1, 0, 2]]
    assert clustering_accuracy(confusion_matrix(clusters, labels, 3, 3))[0] == pytest.approx(5 / 6)
