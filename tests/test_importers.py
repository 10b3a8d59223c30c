"""zoo/importers (issue 19, part 2): the authors' own checkpoint files, imported, compute the authors' outputs.

The fixtures in ../shared/reference/<source>/ were made by running each reference implementation: its checkpoint
files, an io.pt of inputs and its outputs for them, and a README. Skipped where ../shared is absent (a user's
clone)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import cli
from callbacks import load_gan
from metrics.resize import to_uint8
from tests.conftest import run_cli
from tests.fidelity import assert_counts, assert_matches
from zoo.cgan import CGAN
from zoo.errors import ZooError
from zoo.importers import Imported, build, import_checkpoint, write_checkpoint

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference"
needs_reference = pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"no reference fixtures at {REFERENCE}")


def fixture(source: str) -> tuple[Path, dict]:
    folder = REFERENCE / source
    return folder, torch.load(folder / "io.pt", weights_only=True)


def swapped_copy(folder: Path, tmp_path: Path, name: str, a: str, b: str) -> Path:
    """The fixture's files copied to tmp_path, with tensors ``a`` and ``b`` of file ``name`` swapped."""
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    state = torch.load(copy / name, weights_only=True)
    state[a], state[b] = state[b], state[a]
    torch.save(state, copy / name)
    return copy / name


# ------------------------------------------------------------------------------------------- dcgan-examples


@torch.no_grad()
def dcgan_outputs(model, io: dict) -> dict[str, torch.Tensor]:
    """The io.pt outputs of pytorch/examples' DCGAN, computed by the zoo model (a copy per train-mode forward)."""
    model.eval()
    img = model.generator(io["z"])
    outputs = {
        "img_eval": img,
        "d_img_eval_logits": model.discriminator(img),
        "d_random_images_logits": model.discriminator(io["random_images"]),
    }
    model.train()
    outputs["img_train_bn"] = model.generator(io["z"])
    outputs["d_img_eval_train_bn"] = torch.sigmoid(model.discriminator(io["img_eval"]))
    stats = model.generator.state_dict()
    for key in io["G_running_stats_after_train_forward"]:
        outputs[key] = stats[key.replace("main.", "net.")]
    return outputs


@needs_reference
def test_dcgan_examples_computes_their_images_logits_and_running_stats():
    folder, io = fixture("dcgan-examples")
    imported = import_checkpoint("dcgan-examples", folder / "netG_epoch_0.pth")
    assert imported.model == "dcgan"
    assert imported.hparams == {"latent_dim": 100, "resolution": 64, "channels": 3, "ngf": 8, "ndf": 8}
    model = build(imported)
    assert_counts("dcgan-examples", model.generator, model.discriminator, (146_032, 44_640))  # the README's counts
    assert_matches("dcgan-examples", dcgan_outputs(model, io), {**io, **io["G_running_stats_after_train_forward"]})


@needs_reference
def test_dcgan_examples_with_two_tensors_swapped_does_not_match(tmp_path):
    folder, io = fixture("dcgan-examples")
    path = swapped_copy(folder, tmp_path, "netG_epoch_0.pth", "main.4.running_mean", "main.4.bias")
    outputs = dcgan_outputs(build(import_checkpoint(None, path)), io)
    assert not torch.allclose(outputs["img_eval"], io["img_eval"], rtol=0, atol=1e-3)


# ------------------------------------------------------------------------------------------------- cyclegan


@torch.no_grad()
def cyclegan_outputs(model, io: dict) -> dict[str, torch.Tensor]:
    g, f, d = model.generator["a_to_b"], model.generator["b_to_a"], model.discriminator
    fake_b, fake_a = g(io["real_A"]), f(io["real_B"])
    return {
        "fake_B": fake_b,
        "rec_A": f(fake_b),
        "fake_A": fake_a,
        "d_A_fake_B": d["b"](fake_b),  # their D_A judges domain B
        "d_A_real_B": d["b"](io["real_B"]),
        "d_B_fake_A": d["a"](fake_a),
    }


@needs_reference
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_cyclegan_computes_their_translations_and_patch_logits(mode):
    folder, io = fixture("cyclegan")
    imported = import_checkpoint(None, folder / "latest_net_D_B.pth")  # any of the four finds the others
    assert imported.model == "cyclegan" and imported.hparams["blocks"] == 6
    model = build(imported).train(mode == "train")
    assert_counts("cyclegan", model.generator["a_to_b"], model.discriminator["b"], (124_931, 44_537))
    assert_matches(f"cyclegan ({mode})", cyclegan_outputs(model, io), io)


@needs_reference
def test_cyclegan_with_the_generators_swapped_does_not_match(tmp_path):
    folder, io = fixture("cyclegan")
    copy = tmp_path / "cyclegan"
    shutil.copytree(folder, copy)
    (copy / "latest_net_G_A.pth").rename(copy / "G_A")
    (copy / "latest_net_G_B.pth").rename(copy / "latest_net_G_A.pth")
    (copy / "G_A").rename(copy / "latest_net_G_B.pth")
    outputs = cyclegan_outputs(build(import_checkpoint("cyclegan", copy)), io)
    assert not torch.allclose(outputs["fake_B"], io["fake_B"], rtol=0, atol=1e-3)


# -------------------------------------------------------------------------------------------------- stargan


@torch.no_grad()
def stargan_outputs(model, io: dict, mode: str) -> dict[str, torch.Tensor]:
    model.train(mode == "train")
    fake = model.generator(io["x_real"], io["c_trg"])
    name = "fake_eval" if mode == "eval" else "fake_train_mode"
    (real_src, real_cls), (fake_src, fake_cls) = model.discriminator(io["x_real"]), model.discriminator(fake)
    return {
        name: fake,
        "d_real_src": real_src,
        "d_real_cls": real_cls,
        f"d_{name}_src": fake_src,
        f"d_{name}_cls": fake_cls,
    }


@needs_reference
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_stargan_computes_their_translations_and_both_heads(mode):
    folder, io = fixture("stargan")
    imported = import_checkpoint("stargan", folder / "10000-G.ckpt")
    assert imported.model == "stargan"
    assert {k: imported.hparams[k] for k in ("resolution", "width", "blocks", "d_width", "d_layers")} == {
        "resolution": 32, "width": 8, "blocks": 2, "d_width": 8, "d_layers": 4,
    }  # fmt: skip
    model = build(imported)
    assert_counts("stargan", model.generator, model.discriminator, (62_072, 45_368))
    assert_matches(f"stargan ({mode})", stargan_outputs(model, io, mode), io)


@needs_reference
def test_stargan_with_two_tensors_swapped_does_not_match(tmp_path):
    folder, io = fixture("stargan")
    path = swapped_copy(folder, tmp_path, "10000-G.ckpt", "main.9.main.0.weight", "main.10.main.0.weight")
    outputs = stargan_outputs(build(import_checkpoint(None, path)), io, "eval")
    assert not torch.allclose(outputs["fake_eval"], io["fake_eval"], rtol=0, atol=1e-3)


# ---------------------------------------------------------------------------------------------- the errors


@needs_reference
def test_import_errors_name_the_fix(tmp_path):
    folder = REFERENCE / "dcgan-examples"
    (tmp_path / "netG_epoch_3.pth").write_bytes((folder / "netG_epoch_0.pth").read_bytes())
    with pytest.raises(ZooError, match="netD_epoch_3.pth is missing"):
        import_checkpoint(None, tmp_path / "netG_epoch_3.pth")
    (tmp_path / "weights.pth").write_bytes(b"")
    with pytest.raises(ZooError, match="not a file of any known source .*dcgan-examples.*--from"):
        import_checkpoint(None, tmp_path / "weights.pth")
    with pytest.raises(ZooError, match="unknown import source 'nope'"):
        import_checkpoint("nope", tmp_path / "weights.pth")
    copy = tmp_path / "cyclegan"
    shutil.copytree(REFERENCE / "cyclegan", copy)
    shutil.copy(copy / "latest_net_G_A.pth", copy / "latest_net_D_B.pth")  # their G_A where D_B belongs
    with pytest.raises(ZooError, match="do not fit zoo cyclegan's discriminator.a"):
        import_checkpoint("cyclegan", copy)


# ------------------------------------------------------------------------------------------ the command line


def npz_images(folder: Path) -> np.ndarray:
    with np.load(folder / "samples.npz") as npz:
        return npz["arr_0"]


@needs_reference
def test_cli_imports_then_samples_their_latents_into_their_images(tmp_path, capsys):
    folder, io = fixture("dcgan-examples")
    out = tmp_path / "imported" / "dcgan.ckpt"
    assert cli.main(["import", "--ckpt_path", str(folder / "netG_epoch_0.pth"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"dcgan (146,032 G / 44,640 D parameters) from {folder / 'netG_epoch_0.pth'} -> {out}" in printed
    assert [p.name for p in out.parent.iterdir()] == ["dcgan.ckpt"]  # no temporary left beside it
    latents = tmp_path / "z.npy"
    np.save(latents, io["z"].numpy())  # their (8, 100, 1, 1)
    expected = to_uint8(io["img_eval"]).permute(0, 2, 3, 1).numpy()
    for ckpt in (out, folder / "netG_epoch_0.pth"):  # the zoo checkpoint, and their file directly
        target = tmp_path / ckpt.stem
        argv = ["sample", "--ckpt_path", str(ckpt), "--latents", str(latents), "--out_dir", str(target), "--npz"]
        assert cli.main([*argv, "--batch_size", "3", "--nrow", "8"]) == 0, capsys.readouterr().err
        images = npz_images(target)
        assert images.shape == (8, 64, 64, 3) and np.abs(images.astype(int) - expected).max() <= 1
        grid = np.asarray(Image.open(target / "grid.png").convert("RGB"))
        assert grid.shape == (2 + 66, 2 + 8 * 66, 3)  # exactly the 8 latents, in one row of 8
        assert np.abs(grid[2:66, 2 + 66 * 7 : 66 * 8].astype(int) - expected[7]).max() <= 1  # the last one, in order


@needs_reference
def test_fit_fine_tunes_an_imported_checkpoint(tmp_path):
    folder, _ = fixture("dcgan-examples")
    ckpt = write_checkpoint(import_checkpoint(None, folder), tmp_path / "dcgan.ckpt")
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(images / f"{i}.png")
    fit = run_cli(
        "fit", "--model", "dcgan", "--data", "folder", "--data.root", str(images), "--data.resolution", "64",
        "--data.batch_size", "4", "--ckpt_path", str(ckpt), "--model.g_lr", "1e-12", "--model.d_lr", "1e-12",
        "--trainer.max_steps", "4", "--trainer.accelerator", "cpu", "--run_dir", str(tmp_path / "run"),
        cwd=tmp_path, env={"GAN_ZOO_CACHE": str(tmp_path / "cache")},
    )  # fmt: skip
    assert fit.returncode == 0, fit.stderr[-2000:]
    tuned, imported = load_gan(tmp_path / "run" / "checkpoints" / "last.ckpt"), load_gan(ckpt)
    assert tuned.images_seen == 8 and imported.images_seen == 0  # two iterations from step 0
    for name in ("generator.net.0.weight", "discriminator.net.11.weight"):  # started from their weights
        assert torch.allclose(tuned.state_dict()[name], imported.state_dict()[name], atol=1e-9)


@needs_reference
def test_fit_names_the_import_an_authors_file_needs(capsys):
    path = REFERENCE / "stargan" / "10000-D.ckpt"
    assert cli.main(["fit", "--model", "stargan", "--ckpt_path", str(path)]) == 2
    hint = f"is a stargan checkpoint, not a zoo one: convert it first with `python cli.py import --ckpt_path {path} "
    assert hint in capsys.readouterr().err


def test_sample_renders_the_latents_and_labels_given(tmp_path, capsys):
    model = CGAN(resolution=8, channels=1, num_classes=3, ngf=4, ndf=4, latent_dim=5)
    ckpt = write_checkpoint(Imported("cgan", dict(model.hparams), model.state_dict()), tmp_path / "cgan.ckpt")
    z, y = torch.randn(5, 5), torch.tensor([2, 0, 1, 1, 2])
    np.save(tmp_path / "z.npy", z.numpy())
    np.save(tmp_path / "y.npy", y.numpy())
    latents = ["--latents", str(tmp_path / "z.npy")]
    argv = ["sample", "--ckpt_path", str(ckpt), "--out_dir", str(tmp_path / "out"), *latents]
    assert cli.main([*argv, "--labels", str(tmp_path / "y.npy"), "--npz", "--batch_size", "2"]) == 0
    with np.load(tmp_path / "out" / "samples.npz") as npz:
        images, labels = npz["arr_0"], npz["arr_1"]
    with torch.no_grad():
        expected = to_uint8(model.eval().generator(z, y)).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(labels, y.numpy()) and np.abs(images.astype(int) - expected).max() <= 1
    np.save(tmp_path / "wide.npy", np.zeros((2, 6), np.float32))
    np.save(tmp_path / "few.npy", np.zeros(4, np.int64))
    for extra, phrase in [
        ([], "class-conditional: give one class per latent with --labels"),
        (["--labels", str(tmp_path / "few.npy")], "must hold 5 integer classes"),
        (["--labels", str(tmp_path / "z.npy")], "must hold 5 integer classes"),
        (["--latents", str(tmp_path / "wide.npy")], "takes one latent of 5 numbers per row"),
        (["--latents", str(tmp_path / "missing.npy")], "is not a readable .npy file"),
    ]:
        assert cli.main([*argv, *extra]) == 2
        assert phrase in capsys.readouterr().err


def test_import_help_and_usage():
    result = run_cli("import", "--help", cwd=ROOT)
    assert result.returncode == 0 and "--from SOURCE" in result.stdout and "dcgan-examples" in result.stdout
    assert "python cli.py import" in cli.USAGE and "import" in cli.COMMANDS


@needs_reference
@pytest.mark.parametrize(
    ("file", "model"),
    [
        ("nvlabs-stylegan2-ada/cond/network-snapshot-000000.pkl", "StyleGAN2"),
        ("biggan-pytorch/G.pth", "BigGAN"),
        ("pggan-zoo/fixture_s2_i48.pt", "PGGAN"),
    ],
)
def test_an_authors_file_with_an_average_generator_loads_it_as_the_ema_generator(file, model):
    """G_ema (NVlabs, BigGAN-PyTorch) and avgG (pytorch_GAN_zoo) become ``generator_ema``, which sampling uses."""
    imported = import_checkpoint(None, REFERENCE / file)
    gan = load_gan(REFERENCE / file)
    assert type(gan).__name__ == model and gan.generator_ema is not None
    for name, tensor in gan.generator_ema.state_dict().items():
        if isinstance(tensor, torch.Tensor):  # (not the progress state PGGAN keeps as extra state)
            assert torch.equal(tensor, imported.state_dict[f"generator_ema.{name}"]), name
