"""benchmarks/text2image.py: its scores by hand, and the whole protocol at a tiny budget with stand-ins for the
MNIST classifier and its features (no classifier training in a test)."""

from __future__ import annotations

import math

import pytest
import torch

from benchmarks import protocol_script, text2image
from datamodules import text_embeddings
from datamodules.captioned_mnist import build, class_id
from datamodules.captions import CaptionsDataModule
from metrics.mnist_classifier import MNISTClassifier
from tests.conftest import SHARED_MNIST
from tests.helpers import protocol_args
from tests.test_text_to_image import fake_features


def test_auc_by_hand():
    assert text2image.auc(torch.tensor([3.0, 4.0]), torch.tensor([1.0, 2.0])) == 1.0
    assert text2image.auc(torch.tensor([1.0, 4.0]), torch.tensor([2.0, 3.0])) == 0.5  # 2 of 4 pairs ordered
    assert text2image.auc(torch.tensor([2.0]), torch.tensor([2.0, 1.0])) == 0.75  # a tie counts half


def test_mean_pairwise_distance_by_hand():
    points = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 4.0]])
    assert text2image.mean_pairwise_distance(points) == pytest.approx((5 + 4 + 3) / 3)


def test_caption_targets_decode_the_class():
    classes = torch.tensor([class_id(7, 2, 2), class_id(0, 0, 1), class_id(4, 1, 0)])
    targets = text2image.caption_targets(classes, torch.zeros(3, 1, 28, 28, dtype=torch.uint8))
    assert targets["digit"].tolist() == [7, 0, 4]
    assert targets["thickness"].tolist() == [2, 0, 1] and targets["slant"].tolist() == [2, 1, 0]


def test_the_protocol_end_to_end_at_a_tiny_budget(tmp_path, monkeypatch):
    if not (SHARED_MNIST / "MNIST" / "raw").is_dir():
        pytest.skip("../shared/data/MNIST/raw absent")
    small = {"alphabet_size": 70, "channels": (8, 8, 8), "embedding_dim": 128}
    monkeypatch.setattr(
        CaptionsDataModule,
        "encoder_settings",
        text_embeddings.EncoderSettings(steps=2, image_features="mnist_classifier", architecture=small),
    )
    monkeypatch.setattr(text_embeddings, "mnist_classifier_features", lambda root: fake_features)
    build(SHARED_MNIST, tmp_path / "cm", limit=80, data_seed=0)
    args = protocol_args(
        text2image,
        "--root", str(SHARED_MNIST), "--out", str(tmp_path / "cm"), "--limit", "80", "--generator_steps", "2",
        "--batch_size", "16", "--width", "4", "--text_features", "4", "--eval_images", "40",
        "--diversity_samples", "3", "--text_encoder_steps", "2", "--entries", "gan_t2i", "baseline",
        "baseline_one_caption",
    )  # fmt: skip
    torch.manual_seed(0)
    result = text2image.run(args, classifier=MNISTClassifier().eval())
    assert list(result["entries"]) == ["gan_t2i", "baseline", "baseline_one_caption"] and result["eval_images"] == 40
    assert [row["num_captions"] for row in result["entries"].values()] == [4, 4, 1]
    for row in result["entries"].values():
        assert row["generator_steps"] == 2 and 0 <= row["auc"] <= 1 and row["diversity"] >= 0
        assert all(0 <= row[f"{name}_seen"] <= 1 for name in ("digit", "thickness", "slant", "size"))
    # real digits match their own captions' thickness and slant, up to the 28 -> 32 px resize
    assert result["real"]["slant_seen"] > 0.8 and result["real"]["thickness_seen"] > 0.6
    assert not math.isnan(result["real"]["slant_held_out"])
    text = text2image.table(result, args)
    assert "| gan_t2i | 2 |" in text and "| baseline | 2 |" in text and "| baseline_one_caption | 2 |" in text
    assert (  # each row's text input is named: stackgan's and stackgan2's baseline takes their one caption
        "Text input per image, in training and sampling: one random caption (baseline_one_caption); the mean of 4 "
        "random captions (gan_t2i, baseline)." in text
    )
    command = protocol_script.command_line(text2image, args)  # the line report_protocol records above the table
    assert command.startswith("python benchmarks/quality.py text2image --root ") and command.endswith(" --record")
    entries = "--entries gan_t2i baseline baseline_one_caption"
    assert f"{entries} --generator_steps 2 --batch_size {args.batch_size} " in command
