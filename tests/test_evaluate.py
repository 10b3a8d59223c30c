"""``python cli.py evaluate``: the JSON report of a tiny checkpoint, with a tiny injected extractor."""

import json
import urllib.error

import pytest
import pytorch_lightning as pl
import torch

from callbacks import load_gan
from cli import main
from metrics.image_metrics import ImageMetrics
from metrics.inception import INCEPTION_URL, extractor_fingerprint
from tests.helpers import make_trainer, tiny_dcgan, tiny_digits
from tests.test_metrics_fid import TinyExtractor

EXTRACTOR = "tests.test_metrics_fid:TinyExtractor"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny DCGAN on 16 px digits after 2 iterations, in <run>/checkpoints/last.ckpt."""
    run = tmp_path_factory.mktemp("run")
    pl.seed_everything(0)
    model = tiny_dcgan()
    trainer = make_trainer(2, default_root_dir=run)
    trainer.fit(model, tiny_digits())
    trainer.save_checkpoint(run / "checkpoints" / "last.ckpt")
    return run / "checkpoints" / "last.ckpt"


def test_writes_a_json_report_equal_to_the_library_and_prints_a_table(checkpoint, tmp_path, capsys):
    args = ["evaluate", "--ckpt_path", str(checkpoint), "--data", "digits", "--metrics", "fid,kid,is,pr",
            "--num_samples", "64", "--num_real", "96", "--batch_size", "32", "--seed", "3",
            "--extractor", EXTRACTOR, "--cache_dir", str(tmp_path), "--device", "cpu"]  # fmt: skip
    assert main(args) == 0
    report = json.loads((checkpoint.parent.parent / "metrics" / "last.json").read_text())

    model = load_gan(checkpoint)
    metrics = ImageMetrics(TinyExtractor(), "fid,kid,is,pr", num_samples=64, num_real=96, batch_size=32, seed=3,
                           cache_dir=tmp_path / "fresh")  # fmt: skip
    real = metrics.real_features(tiny_digits(), torch.device("cpu"))
    expected = metrics.scores(model, model.generator, real)
    assert report["scores"].keys() == {"fid", "kid", "is", "is_std", "precision", "recall"}
    assert report["scores"] == pytest.approx(expected, rel=1e-6, abs=1e-9)
    assert 0 <= report["scores"]["precision"] <= 1 and report["scores"]["fid"] > 0

    assert report["model"] == "dcgan" and report["generator"] == "raw" and report["kimg"] == 0.064
    protocol = report["protocol"]
    assert protocol["num_generated"] == 64 and protocol["num_real"] == 96 and protocol["seed"] == 3
    assert protocol["real_data"] | {"root": None} == {
        "data": "digits",
        "resolution": 16,
        "channels": 1,
        "split": "train",
        "root": None,
        "count": 96,
    }  # fmt: skip  (the resolution came from the model)
    assert protocol["extractor"] == "tiny test extractor"
    assert protocol["extractor_sha256"] == extractor_fingerprint(TinyExtractor())
    assert protocol["resize"].startswith("clean") and protocol["kid"]["subsets"] == 100 and protocol["pr_k"] == 3

    table = capsys.readouterr().out
    assert f"fid        {report['scores']['fid']:.6g}" in table
    assert "64 generated (raw generator, seed 3) vs 96 real (digits train, 16 px)" in table


def test_missing_weights_and_bad_metrics_fail_with_one_message(checkpoint, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GAN_ZOO_CACHE", str(tmp_path))
    monkeypatch.delenv("GAN_ZOO_INCEPTION", raising=False)

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    assert main(["evaluate", "--ckpt_path", str(checkpoint), "--num_samples", "8", "--device", "cpu"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and INCEPTION_URL in error and "--weights PATH" in error

    assert main(["evaluate", "--ckpt_path", str(checkpoint), "--metrics", "fid,lpips"]) == 2
    assert "unknown metric(s) lpips; choose from: fid, kid, is, pr" in capsys.readouterr().err
    assert main(["evaluate", "--ckpt_path", str(checkpoint), "--dta.root", "x"]) == 2
    assert "unknown option(s) --dta.root" in capsys.readouterr().err
