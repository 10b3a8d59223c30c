"""Triple-GAN (zoo/triplegan.py): the MNIST script's nets, each loss by hand, C's weight average, the learning-rate
schedule, and training on semi-supervised digits (in process and from the CLI), with an exact resume."""

from __future__ import annotations

import math

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from callbacks import read_checkpoint
from tests.conftest import run_cli
from tests.helpers import make_trainer, tiny_digits
from zoo.errors import ZooError
from zoo.nets.triplegan import LasagneBatchNorm, TripleGANClassifier, TripleGANDiscriminator, TripleGANGenerator
from zoo.triplegan import (
    TripleGAN,
    classification_loss,
    classifier_adversarial_loss,
    classifier_error,
    discriminator_loss,
    generator_loss,
    update_average,
)

LN2, LN3 = math.log(2), math.log(3)


def count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_mnist_nets_have_the_scripts_parameter_counts_and_shapes():
    """Counts from x2y_yz2x_xy2p_ssl_mnist.py's layers (trainable lasagne parameters):
    G: 110x500 (no bias under batch_norm) + 2x500 BN + 510x500 + 2x500 + 510x784 + 784 bias + 784 scale = 713,408;
    D: 794x1000+1000, 1020x500+500, 510x250+250, 2 x (260x250+250), 260x1+1 = 1,564,011 (fixed unit scales);
    C: convs 1x32x25, 32x64x9, 64x64x9, 64x128x9, 128x128x9 (no bias) + 2 x (32+64+64+128+128) BN + 128x10+10
    = 279,402."""
    g, d, c = TripleGANGenerator(), TripleGANDiscriminator(), TripleGANClassifier()
    assert (count(g), count(d), count(c)) == (713_408, 1_564_011, 279_402)
    z, y = torch.rand(4, 100), torch.tensor([0, 3, 7, 9])
    x = g(z, y)
    assert x.shape == (4, 1, 28, 28) and x.min() >= -1 and x.max() <= 1
    assert d(x, y).shape == (4,) and c(x).shape == (4, 10)
    assert [layer.direction.shape[1] for layer in d.layers] == [794, 1020, 510, 260, 260, 260]


def test_weight_normalised_layers():
    """D's dense layers have unit-norm weight rows (nn.py DenseLayer, scale fixed at 1); G's last layer rows have
    the norm of its trainable scale (nn.py l2normalize)."""
    d, g = TripleGANDiscriminator(resolution=16), TripleGANGenerator(resolution=16)
    for layer in d.layers:
        assert torch.allclose(layer.weight().norm(dim=1), torch.ones(layer.direction.shape[0]), atol=1e-5)
        assert layer.scale is None
    with torch.no_grad():
        g.out.scale.fill_(3.0)
    assert torch.allclose(g.out.weight().norm(dim=1), torch.full((256,), 3.0), atol=1e-4)


def test_discriminator_generator_and_classifier_adversarial_losses_by_hand():
    real, generated, classified = torch.tensor([0.0]), torch.tensor([LN3]), torch.tensor([-LN3])
    # -log sigmoid(0) = ln 2; -log(1 - sigmoid(ln 3)) = ln 4; -log(1 - sigmoid(-ln 3)) = ln(4/3)
    expected_d = LN2 + 0.5 * math.log(4) + 0.5 * math.log(4 / 3)
    assert discriminator_loss(real, generated, classified, alpha=0.5).item() == pytest.approx(expected_d)
    # the paper's alpha weighs p_c's pairs: alpha = 1/4 gives p_c's 1/4, p_g's 3/4
    expected_quarter = LN2 + 0.75 * math.log(4) + 0.25 * math.log(4 / 3)
    assert discriminator_loss(real, generated, classified, alpha=0.25).item() == pytest.approx(expected_quarter)
    # G: (1 - alpha) -log sigmoid(ln 3) = 0.75 ln(4/3) at alpha 1/4
    assert generator_loss(generated, alpha=0.25).item() == pytest.approx(0.75 * math.log(4 / 3))
    # C: alpha mean(p_max * -log D): confidences 0.5 and 1.0, D logits 0 and ln 3
    confidence = torch.tensor([0.5, 1.0])
    value = classifier_adversarial_loss(torch.tensor([0.0, LN3]), confidence, alpha=0.5).item()
    assert value == pytest.approx(0.5 * (0.5 * LN2 + math.log(4 / 3)) / 2)


def test_classifier_adversarial_gradient_reaches_c_through_its_confidence_only():
    """d/dlogits of p_max(logits) * const: the argmax label is discrete, so the gradient is the softmax's."""
    logits = torch.tensor([[2.0, 0.0, -1.0]], requires_grad=True)
    probs = torch.softmax(logits, 1)
    confidence, _ = probs.max(1)
    judged = torch.tensor([0.3])  # D's logit, computed without gradient
    classifier_adversarial_loss(judged, confidence, alpha=0.5).backward()
    p = probs.detach()[0]
    scale = 0.5 * torch.nn.functional.softplus(-judged)  # alpha * -log D
    expected = scale * p[0] * (torch.eye(3)[0] - p)  # dp_0/dlogits = p_0 (e_0 - p)
    assert torch.allclose(logits.grad[0], expected, atol=1e-6)


def test_classification_loss_by_hand():
    probs_l, labels = torch.tensor([[0.5, 0.5]]), torch.tensor([0])
    probs_u = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    last_weight = torch.tensor([[1.0, 2.0]])
    terms = classification_loss(probs_l, labels, probs_u, last_weight, 0.3, 1e-3, 1e-4)
    assert terms["supervised"].item() == pytest.approx(LN2)
    # entropy with the script's clip to [1e-6, 1 - 1e-6]: row 1 -log(1 - 1e-6) ~ 1e-6, row 2 ln 2
    assert terms["entropy"].item() == pytest.approx(0.3 * (-math.log(1 - 1e-6) + LN2) / 2, rel=1e-5)
    # balance: the batch mean (0.75, 0.25) against uniform
    assert terms["balance"].item() == pytest.approx(1e-3 * -(0.5 * math.log(0.75) + 0.5 * math.log(0.25)))
    assert terms["weight_decay"].item() == pytest.approx(1e-4 * 5)
    parts = sum(terms[k] for k in ("supervised", "entropy", "balance", "weight_decay"))
    assert terms["total"].item() == pytest.approx(parts.item())


def test_classifier_average_starts_at_zero_and_moves_one_percent_per_update():
    net = TripleGANClassifier(widths=(2, 2, 2, 2, 2))
    average = TripleGANClassifier(widths=(2, 2, 2, 2, 2))
    with torch.no_grad():
        for t in [*average.parameters(), *average.buffers()]:
            t.zero_()
        for t in [*net.parameters(), *net.buffers()]:
            if t.is_floating_point():
                t.fill_(1.0)
    update_average(average, net, 0.01)
    update_average(average, net, 0.01)
    # a_1 = 0.01, a_2 = 0.01 + 0.01 (1 - 0.01) = 0.0199, BN statistics included
    assert torch.allclose(average.classify.weight, torch.full_like(average.classify.weight, 0.0199))
    assert torch.allclose(average.features[1].inv_std, torch.full((2,), 0.0199))
    assert torch.allclose(average.features[1].mean, torch.full((2,), 0.0199))


def test_classifier_batch_norm_keeps_lasagnes_running_mean_and_inverse_std():
    """lasagne's BatchNormLayer: batch mean and biased variance while training, running mean and inverse std
    1 / sqrt(var + 1e-4) moved 0.1 of the way (from 0 and 1); eval normalizes with them."""
    norm = LasagneBatchNorm(1)
    with torch.no_grad():
        norm.weight.fill_(2.0)
        norm.bias.fill_(0.5)
    x = torch.tensor([1.0, 3.0]).view(2, 1, 1, 1)  # mean 2, biased variance 1
    out = norm(x).flatten()
    inv_std = 1 / math.sqrt(1 + 1e-4)
    torch.testing.assert_close(out, torch.tensor([-2 * inv_std + 0.5, 2 * inv_std + 0.5]))
    torch.testing.assert_close(norm.mean, torch.tensor([0.2]))
    torch.testing.assert_close(norm.inv_std, torch.tensor([0.9 + 0.1 * inv_std]))
    norm.eval()
    expected = (torch.tensor([1.0, 3.0]) - 0.2) * (0.9 + 0.1 * inv_std) * 2 + 0.5
    torch.testing.assert_close(norm(x).flatten(), expected)


def test_classifier_error_counts_wrong_predictions():
    class Fixed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x):
            return torch.nn.functional.one_hot(x.flatten(1)[:, 0].gt(0).long(), 2).float()

    images = torch.tensor([0, 255, 255, 0], dtype=torch.uint8).view(4, 1, 1, 1)  # predicts 0, 1, 1, 0
    labels = torch.tensor([0, 1, 0, 0])
    assert classifier_error(Fixed(), images, labels, batch_size=3).item() == pytest.approx(0.25)


def test_learning_rate_decays_by_the_scripts_epochs():
    model = TripleGAN(resolution=16, g_hidden=4, d_hidden=(4, 4, 4, 4, 4), c_widths=(2, 2, 2, 2, 2))
    factors = []
    for kimg in (0, 91_799.5, 91_800, 92_099.5, 92_100, 92_400):
        model.images_seen = int(kimg * 1000)
        factors.append(model.lr_factor())
    assert factors == pytest.approx([1, 1, 0.995, 0.995, 0.995**2, 0.995**3])
    model.images_seen = 91_499_999
    assert not model.pseudo_labelling
    model.images_seen = 91_500_000
    assert model.pseudo_labelling and not model.pretraining


def test_triplegan_refuses_what_it_cannot_train():
    with pytest.raises(ZooError, match="multiple of the 10 classes"):
        TripleGAN(generated_batch=25)
    with pytest.raises(ZooError, match="real_pairs"):
        TripleGAN(real_pairs="everything")
    with pytest.raises(ZooError, match=">= 16 px"):
        TripleGAN(resolution=8)
    with pytest.raises(ZooError, match="--model.objective, --model.penalties, --model.d_steps and --model.augment"):
        TripleGAN(objective="hinge")
    with pytest.raises(ZooError, match="--model.augment do not apply"):  # D is called on its pairs directly
        TripleGAN(augment="ada")


# ------------------------------------------------------------------------------------------------- training

TINY = {
    "resolution": 16, "g_hidden": 16, "d_hidden": (16, 16, 16, 16, 16), "c_widths": (4, 4, 4, 4, 4),
    "generated_batch": 20, "classifier_unlabelled": 10, "latent_dim": 8,
}  # fmt: skip


def tiny_triplegan(**kwargs) -> TripleGAN:
    return TripleGAN(**{**TINY, **kwargs})


def fit(iterations: int, pretrain: int, ckpt_dir=None, resume_from=None, **model_kwargs) -> TripleGAN:
    """``pretrain`` C-only iterations, then game iterations of three optimizer steps each (one with
    ``classifier_only``); 40 unlabelled images per iteration (C 10, D 30) and 20 labelled."""
    pl.seed_everything(0)
    model = tiny_triplegan(pretrain_kimg=pretrain * 40 / 1000, **model_kwargs)
    steps = pretrain + (1 if model.hparams.classifier_only else 3) * (iterations - pretrain)
    callbacks = [ModelCheckpoint(dirpath=ckpt_dir, save_last=True, save_top_k=0)] if ckpt_dir else []
    trainer = make_trainer(0, max_steps=steps, callbacks=callbacks, enable_checkpointing=bool(ckpt_dir))
    trainer.fit(model, tiny_digits(batch_size=40, labelled=20, labelled_batch_size=20), ckpt_path=resume_from)
    return model


def adam_steps(optimizer_state: dict) -> int:
    return int(next(iter(optimizer_state["state"].values()))["step"])


def test_training_pretrains_c_then_plays_three_players_and_resumes_exactly(tmp_path):
    straight = fit(6, pretrain=2, pseudo_label_kimg=0.16)
    assert (straight.iterations, straight.classifier_steps, straight.generator_steps) == (6, 6, 4)
    assert straight.images_seen == 6 * 40
    optimizers = straight.trainer.strategy.optimizers
    d_state, g_state, c_state, pretrain_state = (opt.state_dict() for opt in optimizers)
    assert (adam_steps(d_state), adam_steps(g_state), adam_steps(c_state), adam_steps(pretrain_state)) == (4, 4, 4, 2)
    assert straight.classifier_average.classify.weight.abs().sum() > 0

    fit(3, pretrain=2, ckpt_dir=tmp_path, pseudo_label_kimg=0.16)
    assert read_checkpoint(tmp_path / "last.ckpt")["state_dict"]["classifier_average.classify.bias"].abs().sum() > 0
    resumed = fit(6, pretrain=2, resume_from=tmp_path / "last.ckpt", pseudo_label_kimg=0.16)
    assert resumed.classifier_steps == 6
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        if isinstance(a, torch.Tensor):
            assert torch.equal(a, b), name


def test_the_average_classifies_as_well_as_c_after_a_short_run():
    """The average (every parameter and BN statistic, from zeros, as the script) is a working classifier once the
    zeros have decayed: 100 pretraining updates at rate 0.05 leave 0.95^100 = 0.6% of them (the script's 0.01
    needs 460 updates for as little). C learns 16 px digits from 50 labels; the average's error on all 1,797
    digits (40.8% here) trails C's (38.1%: it averages the last ~20 updates, when C was a little worse) by under 5
    points, far below chance (90%)."""
    pl.seed_everything(0)
    model = tiny_triplegan(
        c_widths=(8, 8, 8, 8, 8), pretrain_kimg=5, pretrain_lr=3e-3, average_rate=0.05, classifier_only=True
    )
    data = tiny_digits(batch_size=40, labelled=50, labelled_batch_size=50)
    make_trainer(0, max_steps=100).fit(model, data)
    assert model.classifier_steps == 100 and model.pretraining
    images, labels = data.dataset.images, data.dataset.labels
    c_error = classifier_error(model.classifier, images, labels).item()
    average_error = classifier_error(model.classifier_average, images, labels).item()
    assert c_error < 0.45 and average_error < 0.45 and abs(average_error - c_error) < 0.05, (c_error, average_error)


def test_classifier_only_baseline_never_steps_d_or_g():
    model = fit(4, pretrain=1, classifier_only=True)
    d_state, g_state, c_state, _ = (opt.state_dict() for opt in model.trainer.strategy.optimizers)
    assert d_state["state"] == {} and g_state["state"] == {} and adam_steps(c_state) == 3
    assert model.generator_steps == 0 and model.classifier_steps == 4


def test_triplegan_needs_semi_supervised_batches():
    model = tiny_triplegan(pretrain_kimg=0)
    with pytest.raises(ZooError, match="--data.labelled"):
        make_trainer(0, max_steps=3).fit(model, tiny_digits(batch_size=40))


def test_the_average_classifiers_test_error_is_logged_at_epoch_end():
    class DigitsWithTestSplit(type(tiny_digits())):
        def evaluation_split(self):
            return self.dataset.images[:50], self.dataset.labels[:50]

    pl.seed_everything(0)
    model = tiny_triplegan(pretrain_kimg=0.8)  # the first of the epoch's 2 iterations (800 unlabelled each)
    data = DigitsWithTestSplit(resolution=16, batch_size=800, labelled=20, labelled_batch_size=20)
    trainer = make_trainer(0, max_epochs=1, max_steps=-1)
    trainer.fit(model, data)
    assert (model.iterations, model.classifier_steps, model.generator_steps) == (2, 2, 1)
    expected = classifier_error(model.classifier_average, *data.evaluation_split())
    assert trainer.callback_metrics["triplegan/test_error"].item() == pytest.approx(expected.item())


def test_cli_fit_on_semi_supervised_digits(tmp_path):
    result = run_cli(
        "fit", "--model", "triplegan", "--data", "digits", "--data.resolution", "16", "--data.batch_size", "40",
        "--data.labelled", "20", "--data.labelled_batch_size", "20", "--model.g_hidden", "16",
        "--model.d_hidden", "[16, 16, 16, 16, 16]", "--model.c_widths", "[4, 4, 4, 4, 4]",
        "--model.generated_batch", "20", "--model.classifier_unlabelled", "10", "--model.pretrain_kimg", "0.08",
        "--trainer.max_kimg", "0.16", "--trainer.accelerator", "cpu", "--logger", "none", "--run_dir", "run",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert checkpoint["zoo_model"] == "triplegan"
    extra = checkpoint["state_dict"]["_extra_state"]
    assert (extra["iterations"], extra["images_seen"], extra["classifier_steps"]) == (4, 160, 4)
    steps = [adam_steps(state) for state in checkpoint["optimizer_states"]]
    assert steps == [2, 2, 2, 2]  # D, G and C in the game's 2 iterations; C's pretraining in the first 2
