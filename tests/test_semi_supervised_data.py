"""Semi-supervised batches (datamodules/semi_supervised.py): the labelled subset is balanced, seeded and made of
distinct examples; batches put the labelled examples first and hide the others' labels; the order resumes exactly
and shards over ranks."""

from __future__ import annotations

import pytest
import torch

from datamodules.semi_supervised import SemiSupervisedBatchSampler, SemiSupervisedView, balanced_labelled_subset
from tests.conftest import SHARED_MNIST
from tests.helpers import tiny_digits
from zoo.errors import ZooError

LABELS = torch.arange(200) % 10  # 20 examples of each class


def test_labelled_subset_is_balanced_seeded_and_distinct():
    chosen = balanced_labelled_subset(LABELS, 30, 10, seed=1)
    assert len(set(chosen.tolist())) == 30
    assert torch.equal(torch.bincount(LABELS[chosen], minlength=10), torch.full((10,), 3))
    assert torch.equal(LABELS[chosen], torch.arange(10).repeat_interleave(3))  # sorted by class
    assert torch.equal(chosen, balanced_labelled_subset(LABELS, 30, 10, seed=1))
    assert not torch.equal(chosen, balanced_labelled_subset(LABELS, 30, 10, seed=2))


def test_labelled_subset_refuses_unbalanced_counts():
    with pytest.raises(ZooError, match="multiple of the 10 classes"):
        balanced_labelled_subset(LABELS, 15, 10, seed=0)
    with pytest.raises(ZooError, match="class 0 has 20 training examples, fewer than the 21"):
        balanced_labelled_subset(LABELS, 210, 10, seed=0)


def sampler(consumed: int = 0, rank: int = 0, world: int = 1) -> SemiSupervisedBatchSampler:
    labelled = balanced_labelled_subset(LABELS, 20, 10, seed=0)
    return SemiSupervisedBatchSampler(200, labelled, 10, 50, seed=3, rank=rank, world_size=world,
                                      batches_consumed=lambda: consumed)  # fmt: skip


def test_batches_put_labelled_first_and_cover_the_unlabelled_pool_once_per_epoch():
    batches = list(sampler())
    assert len(batches) == 4 and all(len(b) == 60 for b in batches)
    labelled = set(balanced_labelled_subset(LABELS, 20, 10, seed=0).tolist())
    assert all(set(b[:10]) <= labelled for b in batches)
    # every labelled example once per pass of 2 batches
    assert sorted(batches[0][:10] + batches[1][:10]) == sorted(labelled)
    unlabelled = [p - 200 for b in batches for p in b[10:]]
    assert all(p >= 0 for p in unlabelled) and sorted(unlabelled) == list(range(200))


def test_batch_order_resumes_and_shards_over_ranks():
    whole = list(sampler()) + list(sampler(consumed=4))  # two epochs
    assert list(sampler(consumed=3)) == whole[3:4]
    assert list(sampler(consumed=5)) == whole[5:8]
    assert whole[:4] != whole[4:]  # a new permutation every epoch
    rank0, rank1 = list(sampler(world=2)), list(sampler(rank=1, world=2))
    assert len(rank0) == 2 and [b[:10] for b in rank0] == [b[:10] for b in rank1]  # same labelled batches
    assert not {p for b in rank0 for p in b[10:]} & {p for b in rank1 for p in b[10:]}


def test_view_hides_the_labels_of_unlabelled_positions():
    images = torch.arange(4, dtype=torch.uint8).view(4, 1, 1, 1)
    dataset = torch.utils.data.TensorDataset(images, torch.tensor([7, 8, 9, 6]))
    got_images, labels, num_labelled = SemiSupervisedView(dataset).__getitems__([2, 0, 5, 7])
    assert got_images.flatten().tolist() == [2, 0, 1, 3]
    assert labels.tolist() == [9, 7, -1, -1] and num_labelled == 2


def test_digits_datamodule_yields_semi_supervised_batches():
    dm = tiny_digits(batch_size=40, labelled=20, labelled_batch_size=20, seed=0)
    dm.setup("fit")
    loader = dm.train_dataloader()
    assert len(loader) == 1797 // 40
    images, labels, num_labelled = dm.on_after_batch_transfer(next(iter(loader)), 0)
    assert images.shape == (60, 1, 16, 16) and images.dtype == torch.float32 and images.min() >= -1
    assert num_labelled == 20 and bool((labels[:20] >= 0).all()) and bool((labels[20:] == -1).all())
    assert torch.equal(torch.bincount(labels[:20], minlength=10), torch.full((10,), 2))
    plain = tiny_digits(batch_size=40)
    plain.setup("fit")
    assert len(next(iter(plain.train_dataloader()))) == 2  # without labelled: (images, labels) as before


def test_datamodule_refuses_bad_labelled_settings():
    with pytest.raises(ZooError, match="--data.labelled must be >= 1"):
        tiny_digits(labelled=0)
    with pytest.raises(ZooError, match="labelled_batch_size must be >= 1"):
        tiny_digits(labelled=10, labelled_batch_size=0)


@pytest.mark.skipif(not (SHARED_MNIST / "MNIST" / "raw").is_dir(), reason="needs ../shared/data (real MNIST)")
def test_mnist_evaluation_split_is_the_test_set():
    from datamodules.mnist import MNISTDataModule

    images, labels = MNISTDataModule(root=str(SHARED_MNIST), resolution=28, labelled=100).evaluation_split()
    assert images.shape == (10_000, 1, 28, 28) and images.dtype == torch.uint8
    assert torch.equal(torch.bincount(labels)[:3], torch.tensor([980, 1135, 1032]))  # MNIST's test class counts
