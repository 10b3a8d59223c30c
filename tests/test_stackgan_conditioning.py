"""benchmarks/stackgan_conditioning.py: the diagnostic's numbers by hand on a tiny stackgan."""

from __future__ import annotations

import pytest
import torch

from benchmarks.stackgan_conditioning import logit_matrix, probe
from zoo import get_model

STAGE1 = {"resolution": 8, "channels": 1, "ngf": 4, "ndf": 4, "condition_dim": 4, "latent_dim": 6, "text_dim": 5}


def test_the_logit_matrix_is_d_on_every_pair_and_leaves_the_running_statistics():
    torch.manual_seed(0)
    model = get_model("stackgan")(d_condition="text", **STAGE1)
    images, text = torch.randn(3, 1, 8, 8), torch.randn(2, 5)
    before = {k: v.clone() for k, v in model.discriminator.state_dict().items()}
    logits = logit_matrix(model, images, text, train_mode=False)
    model.discriminator.eval()
    assert logits.shape == (3, 2)
    assert torch.allclose(logits[2, 1], model.discriminate(images[2:], text[1:])[0], atol=1e-6)
    logit_matrix(model, images, text, train_mode=True)
    after = model.discriminator.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # batch statistics used, running ones restored


def test_probe_counts_zero_means_and_dead_units_by_hand():
    torch.manual_seed(0)
    model = get_model("stackgan")(**STAGE1)
    fc = model.generator.conditioning.fc
    with torch.no_grad():
        fc.weight.zero_()
        fc.bias.copy_(torch.tensor([1.0, -1.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0]))  # mu = relu(bias[:4]) for any text
    report = probe(model, torch.randn(4, 1, 8, 8), torch.randn(4, 5), torch.tensor([1, 1, 2, 2]))
    assert report["mu_zero"] == pytest.approx(0.5) and report["mu_dead"] == pytest.approx(0.5)
    assert report["mu_std"] == 0.0  # one mu for every caption: D on mu cannot tell captions apart
    assert report["logit_text_std_eval"] == report["logit_text_std_train"] == 0.0
    assert report["auc_eval"] == report["auc_train"] == 0.5  # all ties
