"""benchmarks/stacked_text2image.py and benchmarks/mode_seeking.py: their scores by hand, where mode_seeking's
protocol says it trained, and the stage-by-stage protocol end to end at a tiny budget with stand-ins for the MNIST
classifier and the text encoder's features."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from benchmarks import mode_seeking, stacked_text2image
from datamodules import text_embeddings
from datamodules.captioned_mnist import build
from datamodules.captions import CaptionsDataModule
from metrics.mnist_classifier import MNISTClassifier
from tests.conftest import SHARED_MNIST
from tests.helpers import protocol_args
from tests.test_text_to_image import fake_features


def test_scale_consistency_by_hand():
    low, high = torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 4, 4)  # downsampled high: all 1, against 0
    top = torch.full((1, 1, 8, 8), 0.25)
    assert stacked_text2image.scale_consistency([low, high, top]) == pytest.approx([1.0, 0.75])


def test_pixel_and_feature_diversity_by_hand():
    images = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, -1.0]).view(2, 1, 2, 2)  # |difference| 1, 1, 1, 1
    flat = SimpleNamespace(training=False, eval=lambda: None, train=lambda mode: None, features=lambda x: x.flatten(1))
    pixel, feature = mode_seeking.mean_pairwise_distances(images, flat)
    assert pixel == pytest.approx(1.0) and feature == pytest.approx(2.0)  # sqrt(1 + 1 + 1 + 1)


@pytest.mark.parametrize("device, where", [("cpu", "one thread"), ("cuda", "on the GPU")])
def test_the_mode_seeking_protocol_says_where_it_trained(device, where):
    args = protocol_args(mode_seeking, "--generator_steps", "7", "--device", device)
    real = {"class_accuracy": 0.9, "pixel_diversity": 0.3, "feature_diversity": 18.0}
    assert f", 7 generator steps, {where}, one seed; " in mode_seeking.table({"real": real, "runs": {}}, args)


def test_stage_by_stage_protocol_at_a_tiny_budget(tmp_path, monkeypatch):
    if not (SHARED_MNIST / "MNIST" / "raw").is_dir():
        pytest.skip("../shared/data/MNIST/raw absent")
    small = {"alphabet_size": 70, "channels": (8, 8, 8), "embedding_dim": 128}
    monkeypatch.setattr(
        CaptionsDataModule,
        "encoder_settings",
        text_embeddings.EncoderSettings(steps=2, image_features="mnist_classifier", architecture=small),
    )
    monkeypatch.setattr(text_embeddings, "mnist_classifier_features", lambda root: fake_features)
    monkeypatch.setattr(stacked_text2image, "STACKGAN_MNIST", {**stacked_text2image.STACKGAN_MNIST, "ngf": 4})
    build(SHARED_MNIST, tmp_path / "cm", limit=80, data_seed=0)
    args = protocol_args(
        stacked_text2image,
        "--root", str(SHARED_MNIST), "--out", str(tmp_path / "cm"), "--limit", "80", "--generator_steps", "2",
        "--batch_size", "16", "--eval_images", "40", "--diversity_samples", "3", "--text_encoder_steps", "2",
        "--entries", "stackgan", "stackgan_port_encoder", "stackgan2_ms", "baseline_one_caption",
    )  # fmt: skip
    torch.manual_seed(0)
    result = stacked_text2image.run(args, classifier=MNISTClassifier().eval())
    stackgan, stackgan2 = result["entries"]["stackgan"], result["entries"]["stackgan2_ms"]
    assert [s["px"] for s in stackgan["stages"]] == [16, 32] and stackgan["scale_consistency"] is None
    assert [s["px"] for s in stackgan2["stages"]] == [8, 16, 32] and len(stackgan2["scale_consistency"]) == 2
    assert stackgan["generator_steps"] == stackgan2["generator_steps"] == 2
    # the last stage is what text2image.score_entry scored: the same latents and texts
    assert stackgan2["stages"][-1]["digit_seen"] == stackgan2["digit_seen"]
    kept, independent = stackgan["digit_kept"][0]
    assert 0 <= kept <= 1 and 0 <= independent <= 1 and len(stackgan2["digit_kept"]) == 2
    text = stacked_text2image.table(result, args)
    assert f"digit kept from the stage below {100 * kept:.1f}% (independent stages: {100 * independent:.1f}%)" in text
    assert "| stackgan | 2 | 32 |" in text and "| stackgan2_ms | 3 | 32 |" in text and "scale consistency" in text
    assert "| stackgan_port_encoder | 2 | 32 |" in text  # a row that overrides one of STACKGAN_MNIST's settings
    # the bar: the plain baseline, one stage, given the same one caption per image as every stacked row
    assert "| baseline_one_caption | 1 | 32 |" in text and "- baseline_one_caption: 2 G steps" in text
    assert result["entries"]["baseline_one_caption"]["digit_kept"] == []
    assert "one random caption (stackgan, stackgan_port_encoder, stackgan2_ms, baseline_one_caption)." in text


def test_digit_kept_by_hand():
    low, high = torch.tensor([1, 1, 2, 3]), torch.tensor([1, 2, 2, 1])
    # kept: positions 0 and 2; independent: p_low = (1: 1/2, 2: 1/4, 3: 1/4), p_high = (1: 1/2, 2: 1/2)
    assert stacked_text2image.digit_kept(low, high) == (0.5, 0.5 * 0.5 + 0.25 * 0.5)
