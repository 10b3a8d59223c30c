"""The generator EMA of callbacks/ema.py: StyleGAN2's half-life schedule, BigGAN's decay, buffers,
checkpoints, resume and DDP."""

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint
from torch import nn

from callbacks import EMA, load_gan
from tests.conftest import run_cli
from tests.helpers import make_trainer, tiny_dcgan, tiny_digits
from zoo.errors import ZooError


class OneWeight(nn.Module):
    """Stands in for a GANModule: a 1-parameter generator (with a BatchNorm buffer) and the counters."""

    def __init__(self):
        super().__init__()
        self.generator = nn.Sequential(nn.Linear(1, 1, bias=False), nn.BatchNorm1d(1))
        self.generator_ema = None
        self.generator_steps = 0
        self.images_seen = 0

    @property
    def weight(self) -> nn.Parameter:
        return self.generator[0].weight

    def step(self, ema: EMA, weight: float, images: int, generator_step: bool = True) -> None:
        """One training iteration: G's new weight, the images it consumed, then the callback."""
        with torch.no_grad():
            self.weight.fill_(weight)
        self.generator_steps += generator_step
        self.images_seen += images
        ema.on_train_batch_end(None, self, None, None, 0)


def started(ema: EMA, weight: float = 0.0) -> OneWeight:
    module = OneWeight()
    with torch.no_grad():
        module.weight.fill_(weight)
    ema.setup(None, module, "fit")
    ema.on_train_start(None, module)
    return module


def test_constant_decay_matches_the_closed_form():
    # a_k = d a_{k-1} + (1 - d) w_k from a_0 = w_0 = 1, with w_k = k
    d, ema = 0.9, EMA(decay=0.9)
    module = started(ema, weight=1.0)
    expected = 1.0
    for k in range(1, 6):
        module.step(ema, weight=float(k), images=64)
        expected = d * expected + (1 - d) * k
    closed_form = d**5 * 1.0 + (1 - d) * sum(d ** (5 - k) * k for k in range(1, 6))
    assert expected == pytest.approx(closed_form)
    assert module.generator_ema[0].weight.item() == pytest.approx(closed_form, rel=1e-6)
    assert not module.generator_ema[0].weight.requires_grad and not module.generator_ema.training


def test_updates_only_after_generator_steps():
    ema = EMA(decay=0.5)
    module = started(ema, weight=0.0)
    module.step(ema, weight=8.0, images=64, generator_step=False)  # a D-only iteration (d_steps > 1)
    assert module.generator_ema[0].weight.item() == 0.0
    module.step(ema, weight=8.0, images=64)
    assert module.generator_ema[0].weight.item() == 4.0


def test_buffers_are_copied_and_parameters_averaged():
    ema = EMA(decay=0.75)
    module = started(ema, weight=0.0)
    module.generator[1].running_mean.fill_(3.0)
    module.generator[1].num_batches_tracked.fill_(7)
    module.step(ema, weight=4.0, images=32)
    assert module.generator_ema[1].running_mean.item() == 3.0
    assert module.generator_ema[1].num_batches_tracked.item() == 7
    assert module.generator_ema[0].weight.item() == 1.0  # 0.75 * 0 + 0.25 * 4


def test_stylegan2_beta_values():
    ema = EMA(half_life_kimg=10)  # StyleGAN2 config F: no ramp-up
    assert ema.beta(images_seen=100_064, images_at_last_update=100_000) == pytest.approx(0.5 ** (64 / 10_000))
    assert ema.beta(images_seen=10_000, images_at_last_update=0) == pytest.approx(0.5)
    ramped = EMA(half_life_kimg=10, rampup=0.05)  # StyleGAN2-ADA: ema_nimg = min(10k, 0.05 * images)
    assert ramped.beta(images_seen=64, images_at_last_update=0) == 0.0  # the first update copies
    assert ramped.beta(images_seen=6464, images_at_last_update=6400) == pytest.approx(0.8705505632961241)  # 0.5**0.2
    assert ramped.beta(images_seen=400_064, images_at_last_update=400_000) == pytest.approx(0.5 ** (64 / 10_000))
    biggan = EMA(decay=0.9999, start_kimg=20)
    assert biggan.beta(19_999, 19_935) == 0.0 and biggan.beta(20_000, 19_936) == 0.9999


@pytest.mark.parametrize("batch", [100, 250])
def test_half_life_is_in_images_whatever_the_batch(batch):
    # after 10 kimg of updates with G fixed at 1, the initial weight 0 keeps exactly half its weight
    ema = EMA(half_life_kimg=10)
    module = started(ema, weight=0.0)
    for _ in range(10_000 // batch):
        module.step(ema, weight=1.0, images=batch)
    assert module.generator_ema[0].weight.item() == pytest.approx(0.5, rel=1e-5)


def test_bad_settings_name_the_fix():
    for kwargs, phrase in [
        ({"half_life_kimg": 10, "decay": 0.999}, "choose one EMA schedule"),
        ({"decay": 1.0}, "--ema.decay must be in [0, 1)"),
        ({"half_life_kimg": 0}, "--ema.half_life_kimg must be > 0"),
        ({"half_life_kimg": 10, "rampup": 0}, "--ema.rampup must be > 0"),
    ]:
        with pytest.raises(ZooError, match=phrase.replace("[", r"\[").replace(")", r"\)")):
            EMA(**kwargs)
    off = OneWeight()
    EMA().setup(None, off, "fit")
    assert off.generator_ema is None  # EMA is off by default


# ----------------------------------------------------------------------- training, checkpoints, resume


def train(iterations: int, ckpt_dir=None, resume_from=None, ema: EMA | None = None):
    pl.seed_everything(0)
    model = tiny_dcgan(d_steps=2)
    callbacks = [ema or EMA(half_life_kimg=0.5, rampup=0.05)]
    if ckpt_dir:
        callbacks.append(ModelCheckpoint(dirpath=ckpt_dir, save_last=True, save_top_k=0))
    trainer = make_trainer(iterations, d_steps=2, callbacks=callbacks, enable_checkpointing=bool(ckpt_dir))
    trainer.fit(model, tiny_digits(), ckpt_path=resume_from)
    return model


def test_resumed_average_is_bit_identical_and_checkpoints_carry_it(tmp_path):
    # d_steps=2: the checkpoint after 5 iterations falls between two generator steps, with 32 images
    # counted since the last update; the callback's state carries them over
    straight = train(10)
    half = train(5, ckpt_dir=tmp_path)
    resumed = train(10, resume_from=tmp_path / "last.ckpt")
    assert straight.generator_steps == resumed.generator_steps == 5
    expected = straight.generator_ema.state_dict()
    for name, value in resumed.generator_ema.state_dict().items():
        assert torch.equal(value, expected[name]), name
    assert not torch.equal(straight.generator_ema.net[0].weight, straight.generator.net[0].weight)
    assert not torch.equal(straight.generator_ema.net[0].weight, half.generator_ema.net[0].weight)

    loaded = load_gan(tmp_path / "last.ckpt")  # cli.py sample's path: the average comes back
    assert torch.equal(loaded.generator_ema.net[0].weight, half.generator_ema.net[0].weight)
    assert torch.equal(loaded.sample(3, seed=1), half.sample(3, seed=1))
    assert not loaded.generator_ema.training


def test_resuming_across_ema_settings(tmp_path):
    train(2, ckpt_dir=tmp_path / "plain", ema=EMA())  # a run without EMA
    resumed = train(4, resume_from=tmp_path / "plain" / "last.ckpt", ema=EMA(decay=0.0))
    assert torch.equal(resumed.generator_ema.net[0].weight, resumed.generator.net[0].weight)  # decay 0 = copy
    train(2, ckpt_dir=tmp_path / "ema")
    with pytest.raises(ZooError, match="resume with the EMA options"):
        train(4, resume_from=tmp_path / "ema" / "last.ckpt", ema=EMA())


# --------------------------------------------------------------------------------------------- DDP


class AverageProbe(Callback):
    """Saves each rank's EMA parameters (BatchNorm statistics are per rank between DDP broadcasts)."""

    def __init__(self, out_dir: str):
        self.out_dir = out_dir

    def on_train_end(self, trainer, pl_module):
        torch.save(
            {
                "ema": {k: v.detach() for k, v in pl_module.generator_ema.named_parameters()},
                "generator": {k: v.detach() for k, v in pl_module.generator.named_parameters()},
            },
            f"{self.out_dir}/rank{trainer.global_rank}.pt",
        )


def test_average_is_the_same_on_every_ddp_rank(tmp_path, tiny_dcgan_args):
    result = run_cli(
        "fit", *tiny_dcgan_args, "--trainer.devices", "2", "--trainer.max_steps", "8", "--ema.half_life_kimg", "1",
        "--trainer.callbacks+=tests.test_ema.AverageProbe", f"--trainer.callbacks.out_dir={tmp_path}",
        cwd=tmp_path, timeout=400,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for name, weight in rank0["ema"].items():
        assert torch.equal(weight, rank1["ema"][name]), name
    assert any(not torch.equal(rank0["ema"][k], rank0["generator"][k]) for k in rank0["ema"])
