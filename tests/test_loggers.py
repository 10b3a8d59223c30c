"""``fit --logger wandb|tensorboard|csv|none`` and a user's ``--trainer.logger``: every file in the run folder, the
losses and kimg at Lightning's logger steps, the sample grid as an image, the final checkpoint as a W&B artifact."""

import base64
import csv
import hashlib
import struct
from pathlib import Path

import pytest

from tests.conftest import run_cli

#: 6 iterations of 32 digits, losses logged every 2nd iteration: at logger steps 1, 3, 5 (iteration index)
TRAIN = ["--trainer.max_steps", "12", "--trainer.log_every_n_steps", "2", "--samples.num_samples", "4"]
LOGGED_STEPS = [1, 3, 5]
#: what every run folder holds whatever the logger
RUN_FILES = {"checkpoints", "samples", "config.yaml"}
LOGGER_FILES = {"wandb": {"wandb", "wandb-run-id"}, "tensorboard": {"tensorboard"}, "csv": {"csv"}, "none": set()}


def wandb_env(tmp_path: Path) -> dict:
    """Offline W&B with its data, cache and config folders (artifact staging) outside the folder a run starts in."""
    home = tmp_path / "wandb-home"
    return {
        "WANDB_MODE": "offline",
        "WANDB_DATA_DIR": str(home / "data"),
        "WANDB_CACHE_DIR": str(home / "cache"),
        "WANDB_CONFIG_DIR": str(home / "config"),
    }


def fit(tmp_path: Path, tiny_dcgan_args: list[str], *args: str):
    """Trains the tiny DCGAN in ``tmp_path/work``; returns the finished process."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return run_cli("fit", *tiny_dcgan_args, *TRAIN, *args, cwd=work, env=wandb_env(tmp_path))


@pytest.fixture(scope="module")
def finished() -> dict:
    """The runs of this module by their flags, each trained once and read by several tests."""
    return {}


@pytest.fixture
def trained(tmp_path_factory, tiny_dcgan_args, finished):
    """``trained(*flags)``: (folder, process) of a finished tiny run with these flags, trained on first use."""

    def run(*args: str):
        if args not in finished:
            folder = tmp_path_factory.mktemp("run")
            done = fit(folder, tiny_dcgan_args, *args)
            assert done.returncode == 0, done.stderr[-3000:]
            finished[args] = folder, done
        return finished[args]

    return run


#: the flags of each logger's shared run
LOGGER_RUNS = {
    "wandb": ("--logger", "wandb", "--wandb.log_model", "true"),
    "tensorboard": ("--logger", "tensorboard"),
    "csv": ("--logger", "csv"),
    "none": ("--logger", "none"),
}


def only_run_dir(tmp_path: Path) -> Path:
    """The one run folder, after checking that the run wrote nothing else in the folder it started in."""
    work = tmp_path / "work"
    assert sorted(p.name for p in work.iterdir()) == ["runs"]
    (run_dir,) = (work / "runs").glob("*/*")
    return run_dir


def wandb_records(path: Path):
    """The records of an offline W&B run file (``run-<id>.wandb``): wandb's LevelDB-style log of 32 KiB blocks
    after a 7-byte header, each record in chunks with a 7-byte header (crc32, length, type: 1 full, 2 first,
    3 middle, 4 last), each record a ``wandb_internal_pb2.Record``."""
    from wandb.proto import wandb_internal_pb2

    data, pos, payload = path.read_bytes(), 7, b""
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:  # a block's tail too short for a chunk header is padding
            pos += 32768 - pos % 32768
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        payload += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(payload)
            yield record
            payload = b""


@pytest.mark.parametrize("logger", ["wandb", "tensorboard", "csv", "none"])
def test_every_logger_writes_only_into_the_run_folder(trained, logger):
    folder, done = trained(*LOGGER_RUNS[logger])
    run_dir = only_run_dir(folder)
    assert {p.name for p in run_dir.iterdir()} == RUN_FILES | LOGGER_FILES[logger]
    assert "logger: " + logger in (run_dir / "config.yaml").read_text()
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["last.ckpt"]
    if logger == "none":
        assert "warning" not in done.stderr.lower(), done.stderr


def test_csv_has_the_losses_and_kimg_at_the_logger_steps(trained):
    folder, _ = trained(*LOGGER_RUNS["csv"])
    with open(only_run_dir(folder) / "csv" / "metrics.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [int(row["step"]) for row in rows] == LOGGED_STEPS
    assert [float(row["kimg"]) for row in rows] == pytest.approx([(s + 1) * 32 / 1000 for s in LOGGED_STEPS])
    assert all(0 < float(row["loss/d"]) < 10 and 0 < float(row["loss/g"]) < 10 for row in rows)


def test_a_resume_continues_the_csv_history_without_repeating_the_logger(tmp_path, tiny_dcgan_args):
    assert fit(tmp_path, tiny_dcgan_args, "--logger", "csv", "--trainer.max_steps", "8").returncode == 0
    run_dir = only_run_dir(tmp_path)
    last = run_dir / "checkpoints" / "last.ckpt"
    resumed = fit(tmp_path, tiny_dcgan_args, "--ckpt_path", str(last))  # the run folder's config.yaml says csv
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert only_run_dir(tmp_path) == run_dir
    assert {p.name for p in run_dir.iterdir()} == RUN_FILES | {"csv"}
    with open(run_dir / "csv" / "metrics.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [int(row["step"]) for row in rows] == LOGGED_STEPS  # steps 1, 3 from the first part, 5 from the resume
    assert [float(row["kimg"]) for row in rows] == pytest.approx([0.064, 0.128, 0.192])


def test_tensorboard_has_the_scalars_and_the_sample_grid(trained):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folder, _ = trained(*LOGGER_RUNS["tensorboard"])
    events = EventAccumulator(str(only_run_dir(folder) / "tensorboard"))
    events.Reload()
    assert {"loss/d", "loss/g", "kimg", "d/real", "d/fake"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("loss/d")] == LOGGED_STEPS
    assert [e.value for e in events.Scalars("kimg")] == pytest.approx([(s + 1) * 32 / 1000 for s in LOGGED_STEPS])
    (grid,) = events.Images("samples")  # the end-of-training grid, at the last iteration's step
    assert (grid.step, grid.width, grid.height) == (5, 2 * 16 + 3 * 2, 2 * 16 + 3 * 2)  # 2x2 of 16 px, 2 px padding


def test_a_users_trainer_logger_needs_no_save_dir_and_writes_into_the_run_folder(tmp_path, tiny_dcgan_args):
    done = fit(tmp_path, tiny_dcgan_args, "--trainer.logger", "CSVLogger")
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = only_run_dir(tmp_path)
    assert {p.name for p in run_dir.iterdir()} == RUN_FILES | {"lightning_logs"}
    with open(run_dir / "lightning_logs" / "version_0" / "metrics.csv", newline="") as file:
        assert [int(row["step"]) for row in csv.DictReader(file)] == LOGGED_STEPS
    assert f"save_dir: {run_dir.relative_to(tmp_path / 'work')}\n" in (run_dir / "config.yaml").read_text()


def test_a_bad_logger_choice_is_one_line_naming_the_choices(tmp_path, tiny_dcgan_args):
    bad = fit(tmp_path, tiny_dcgan_args, "--logger", "mlflow")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "error: unknown --logger 'mlflow'; choose one of: wandb, tensorboard, csv, none" in bad.stderr
    both = fit(tmp_path, tiny_dcgan_args, "--logger", "csv", "--trainer.logger", "CSVLogger")
    assert both.returncode == 2 and "--logger and --trainer.logger both choose a logger" in both.stderr
    assert list((tmp_path / "work").iterdir()) == []  # a refused run leaves no run folder


def test_wandb_log_model_records_last_ckpt_and_the_grid_in_the_offline_run(trained):
    folder, _ = trained(*LOGGER_RUNS["wandb"])
    run_dir = only_run_dir(folder)
    run_id = (run_dir / "wandb-run-id").read_text().strip()
    (run_file,) = run_dir.glob(f"wandb/offline-run-*-{run_id}/run-{run_id}.wandb")
    records = list(wandb_records(run_file))

    (artifact,) = [r.artifact for r in records if r.WhichOneof("record_type") == "artifact"]
    assert (artifact.name, artifact.type) == (f"model-{run_id}", "model")
    assert set(artifact.aliases) == {"latest", "kimg0"}
    (entry,) = artifact.manifest.contents
    checkpoint = (run_dir / "checkpoints" / "last.ckpt").read_bytes()
    assert (entry.path, entry.size) == ("last.ckpt", len(checkpoint))
    assert entry.digest == base64.b64encode(hashlib.md5(checkpoint).digest()).decode()
    staged = Path(entry.local_path)  # the copy `wandb sync` uploads, in wandb's data folder
    assert staged.is_relative_to(folder / "wandb-home" / "data") and staged.read_bytes() == checkpoint

    history = [{item.key or "/".join(item.nested_key): item.value_json for item in r.history.item} for r in records]
    (grid,) = [h for h in history if "samples/filenames" in h]
    assert grid["trainer/global_step"] == "5" and grid["samples/captions"] == '["kimg000000"]'
    assert [int(h["trainer/global_step"]) for h in history if "loss/d" in h] == LOGGED_STEPS
    (media,) = run_file.parent.glob("files/media/images/samples_*.png")
    assert f'"{media.relative_to(run_file.parent / "files")}"' in grid["samples/filenames"]


def test_wandb_log_model_without_the_wandb_logger_is_refused(tmp_path, tiny_dcgan_args):
    refused = fit(tmp_path, tiny_dcgan_args, "--logger", "csv", "--wandb.log_model", "true")
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert "error: --wandb.log_model logs to W&B: use it with --logger wandb (the default)" in refused.stderr


def test_save_dir_args_fills_in_the_run_folder_only_where_a_logger_needs_a_save_dir():
    from zoo.run_loggers import RUN_FOLDER, save_dir_args

    filled = ["--trainer.logger.init_args.save_dir", RUN_FOLDER]
    assert save_dir_args(["fit", "--trainer.logger", "CSVLogger"]) == ["fit", "--trainer.logger", "CSVLogger", *filled]
    full = ["--trainer.logger=pytorch_lightning.loggers.TensorBoardLogger"]
    assert save_dir_args(full) == [*full, *filled]
    for unchanged in (
        ["--trainer.logger", "CSVLogger", "--trainer.logger.save_dir", "logs"],  # given
        ["--trainer.logger", "WandbLogger"],  # save_dir defaults to ".", which ZooCLI points at the run folder
        ["--trainer.logger", "false"],
        ["--logger", "csv"],
    ):
        assert save_dir_args(unchanged) == unchanged


def test_wandb_log_model_with_wandb_disabled_stages_no_copy(tmp_path, tiny_dcgan_args):
    work = tmp_path / "work"
    work.mkdir()
    env = {**wandb_env(tmp_path), "WANDB_MODE": "disabled"}
    done = run_cli("fit", *tiny_dcgan_args, "--trainer.max_steps", "4", "--wandb.log_model", "true", cwd=work, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (only_run_dir(tmp_path) / "checkpoints" / "last.ckpt").is_file()
    assert not (tmp_path / "wandb-home" / "data").exists()  # no artifact staged for a run that is never synced
