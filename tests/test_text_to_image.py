"""The text-to-image family's shared pieces: the char-CNN-RNN and its DS-SJE loss, the embedding cache, the
matching-aware and interpolation losses, and the batch rules (zoo/text_encoder.py, datamodules/text_embeddings.py,
zoo/text_to_image.py)."""

from __future__ import annotations

import math

import pytest
import torch

from datamodules import text_embeddings
from datamodules.captioned_mnist import CaptionedMNISTDataModule, build
from datamodules.captions import EMBEDDINGS, CaptionsDataModule, read_legacy_pickle
from tests.conftest import SHARED_MNIST
from zoo.errors import ZooError
from zoo.text_encoder import CharCNNRNN, distinct_class_batch, joint_embedding_loss, min_text_length
from zoo.text_to_image import choose_text, interpolate_text, interpolated_g_loss, matching_aware_d_loss, wrong_partners

needs_mnist = pytest.mark.skipif(not (SHARED_MNIST / "MNIST" / "raw").is_dir(), reason="../shared/data absent")


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


# ------------------------------------------------------------------------------------------- encoder


def test_encoder_shapes_and_reed_geometry():
    # Reed's 201 characters leave 18 GRU steps: (201 - 3) / 3 = 66, (66 - 3) / 3 = 21, 21 - 3 = 18
    encoder = CharCNNRNN(channels=(8, 8, 8), embedding_dim=5)
    chars = torch.randint(71, (3, 201))
    assert encoder.convs(torch.zeros(3, 70, 201)).shape == (3, 8, 18)
    assert encoder(chars).shape == (3, 5)
    assert min_text_length() == 48 and encoder(chars[:, :48]).shape == (3, 5)
    with pytest.raises(ZooError, match="text_length"):
        encoder(chars[:, :47])
    # padding (id 0) is an all-zero column: trailing padding changes nothing before the convolutions see it
    assert torch.equal(encoder.encode(["a seven"], 60), encoder.encode(["A Seven"], 60))


def test_joint_embedding_loss_by_hand():
    image = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    text = torch.tensor([[1.0, 1.0], [0.5, 0.0]])
    # s_ij = <image_i, text_j>: [[1, 0.5], [2, 0]]; diagonal s_00 = 1, s_11 = 0
    # over texts, image 0: max(0, 1 + 0.5 - 1) = 0.5; image 1: max(0, 1 + 2 - 0) = 3
    # over images, text 0: max(0, 1 + s_10 - s_00) = 2; text 1: max(0, 1 + s_01 - s_11) = 1.5
    assert joint_embedding_loss(text, image).item() == pytest.approx((0.5 + 3 + 2 + 1.5) / 4)
    far = torch.eye(2) * 10
    assert joint_embedding_loss(far, far).item() == 0.0  # margins met on both sides


def test_distinct_class_batches():
    classes = torch.tensor([3, 3, 5, 7, 7, 7, 9])
    rng = torch.Generator().manual_seed(0)
    for _ in range(20):
        items = distinct_class_batch(classes, 3, rng)
        assert len(items) == 3 and len(set(classes[items].tolist())) == 3
    assert sorted(classes[distinct_class_batch(classes, 10, rng)].tolist()) == [3, 5, 7, 9]


# -------------------------------------------------------------------------------------------- cache


def fake_features(images: torch.Tensor) -> torch.Tensor:
    """A fixed stand-in for the MNIST classifier's 128 features: a seeded projection of the pixels."""
    flat = images.float().flatten(1) / 255
    return flat @ torch.randn(flat.shape[1], 128, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module")
def tiny_captioned(tmp_path_factory):
    if not (SHARED_MNIST / "MNIST" / "raw").is_dir():
        pytest.skip("../shared/data/MNIST/raw absent")
    out = tmp_path_factory.mktemp("cm")
    build(SHARED_MNIST, out, limit=60, data_seed=0)
    return out


def tiny_data(root, **kwargs) -> CaptionedMNISTDataModule:
    args = {"root": str(SHARED_MNIST), "out": str(root), "limit": 60, "text_encoder_steps": 3, "batch_size": 8,
            "text_length": 48}  # fmt: skip
    data = CaptionedMNISTDataModule(**{**args, **kwargs})
    data.setup()
    return data


@needs_mnist
def test_embedding_cache_built_once_reused_and_rebuilt(tiny_captioned, monkeypatch, capsys):
    small = {"alphabet_size": 70, "channels": (8, 8, 8), "embedding_dim": 128}
    monkeypatch.setattr(
        CaptionsDataModule,
        "encoder_settings",
        text_embeddings.EncoderSettings(image_features="mnist_classifier", architecture=small),
    )
    builds = []
    monkeypatch.setattr(text_embeddings, "mnist_classifier_features", lambda root: builds.append(1) or fake_features)
    path = text_embeddings.cache_path(tiny_captioned)
    path.unlink(missing_ok=True)
    data = tiny_data(tiny_captioned)
    assert data.text_dim == 128 and data.text_encoder["embedding_dim"] == 128
    state = data.attach_text_embeddings()
    assert builds == [1] and path.is_file()
    _, embeddings, _, _ = data.dataset[0]
    assert embeddings.shape == (10, 128)
    # the cached embedding is the stored encoder's embedding of that caption
    encoder = CharCNNRNN(**data.text_encoder)
    encoder.load_state_dict(state)
    expected = encoder.encode(data.dataset.captions[0][:1], 48)
    torch.testing.assert_close(embeddings[0:1], expected, rtol=1e-5, atol=1e-5)

    tiny_data(tiny_captioned).attach_text_embeddings()  # same settings and data: read, not trained
    assert builds == [1]
    tiny_data(tiny_captioned, text_encoder_steps=4).attach_text_embeddings()  # stale: other settings
    assert builds == [1, 1] and "stale" in capsys.readouterr().err
    path.write_bytes(path.read_bytes()[:-100])  # damaged: truncated
    tiny_data(tiny_captioned, text_encoder_steps=4).attach_text_embeddings()
    assert builds == [1, 1, 1] and "damaged" in capsys.readouterr().err
    cache = torch.load(path, weights_only=True)
    cache["table"][0, 0] += 1  # damaged: a tensor changed behind the checksum
    torch.save(cache, path)
    tiny_data(tiny_captioned, text_encoder_steps=4).attach_text_embeddings()
    assert builds == [1, 1, 1, 1] and "checksum" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------- losses


def test_matching_aware_d_loss_by_hand():
    real_right, real_wrong, fake_right = torch.tensor([2.0, 0.0]), torch.tensor([1.0, -1.0]), torch.tensor([0.5, 0.0])
    real = (softplus(-2.0) + softplus(0.0)) / 2
    wrong = (softplus(1.0) + softplus(-1.0)) / 2
    fake = (softplus(0.5) + softplus(0.0)) / 2
    assert matching_aware_d_loss(real_right, real_wrong, fake_right).item() == pytest.approx(
        real + 0.5 * wrong + 0.5 * fake
    )
    assert matching_aware_d_loss(real_right, real_wrong, fake_right, cls_weight=0).item() == pytest.approx(real + fake)
    # an item without a partner of another class is left out of the wrong term
    valid = torch.tensor([True, False])
    got = matching_aware_d_loss(real_right, real_wrong, fake_right, 0.5, valid).item()
    assert got == pytest.approx(real + 0.5 * softplus(1.0) + 0.5 * fake)


def test_interpolation_term_by_hand():
    text = torch.tensor([[0.0, 2.0], [4.0, 0.0], [2.0, 2.0], [0.0, 0.0]])
    assert interpolate_text(text).tolist() == [[1.0, 2.0], [2.0, 0.0]]  # (t_i + t_{i + B/2}) / 2
    assert interpolate_text(text, beta=0.25).tolist() == [[1.5, 2.0], [1.0, 0.0]]
    fake, interp = torch.tensor([0.0, 1.0, -1.0, 2.0]), torch.tensor([0.0, 3.0])
    by_hand = (softplus(0) + softplus(-1) + softplus(1) + softplus(-2) + softplus(0) + softplus(-3)) / 6
    assert interpolated_g_loss(fake, interp).item() == pytest.approx(by_hand)
    no_interp = (softplus(0) + softplus(-1) + softplus(1) + softplus(-2)) / 6  # weight 0: still over 1.5 B outputs
    assert interpolated_g_loss(fake, interp, interp_weight=0.0).item() == pytest.approx(no_interp)


def test_wrong_partners_are_never_the_same_class():
    rng = torch.Generator().manual_seed(0)
    classes = torch.tensor([1, 1, 2, 2, 2, 3, 1, 3])
    for _ in range(50):
        partner, valid = wrong_partners(classes, rng)
        assert valid.all() and (classes[partner] != classes).all()
    partner, valid = wrong_partners(torch.tensor([4, 4, 4]), rng)
    assert not valid.any()


def test_text_rule_mean_of_random_captions():
    embeddings = torch.arange(2 * 3 * 1, dtype=torch.float).view(2, 3, 1)  # image 0: 0, 1, 2; image 1: 3, 4, 5
    rng = torch.Generator().manual_seed(0)
    one = choose_text(embeddings, 1, rng)
    assert one[0].item() in (0, 1, 2) and one[1].item() in (3, 4, 5)
    picks = torch.randint(3, (2, 4), generator=torch.Generator().manual_seed(5))
    mean = choose_text(embeddings, 4, torch.Generator().manual_seed(5))
    assert mean[:, 0].tolist() == pytest.approx((picks.float().mean(1) + torch.tensor([0.0, 3.0])).tolist())


@needs_mnist
def test_prepare_command_trains_once_then_reuses(tiny_captioned, monkeypatch, capsys):
    import cli

    small = {"alphabet_size": 70, "channels": (8, 8, 8), "embedding_dim": 128}
    monkeypatch.setattr(
        CaptionsDataModule,
        "encoder_settings",
        text_embeddings.EncoderSettings(image_features="mnist_classifier", architecture=small),
    )
    builds = []
    monkeypatch.setattr(text_embeddings, "mnist_classifier_features", lambda root: builds.append(1) or fake_features)
    text_embeddings.cache_path(tiny_captioned).unlink(missing_ok=True)
    argv = ["prepare", "--data", "captioned_mnist", "--data.root", str(SHARED_MNIST), "--data.out", str(tiny_captioned),
            "--data.limit", "60", "--data.text_length", "48", "--data.text_encoder_steps", "2"]  # fmt: skip
    assert cli.main(list(argv)) == 0 and builds == [1]
    printed = capsys.readouterr().out
    assert "128-d embeddings (train " in printed and "test zero-shot accuracy" in printed
    assert cli.main(list(argv)) == 0 and builds == [1]  # valid cache: nothing trained


def test_zero_shot_accuracy_by_hand():
    features = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]])
    classes = torch.tensor([5, 9, 9])
    # class 5's mean text (1, 0); class 9's mean of (0, 2) and (0, 0): (0, 1). Image 2 scores 1 vs 0.1: class 5
    text = torch.tensor([[[1.0, 0.0]], [[0.0, 2.0]], [[0.0, 0.0]]])
    assert text_embeddings.zero_shot_accuracy(features, classes, text) == pytest.approx(2 / 3)


@needs_mnist
def test_pretrained_pickle_wins_over_the_zoo_encoder(tmp_path, monkeypatch):
    import pickle

    import numpy as np

    monkeypatch.setattr(text_embeddings, "build_cache", lambda *args: pytest.fail("no encoder when the pickle exists"))
    build(SHARED_MNIST, tmp_path / "cm", limit=20, data_seed=0)
    count = len(read_legacy_pickle(tmp_path / "cm" / "train" / "filenames.pickle"))
    pretrained = np.arange(count * 10 * 16, dtype=np.float32).reshape(count, 10, 16)
    with open(tmp_path / "cm" / "train" / EMBEDDINGS, "wb") as f:
        pickle.dump(pretrained, f, protocol=2)
    data = tiny_data(tmp_path / "cm", limit=20)
    assert data.text_dim == 16 and data.text_encoder is None and data.attach_text_embeddings() is None
    assert torch.equal(data.dataset[3][1], torch.from_numpy(pretrained[3]))
    assert not text_embeddings.cache_path(tmp_path / "cm").exists()
    assert tiny_data(tmp_path / "cm", limit=20, text_embeddings="zoo").text_encoder is not None  # forced: the zoo's
