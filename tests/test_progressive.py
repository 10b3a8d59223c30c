"""Progressive growing (callbacks/progressive.py): the phase schedule on exact values, batch sizes per resolution,
fresh optimizer state for new layers, and a resume in the middle of a fade-in that continues exactly."""

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint

from callbacks import ProgressiveGrowing
from callbacks.progressive import GrowthSchedule, Phase
from tests.helpers import make_trainer, tiny_dcgan, tiny_digits
from zoo.errors import ZooError
from zoo.pggan import PGGAN


def tiny_pggan(**kwargs) -> PGGAN:
    return PGGAN(**{"resolution": 8, "channels": 1, "latent_dim": 8, "fmap_base": 16, "fmap_max": 8, **kwargs})


class PhaseRecorder(Callback):
    """The (resolution, alpha, batch size, epoch) of every training iteration, read from the model and the batch."""

    def __init__(self):
        self.phases = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        net = pl_module.generator
        self.phases.append((net.resolution, net.alpha, batch[0].shape[0], trainer.current_epoch))


# ---------------------------------------------------------------------------------------- schedule


def test_phase_at_follows_the_schedule_exactly():
    schedule = GrowthSchedule(16, stabilize_kimg=0.1, fade_kimg=0.2, batch_sizes={4: 64, 16: 8}, default_batch_size=32)
    expected = {
        0: Phase(4, 1.0, 64),
        100: Phase(4, 1.0, 64),  # the last image of the 4x4 stabilization
        150: Phase(8, 0.25, 32),  # a quarter into the 8x8 fade-in (200 images)
        299: Phase(8, 0.995, 32),
        300: Phase(8, 1.0, 32),  # stabilizing 8x8
        400: Phase(8, 1.0, 32),
        450: Phase(16, 0.25, 8),
        600: Phase(16, 1.0, 8),  # the last resolution stays
        10**6: Phase(16, 1.0, 8),
    }
    assert {n: schedule.phase_at(n) for n in expected} == expected


def test_the_paper_schedule_takes_800k_images_per_phase():
    schedule = GrowthSchedule(128, default_batch_size=16)
    assert schedule.phase_at(800_000) == Phase(4, 1.0, 16)
    assert schedule.phase_at(1_200_000) == Phase(8, 0.5, 16)
    assert schedule.phase_at(800_000 + 4 * 1_600_000) == Phase(64, 1.0, 16)
    assert schedule.phase_at(800_000 + 4 * 1_600_000 + 1) == Phase(128, 1 / 800_000, 16)
    assert schedule.phase_at(800_000 + 5 * 1_600_000) == Phase(128, 1.0, 16)  # growth ends at 8800 kimg


@pytest.mark.parametrize(
    "kwargs, phrase",
    [
        ({"stabilize_kimg": 0, "fade_kimg": 0}, "positive sum"),
        ({"fade_kimg": -1}, "must be >= 0"),
        ({"start_resolution": 32}, "start_resolution must be between 4 and the model's 16"),
    ],
)
def test_bad_schedules_are_rejected(kwargs, phrase):
    with pytest.raises(ZooError, match=phrase):
        GrowthSchedule(16, **kwargs)


# ------------------------------------------------------------------------------------------ training


def train(iterations, callbacks=(), ckpt_dir=None, resume_from=None, batch_sizes=None):
    pl.seed_everything(0)
    model = tiny_pggan()
    recorder = PhaseRecorder()
    growing = ProgressiveGrowing(stabilize_kimg=0.032, fade_kimg=0.064, batch_sizes=batch_sizes)
    checkpoints = [ModelCheckpoint(dirpath=ckpt_dir, save_last=True, save_top_k=0)] if ckpt_dir else []
    trainer = make_trainer(
        iterations, callbacks=[growing, recorder, *checkpoints, *callbacks], enable_checkpointing=bool(ckpt_dir)
    )
    trainer.fit(model, tiny_digits(resolution=8, batch_size=8), ckpt_path=resume_from)
    return model, recorder.phases


def test_new_layers_start_with_fresh_adam_state_and_old_ones_keep_theirs():
    # 8 images per batch: images_seen 0..32 before iterations 0..4 is the 4x4 phase, iterations 5..7 fade in 8x8
    model, phases = train(8)
    assert [p[:2] for p in phases] == [(4, 1.0)] * 5 + [(8, 0.125), (8, 0.25), (8, 0.375)]
    d_opt, g_opt = model.optimizers()

    def adam_steps(optimizer, module):
        return {int(optimizer.state[p]["step"]) if p in optimizer.state else 0 for p in module.parameters()}

    g, d = model.generator, model.discriminator
    assert adam_steps(g_opt, g.blocks[0]) == adam_steps(g_opt, g.to_rgb[0]) == {8}  # used in every iteration
    assert adam_steps(g_opt, g.blocks[1]) == adam_steps(g_opt, g.to_rgb[1]) == {3}  # since the fade-in began
    assert adam_steps(d_opt, d.blocks[0]) == adam_steps(d_opt, d.from_rgb[0]) == {8}
    assert adam_steps(d_opt, d.blocks[1]) == adam_steps(d_opt, d.from_rgb[1]) == {3}


def test_batch_size_changes_with_the_resolution_in_a_new_epoch():
    # 16 images per 4x4 batch: images_seen 0, 16, 32 are 4x4; from 48 the 8x8 fade-in trains on batches of 8
    model, phases = train(6, batch_sizes={4: 16, 8: 8})
    assert [(p[0], p[2], p[3]) for p in phases] == [(4, 16, 0)] * 3 + [(8, 8, 1)] * 3
    assert [p[1] for p in phases] == [1.0, 1.0, 1.0, 0.25, 0.375, 0.5]
    assert model.images_seen == 3 * 16 + 3 * 8


def test_resume_in_the_middle_of_a_fade_in_continues_exactly(tmp_path):
    straight, straight_phases = train(10, batch_sizes={4: 16, 8: 8})
    _, first_phases = train(6, ckpt_dir=tmp_path, batch_sizes={4: 16, 8: 8})
    assert first_phases[-1][:2] == (8, 0.5)  # the checkpoint is written mid fade-in
    resumed, resumed_phases = train(10, resume_from=tmp_path / "last.ckpt", batch_sizes={4: 16, 8: 8})

    # (Lightning counts the epoch that max_steps interrupted as finished, so only the epoch numbers differ)
    assert [p[:3] for p in first_phases + resumed_phases] == [p[:3] for p in straight_phases]
    assert resumed.generator.alpha == resumed.discriminator.alpha == straight.generator.alpha == 1.0
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        if isinstance(a, torch.Tensor):
            assert torch.equal(a, b), name


def test_models_that_do_not_grow_are_left_alone():
    model = tiny_dcgan()
    growing = ProgressiveGrowing()
    make_trainer(2, callbacks=[growing]).fit(model, tiny_digits())
    assert growing.schedule is None and model.images_seen == 64
