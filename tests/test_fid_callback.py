"""PeriodicFID: scores logged every N kimg, best_fid.ckpt, off by default, a CLI option group."""

import copy

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import Logger

from callbacks import PeriodicFID, read_checkpoint
from callbacks.fid import DEFAULT_EVERY_N_KIMG
from metrics.image_metrics import ImageMetrics
from tests.helpers import make_trainer, printed_config_group, tiny_dcgan, tiny_digits
from tests.test_metrics_fid import TinyExtractor

EXTRACTOR = "tests.test_metrics_fid:TinyExtractor"


class MemoryLogger(Logger):
    """Keeps every ``log_metrics`` call as (step, metrics)."""

    def __init__(self):
        super().__init__()
        self.logged: list[tuple[int, dict]] = []

    @property
    def name(self) -> str:
        return "memory"

    @property
    def version(self) -> int:
        return 0

    def log_hyperparams(self, params, *args, **kwargs) -> None:
        pass

    def log_metrics(self, metrics: dict, step: int | None = None) -> None:
        self.logged.append((step, dict(metrics)))


def test_logs_ema_and_raw_scores_every_n_kimg_and_keeps_the_best_ema_checkpoint(tmp_path):
    pl.seed_everything(0)
    model = tiny_dcgan()
    model.generator_ema = copy.deepcopy(model.generator).requires_grad_(False)  # a frozen "average"
    logger = MemoryLogger()
    callback = PeriodicFID(every_n_kimg=0.064, metrics="fid,kid", num_samples=32, num_real=64, batch_size=32,
                           extractor=EXTRACTOR, cache_dir=str(tmp_path / "stats"), max_overhead=None)  # fmt: skip
    trainer = make_trainer(4, callbacks=[callback], logger=logger, default_root_dir=tmp_path)
    trainer.fit(model, tiny_digits())

    # 4 iterations of 32 images: evaluations at 64 and 128 images (optimizer steps 4 and 8), none repeated at the end
    assert [step for step, _ in logger.logged] == [4, 8]
    assert all(set(m) == {"fid/ema", "fid/raw", "kid/ema", "kid/raw", "fid/eval_seconds"} for _, m in logger.logged)
    (_, first), (_, last) = logger.logged
    metrics = ImageMetrics(TinyExtractor(), "fid,kid", num_samples=32, num_real=64, batch_size=32, cache_dir=tmp_path)
    real = metrics.real_features(tiny_digits(), torch.device("cpu"))
    expected_raw = metrics.scores(model, model.generator, real)
    assert last["fid/raw"] == pytest.approx(expected_raw["fid"], rel=1e-6)
    assert last["kid/raw"] == pytest.approx(expected_raw["kid"], rel=1e-6, abs=1e-9)
    assert last["fid/ema"] == pytest.approx(metrics.scores(model, model.generator_ema, real)["fid"], rel=1e-6)
    assert first["fid/raw"] != last["fid/raw"]  # the raw generator trained in between

    # the frozen EMA scores the same twice: the first evaluation stays the best (not strictly improved upon)
    assert first["fid/ema"] == pytest.approx(last["fid/ema"], rel=1e-6)
    assert callback.best_fid == first["fid/ema"] and callback.best_kimg == 0.064
    best = read_checkpoint(tmp_path / "checkpoints" / "best_fid.ckpt")
    assert best["state_dict"]["_extra_state"]["images_seen"] == 64
    assert best["callbacks"]["PeriodicFID"] == {"best_fid": first["fid/ema"], "best_kimg": 0.064}


def test_skips_grid_points_while_evaluation_would_cost_more_than_max_overhead():
    callback = PeriodicFID(every_n_kimg=10, max_overhead=0.1)
    # 5 s of evaluation after 20 s for 10 kimg of training: 50 s of training = 25 kimg must pass first
    assert callback.overhead_gap_kimg(eval_seconds=5, train_seconds=20, trained_kimg=10) == pytest.approx(25)
    assert callback.next_kimg(20_000, gap_kimg=25) == 50  # the grid point after 45 kimg
    assert callback.next_kimg(20_000, gap_kimg=callback.overhead_gap_kimg(0.1, 20, 10)) == 30  # cheap: next point
    assert PeriodicFID(every_n_kimg=10, max_overhead=None).overhead_gap_kimg(5, 20, 10) == 0


def test_is_off_by_default_and_never_loads_an_extractor(monkeypatch):
    monkeypatch.setattr("callbacks.fid.load_extractor", lambda *a, **k: pytest.fail("loaded an extractor"))
    logger = MemoryLogger()
    callback = PeriodicFID()
    make_trainer(2, callbacks=[callback], logger=logger).fit(tiny_dcgan(), tiny_digits())
    assert not callback.active and callback.last_scores == {} and logger.logged == []
    assert PeriodicFID(enabled=True).every_n_kimg == DEFAULT_EVERY_N_KIMG and PeriodicFID(every_n_kimg=5).active


def test_is_a_cli_option_group_disabled_by_default(capsys):
    group = printed_config_group(capsys, "fid")
    assert "  enabled: false" in group and "  every_n_kimg: null" in group and "  metrics: fid" in group
