"""The CUDA paths: seeded sampling across devices, bf16 + channels_last training, float32 penalties under CUDA
autocast, EMA updates and compiled training on a GPU. Skipped without one (CI has none); run them on a GPU
machine with ``python -m pytest tests/test_cuda.py``."""

import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from callbacks.ema import frozen_copy, update_average
from tests.helpers import make_trainer, tiny_dcgan, tiny_digits
from zoo.penalties import dragan_penalty, gradient_penalty, r1_penalty

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(autouse=True)
def full_float32_matmuls():
    """TF32 convolutions and matmuls (cuDNN's default) would make CPU/GPU comparisons loose for no reason."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def gpu_trainer(iterations: int, **kwargs) -> pl.Trainer:
    return make_trainer(iterations, accelerator="gpu", devices=1, **kwargs)


def test_seeded_samples_are_the_same_on_cpu_and_gpu():
    torch.manual_seed(0)
    model = tiny_dcgan()
    on_cpu = model.sample(6, seed=3)
    on_gpu = model.to("cuda").sample(6, seed=3)
    assert on_gpu.device.type == "cuda"
    torch.testing.assert_close(on_gpu.cpu(), on_cpu, rtol=1e-4, atol=1e-5)


def test_bf16_channels_last_training_on_gpu_stays_finite_and_updates_both_players():
    pl.seed_everything(0)
    model = tiny_dcgan(channels_last=True)
    before = [p.detach().clone() for p in (*model.generator.parameters(), *model.discriminator.parameters())]
    gpu_trainer(6, precision="bf16-mixed").fit(model, tiny_digits(batch_size=8))
    after = [p.detach().cpu() for p in (*model.generator.parameters(), *model.discriminator.parameters())]
    assert model.iterations == 6 and model.generator_steps == 6
    assert int(model.nonfinite_iteration) == -1
    assert all(p.dtype == torch.float32 for p in after)  # bf16-mixed keeps float32 master weights
    assert sum(not torch.equal(a, b) for a, b in zip(before, after)) == len(before)


@pytest.mark.parametrize(
    "penalty",
    [
        lambda critic, real, fake: gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(3)),
        lambda critic, real, fake: dragan_penalty(critic, real, generator=torch.Generator().manual_seed(3)),
        lambda critic, real, fake: r1_penalty(critic, real),
    ],
    ids=["wgan-gp", "dragan", "r1"],
)
def test_gradient_penalties_are_float32_under_cuda_bf16_autocast(penalty):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(12, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1)).cuda()

    def critic(x):
        return net(x.flatten(1)).squeeze(1)

    real, fake = torch.randn(8, 3, 2, 2, device="cuda"), torch.randn(8, 3, 2, 2, device="cuda")
    reference = penalty(critic, real, fake)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        assert critic(real).dtype == torch.bfloat16  # the critic alone would run in bf16
        value = penalty(critic, real, fake)
    assert value.dtype == torch.float32
    torch.testing.assert_close(value, reference, rtol=0, atol=0)


def test_ema_update_on_gpu_equals_the_cpu_update():
    torch.manual_seed(0)
    net = tiny_dcgan().generator
    average = frozen_copy(net)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p))
    average_gpu, net_gpu = frozen_copy(average).cuda(), frozen_copy(net).cuda()
    update_average(average, net, beta=0.9)
    update_average(average_gpu, net_gpu, beta=0.9)
    for cpu, gpu in zip(average.state_dict().values(), average_gpu.state_dict().values()):
        torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-6, atol=1e-7)


def test_compiled_training_on_gpu_ends_where_eager_training_ends():
    def train(**kwargs):
        pl.seed_everything(0)
        model = tiny_dcgan(penalties=[{"name": "gp", "weight": 10.0}], **kwargs)
        gpu_trainer(3).fit(model, tiny_digits(batch_size=8))
        return model

    torch._dynamo.reset()
    eager, compiled = train(), train(compile=True)
    for key, value in eager.state_dict().items():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            torch.testing.assert_close(compiled.state_dict()[key], value, rtol=1e-3, atol=1e-4, msg=key)
