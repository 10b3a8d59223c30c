"""``compile``: G and D run through torch.compile, training ends where the eager run ends, penalties that
differentiate twice run eagerly, and checkpoints and the EMA copy are unaffected."""

import pytest
import pytorch_lightning as pl
import torch

from callbacks.ema import frozen_copy
from tests.helpers import make_trainer, tiny_dcgan, tiny_digits
from zoo import get_model
from zoo.errors import ZooError

ITERATIONS = 3


def train(**kwargs):
    pl.seed_everything(0)
    model = tiny_dcgan(**kwargs)
    make_trainer(ITERATIONS).fit(model, tiny_digits(batch_size=8))
    return model


def assert_same_parameters(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)  # in-place compile keeps the parameter names
    for key in sa:
        if isinstance(sa[key], torch.Tensor) and sa[key].is_floating_point():
            torch.testing.assert_close(sa[key], sb[key], rtol=1e-4, atol=1e-5, msg=key)
        elif isinstance(sa[key], torch.Tensor):
            assert torch.equal(sa[key], sb[key]), key
        else:  # the extra state: training progress
            assert sa[key] == sb[key], key


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def test_compiled_training_ends_where_eager_training_ends():
    eager, compiled = train(), train(compile=True)
    assert compiled.generator._compiled_call_impl is not None  # G and D really ran compiled
    assert compiled.discriminator._compiled_call_impl is not None
    assert_same_parameters(eager, compiled)


def test_gradient_penalty_runs_eagerly_under_compile():
    """Double backward through compiled code raises; the penalty's D calls must bypass it."""
    penalties = [{"name": "gp", "weight": 10.0}]
    eager, compiled = train(penalties=penalties), train(penalties=penalties, compile=True)
    assert_same_parameters(eager, compiled)


def test_ema_copy_of_a_compiled_generator_runs_its_own_weights():
    model = tiny_dcgan(compile=True)
    model.compile_networks()
    average = frozen_copy(model.generator)
    with torch.no_grad():
        for p in average.parameters():
            p.zero_()
    z = torch.randn(2, model.latent_dim)
    assert average(z).abs().max() == 0  # tanh(0): the copy's zeroed weights, not the generator's


def test_progressive_entries_refuse_compile():
    model = get_model("pggan")(resolution=8, channels=1, compile=True)
    with pytest.raises(ZooError, match="without --model.compile"):
        model.compile_networks()
