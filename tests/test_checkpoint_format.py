"""Checkpoint formats (zoo/checkpoint_format.py): every checkpoint names its entry's format; an older one is converted
exactly or refused with the fix, a newer one is refused. The format-1 files in tests/fixtures/checkpoint_format are
real checkpoints written by the zoo's code of before each change (its README says how)."""

import shutil
import warnings
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

import cli
from callbacks import load_gan, read_checkpoint
from tests.helpers import make_trainer, tiny_digits
from zoo import MODELS, get_model
from zoo.base import GANModule
from zoo.checkpoint_format import FORMAT_KEY, CheckpointConverted
from zoo.errors import ZooError
from zoo.importers import Imported, to_checkpoint
from zoo.triplegan import TripleGAN

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoint_format"
TRIPLEGAN_V1, INFOGAN_V1, INFOGAN_DCGAN_V1 = (
    FIXTURES / f"{name}-format1.ckpt" for name in ("triplegan", "infogan", "infogan-dcgan")
)
TRIPLEGAN_NOTE = (
    "the 10 batch norms of C and its average now keep lasagne's running mean and inverse std "
    "1 / sqrt(running_var + 0.0001) (the same eval outputs)"
)


def outputs(name: str) -> dict:
    """What the networks of ``name``'s format-1 checkpoint computed in eval mode, run by the code that wrote it."""
    return torch.load(FIXTURES / f"{name}-format1-outputs.pt", weights_only=True)


def copy_of(fixture: Path, folder: Path) -> Path:
    """The fixture under a path of this test's own: a conversion is said once per process and path."""
    shutil.copy(fixture, folder / fixture.name)
    return folder / fixture.name


def save(checkpoint: dict, path: Path) -> Path:
    torch.save(checkpoint, path)
    return path


def checkpoint_of(model: GANModule, name: str, **extra) -> dict:
    return {"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams), "zoo_model": name, **extra}


def conversions(caught) -> list[str]:
    return [str(w.message) for w in caught if "converted to format" in str(w.message)]


# ------------------------------------------------------------------------------------------ written


def test_fit_writes_the_format_and_a_resume_of_a_current_checkpoint_converts_nothing(tmp_path):
    pl.seed_everything(0)
    saver = ModelCheckpoint(dirpath=tmp_path, save_last=True, save_top_k=0)
    dcgan = get_model("dcgan")(resolution=16, channels=1, ngf=4, ndf=4)
    make_trainer(2, callbacks=[saver], enable_checkpointing=True).fit(dcgan, tiny_digits())
    written = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert (written["zoo_model"], written[FORMAT_KEY]) == ("dcgan", 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resumed = get_model("dcgan")(resolution=16, channels=1, ngf=4, ndf=4)
        make_trainer(3).fit(resumed, tiny_digits(), ckpt_path=tmp_path / "last.ckpt")
    assert resumed.iterations == 3 and conversions(caught) == []
    imported = to_checkpoint(Imported("dcgan", dict(dcgan.hparams), dcgan.state_dict()))  # `cli.py import`
    assert imported[FORMAT_KEY] == 1


def test_entries_name_their_format_and_every_raised_format_has_a_migration():
    formats = [model_cls.checkpoint_format for model_cls in (GANModule, TripleGAN, get_model("infogan"))]
    assert formats == [1, 2, 2]
    for name in MODELS:
        model_cls = get_model(name)
        if model_cls.checkpoint_format > 1:
            assert model_cls.migrate_checkpoint.__func__ is not GANModule.migrate_checkpoint.__func__, name


# ------------------------------------------------------------------------------------------ triplegan


def test_triplegan_bn_buffers_convert_to_lasagnes_inverse_std_by_hand():
    """running_var 0 and 3 with eps 1e-4: inv_std 1 / sqrt(1e-4) = 100 and 1 / sqrt(3.0001) = 0.577341..."""
    state = {
        "classifier.features.1.running_mean": torch.tensor([0.5, -2.0]),
        "classifier.features.1.running_var": torch.tensor([0.0, 3.0]),
        "classifier.features.1.num_batches_tracked": torch.tensor(7),
        "generator.bn1.running_var": torch.tensor([2.0]),  # G's PyTorch batch norm stays as it is
    }
    note = TripleGAN.migrate_checkpoint({"state_dict": state}, 1, "x.ckpt", generator_only=False)
    assert sorted(state) == ["classifier.features.1.inv_std", "classifier.features.1.mean", "generator.bn1.running_var"]
    torch.testing.assert_close(state["classifier.features.1.inv_std"], torch.tensor([100.0, 0.5773406]))
    torch.testing.assert_close(state["classifier.features.1.mean"], torch.tensor([0.5, -2.0]))
    assert note.startswith("the 1 batch norms of C and its average now keep lasagne's running mean and inverse std")


def test_a_format1_triplegan_checkpoint_loads_converted_with_the_classifier_outputs_it_had(tmp_path):
    path = copy_of(TRIPLEGAN_V1, tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        checkpoint = read_checkpoint(path)
        model = load_gan(path)
    assert conversions(caught) == [f"{path}: format-1 triplegan checkpoint converted to format 2: {TRIPLEGAN_NOTE}"]
    assert checkpoint[FORMAT_KEY] == 2 and not any(
        "running_var" in k for k in checkpoint["state_dict"] if k.startswith("classifier")
    )
    raw = torch.load(path, weights_only=True)["state_dict"]
    for layer in ("classifier.features.1.", "classifier_average.features.14."):
        torch.testing.assert_close(
            model.state_dict()[layer + "inv_std"], 1 / torch.sqrt(raw[layer + "running_var"] + 1e-4), rtol=1e-6, atol=0
        )
    old = outputs("triplegan")
    model.eval()
    with torch.no_grad():
        for net in ("classifier", "classifier_average"):
            torch.testing.assert_close(getattr(model, net)(old["inputs"]), old[net], rtol=1e-5, atol=1e-6)


def test_a_format1_triplegan_checkpoint_resumes_through_the_cli_with_one_line(tmp_path, capsys):
    """The fixture stopped after 22 iterations (0.88 kimg); the resume trains one more game iteration."""
    path = copy_of(TRIPLEGAN_V1, tmp_path)
    data = ["--data", "digits", "--data.resolution", "16", "--data.batch_size", "40", "--data.labelled", "20"]
    argv = ["fit", "--model", "triplegan", *data, "--data.labelled_batch_size", "20", "--trainer.max_kimg", "0.92"]
    run = ["--trainer.accelerator", "cpu", "--logger", "none", "--run_dir", str(tmp_path / "run")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cli.main([*argv, *run, "--ckpt_path", str(path)]) == 0, capsys.readouterr().err
    assert conversions(caught) == [f"{path}: format-1 triplegan checkpoint converted to format 2: {TRIPLEGAN_NOTE}"]
    resumed = read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    extra = resumed["state_dict"]["_extra_state"]
    assert (resumed[FORMAT_KEY], extra["iterations"], extra["classifier_steps"]) == (2, 23, 23)


# ------------------------------------------------------------------------------------------ infogan


def test_a_format1_infogan_samples_exactly_as_it_was_trained(tmp_path):
    """Its MNIST G's tanh output became 2 sigmoid(2a) - 1 with the last layer doubled; its noise stays N(0, I)."""
    path = copy_of(INFOGAN_V1, tmp_path)
    with pytest.warns(CheckpointConverted) as caught:
        model = load_gan(path)
    (line,) = conversions(caught)
    assert line == (
        f"{path}: format-1 infogan checkpoint converted to format 2: noise normal (the N(0, I) it was trained "
        "with; U(-1, 1) is the default since format 2); G's tanh output became the sigmoid's: its last layer doubled "
        "(tanh(a) = 2 sigmoid(2a) - 1), the same samples; its D has no exact conversion and is left as saved: use "
        "this model to sample and evaluate only"
    )
    assert (model.architecture, model.hparams.noise) == ("mnist", "normal")
    old = outputs("infogan")
    model.eval()
    with torch.no_grad():
        for net in ("generator", "generator_ema"):
            torch.testing.assert_close(getattr(model, net)(old["latents"]), old[net], rtol=0, atol=1e-6)


def test_a_format1_infogan_cannot_resume_training(capsys):
    with pytest.raises(ZooError) as refused:
        read_checkpoint(INFOGAN_V1)
    message = str(refused.value)
    assert message.startswith(f"{INFOGAN_V1} is a format-1 infogan checkpoint (written before commit cd36d40)")
    assert "trained on [-1, 1] pixels with a tanh out of G" in message
    assert message.endswith("retrain it with the current zoo (python cli.py fit --model infogan ...)")
    assert cli.main(["fit", "--model", "infogan", "--ckpt_path", str(INFOGAN_V1)]) == 2
    assert f"error: {message}" in capsys.readouterr().err


def test_a_format1_infogan_with_dcgan_nets_keeps_them_and_its_normal_noise(tmp_path):
    """Before the architecture option (7dca5fb) infogan had DCGAN nets; their weights mean what they meant."""
    path = copy_of(INFOGAN_DCGAN_V1, tmp_path)
    with pytest.warns(CheckpointConverted, match=r"format-1 infogan checkpoint converted to format 2: noise normal"):
        checkpoint = read_checkpoint(path)  # what a resume reads: nothing is refused
    hparams = checkpoint["hyper_parameters"]
    assert (hparams["architecture"], hparams["noise"]) == ("dcgan", "normal")
    model = load_gan(path)  # converted again, said once
    old = outputs("infogan-dcgan")
    model.eval()
    with torch.no_grad():
        for net in ("generator", "generator_ema"):
            torch.testing.assert_close(getattr(model, net)(old["latents"]), old[net], rtol=0, atol=1e-6)


# ------------------------------------------------------------------------------------------ any entry


def test_checkpoints_without_the_key_written_after_a_change_are_read_as_the_new_format(tmp_path):
    """Between each change and the format key, infogan wrote its ``noise`` and triplegan C's ``inv_std``."""
    infogan = get_model("infogan")(resolution=16, channels=1, ngf=4, ndf=4, noise_dim=8, q_hidden=8)
    triplegan = TripleGAN(resolution=16, g_hidden=4, d_hidden=(4, 4, 4, 4, 4), c_widths=(2, 2, 2, 2, 2))
    for model, name in ((infogan, "infogan"), (triplegan, "triplegan")):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no conversion
            read = read_checkpoint(save(checkpoint_of(model, name), tmp_path / f"{name}.ckpt"))
        assert FORMAT_KEY not in read and read["hyper_parameters"] == dict(model.hparams)
        assert all(torch.equal(read["state_dict"][k], v) for k, v in model.state_dict().items() if k != "_extra_state")


def test_a_checkpoint_from_a_newer_zoo_is_refused(tmp_path):
    dcgan = get_model("dcgan")(resolution=8, channels=1, ngf=4, ndf=4)
    path = save(checkpoint_of(dcgan, "dcgan", **{FORMAT_KEY: 2}), tmp_path / "future.ckpt")
    expected = (
        f"{path} is a format-2 dcgan checkpoint, written by a newer GAN Zoo than this one (which reads dcgan formats "
        "up to 1): update GAN Zoo (git pull) to load it"
    )
    for load in (read_checkpoint, load_gan):
        with pytest.raises(ZooError) as refused:
            load(path)
        assert str(refused.value) == expected


def test_the_model_refuses_a_checkpoint_no_reader_converted():
    """Lightning's own ``load_from_checkpoint`` reads the file without the zoo's reader: the model says so."""
    raw = torch.load(TRIPLEGAN_V1, weights_only=True)
    model = TripleGAN(**raw["hyper_parameters"])
    with pytest.raises(ZooError, match="in TripleGAN's format 1, not the current 2: load it with callbacks.load_gan"):
        model.on_load_checkpoint(raw)


def test_a_format1_biggan_deep_with_latent_optimisation_keeps_the_relu_it_was_trained_with(tmp_path):
    """Format 1 saved latent optimisation without a slope as None, meaning ReLU; format 2's None is LOGAN's 0.2."""
    torch.manual_seed(0)
    tiny = {"num_classes": 3, "resolution": 32, "channels": 1, "g_width": 2, "d_width": 2, "shared_dim": 4}
    trained = get_model("biggan_deep")(**tiny, attention=False, latent_optimisation=True, leaky_relu_slope=0.0)
    old = checkpoint_of(trained.eval(), "biggan_deep")
    old["hyper_parameters"]["leaky_relu_slope"] = None  # what format 1 wrote for that ReLU model
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_gan(save(old, tmp_path / "old.ckpt")).eval()
    assert loaded.hparams.leaky_relu_slope == 0.0
    assert not any(isinstance(m, torch.nn.LeakyReLU) for m in loaded.modules())
    z, y = loaded.sample_latent(2, torch.Generator().manual_seed(1)), torch.tensor([0, 2])
    with torch.no_grad():
        assert torch.equal(loaded.generator(z, y), trained.generator(z, y))
    said = f"{tmp_path / 'old.ckpt'}: format-1 biggan_deep checkpoint converted to format 2: its ReLU (latent "
    assert conversions(caught) == [said + "optimisation with no leaky_relu_slope) written as leaky_relu_slope 0"]
    plain = get_model("biggan_deep")(**tiny, attention=False)  # no latent optimisation: format 1 means the same
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = load_gan(save(checkpoint_of(plain, "biggan_deep"), tmp_path / "plain.ckpt"))
    assert conversions(caught) == [] and again.hparams.leaky_relu_slope is None
