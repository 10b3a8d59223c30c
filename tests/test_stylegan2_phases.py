"""StyleGAN2's NVlabs training schedule (issue 23): one iteration equals NVlabs stylegan2-ada-pytorch's on the
fixtures of tests/fixtures/nvlabs_phases (losses, every gradient, w_avg, pl_mean, the parameters after the
lazy-corrected Adam steps); the Adam correction lr * c, betas ** c; which phases run at which iteration, each with
fresh latents and labels of the real batch; w_avg updated once per mapping call; bit-exact resume; bad settings."""

from __future__ import annotations

import itertools

import pytest
import pytorch_lightning as pl
import torch

from benchmarks import nvlabs_phases
from tests.helpers import make_trainer, tiny_digits
from zoo.errors import ZooError
from zoo.stylegan2 import StyleGAN2

#: 16 px digits, widths 8 at 4-8 px and 4 at 16 px, 2 mapping layers, z and w of 8 dims
TINY = {"resolution": 16, "channels": 1, "latent_dim": 8, "w_dim": 8, "channel_base": 64, "channel_max": 8}


def tiny(**kwargs) -> StyleGAN2:
    return StyleGAN2(**{**TINY, "num_classes": 10, "mapping_layers": 2, **kwargs})


@pytest.fixture
def one_thread():
    """The fixtures were made on one thread; R1's and path length's double backward sums cancel, so another
    summation order moves small gradients by ~1e-4 of the largest (tests/fixtures/nvlabs_phases/README.md)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ------------------------------------------------------------------------------------------- the fixtures


@pytest.mark.parametrize("kind", nvlabs_phases.KINDS)
def test_one_iteration_reproduces_nvlabs_losses_gradients_and_adam_steps(kind, one_thread):
    fixture = nvlabs_phases.load(kind)
    seeded = torch.Generator().manual_seed(fixture["inputs"]["pl_seed"])  # the zoo's first draw is their pl noise
    assert torch.equal(
        torch.randn(fixture["inputs"]["pl_noise"].shape, generator=seeded), fixture["inputs"]["pl_noise"]
    )
    rows = nvlabs_phases.comparisons(kind)
    assert len(rows) == 2 + 4 * 3 + 1 + 4  # Adam x2; loss, gradients, w_avg per phase; pl_mean; parameters x4
    failures = [row for row in rows if not row[2] <= row[3]]
    assert not failures, failures


def former_path_length_penalty(images, ws, mean, weight=2.0, decay=0.01, generator=None):
    """The zoo's path length penalty before issue 23: the target's E[lengths] detached inside the penalty."""
    directions = torch.randn(images.shape, generator=generator) / (images.shape[2] * images.shape[3]) ** 0.5
    (grad,) = torch.autograd.grad((images * directions).sum(), ws, create_graph=True)
    lengths = grad.square().sum(dim=2).mean(dim=1).sqrt()
    new_mean = mean.lerp(lengths.mean().detach(), decay)
    return weight * (lengths - new_mean).square().mean(), new_mean.detach()


def test_the_comparison_catches_a_path_length_target_detached_inside_the_penalty(monkeypatch, one_thread):
    fixture = nvlabs_phases.load("uncond")
    theirs = fixture["phases"]["Greg"]["grads"]
    monkeypatch.setattr("zoo.stylegan2.path_length_penalty", former_path_length_penalty)
    former = nvlabs_phases.replay(fixture)["phases"]["Greg"]
    assert torch.allclose(former["loss"], fixture["phases"]["Greg"]["reported"]["Loss/G/reg"].mean() * 4)  # same value
    assert nvlabs_phases.gradient_difference(former["grads"], theirs) > 1e-2  # other gradients


def test_every_parameter_of_the_phase_network_gets_a_gradient_zero_where_the_loss_does_not_reach(one_thread):
    fixture = nvlabs_phases.load("cond")
    unreached = {"Greg": "synthesis.b16.torgb.bias", "Dreg": "b4.out.bias"}  # R1 and path length see no bias there
    for phase, name in unreached.items():
        assert torch.count_nonzero(fixture["phases"][phase]["grads"][name]) == 0  # NVlabs': present, zero
    ours = nvlabs_phases.replay(fixture)
    for phase, name in unreached.items():
        assert torch.count_nonzero(ours["phases"][phase]["grads"][name]) == 0
        assert set(ours["phases"][phase]["grads"]) == set(fixture["phases"][phase]["grads"])


# ------------------------------------------------------------------------------------ the Adam correction


def adam_settings(model: StyleGAN2) -> dict[str, tuple]:
    """(lr, beta1, beta2) of the D and G optimizers."""
    d_opt, g_opt = model.configure_optimizers()
    return {name: (opt.defaults["lr"], *opt.defaults["betas"]) for name, opt in (("d", d_opt), ("g", g_opt))}


def test_lazy_regularization_scales_adam_s_lr_by_c_and_raises_its_betas_to_c():
    # c = 4/5 for path length every 4 G iterations, 16/17 for R1 every 16 (auto preset: lrate 0.0025)
    settings = adam_settings(tiny())
    assert settings["g"] == pytest.approx((0.0025 * 4 / 5, 0.0, 0.99**0.8))
    assert settings["d"] == pytest.approx((0.0025 * 16 / 17, 0.0, 0.99 ** (16 / 17)))
    assert settings["g"][2] == pytest.approx(0.991992, abs=1e-6)  # NVlabs' G optimizer at interval 4
    explicit = adam_settings(tiny(g_lr=0.001, d_betas=(0.5, 0.9), pl_interval=2, r1_gamma=1.0))
    assert explicit["g"] == pytest.approx((0.001 * 2 / 3, 0.0, 0.99 ** (2 / 3)))
    assert explicit["d"] == pytest.approx((0.0025 * 16 / 17, 0.5 ** (16 / 17), 0.9 ** (16 / 17)))
    # no correction: the shared loop, an interval of 1 (NVlabs' Gboth / Dboth), or no D penalty at all
    assert adam_settings(tiny(schedule="shared")) == {"d": (0.0025, 0.0, 0.99), "g": (0.0025, 0.0, 0.99)}
    every_step = tiny(pl_interval=1, penalties=[{"name": "r1", "gamma": 1.0, "interval": 1}])
    assert adam_settings(every_step) == {"d": (0.0025, 0.0, 0.99), "g": (0.0025, 0.0, 0.99)}
    assert adam_settings(tiny(penalties=[]))["d"] == (0.0025, 0.0, 0.99)
    # cifar has no path length (pl_weight 0) but NVlabs keeps G_reg_interval 4 and so the correction
    assert adam_settings(tiny(preset="cifar"))["g"] == pytest.approx((0.0025 * 4 / 5, 0.0, 0.99**0.8))


# ---------------------------------------------------------------------------------------- the schedule


def test_phases_by_iteration_follow_nvlabs_intervals():
    model = tiny(pl_interval=2, penalties=[{"name": "r1", "gamma": 1.0, "interval": 3}])
    assert [model.due_phases(i) for i in range(4)] == [
        ["Gmain", "Greg", "Dmain", "Dreg"], ["Gmain", "Dmain"], ["Gmain", "Greg", "Dmain"], ["Gmain", "Dmain", "Dreg"],
    ]  # fmt: skip
    assert tiny(pl_interval=1, penalties=[]).due_phases(1) == ["Gboth", "Dboth"]
    assert tiny(preset="cifar").due_phases(0) == ["Gmain", "Dmain", "Dreg"]  # pl_weight 0: Greg has nothing to do


def test_optimizer_steps_count_one_per_phase_from_any_iteration():
    """What the progress bar turns ``max_steps`` into iterations with: one step per due phase."""
    for model in (tiny(pl_interval=2, penalties=[{"name": "r1", "gamma": 1.0, "interval": 3}]), tiny(preset="cifar")):
        for start, n in itertools.product(range(7), range(13)):
            expected = sum(len(model.due_phases(i)) for i in range(start, start + n))
            assert model.optimizer_steps(start, n) == expected
    assert tiny().optimizer_steps(0, 16) == 16 * 2 + 4 + 1  # Greg every 4, Dreg every 16 iterations
    assert tiny(schedule="shared").optimizer_steps(3, 4) == 8  # the shared loop: D + G per iteration


def steps(model: StyleGAN2, iterations: int) -> int:
    """Optimizer steps (Lightning's max_steps unit) of ``iterations`` NVlabs iterations: one per phase."""
    return sum(len(model.due_phases(i)) for i in range(iterations))


def test_training_runs_each_phase_with_its_own_optimizer_step_fresh_latents_and_real_batch_labels(monkeypatch):
    calls = []
    phase_loss = StyleGAN2.phase_loss

    def recording(self, phase, real, y_real, z, y_fake, logs):
        calls.append((self.iterations, phase, z.clone(), y_fake.clone(), y_real.clone()))
        return phase_loss(self, phase, real, y_real, z, y_fake, logs)

    monkeypatch.setattr(StyleGAN2, "phase_loss", recording)
    mapping_updates = []
    pl.seed_everything(0)
    model = tiny(pl_interval=2, penalties=[{"name": "r1", "gamma": 1.0, "interval": 3}])
    model.generator.mapping.register_forward_pre_hook(
        lambda module, args, kwargs: (
            mapping_updates.append(model.iterations) if kwargs.get("update_w_avg", True) else None
        ),
        with_kwargs=True,
    )
    trainer = make_trainer(4, max_steps=steps(model, 4))
    trainer.fit(model, tiny_digits(batch_size=8))

    assert [(i, phase) for i, phase, *_ in calls] == [
        (i, phase) for i in range(4) for phase in model.due_phases(i)
    ]  # Gmain, Greg, Dmain, Dreg at 0; Gmain, Dmain at 1; Gmain, Greg, Dmain at 2; Gmain, Dmain, Dreg at 3
    latents = torch.stack([z for *_, z, _, _ in calls])
    assert len({tuple(z.flatten().tolist()) for z in latents}) == len(calls) == 12  # fresh z in every phase
    for _, _, _, y_fake, y_real in calls:
        assert set(y_fake.tolist()) <= set(y_real.tolist())  # labels of random images of the real batch
    assert any(not torch.equal(a[3], b[3]) for a, b in itertools.pairwise(calls))
    # w_avg moves once per training mapping call: Gmain, Dmain and Greg (style mixing's second call does not)
    assert [mapping_updates.count(i) for i in range(4)] == [3, 2, 3, 2]
    d_opt, g_opt = trainer.optimizers
    assert {int(s["step"]) for s in g_opt.state.values()} == {4 + 2}  # Gmain x4 + Greg at 0 and 2
    assert {int(s["step"]) for s in d_opt.state.values()} == {4 + 2}  # Dmain x4 + Dreg at 0 and 3
    assert (trainer.global_step, model.iterations, model.generator_steps, model.images_seen) == (12, 4, 4, 32)
    assert model.nonfinite_iteration == -1 and model.pl_mean > 0
    assert set(model.last_losses) == {"loss/d", "loss/g"}


def test_nvlabs_schedule_resumes_bit_exactly_and_a_resume_corrects_a_new_lr_and_interval(tmp_path):
    def run(iterations: int, ckpt_path=None, **kwargs):
        pl.seed_everything(3)
        model = tiny(**{"pl_interval": 2, "penalties": [{"name": "r1", "gamma": 1.0, "interval": 3}], **kwargs})
        trainer = make_trainer(iterations, max_steps=steps(model, iterations), default_root_dir=tmp_path)
        trainer.fit(model, tiny_digits(batch_size=8), ckpt_path=ckpt_path)
        return model, trainer

    straight, _ = run(5)
    _, trainer = run(2)
    trainer.save_checkpoint(tmp_path / "half.ckpt")
    resumed, trainer = run(5, ckpt_path=tmp_path / "half.ckpt")
    assert resumed.iterations == straight.iterations == 5
    d_opt, g_opt = trainer.optimizers
    assert d_opt.param_groups[0]["lr"] == pytest.approx(0.0025 * 3 / 4)  # the correction survives the resume
    assert g_opt.param_groups[0]["betas"] == pytest.approx((0.0, 0.99 ** (2 / 3)))
    for (key, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(), strict=True):
        if isinstance(a, torch.Tensor):
            torch.testing.assert_close(a, b, rtol=0, atol=0, msg=f"{key} differs after resume")

    # the checkpoint's optimizers hold lr and betas corrected for interval 2; a new lr and interval take over
    changed, trainer = run(3, ckpt_path=tmp_path / "half.ckpt", g_lr=0.001, pl_interval=8)
    _, g_opt = trainer.optimizers
    assert changed.iterations == 3
    assert g_opt.param_groups[0]["lr"] == pytest.approx(0.001 * 8 / 9)
    assert g_opt.param_groups[0]["betas"] == pytest.approx((0.0, 0.99 ** (8 / 9)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"schedule": "stylegan"}, "schedule must be one of nvlabs, shared"),
        ({"penalties": [{"name": "r1", "interval": 16}, {"name": "drift", "interval": 4}]}, "one interval"),
        ({"penalties": [{"name": "gp", "interval": 16}]}, "penalty gp needs fakes: use --model.schedule shared"),
    ],
)
def test_settings_the_nvlabs_schedule_cannot_run_raise_one_clear_error(kwargs, message):
    with pytest.raises(ZooError, match=message):
        tiny(**kwargs)
    if "schedule" not in kwargs:
        assert tiny(schedule="shared", **kwargs).hparams.schedule == "shared"  # the shared loop runs them
