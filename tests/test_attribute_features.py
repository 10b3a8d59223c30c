"""The text encoder's attribute-carrying image features (datamodules/attribute_features.py) and how the embedding
cache picks them (datamodules/text_embeddings.py)."""

from __future__ import annotations

import pytest
import torch

from datamodules import text_embeddings
from datamodules.attribute_features import ATTRIBUTE_SCALE, attribute_coordinates, with_attributes
from datamodules.digit_attributes import attribute_levels
from tests.conftest import SHARED_MNIST
from tests.test_text_to_image import fake_features


def bar_image() -> torch.Tensor:
    """A 28 px upright bar 2 px wide and 14 px tall: thickness 2 * 28 / 32 = 1.75 (area over half the perimeter),
    slant 0, size 28 / 784."""
    image = torch.zeros(1, 1, 28, 28, dtype=torch.uint8)
    image[..., 7:21, 13:15] = 255
    return image


def test_attribute_coordinates_by_hand():
    # level units: (value - midpoint of the bucket edges) / their distance, times ATTRIBUTE_SCALE
    expected = torch.tensor(
        [
            (1.75 - (1.75 + 2.19) / 2) / (2.19 - 1.75),
            (0.0 - (-0.01 + 0.22) / 2) / (0.22 + 0.01),
            (28 / 784 - (0.33 + 0.41) / 2) / (0.41 - 0.33),
        ]
    )
    torch.testing.assert_close(attribute_coordinates(bar_image())[0], ATTRIBUTE_SCALE * expected)
    assert ATTRIBUTE_SCALE == 3.3  # the classifier features' RMS over MNIST's training digits (module docstring)


@pytest.mark.skipif(not (SHARED_MNIST / "MNIST" / "raw").is_dir(), reason="../shared/data absent")
def test_one_caption_level_is_one_unit_on_real_digits():
    from datamodules.mnist import MNISTDataModule

    images, _ = MNISTDataModule(root=str(SHARED_MNIST), train=False).read_split()
    digits = images[:300]
    coordinates, levels = attribute_coordinates(digits) / ATTRIBUTE_SCALE, attribute_levels(digits)
    for column in range(3):  # thickness, slant, size: level 0 below -1/2, level 2 above +1/2
        x, level = coordinates[:, column], levels[:, column]
        clear = (x.abs() - 0.5).abs() > 1e-4  # not on an edge up to rounding
        assert torch.equal((level == 0)[clear], (x < -0.5)[clear]) and torch.equal(
            (level == 2)[clear], (x > 0.5)[clear]
        )
        assert (level == 0).any() and (level == 2).any() and clear.float().mean() > 0.9


def test_with_attributes_appends_the_coordinates():
    images = torch.cat([bar_image(), bar_image().transpose(-1, -2)])
    joined = with_attributes(fake_features)(images)
    assert joined.shape == (2, 131)
    torch.testing.assert_close(joined[:, :128], fake_features(images))
    torch.testing.assert_close(joined[:, 128:], attribute_coordinates(images))


def test_the_default_features_carry_the_attributes_and_change_the_cache_key(monkeypatch):
    monkeypatch.setattr(text_embeddings, "mnist_classifier_features", lambda root: fake_features)
    settings = text_embeddings.EncoderSettings()
    assert settings.image_features == "mnist_classifier_attributes" and settings.architecture["embedding_dim"] == 131
    assert text_embeddings.image_feature_extractor(settings.image_features, "data")(bar_image()).shape == (1, 131)
    assert text_embeddings.image_feature_extractor("mnist_classifier", "data")(bar_image()).shape == (1, 128)
    # caches built before (version 1, classifier features alone) are stale: another key
    old = text_embeddings.EncoderSettings(image_features="mnist_classifier", architecture={"embedding_dim": 128})
    keys = {text_embeddings.cache_key(s, "data", 201, 10) for s in (settings, old)}
    monkeypatch.setattr(text_embeddings, "VERSION", 1)
    keys.add(text_embeddings.cache_key(settings, "data", 201, 10))
    assert len(keys) == 3
