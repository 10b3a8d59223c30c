"""FID, KID, IS and precision/recall (metrics/): equal to clean-fid with the same extractor, closed forms,
hand-made point sets, the weights search, seeding and DDP sharding. A tiny conv net stands in for Inception."""

import hashlib
import math
import urllib.error

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from metrics.features import (
    SEED_BLOCK,
    Shard,
    cached_real_features,
    extract,
    generated_features,
    generated_shard,
    seeded_inputs,
)
from metrics.inception import INCEPTION_URL, WEIGHTS_ENV, InceptionFeatures, find_inception_weights
from metrics.resize import clean_resize
from metrics.scores import (
    fid_from_features,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    precision_recall,
)
from tests.helpers import tiny_dcgan, tiny_digits
from zoo.errors import ZooError


class TinyExtractor(nn.Module):
    """A stand-in for Inception with the same contract: float (N, 3, S, S) in [0, 255] -> (N, 16) features,
    plus 10-class logits. Its weights come from a fixed seed, so every instance is the same function."""

    name = "tiny test extractor"

    def __init__(self, input_size: int = 299):
        super().__init__()
        self.input_size = input_size
        self.conv = nn.Conv2d(3, 16, kernel_size=8, stride=8)
        self.head = nn.Linear(16, 10)
        rng = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=rng) * 0.1)

    def forward(self, images):
        return torch.relu(self.conv((images - 128) / 128)).mean(dim=(2, 3))

    def logits(self, features):
        return self.head(features)


def random_images(n: int, size: int, channels: int = 3, seed: int = 0) -> torch.Tensor:
    """Smooth-ish random uint8 images (a random low-resolution pattern upsampled), so features vary."""
    rng = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, channels, 4, 4, generator=rng)
    return (torch.nn.functional.interpolate(coarse, size=size, mode="bilinear") * 255).round().to(torch.uint8)


def features_of(images: torch.Tensor, extractor=None) -> torch.Tensor:
    with torch.inference_mode():
        return extract(extractor or TinyExtractor(), images)[0]


# ------------------------------------------------------------------------------ clean-fid equality


@pytest.mark.parametrize("size,channels", [(8, 3), (16, 1), (28, 3), (64, 3)])
def test_clean_resize_equals_cleanfid_pil_resizer(size, channels):
    from cleanfid.resize import make_resizer

    images = random_images(4, size, channels, seed=size)
    ours = clean_resize(images)
    resize = make_resizer("PIL", False, "bicubic", (299, 299))
    for image, out in zip(images, ours):
        rgb = image.expand(3, -1, -1).permute(1, 2, 0).numpy()  # grayscale shown as RGB, as PIL converts it
        reference = torch.from_numpy(resize(rgb)).permute(2, 0, 1)
        assert out.dtype == torch.float32 and out.shape == (3, 299, 299)
        assert (out - reference).abs().max() <= 3e-5  # float32 rounding at 255 (1 ulp = 1.5e-5)


@pytest.fixture
def real_and_fake(tmp_path):
    """64 real images in a PNG folder (what clean-fid reads) and 64 generated uint8 images."""
    real, fake = random_images(64, 16, seed=1), random_images(64, 16, seed=2)
    folder = tmp_path / "real"
    folder.mkdir()
    for i, image in enumerate(real):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i:03d}.png")
    return real, fake, folder


def replay(images: torch.Tensor, batch_size: int):
    """A clean-fid ``gen`` function that ignores z and returns the next batch of ``images`` in [0, 255]."""
    batches = iter(images.float().split(batch_size))
    return lambda z: next(batches)


@pytest.mark.filterwarnings("ignore:The `disp` argument is deprecated")  # inside clean-fid
def test_fid_and_kid_equal_cleanfid_with_the_same_extractor(real_and_fake, monkeypatch):
    from cleanfid import fid as cleanfid

    real, fake, folder = real_and_fake
    extractor = TinyExtractor()
    common = {"fdir2": str(folder), "num_gen": 64, "batch_size": 16, "device": torch.device("cpu"), "num_workers": 0}
    reference_fid = cleanfid.compute_fid(
        gen=replay(fake, 16), custom_feat_extractor=extractor, z_dim=4, verbose=False, **common
    )
    real_features, fake_features = features_of(real, extractor), features_of(fake, extractor)
    assert fid_from_features(real_features, fake_features) == pytest.approx(reference_fid, rel=1e-6, abs=1e-6)
    assert reference_fid > 1e-3  # the sets differ: the comparison is not 0 == 0

    # compute_kid has no custom_feat_extractor argument: hand it the same extractor through its builder
    monkeypatch.setattr(cleanfid, "build_feature_extractor", lambda *args, **kwargs: extractor)
    np.random.seed(3)
    reference_kid = cleanfid.compute_kid(gen=replay(fake, 16), z_dim=4, **common)
    ours = kernel_inception_distance(real_features, fake_features, seed=3)
    assert ours == pytest.approx(reference_kid, rel=1e-6, abs=1e-6)
    assert abs(reference_kid) > 1e-4


# ---------------------------------------------------------------------------------- closed forms


def test_contiguous_layout_gives_the_features_of_a_plain_call_bit_for_bit():
    images, extractor = random_images(6, 40), TinyExtractor(input_size=64)
    extractor.channels_last = False
    plain = extractor(clean_resize(images, 64))
    assert torch.equal(features_of(images, extractor), plain)
    extractor.channels_last = True  # the default: the same values up to float32 rounding
    torch.testing.assert_close(features_of(images, extractor), plain, rtol=1e-5, atol=1e-6)


def test_frechet_distance_of_diagonal_gaussians():
    mu1, mu2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    var1, var2 = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 1.0, 0.25])
    expected = ((mu1 - mu2) ** 2).sum() + ((var1.sqrt() - var2.sqrt()) ** 2).sum()  # 5 + (1 + 1 + 6.25)
    assert frechet_distance(mu1, var1.diag(), mu2, var2.diag()) == pytest.approx(float(expected), abs=1e-12)
    assert float(expected) == 13.25


def test_frechet_distance_of_non_commuting_gaussians():
    # 2x2: Tr sqrt(S1 S2) = sqrt(Tr(S1 S2) + 2 sqrt(det S1 det S2)) (the eigenvalues of S1 S2 are real, >= 0)
    s1 = torch.tensor([[2.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    s2 = torch.tensor([[1.0, -0.5], [-0.5, 3.0]], dtype=torch.float64)
    mu1, mu2 = torch.tensor([1.0, -1.0]), torch.tensor([0.0, 2.0])
    tr_sqrt = math.sqrt(float((s1 @ s2).trace()) + 2 * math.sqrt(float(s1.det() * s2.det())))
    expected = 10.0 + float(s1.trace() + s2.trace()) - 2 * tr_sqrt
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, abs=1e-12)


def test_fid_of_a_set_against_itself_is_zero():
    features = torch.randn(300, 32, generator=torch.Generator().manual_seed(0)).abs()
    assert abs(fid_from_features(features, features)) < 1e-10
    # fewer samples than dimensions: a singular covariance, still 0 (up to rounding)
    assert abs(fid_from_features(features[:20], features[:20])) < 1e-6  # square roots of rounding-level eigenvalues


def test_kid_of_a_set_against_itself_is_near_zero_and_unbiased():
    features = torch.randn(400, 8, generator=torch.Generator().manual_seed(0))
    other = features + 3.0
    assert abs(kernel_inception_distance(features, features, num_subsets=20, max_subset_size=100)) < 0.05
    assert kernel_inception_distance(features, other, num_subsets=20, max_subset_size=100) > 10


def test_inception_score_of_uniform_and_one_hot_predictions():
    assert inception_score(torch.zeros(100, 7)) == pytest.approx((1.0, 0.0), abs=1e-12)
    one_hot = 1000.0 * torch.eye(5)[torch.arange(100) % 5]  # every split of 10 holds each class twice
    assert inception_score(one_hot) == pytest.approx((5.0, 0.0), abs=1e-9)
    confident_but_one_class = 1000.0 * torch.eye(5)[torch.zeros(100, dtype=torch.long)]
    assert inception_score(confident_but_one_class) == pytest.approx((1.0, 0.0), abs=1e-9)


def square(x: float, y: float, side: float = 1.0) -> torch.Tensor:
    return torch.tensor([[x, y], [x + side, y], [x, y + side], [x + side, y + side]])


def test_precision_recall_on_hand_made_point_sets():
    # with k = 3 each point of a square of 4 has the square's diagonal as its radius
    real = torch.cat([square(0, 0), square(100, 0), square(0, 100)])  # three squares
    fake = torch.cat([square(0.2, 0.3), square(50, 50, side=0.1)])  # one near the first, one far off
    precision, recall = precision_recall(real, fake, k=3, batch_size=5)
    assert precision == 0.5  # the near square lies within sqrt(2) of the first real square; the far one nowhere
    assert recall == pytest.approx(1 / 3)  # only the first real square is within sqrt(2) of the near fakes
    assert precision_recall(real, real, k=3) == (1.0, 1.0)


# ------------------------------------------------------------------------------------ weights


def test_missing_weights_raise_one_message_with_url_and_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_ZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "nowhere.pt"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(ZooError) as err:
        find_inception_weights()
    message = str(err.value)
    for part in (INCEPTION_URL, str(tmp_path / "nowhere.pt"), str(tmp_path / "cache" / "inception-2015-12-05.pt"),
                 "/tmp/inception-2015-12-05.pt", "no network", "--weights PATH", WEIGHTS_ENV):  # fmt: skip
        assert part in message
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())  # no partial file left

    with pytest.raises(ZooError, match="given with --weights"):
        find_inception_weights(tmp_path / "missing.pt")
    found = tmp_path / "inception.pt"
    found.write_bytes(b"x")
    monkeypatch.setenv(WEIGHTS_ENV, str(found))
    assert find_inception_weights() == found


class FakeInception(nn.Module):
    """The attributes of the TorchScript Inception that InceptionFeatures uses: ``layers`` (images normalized
    to [-1, 1] -> (N, 2048, 1, 1)) and ``output`` (the 1008-class linear layer, with a bias)."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Conv2d(3, 2048, kernel_size=4, stride=4), nn.AdaptiveAvgPool2d(1))
        self.output = nn.Linear(2048, 1008)

    def forward(self, x):
        return self.output(self.layers(x).flatten(1))


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
def test_inception_features_normalize_like_cleanfid_and_give_logits_without_bias(tmp_path):
    torch.manual_seed(0)
    fake = FakeInception().eval()
    torch.jit.script(fake).save(str(tmp_path / "inception-2015-12-05.pt"))
    inception = InceptionFeatures(tmp_path / "inception-2015-12-05.pt")
    images = torch.rand(2, 3, 299, 299) * 255
    with torch.inference_mode():
        features = inception(images)
        torch.testing.assert_close(features, fake.layers((images - 128) / 128).flatten(1))
        torch.testing.assert_close(inception.logits(features), features @ fake.output.weight.T)  # no output bias
    assert inception.sha256 == hashlib.sha256((tmp_path / "inception-2015-12-05.pt").read_bytes()).hexdigest()
    (tmp_path / "broken.pt").write_bytes(b"not a TorchScript file")
    with pytest.raises(ZooError, match="is not the TorchScript file inception-2015-12-05.pt"):
        InceptionFeatures(tmp_path / "broken.pt")


# ---------------------------------------------------------------------------- seeds and sharding


def test_sample_latents_do_not_depend_on_the_range_they_are_drawn_in():
    model = tiny_dcgan()
    z, _ = seeded_inputs(model, 0, 3 * SEED_BLOCK, seed=5)
    part, _ = seeded_inputs(model, SEED_BLOCK - 7, 2 * SEED_BLOCK + 9, seed=5)
    assert torch.equal(part, z[SEED_BLOCK - 7 : 2 * SEED_BLOCK + 9])
    assert not torch.equal(seeded_inputs(model, 0, 8, seed=6)[0], z[:8])


def test_shards_of_any_size_and_batching_reassemble_the_single_process_result():
    model, extractor = tiny_dcgan(), TinyExtractor(input_size=64)
    whole, whole_logits = generated_features(model, model.generator, 50, extractor, batch_size=50,
                                             with_logits=True, shard=Shard())  # fmt: skip
    for world in (2, 3):
        parts = [generated_shard(model, model.generator, *Shard(rank, world).bounds(50), extractor,
                                 batch_size=7, with_logits=True) for rank in range(world)]  # fmt: skip
        torch.testing.assert_close(torch.cat([f for f, _ in parts]), whole, rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(torch.cat([lg for _, lg in parts]), whole_logits, rtol=1e-6, atol=1e-7)
    assert model.generator.training  # evaluation restores the training mode


class CountingExtractor(TinyExtractor):
    """Counts the images it extracts, to show how the work was split."""

    seen = 0

    def forward(self, images):
        self.seen += len(images)
        return super().forward(images)


def _features_on_rank(rank: int, world_size: int, folder: str) -> None:
    """One process of a gloo group: this rank's share of the generated features, gathered on every rank."""
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{folder}/store", rank=rank, world_size=world_size)
    try:
        model = tiny_dcgan()
        model.load_state_dict(torch.load(f"{folder}/model.pt", weights_only=True))
        extractor = CountingExtractor(input_size=64)
        features, logits = generated_features(model, model.generator, 37, extractor, batch_size=5, with_logits=True)
        torch.save({"features": features, "logits": logits, "seen": extractor.seen}, f"{folder}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_ddp_ranks_each_compute_a_share_and_all_get_the_single_process_features(tmp_path):
    model = tiny_dcgan()
    torch.save(model.state_dict(), tmp_path / "model.pt")
    torch.multiprocessing.spawn(_features_on_rank, args=(2, str(tmp_path)), nprocs=2)
    whole, whole_logits = generated_features(model, model.generator, 37, TinyExtractor(input_size=64),
                                             batch_size=37, with_logits=True, shard=Shard())  # fmt: skip
    for rank, share in enumerate((18, 19)):
        result = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        assert result["seen"] == share  # each rank generated and extracted only its share
        torch.testing.assert_close(result["features"], whole, rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(result["logits"], whole_logits, rtol=1e-6, atol=1e-7)


def test_gather_puts_uneven_shares_back_in_sample_order(monkeypatch):
    n, world = 11, 3
    data = torch.arange(2 * n, dtype=torch.float32).view(n, 2)
    shares = [data[slice(*Shard(rank, world).bounds(n))] for rank in range(world)]
    assert [len(s) for s in shares] == [3, 4, 4]

    def all_gather(parts, padded):  # what the ranks contribute: each its share, padded to the longest
        assert padded.shape == (4, 2)
        for part, share in zip(parts, shares):
            part.zero_()[: len(share)] = share

    monkeypatch.setattr(torch.distributed, "all_gather", all_gather)
    assert torch.equal(Shard(1, world).gather(shares[1], n), data)


# ---------------------------------------------------------------------------------- real features


def test_real_features_are_computed_once_per_dataset_and_count(tmp_path, monkeypatch):
    import metrics.features as features_module

    dm = tiny_digits()
    dm.setup("fit")
    extractor = TinyExtractor(input_size=32)
    first = cached_real_features(dm, 40, extractor, torch.device("cpu"), tmp_path)
    expected = features_of(dm.dataset.images[features_module.real_indices(len(dm.dataset), 40)], extractor)
    torch.testing.assert_close(first, expected)
    assert len(list(tmp_path.glob("digits-16px-train-40-*.npy"))) == 1

    monkeypatch.setattr(features_module, "real_features", lambda *a, **k: pytest.fail("recomputed"))
    assert torch.equal(cached_real_features(dm, 40, extractor, torch.device("cpu"), tmp_path), first)
    monkeypatch.undo()
    other = cached_real_features(dm, 30, extractor, torch.device("cpu"), tmp_path)  # another count: another file
    assert len(other) == 30 and len(list(tmp_path.glob("*.npy"))) == 2
