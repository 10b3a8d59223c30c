"""The whole-run progress bar and the kimg budget (issue 20): ``--trainer.max_kimg`` stops at the exact iteration,
the bar runs from the resumed position to the run's end in kimg under every limit, shows the module's last losses
read once per refresh, and prints slow plain lines when the output is not a terminal."""

from __future__ import annotations

import io
import math
import re
import signal
from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import yaml
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.utilities.exceptions import SIGTERMException

from callbacks import AtomicCheckpointIO, GracefulInterrupt, ZooCheckpoint, progress, read_checkpoint
from callbacks.progress import KimgProgressBar, RunEnd, iterations_for_steps, run_end, status_text
from tests.conftest import run_cli
from tests.helpers import tiny_dcgan, tiny_digits
from zoo.base import GANModule
from zoo.errors import ZooError
from zoo.trainer import ZooTrainer


class Terminal(io.StringIO):
    """Captured output that says it is a terminal, so the bar draws with tqdm."""

    def isatty(self) -> bool:
        return True


def fit(bar, batch_size=32, ckpt_dir=None, resume_from=None, model=None, callbacks_after=(), **limits):
    """Trains the tiny DCGAN on digits with ``bar`` and the given limits; returns (model, trainer)."""
    pl.seed_everything(0)
    model = model or tiny_dcgan()
    callbacks = [bar, *callbacks_after]
    callbacks += [ZooCheckpoint(dirpath=ckpt_dir, save_last=True, save_top_k=0)] if ckpt_dir else []
    trainer = ZooTrainer(
        accelerator="cpu", logger=False, enable_checkpointing=bool(ckpt_dir), enable_model_summary=False,
        use_distributed_sampler=False, plugins=[AtomicCheckpointIO()], callbacks=callbacks,
        log_every_n_steps=1000, **limits,
    )  # fmt: skip
    trainer.fit(model, tiny_digits(batch_size=batch_size), ckpt_path=resume_from)
    return model, trainer


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_max_kimg_stops_at_the_first_iteration_that_reaches_it_and_the_bar_ends_full():
    out = io.StringIO()
    model, trainer = fit(KimgProgressBar(stream=out), max_kimg=0.1)
    # 100 images at 32 per iteration: 96 after 3 iterations, 128 >= 100 after the 4th
    assert (model.iterations, model.images_seen, trainer.global_step) == (4, 128, 8)
    shown = lines(out)
    assert shown[0] == "progress 0%: 0.00/0.13 kimg, iteration 0/4"  # the total known from the start
    assert shown[-1].startswith("progress 100%: 0.13/0.13 kimg, iteration 4/4, ")


@pytest.mark.parametrize(
    "limits, iterations",
    [
        ({"max_steps": 9}, 6),  # d_steps 2: 3 optimizer steps per 2 iterations
        ({"max_epochs": 1}, 14),  # 1797 digits // 128 = 14 whole batches
        ({"max_kimg": 0.5, "max_steps": 4}, 3),  # the first limit reached ends the run
    ],
)
def test_bar_total_from_max_steps_max_epochs_and_the_nearest_limit(limits, iterations):
    out = io.StringIO()
    model, _ = fit(KimgProgressBar(stream=out), batch_size=128, model=tiny_dcgan(d_steps=2), **limits)
    assert model.iterations == iterations
    end = f"{iterations * 128 / 1000:.2f}"
    assert lines(out)[0] == f"progress 0%: 0.00/{end} kimg, iteration 0/{iterations}"
    assert lines(out)[-1].startswith(f"progress 100%: {end}/{end} kimg, iteration {iterations}/{iterations}, ")


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    """last.ckpt of a run stopped by max_steps after 4 of an epoch's 14 iterations at batch 128 (512 images)."""
    folder = tmp_path_factory.mktemp("stopped")
    fit(KimgProgressBar(stream=io.StringIO()), batch_size=128, ckpt_dir=folder, max_steps=8)
    return folder / "last.ckpt"


@pytest.mark.parametrize(
    "limits, images, iterations",
    [
        ({"max_kimg": 1.0}, 1024, 8),  # 512 + 4 x 128 >= 1000
        ({"max_steps": 12}, 768, 6),  # 8 + 2 x 2 optimizer steps
        # the rest of the data's first epoch; Lightning counts it as the second, as max_steps ended its first
        ({"max_epochs": 2}, 1792, 14),
    ],
)
def test_resumed_bar_starts_at_the_checkpoint_and_ends_at_the_limit(stopped_run, limits, images, iterations):
    screen = Terminal()
    model, _ = fit(KimgProgressBar(stream=screen), batch_size=128, resume_from=stopped_run, **limits)
    assert (model.images_seen, model.iterations) == (images, iterations)
    draws = [d for d in re.split(r"[\r\n]", screen.getvalue()) if d.strip()]
    end = f"{images / 1000:.2f}"
    first = f"{100 * 512 / images:3.0f}%|"
    assert draws[0].startswith(first) and f"| 0.51/{end} kimg, iteration 4/{iterations}" in draws[0], draws[0]
    assert draws[-1].startswith("100%|") and f"| {end}/{end} kimg, iteration {iterations}/{iterations}" in draws[-1]


@pytest.mark.filterwarnings("ignore:The dirpath has changed")  # last.ckpt goes to a new folder
def test_resume_with_the_budget_reached_ends_at_once_and_writes_last_ckpt(stopped_run, tmp_path, capsys):
    out = io.StringIO()
    model, _ = fit(KimgProgressBar(stream=out), ckpt_dir=tmp_path, resume_from=stopped_run, max_kimg=0.5)
    assert (model.iterations, model.images_seen) == (4, 512)
    assert "max_kimg 0.5 reached already: the run is at 0.512 kimg (iteration 4)" in capsys.readouterr().err
    assert read_checkpoint(tmp_path / "last.ckpt")["state_dict"]["_extra_state"]["images_seen"] == 512
    assert lines(out) == ["progress 100%: 0.51/0.51 kimg, iteration 4/4"]


def test_bar_losses_are_the_modules_last_losses_read_once_per_refresh(monkeypatch):
    reads, read = [], progress.losses_to_host

    def counted(losses):
        reads.append(1)
        return read(losses)

    monkeypatch.setattr(progress, "losses_to_host", counted)
    screen = Terminal()
    bar = KimgProgressBar(refresh_rate=4, refresh_seconds=0, stream=screen)
    model, _ = fit(bar, max_steps=24)  # 12 iterations; log_every_n_steps 1000 logs none of them
    assert model.iterations == 12
    assert len(reads) == 3 == bar.refreshes  # after iterations 4, 8 and 12: not one read per iteration
    d, g = model.last_losses["loss/d"].item(), model.last_losses["loss/g"].item()
    assert bar.losses == {"D": d, "G": g}
    assert screen.getvalue().rstrip().endswith(f"D {d:.3f} G {g:.3f}")


def test_not_a_terminal_prints_a_plain_line_every_line_percent():
    out = io.StringIO()
    bar = KimgProgressBar(line_percent=25, line_seconds=3600, stream=out)
    fit(bar, max_kimg=0.256)  # 8 iterations of 32
    shown = lines(out)
    assert "\r" not in out.getvalue()
    assert [line.split(":")[0] for line in shown] == [f"progress {p}%" for p in (0, 25, 50, 75, 100)]
    assert bar.refreshes == 4  # lines after iterations 2, 4, 6 and 8 read the losses; the first has none


class SigtermAt(Callback):
    """Sends GracefulInterrupt a SIGTERM after iteration ``n``, as the kernel would."""

    def __init__(self, interrupt: GracefulInterrupt, n: int):
        self.interrupt, self.n = interrupt, n

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if pl_module.iterations == self.n:
            self.interrupt._on_signal(signal.SIGTERM, None)


def test_a_signal_leaves_the_bar_where_the_run_stopped(capsys):
    out, interrupt = io.StringIO(), GracefulInterrupt()
    bar = KimgProgressBar(line_percent=25, line_seconds=3600, stream=out)
    model = tiny_dcgan()
    with pytest.raises(SIGTERMException) as stopped:
        fit(bar, model=model, max_kimg=0.256, callbacks_after=[interrupt, SigtermAt(interrupt, 3)])
    assert stopped.value.code == 128 + signal.SIGTERM
    assert model.iterations == 3
    assert lines(out)[-1].startswith("progress 25%: 0.06/0.26 kimg, iteration 2/8")  # no 100% line
    assert "SIGTERM: stopped at iteration 3" in capsys.readouterr().err


def shared_loop_steps(d_steps: int):
    """``GANModule.optimizer_steps`` of the shared loop with ``d_steps``."""
    return GANModule(d_steps=d_steps).optimizer_steps


def test_iterations_for_steps_counts_d_and_g_steps():
    assert [iterations_for_steps(s, 0, shared_loop_steps(1)) for s in (0, 1, 2, 3, 4)] == [0, 1, 1, 2, 2]
    assert iterations_for_steps(9, 0, shared_loop_steps(2)) == 6
    assert iterations_for_steps(6, 0, shared_loop_steps(5)) == 5
    assert iterations_for_steps(3, 4, shared_loop_steps(2)) == 2  # from iteration 4 with d_steps 2: D, D+G
    assert iterations_for_steps(-2, 3, shared_loop_steps(1)) == 0
    assert iterations_for_steps(7, 0, lambda start, n: 3 * n) == 3  # three optimizer steps every iteration


class OwnTrainingStep(GANModule):
    """An entry with its own iteration (three optimizer steps, say)."""

    def training_step(self, batch, batch_idx):
        raise NotImplementedError


def test_an_entry_with_its_own_training_step_is_estimated_from_its_steps_per_iteration_so_far():
    model = OwnTrainingStep()
    model.trainer = SimpleNamespace(global_step=0)
    assert model.optimizer_steps(0, 5) == 10  # before the first iteration: D + G
    model.trainer, model.iterations = SimpleNamespace(global_step=21), 7
    assert model.optimizer_steps(7, 5) == 15 and iterations_for_steps(16, 7, model.optimizer_steps) == 6


def test_a_batch_size_change_keeps_the_end_in_kimg_and_moves_the_iteration_count():
    # progressive growing halves the batch mid-run: max_kimg still ends at 1,024 images, in 16 more iterations
    trainer = SimpleNamespace(max_kimg=1.0, max_steps=-1, max_epochs=-1, num_training_batches=math.inf)
    module = SimpleNamespace(images_seen=512, iterations=8, hparams={"d_steps": 1})
    assert run_end(trainer, module, batch=64, starting=False) == RunEnd(1024, 16)
    assert run_end(trainer, module, batch=32, starting=False) == RunEnd(1024, 24)
    assert run_end(trainer, module, batch=None, starting=True) is None  # no batch seen yet, none configured


def test_status_text_time_left_follows_images_not_iterations():
    end = RunEnd(images=10_000, iterations=100)
    text = status_text(4_000, 70, end, rate=200.0, losses={"D": 0.5, "G": 1.25})
    assert text == "4.00/10.00 kimg, iteration 70/100, 200 img/s, 0:00:30 left, D 0.500 G 1.250"
    assert status_text(4_000, 70, None, None, {}) == (
        "4.00 kimg (no total: no max_kimg, max_steps, max_epochs), iteration 70"
    )


def test_max_kimg_must_be_positive():
    with pytest.raises(ZooError, match="--trainer.max_kimg must be > 0"):
        ZooTrainer(max_kimg=0, logger=False)


def test_cli_max_kimg_is_a_trainer_option_in_config_yaml_and_a_resume_at_the_budget_ends_at_once(
    tmp_path, tiny_dcgan_args
):
    run = tmp_path / "run"
    first = run_cli("fit", *tiny_dcgan_args, "--trainer.max_kimg", "0.064", "--run_dir", str(run), cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert yaml.safe_load((run / "config.yaml").read_text())["trainer"]["max_kimg"] == 0.064
    last = run / "checkpoints" / "last.ckpt"
    assert read_checkpoint(last)["state_dict"]["_extra_state"]["images_seen"] == 64  # 2 iterations of 32
    assert first.stdout.splitlines()[0] == "progress 0%: 0.00/0.06 kimg, iteration 0/2"
    assert first.stdout.splitlines()[-1].startswith("progress 100%: 0.06/0.06 kimg, iteration 2/2, ")

    again = run_cli("fit", *tiny_dcgan_args, "--trainer.max_kimg", "0.064", "--ckpt_path", str(last), cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "max_kimg 0.064 reached already: the run is at 0.064 kimg (iteration 2)" in again.stderr
    assert read_checkpoint(last)["state_dict"]["_extra_state"]["images_seen"] == 64
