"""The shared manual-optimization loop of zoo/base.py."""

import copy

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint

from callbacks import NonFiniteGuard, NonFiniteLossError, read_checkpoint
from tests.helpers import make_trainer, tiny_dcgan, tiny_digits
from zoo.seeding import iteration_seed


def params(net: torch.nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in net.named_parameters()}


class Snapshots(Callback):
    """Records G and D parameters (not BatchNorm statistics) after every iteration."""

    def __init__(self):
        self.g, self.d = [], []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.g.append(params(pl_module.generator))
        self.d.append(params(pl_module.discriminator))


def changed(a: dict, b: dict) -> bool:
    return any(not torch.equal(a[k], b[k]) for k in a)


def test_d_steps_updates_g_once_per_n_d_updates():
    pl.seed_everything(0)
    model, snaps = tiny_dcgan(d_steps=3), Snapshots()
    initial_g = params(model.generator)
    trainer = make_trainer(6, d_steps=3, callbacks=[snaps])
    trainer.fit(model, tiny_digits())
    g_changed = [changed(prev, cur) for prev, cur in zip([initial_g, *snaps.g], snaps.g)]
    assert g_changed == [False, False, True, False, False, True]
    assert all(changed(a, b) for a, b in zip(snaps.d, snaps.d[1:]))
    assert trainer.global_step == 8  # 6 D steps + 2 G steps: Lightning counts optimizer steps
    assert model.iterations == 6 and model.images_seen == 6 * 32


def test_grad_clip_norm_bounds_each_update():
    # plain SGD with lr 1: the parameter change of one D step is exactly the clipped gradient
    pl.seed_everything(0)
    model = tiny_dcgan(optimizer="sgd", d_lr=1.0, g_lr=1.0, grad_clip_norm=1e-3, d_steps=2)
    before = [p.detach().clone() for p in model.discriminator.parameters()]
    make_trainer(1, d_steps=2).fit(model, tiny_digits())
    delta = torch.cat([(p.detach() - b).flatten() for p, b in zip(model.discriminator.parameters(), before)])
    assert delta.norm().item() == pytest.approx(1e-3, rel=1e-4)


def test_linear_lr_decay_follows_images_seen():
    model = tiny_dcgan(lr_decay_kimg=(1.0, 3.0))
    for images, factor in [(0, 1.0), (1000, 1.0), (2000, 0.5), (2500, 0.25), (3000, 0.0), (9000, 0.0)]:
        model.images_seen = images
        assert model.lr_factor() == pytest.approx(factor)


def test_latent_seeds_differ_by_rank_and_iteration_and_repeat_exactly():
    seeds = {iteration_seed(0, rank, it) for rank in range(4) for it in range(1000)}
    assert len(seeds) == 4000
    assert iteration_seed(7, 1, 42) == iteration_seed(7, 1, 42)
    assert all(0 <= s < 2**63 for s in seeds)


def test_sample_is_reproducible_and_prefers_the_ema_generator():
    model = tiny_dcgan()
    a, b = model.sample(4, seed=3), model.sample(4, seed=3)
    assert torch.equal(a, b) and not torch.equal(a, model.sample(4, seed=4))
    assert model.generator.training  # sample() restores the training mode
    model.generator_ema = copy.deepcopy(model.generator)
    with torch.no_grad():
        for p in model.generator_ema.parameters():
            p.zero_()
    assert torch.equal(model.sample(2, seed=3), torch.zeros(2, 1, 16, 16))  # tanh(0) everywhere


def test_truncation_resamples_every_coordinate_above_the_threshold():
    model = tiny_dcgan(latent_dim=512)
    z = model.sample_latent(256, generator=torch.Generator().manual_seed(0), truncation=0.5)
    assert z.abs().max() <= 0.5 and z.std() > 0.2  # resampled, not clamped


def test_nonfinite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    class BreaksAtIteration5(type(tiny_dcgan())):
        def discriminator_loss(self, *args):
            loss, logs = super().discriminator_loss(*args)
            return (loss * float("nan") if self.iterations >= 5 else loss), logs

    pl.seed_everything(0)
    model = BreaksAtIteration5(resolution=16, channels=1, ngf=8, ndf=8, latent_dim=16)
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=4, save_top_k=-1, save_last=True)
    trainer = make_trainer(20, callbacks=[NonFiniteGuard(check_every_n_iterations=3), ckpt], enable_checkpointing=True)
    with pytest.raises(NonFiniteLossError, match=r"iteration 5 .*last\.ckpt"):
        trainer.fit(model, tiny_digits())
    last = read_checkpoint(tmp_path / "last.ckpt")
    assert last["state_dict"]["_extra_state"]["iterations"] == 4  # saved at step 8 = 4 iterations, before the NaN
    assert all(torch.isfinite(v).all() for v in last["state_dict"].values() if isinstance(v, torch.Tensor))


def train_three_iterations(**model_kwargs):
    pl.seed_everything(0)
    model = tiny_dcgan(**model_kwargs)
    make_trainer(3).fit(model, tiny_digits())
    return model


def test_channels_last_trains_to_the_same_weights():
    plain = train_three_iterations()
    nhwc = train_three_iterations(channels_last=True)
    assert nhwc.generator.net[0].weight.is_contiguous(memory_format=torch.channels_last)
    for (name, a), (_, b) in zip(plain.generator.named_parameters(), nhwc.generator.named_parameters()):
        assert torch.allclose(a, b, atol=1e-5), name


def test_bf16_mixed_precision_trains():
    pl.seed_everything(0)
    model = tiny_dcgan()
    before = params(model.generator)
    make_trainer(3, precision="bf16-mixed").fit(model, tiny_digits())
    after = params(model.generator)
    assert changed(before, after)
    assert all(torch.isfinite(p).all() and p.dtype == torch.float32 for p in after.values())  # fp32 master weights
    assert int(model.nonfinite_iteration) == -1
