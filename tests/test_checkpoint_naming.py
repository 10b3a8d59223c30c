"""Checkpoints and sample grids named by kimg, and the retention of periodic checkpoints (issue 20).

Names are computed by hand: digits at batch 32 shows 32 real images per iteration, and one iteration is two
optimizer steps (D, then G), so ``max_steps 130`` is 65 iterations, 2080 images."""

from __future__ import annotations

import copy
import subprocess

import pytest
import pytorch_lightning as pl

from callbacks import AtomicCheckpointIO, PeriodicFID, ZooCheckpoint, load_gan, read_checkpoint
from callbacks.kimg import kimg_stem
from tests.conftest import run_cli
from tests.helpers import make_trainer, printed_config_group, tiny_dcgan, tiny_digits
from tests.test_fid_callback import EXTRACTOR, MemoryLogger
from zoo.errors import ZooError


def images_seen(path) -> int:
    return read_checkpoint(path)["state_dict"]["_extra_state"]["images_seen"]


def names(folder, pattern: str = "*") -> list[str]:
    return sorted(p.name for p in folder.glob(pattern))


def test_kimg_stem_is_whole_kimg_for_a_whole_interval_and_exact_for_a_fractional_one():
    assert kimg_stem(200_032, 200) == kimg_stem(200_999, 200.0) == "kimg000200"  # NVlabs' network-snapshot-000200
    assert kimg_stem(1_000, 0.5) == "kimg000001.000" and kimg_stem(1_504, 0.5) == "kimg000001.504"
    # every iteration of a batch-48 run for 50 kimg at interval 0.25: distinct names, in time order by name alone
    stems = [kimg_stem(48 * i, 0.25) for i in range(1, 1042)]
    assert len(set(stems)) == len(stems) and sorted(stems) == stems


def fit(tmp_path, tiny_dcgan_args, *extra: str) -> subprocess.CompletedProcess:
    result = run_cli(
        "fit", *tiny_dcgan_args, "--run_dir", str(tmp_path / "run"), "--trainer.enable_progress_bar", "false",
        "--samples.num_samples", "4", *extra, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_fractional_interval_names_retention_and_a_resume_from_a_kimg_checkpoint(tmp_path, tiny_dcgan_args):
    every = ["--checkpoint.every_n_kimg", "0.5", "--checkpoint.keep_last", "2", "--samples.every_n_kimg", "0.5"]
    fit(tmp_path, tiny_dcgan_args, "--trainer.max_steps", "130", *every)
    checkpoints, samples = tmp_path / "run" / "checkpoints", tmp_path / "run" / "samples"
    # grid points 0.5, 1.0, 1.5, 2.0 kimg are first reached after 16, 32, 47, 63 iterations: 512, 1024, 1504, 2016
    # images; the two newest periodic files stay, beside last.ckpt (65 iterations, 2080 images)
    assert names(checkpoints) == ["kimg000001.504.ckpt", "kimg000002.016.ckpt", "last.ckpt"]
    assert [images_seen(checkpoints / n) for n in names(checkpoints)] == [1504, 2016, 2080]
    # every grid keeps its own file (whole kimg alone would write kimg000001.png twice), plus the one at the end
    expected_grids = ["kimg000000.512.png", "kimg000001.024.png", "kimg000001.504.png", "kimg000002.016.png"]
    assert names(samples, "kimg*") == [*expected_grids, "kimg000002.080.png"]

    # resume from the newest periodic file (iteration 63) to 100 iterations (3200 images): saves at 79 and 94
    # iterations (2528, 3008 images) continue the numbering, and the retention removes the files before them, the
    # one resumed from included once two newer ones exist
    source = checkpoints / "kimg000002.016.ckpt"
    fit(tmp_path, tiny_dcgan_args, "--trainer.max_steps", "200", *every, "--ckpt_path", str(source))
    assert names(checkpoints) == ["kimg000002.528.ckpt", "kimg000003.008.ckpt", "last.ckpt"]
    assert [images_seen(checkpoints / n) for n in names(checkpoints)] == [2528, 3008, 3200]
    states = read_checkpoint(checkpoints / "last.ckpt")["callbacks"]
    (kept,) = [state["periodic"] for key, state in states.items() if key.startswith("ZooCheckpoint")]
    assert kept == ["kimg000002.528.ckpt", "kimg000003.008.ckpt"]  # the list a further resume continues
    assert names(samples, "kimg*") == [*expected_grids, "kimg000002.080.png"] + [
        "kimg000002.528.png", "kimg000003.008.png", "kimg000003.200.png",
    ]  # fmt: skip
    for name in names(checkpoints):  # every kept file rebuilds the GAN
        model = load_gan(checkpoints / name, expected_model="dcgan")
        assert model.images_seen == images_seen(checkpoints / name) and model.iterations == model.images_seen // 32


def test_whole_interval_is_the_default_trigger_with_whole_kimg_names(tmp_path, tiny_dcgan_args):
    fit(tmp_path, tiny_dcgan_args, "--trainer.max_steps", "130", "--checkpoint.every_n_kimg", "1")
    # 1 and 2 kimg are first reached after 32 and 63 iterations (1024 and 2016 images); no step-named files
    checkpoints = tmp_path / "run" / "checkpoints"
    assert names(checkpoints) == ["kimg000001.ckpt", "kimg000002.ckpt", "last.ckpt"]
    assert [images_seen(checkpoints / n) for n in names(checkpoints)] == [1024, 2016, 2080]


def zoo_checkpoint(tmp_path, **kwargs) -> ZooCheckpoint:
    return ZooCheckpoint(dirpath=tmp_path / "checkpoints", save_last=True, save_top_k=-1, **kwargs)


def test_retention_keeps_the_newest_files_last_and_the_best_fid_checkpoint(tmp_path):
    pl.seed_everything(0)
    model = tiny_dcgan()
    model.generator_ema = copy.deepcopy(model.generator).requires_grad_(False)  # frozen: the first FID stays best
    fid = PeriodicFID(every_n_kimg=0.064, num_samples=32, num_real=64, batch_size=32, extractor=EXTRACTOR,
                      cache_dir=str(tmp_path / "stats"), max_overhead=None)  # fmt: skip
    logger = MemoryLogger()
    callbacks = [fid, zoo_checkpoint(tmp_path, every_n_kimg=0.064, keep_last=2)]
    make_trainer(8, callbacks=callbacks, logger=logger, enable_checkpointing=True).fit(model, tiny_digits())

    # 8 iterations of 32 images: periodic saves at 64, 128, ..., 256 images, of which the newest two stay
    checkpoints = tmp_path / "checkpoints"
    assert names(checkpoints) == ["best_fid.ckpt", "kimg000000.192.ckpt", "kimg000000.256.ckpt", "last.ckpt"]
    assert len(logger.logged) == 4 and fid.best_kimg == 0.064
    assert images_seen(checkpoints / "best_fid.ckpt") == 64  # its periodic twin is gone, the best one is not
    assert load_gan(checkpoints / "best_fid.ckpt").images_seen == 64


def test_step_triggered_checkpoints_are_kept_by_the_same_keep_last(tmp_path):
    pl.seed_everything(0)
    callback = zoo_checkpoint(
        tmp_path, every_n_train_steps=2, keep_last=2, filename="{step:08d}", auto_insert_metric_name=False
    )
    make_trainer(4, callbacks=[callback], enable_checkpointing=True).fit(tiny_dcgan(), tiny_digits())
    # saves at optimizer steps 2, 4, 6, 8 (one iteration each): the newest two stay
    assert names(tmp_path / "checkpoints") == ["00000006.ckpt", "00000008.ckpt", "last.ckpt"]
    assert images_seen(tmp_path / "checkpoints" / "00000006.ckpt") == 96


class FailingIO(AtomicCheckpointIO):
    """Refuses to write one file, as a full disk would."""

    def __init__(self, refused: str):
        super().__init__()
        self.refused = refused

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        if str(path).endswith(self.refused):
            raise ZooError(f"could not write checkpoint {path}")
        super().save_checkpoint(checkpoint, path, storage_options)


def test_a_failed_save_removes_nothing(tmp_path):
    pl.seed_everything(0)
    callback = zoo_checkpoint(tmp_path, every_n_kimg=0.064, keep_last=1)
    trainer = make_trainer(4, callbacks=[callback], enable_checkpointing=True, plugins=[FailingIO("0.128.ckpt")])
    with pytest.raises(ZooError, match="kimg000000.128.ckpt"):
        trainer.fit(tiny_dcgan(), tiny_digits())
    # the file at 64 images is still the newest good one, so it stays although keep_last is 1
    assert names(tmp_path / "checkpoints") == ["kimg000000.064.ckpt", "last.ckpt"]
    assert images_seen(tmp_path / "checkpoints" / "kimg000000.064.ckpt") == 64


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"every_n_kimg": 0}, "--checkpoint.every_n_kimg must be > 0"),
        ({"keep_last": 0}, "--checkpoint.keep_last must be >= 1, or -1"),
    ],
)
def test_bad_settings_are_one_error_naming_the_flag(kwargs, message):
    with pytest.raises(ZooError, match=message):
        ZooCheckpoint(**kwargs)


def test_the_cli_saves_every_200_kimg_and_keeps_5_by_default(capsys):
    group = printed_config_group(capsys, "checkpoint")
    assert "  every_n_kimg: 200.0" in group and "  keep_last: 5" in group and "  every_n_train_steps: null" in group


def test_two_process_ddp_names_by_images_of_both_ranks_and_keeps_the_newest(tmp_path, tiny_dcgan_args):
    result = run_cli(
        "fit", *tiny_dcgan_args, "--trainer.devices", "2", "--trainer.max_steps", "12",
        "--run_dir", str(tmp_path / "run"), "--checkpoint.every_n_kimg", "0.064", "--checkpoint.keep_last", "2",
        cwd=tmp_path, timeout=400,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    # 6 iterations of 2 ranks x 32 images: a save after each, named by the images of both ranks; rank 0 removes
    checkpoints = tmp_path / "run" / "checkpoints"
    assert names(checkpoints) == ["kimg000000.320.ckpt", "kimg000000.384.ckpt", "last.ckpt"]
    assert [images_seen(checkpoints / n) for n in names(checkpoints)] == [320, 384, 384]
