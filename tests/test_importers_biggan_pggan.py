"""Importers of ajbrock/BigGAN-PyTorch (``biggan-pytorch``) and facebookresearch/pytorch_GAN_zoo's PGAN
(``pggan-zoo``) against the reference fixtures of ../shared/reference/ (made by running the authors' code; see the
README in each folder): the imported zoo networks give the reference's outputs for the same inputs to 1e-5 relative
(max |zoo - reference| / max |reference|), in every mode the fixture records, and a mapping with two tensors
swapped does not."""

from __future__ import annotations

import copy

import pytest
import torch

from tests.conftest import ROOT
from tests.fidelity import assert_counts, assert_matches, relative_difference
from zoo import get_model
from zoo.errors import ZooError
from zoo.importers import biggan_pytorch, detect_source, import_checkpoint, pggan_zoo

REFERENCE = ROOT.parent / "shared" / "reference"
BIGGAN, PGGAN = REFERENCE / "biggan-pytorch", REFERENCE / "pggan-zoo"
pytestmark = pytest.mark.skipif(not REFERENCE.is_dir(), reason="no ../shared/reference fixtures (a user's clone)")


def networks(imported):
    """The zoo model of ``imported`` (G and D) and its EMA generator, on the CPU in float32."""
    model = get_model(imported.model)(**imported.hparams)
    prefix = "generator_ema."
    model.load_state_dict({k: v for k, v in imported.state_dict.items() if not k.startswith(prefix)})
    ema = copy.deepcopy(model.generator)
    ema.load_state_dict({k[len(prefix) :]: v for k, v in imported.state_dict.items() if k.startswith(prefix)})
    return model, ema


def swapping(read, swaps: dict[str, tuple[str, str]]):
    """``read`` (an importer's file reader) with two tensors of a state dict swapped wherever it holds both: swaps
    maps the state dict's name (None: the whole result) to the two keys."""

    def swapped(*args, **kwargs):
        data = read(*args, **kwargs)
        for part, (a, b) in swaps.items():
            state = data if part is None else data[part]
            if a in state and b in state:
                state[a], state[b] = state[b], state[a]
        return data

    return swapped


# ------------------------------------------------------------------------------------------ BigGAN-PyTorch


@pytest.fixture(scope="module")
def biggan():
    io = torch.load(BIGGAN / "io.pt", weights_only=True)
    return import_checkpoint(None, BIGGAN / "G_ema.pth"), io


def test_biggan_pytorch_files_are_detected_and_sized_from_their_tensors(biggan):
    imported, io = biggan
    assert detect_source(BIGGAN) == detect_source(BIGGAN / "D.pth") == "biggan-pytorch"
    assert imported.model == "biggan"
    settings = io["settings"]
    h = imported.hparams
    assert (h["resolution"], h["num_classes"], h["latent_dim"]) == (32, settings["n_classes"], settings["dim_z"])
    assert (h["g_width"], h["d_width"], h["shared_dim"], h["attention_resolution"]) == (16, 16, 16, 16)
    model, ema = networks(imported)
    # their README: G 268,836 and D 285,893 parameters (D: attention after all four blocks, as D_arch[32] lists them)
    assert_counts("biggan-pytorch", model.generator, model.discriminator, (268_836, 285_893))
    for key, stats in io["G_ema_bn_stats"].items():  # the standing statistics G_ema's eval mode uses
        zoo_key = key.replace("output_layer.0.stored_", "out.0.running_").replace("stored_", "norm.running_")
        assert torch.equal(ema.state_dict()[zoo_key.replace(".0.bn", ".bn")], stats), key


def test_biggan_pytorch_outputs_equal_the_references_in_eval_and_training_mode(biggan):
    imported, io = biggan
    model, ema = networks(imported)
    model.eval(), ema.eval()
    z, y = io["z"], io["y"]
    with torch.no_grad():
        assert torch.equal(ema.shared(y), io["shared_y"])
        outputs = {
            "img_eval": ema(z, y),
            "img_G_eval": model.generator(z, y),
            "d_img_eval": model.discriminator(io["img_eval"], y),
            "d_random_images": model.discriminator(io["random_images"], y),
            "img_train_mode": copy.deepcopy(ema).train()(z, y),  # batch statistics, one stored power iteration
        }
        state_before = copy.deepcopy(ema.state_dict())
        ema(z, y)  # eval forwards leave every buffer as it is (their SN iterates without storing)
    assert_matches("biggan-pytorch", outputs, io)
    assert all(torch.equal(v, ema.state_dict()[k]) for k, v in state_before.items())


def test_biggan_pytorch_mapping_with_two_tensors_swapped_fails(monkeypatch, biggan):
    _, io = biggan
    swap = ("blocks.0.0.bn1.gain.weight", "blocks.0.0.bn1.bias.weight")  # G's and G_ema's
    monkeypatch.setattr(biggan_pytorch, "read_state_dict", swapping(biggan_pytorch.read_state_dict, {None: swap}))
    _, ema = networks(biggan_pytorch.load(BIGGAN))
    with torch.no_grad():
        assert relative_difference(ema.eval()(io["z"], io["y"]), io["img_eval"]) > 1e-3


# ------------------------------------------------------------------------------------------ pytorch_GAN_zoo


@pytest.fixture(scope="module")
def pggan():
    io = torch.load(PGGAN / "io.pt", weights_only=True)
    return import_checkpoint(None, PGGAN / "fixture_s2_i48.pt"), io


def test_pggan_zoo_checkpoint_is_detected_with_its_scale_and_alpha(pggan):
    imported, _ = pggan
    assert detect_source(PGGAN) == detect_source(PGGAN / "fixture_s2_i48.pt") == "pggan-zoo"
    assert imported.model == "pggan" and imported.hparams["variant"] == "pytorch_gan_zoo"
    assert (imported.hparams["resolution"], imported.hparams["latent_dim"]) == (16, 32)
    phase = {"depth": 2, "alpha": 0.5}  # their alpha 0.5 weighs the old branch: the zoo's weighs the new one
    for net in ("generator", "discriminator", "generator_ema"):
        assert imported.state_dict[f"{net}._extra_state"] == phase
    model, _ = networks(imported)
    assert_counts("pggan-zoo", model.generator, model.discriminator, (20_201, 16_065))  # their README's netG, netD


@pytest.mark.parametrize("theirs, ours", [("0.5", 0.5), ("0", 1.0)])
def test_pggan_zoo_outputs_equal_the_references_during_and_after_the_fade_in(pggan, theirs, ours):
    imported, io = pggan
    model, ema = networks(imported)
    for net in (model.generator, model.discriminator, ema):
        net.grow(16, ours)
    with torch.no_grad():
        outputs = {
            f"img_avgG_alpha{theirs}": ema(io["z"]),
            f"img_netG_alpha{theirs}": model.generator(io["z"]),
            f"d_img_avgG_alpha{theirs}": model.discriminator(io[f"img_avgG_alpha{theirs}"]),
            f"d_random_images_alpha{theirs}": model.discriminator(io["random_images"]),
        }
    assert_matches("pggan-zoo", outputs, io)


def test_pggan_zoo_mapping_with_two_tensors_swapped_fails(monkeypatch, pggan):
    _, io = pggan
    swap = {"avgG": ("scaleLayers.1.0.module.weight", "scaleLayers.1.1.module.weight")}
    monkeypatch.setattr(pggan_zoo, "read_checkpoint", swapping(pggan_zoo.read_checkpoint, swap))
    _, ema = networks(pggan_zoo.load(PGGAN))
    with torch.no_grad():
        assert relative_difference(ema(io["z"]), io["img_avgG_alpha0.5"]) > 1e-3


def test_pggan_zoo_refuses_other_pickled_objects_and_an_alpha_without_the_new_resolution(tmp_path):
    path = tmp_path / "other_s0_i0.pt"
    torch.save({"config": torch.nn.ReLU(), "netG": {}}, path)  # a class their checkpoints do not hold
    with pytest.raises(ZooError, match="unreadable as a pggan-zoo checkpoint"):
        pggan_zoo.load(path)
    with pytest.raises(ZooError, match="alpha 1.0 weighs only the old resolution"):
        pggan_zoo.phase_of(1.0, 3, path)
    with pytest.warns(UserWarning, match="their D does not fade in at 8x8"):
        assert pggan_zoo.phase_of(0.25, 2, path) == {"depth": 1, "alpha": 0.75}
