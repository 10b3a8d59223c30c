"""zoo/sampling.py: interpolation, truncation sweeps, class rows, batched samples and the .npz dump."""

import math

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from metrics.resize import to_uint8
from tests.helpers import tiny_dcgan
from zoo.base import GANModule
from zoo.errors import ZooError
from zoo.sampling import (
    class_grid,
    dump,
    evenly_spaced_classes,
    interpolate,
    lerp,
    sample_batches,
    slerp,
    truncation_sweep,
)


class Echo(nn.Module):
    """A generator whose 2x2 image shows its input: channels (z_0, z_1, label / 10)."""

    def __init__(self, scale: float = 1.0):
        super().__init__()
        self.scale = scale
        self.modes = []  # training flag at each call

    def forward(self, z, y=None):
        self.modes.append(self.training)
        label = torch.zeros(len(z)) if y is None else y.float() / 10
        return (self.scale * torch.stack([z[:, 0], z[:, 1], label], 1))[:, :, None, None].expand(-1, -1, 2, 2)


class EchoGAN(GANModule):
    def __init__(self, num_classes=None):
        super().__init__(latent_dim=2, num_classes=num_classes)
        self.generator, self.discriminator = Echo(), nn.Identity()


def latents(images):
    return images[:, :2, 0, 0]


def labels(images):
    return (images[:, 2, 0, 0] * 10).round().long()


def test_slerp_end_points_and_unit_midpoint():
    a, b = nn.functional.normalize(torch.randn(2, 5, dtype=torch.float64), dim=-1)
    t = torch.tensor([[0.0], [0.5], [1.0]], dtype=torch.float64)
    path = slerp(a, b, t)
    assert torch.allclose(path[0], a) and torch.allclose(path[2], b)
    assert path[1].norm().item() == pytest.approx(1.0)
    assert torch.allclose(path[1], (a + b) / (a + b).norm())  # the midpoint of the great arc
    quarter = slerp(a, b, torch.tensor([0.25], dtype=torch.float64))  # a quarter of the angle from a
    assert torch.dot(quarter, a).acos().item() == pytest.approx(torch.dot(a, b).acos().item() / 4)
    assert torch.equal(slerp(a, 2 * a, t), lerp(a, 2 * a, t))  # parallel end points: a straight line


def test_interpolation_strips_walk_between_two_latents_with_one_label():
    model = EchoGAN(num_classes=5)
    images = interpolate(model, strips=3, steps=5, method="linear", seed=1)
    z = latents(images).view(3, 5, 2)
    assert torch.allclose(z[:, 2], (z[:, 0] + z[:, 4]) / 2, atol=1e-6)
    assert torch.allclose(z[:, 1] - z[:, 0], z[:, 4] - z[:, 3], atol=1e-6)  # equal steps
    assert (labels(images).view(3, 5) == labels(images).view(3, 5)[:, :1]).all()  # one class per strip
    curved = latents(interpolate(model, strips=3, steps=5, method="slerp", seed=1)).view(3, 5, 2)
    assert torch.allclose(curved[:, [0, 4]], z[:, [0, 4]], atol=1e-6)  # same end points, another path
    assert not torch.allclose(curved[:, 2], z[:, 2])
    assert model.generator.modes and not any(model.generator.modes)  # sampled in eval mode...
    assert model.generator.training  # ...and the mode restored
    with pytest.raises(ZooError, match="choose one of: linear, slerp"):
        interpolate(model, method="cubic")


def test_truncation_sweep_rows_share_seed_and_labels():
    model = EchoGAN(num_classes=7)
    images = truncation_sweep(model, [None, 1.0, 0.5], columns=64, seed=3)
    rows = latents(images).view(3, 64, 2)
    y = labels(images).view(3, 64)
    assert (y == y[:1]).all()
    for r, truncation in enumerate([None, 1.0, 0.5]):
        expected = model.sample(64, y=y[0], truncation=truncation, seed=3)
        assert torch.equal(images[r * 64 : (r + 1) * 64], expected)
    assert rows[1].abs().max() <= 1.0 and rows[2].abs().max() <= 0.5 and rows[0].abs().max() > 1.0
    inside = rows[0].abs() <= 0.5  # coordinates under every threshold are never redrawn
    assert torch.equal(rows[2][inside], rows[0][inside]) and torch.equal(rows[1][inside], rows[0][inside])


def test_class_grid_has_one_row_per_class_with_the_same_latents():
    model = EchoGAN(num_classes=10)
    images = class_grid(model, [7, 0, 3], columns=4, seed=2)
    assert labels(images).tolist() == [7] * 4 + [0] * 4 + [3] * 4
    z = latents(images).view(3, 4, 2)
    assert torch.equal(z[0], z[1]) and torch.equal(z[0], z[2])
    assert evenly_spaced_classes(1000, 4) == [0, 333, 666, 999] and evenly_spaced_classes(3, 10) == [0, 1, 2]
    with pytest.raises(ZooError, match=r"classes \[10\] are outside 0..9"):
        class_grid(model, [1, 10])
    with pytest.raises(ZooError, match="needs a class-conditional model|unconditional"):
        class_grid(EchoGAN(), [0])


def test_sample_batches_are_model_sample_in_pieces_and_prefer_the_ema_generator():
    model = EchoGAN(num_classes=4)
    pieces = list(sample_batches(model, 7, batch_size=3, seed=5, truncation=1.5))
    assert [len(images) for images, _ in pieces] == [3, 3, 1]
    images = torch.cat([images for images, _ in pieces])
    assert torch.equal(images, model.sample(7, truncation=1.5, seed=5))
    assert torch.equal(torch.cat([y for _, y in pieces]), labels(images))
    plain = next(sample_batches(model, 3, seed=5))[0]
    model.generator_ema = Echo(scale=2.0)
    assert torch.equal(next(sample_batches(model, 3, seed=5))[0], 2 * plain)


def test_to_uint8_rounds_like_nvlabs_and_save_image():
    x = torch.tensor([-1.5, -1.0, -0.999, 0.0, 0.5, 1.0, 2.0])
    expected = [0, 0, 0, 128, 191, 255, 255]  # floor((x + 1) * 127.5 + 0.5), clamped
    assert to_uint8(x).tolist() == expected
    assert to_uint8(x).tolist() == (x * 127.5 + 128).clamp(0, 255).to(torch.uint8).tolist()  # NVlabs' formula


def test_npz_and_pngs_hold_the_same_uint8_samples(tmp_path):
    torch.manual_seed(0)
    model = tiny_dcgan()
    dump(model, tmp_path, num_samples=5, npz=True, png=True, batch_size=5, seed=4)
    with np.load(tmp_path / "samples.npz") as npz:
        assert list(npz.keys()) == ["arr_0"]  # unconditional: no labels
        pixels = npz["arr_0"]
    assert pixels.shape == (5, 16, 16, 1) and pixels.dtype == np.uint8
    assert np.array_equal(pixels, to_uint8(model.sample(5, seed=4)).permute(0, 2, 3, 1).numpy())
    for i in range(5):
        assert np.array_equal(np.asarray(Image.open(tmp_path / f"{i:06d}.png")), pixels[i, ..., 0])
    assert not list(tmp_path.glob(".*partial"))


def test_npz_of_a_conditional_model_carries_its_labels(tmp_path):
    model = EchoGAN(num_classes=10)
    dump(model, tmp_path, num_samples=9, batch_size=4, seed=1)
    with np.load(tmp_path / "samples.npz") as npz:
        images, y = npz["arr_0"], npz["arr_1"]
    assert images.shape == (9, 2, 2, 3) and y.shape == (9,) and y.dtype == np.int64
    expected = [math.floor((label / 10 + 1) * 127.5 + 0.5) for label in y]  # channel 2 shows the label
    assert images[:, 0, 0, 2].tolist() == expected
    rng = torch.Generator().manual_seed(1)
    model.sample_latent(9, generator=rng)
    assert y.tolist() == model.sample_labels(9, generator=rng).tolist()  # drawn as model.sample draws them


def test_dump_of_points_is_refused(tmp_path):
    class Points(GANModule):
        def __init__(self):
            super().__init__(latent_dim=2)
            self.generator, self.discriminator = nn.Identity(), nn.Identity()

    with pytest.raises(ZooError, match="generates points"):
        dump(Points(), tmp_path, num_samples=4)
    assert not (tmp_path / "samples.npz").exists()


def test_sample_grid_callback_draws_one_row_per_class():
    from callbacks import SampleGrid

    picture = SampleGrid(num_samples=64, class_rows=3).picture(EchoGAN(num_classes=10))
    assert picture.shape == (3, 3 * (2 + 2) + 2, 21 * (2 + 2) + 2)  # classes 0, 4, 9 by 64 // 3 = 21 columns
