"""StackGAN (v1) and StackGAN++ (v2) networks: conditioning augmentation's KL against its closed form, the colour-
consistency term by hand, shapes at every stage and scale, and parameter counts at the papers' configurations
computed from the authors' code (hanzhanggit/StackGAN-Pytorch code/model.py with miscc/config.py's birds defaults
and cfg/coco_s1/s2.yml; hanzhanggit/StackGAN-v2 code/model.py with cfg/birds_3stages.yml), built there with the
reference classes and counted with sum(p.numel() for p in net.parameters())."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Normal
from torch.distributions import kl_divergence as torch_kl

from tests.fidelity import assert_counts
from zoo.errors import ZooError
from zoo.nets.stackgan import (
    ConditioningAugmentation,
    StackGANDiscriminator,
    StageOneGenerator,
    StageTwoGenerator,
    kl_divergence,
)
from zoo.nets.stackgan2 import TreeDiscriminators, TreeGenerator, color_consistency, mean_and_covariance


def test_kl_divergence_is_the_closed_form_averaged_over_batch_and_dimensions():
    torch.manual_seed(0)
    mu, logvar = torch.randn(4, 6), torch.randn(4, 6)
    closed_form = torch_kl(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).mean()
    assert kl_divergence(mu, logvar).item() == pytest.approx(closed_form.item(), rel=1e-6)
    # one dimension by hand: mu 1, log sigma^2 1: -(1 + 1 - 1 - e) / 2
    assert kl_divergence(torch.ones(1, 1), torch.ones(1, 1)).item() == pytest.approx((torch.e - 1) / 2)


def test_conditioning_augmentation_reparameterizes_with_the_predicted_mean_and_variance():
    torch.manual_seed(0)
    ca = ConditioningAugmentation(text_dim=5, condition_dim=3)
    assert ca.fc.out_features == 6 and ConditioningAugmentation(5, 3, "glu").fc.out_features == 12
    leaky = ConditioningAugmentation(5, 3, "leaky_relu")  # the TF original's: negative means and log-variances
    x = leaky.fc(torch.ones(1, 5))
    assert torch.equal(leaky(torch.ones(1, 5))[1], torch.where(x > 0, x, 0.2 * x)[:, :3])
    with pytest.raises(ZooError, match="choose one of: relu, leaky_relu"):
        ConditioningAugmentation(5, 3, "tanh")
    embedding = torch.randn(4000, 5)
    embedding[:] = embedding[0]  # one caption, many draws of eps
    c, mu, logvar = ca(embedding)
    assert torch.equal(mu, torch.relu(ca.fc(embedding))[:, :3])
    assert torch.allclose(c.mean(0), mu[0], atol=0.1)
    assert torch.allclose(c.var(0), logvar[0].exp(), rtol=0.1)


def test_color_consistency_by_hand():
    low = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 2, 2)  # mean 2.5, variance 1.25
    high = torch.tensor([0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 4.0]).view(1, 1, 2, 4).requires_grad_(True)  # 1, 3
    term = color_consistency([low.requires_grad_(True), high], weight=50.0)
    assert term.item() == pytest.approx(50 * ((1 - 2.5) ** 2 + 5 * (3 - 1.25) ** 2))
    term.backward()
    assert low.grad is None and high.grad.abs().sum() > 0  # the lower scale is the target: detached
    # covariance of two channels: x = (1, -1), y = (1, -1) -> cov [[1, 1], [1, 1]]
    mean, cov = mean_and_covariance(torch.tensor([[1.0, -1.0], [1.0, -1.0]]).view(1, 2, 1, 2))
    assert torch.equal(mean, torch.zeros(1, 2)) and torch.equal(cov, torch.ones(1, 2, 2))
    # three scales: both adjacent pairs count
    a, b = torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2)
    assert color_consistency([a, b, a], weight=1.0).item() == pytest.approx(2.0)


def test_stackgan_shapes_at_both_stages():
    stage_one = StageOneGenerator(text_dim=12, latent_dim=7, condition_dim=5, ngf=4, resolution=16, channels=1)
    (image,), mu, logvar = stage_one(torch.randn(3, 7), torch.randn(3, 12))
    assert image.shape == (3, 1, 16, 16) and mu.shape == logvar.shape == (3, 5)
    stage_two = StageTwoGenerator(
        stage_one, 16, text_dim=12, condition_dim=5, ngf=4, residual_blocks=1, resolution=32, channels=1
    )
    (low, high), mu2, _ = stage_two(torch.randn(3, 7), torch.randn(3, 12))
    assert low.shape == (3, 1, 16, 16) and high.shape == (3, 1, 32, 32) and mu2.shape == (3, 5)
    assert not low.requires_grad and not any(p.requires_grad for p in stage_two.stage_one.parameters())
    d1 = StackGANDiscriminator(16, 1, ndf=4, condition_dim=5)
    d2 = StackGANDiscriminator(32, 1, ndf=4, condition_dim=5, narrowings=1, unconditional=True)
    assert d1.features(low).shape == d2.features(high).shape == (3, 8, 4, 4)
    assert d1(low, mu).shape == d2(high, mu2).shape == d2.unconditional(d2.features(high)).shape == (3,)
    with pytest.raises(ZooError, match="no unconditional logit"):
        d1.unconditional(d1.features(low))
    with pytest.raises(ZooError, match="power of two"):
        StageOneGenerator(resolution=24)


def test_stackgan_stage_two_encoder_halvings_set_the_grid_of_the_residual_blocks():
    """The port halves the stage-I image twice (64 px -> 16x16); 1 or 0 halvings keep an 8x8 or 16x16 grid for a
    16 px stage I, with one upsampling block fewer per halving kept, and the same layer names."""
    stage_one = StageOneGenerator(text_dim=12, latent_dim=7, condition_dim=5, ngf=4, resolution=16, channels=1)
    port = StageTwoGenerator(stage_one, 16, text_dim=12, condition_dim=5, ngf=4, residual_blocks=1, resolution=32)
    for halvings, grid in [(2, 4), (1, 8), (0, 16)]:
        g = StageTwoGenerator(
            stage_one, 16, 12, 5, ngf=4, residual_blocks=1, resolution=32, channels=1, encoder_halvings=halvings
        )
        assert g.encoder(torch.randn(2, 1, 16, 16)).shape == (2, 16, grid, grid)
        assert len(g.upsample) == {4: 3, 8: 2, 16: 1}[grid]
        assert [k for k in g.encoder.state_dict()] == [k for k in port.encoder.state_dict()]
        assert g(torch.randn(2, 7), torch.randn(2, 12))[0][1].shape == (2, 1, 32, 32)
    with pytest.raises(ZooError, match="encoder_halvings is 0, 1 or 2"):
        StageTwoGenerator(stage_one, 16, 12, 5, ngf=4, resolution=32, channels=1, encoder_halvings=3)


def test_stackgan2_shapes_at_every_scale():
    g = TreeGenerator(text_dim=12, latent_dim=7, condition_dim=5, ngf=8, base_resolution=8, scales=3, channels=1)
    images, mu, _logvar = g(torch.randn(2, 7), torch.randn(2, 12))
    assert [tuple(x.shape) for x in images] == [(2, 1, 8, 8), (2, 1, 16, 16), (2, 1, 32, 32)]
    ds = TreeDiscriminators(base_resolution=8, scales=3, channels=1, ndf=4, condition_dim=5)
    for d, x in zip(ds, images):
        features = d.features(x)
        assert features.shape == (2, 4, 4, 4)
        assert d.conditional(features, mu).shape == d.unconditional(features).shape == (2,)


def test_stackgan_counts_at_the_papers_configurations():
    """CUB/Oxford (the port's config.py defaults: GF_DIM 128, DF_DIM 64, R_NUM 4) and COCO (coco_s1/s2.yml: GF_DIM
    192, DF_DIM 96, R_NUM 2). Stage II's G holds the frozen stage-I G, as the port's STAGE2_G does."""
    code = "hanzhanggit/StackGAN-Pytorch code/model.py"
    for ngf, ndf, blocks, counts in [
        (128, 64, 4, (10301248, 5715713, 36591328, 71269122)),
        (192, 96, 2, (20020832, 12407425, 57151312, 159889538)),
    ]:
        stage_one = StageOneGenerator(ngf=ngf)
        assert_counts(f"stackgan stage I ngf {ngf}", stage_one, StackGANDiscriminator(64, 3, ndf), counts[:2], code)
        stage_two = StageTwoGenerator(StageOneGenerator(ngf=ngf), ngf=ngf, residual_blocks=blocks)
        d2 = StackGANDiscriminator(256, 3, ndf, narrowings=2, unconditional=True)
        assert_counts(f"stackgan stage II ngf {ngf}", stage_two, d2, counts[2:], code)


def test_stackgan2_counts_at_the_papers_configuration():
    """cfg/birds_3stages.yml: G_NET 21,239,696; D_NET64/128/256 5,723,906 + 18,834,178 + 71,269,122."""
    ds = TreeDiscriminators()
    assert [sum(p.numel() for p in d.parameters()) for d in ds] == [5723906, 18834178, 71269122]
    assert_counts("stackgan2 birds", TreeGenerator(), ds, (21239696, 95827206), "hanzhanggit/StackGAN-v2 code/model.py")


def test_conditioning_augmentation_off_gives_the_mean_the_same_code_for_the_same_text():
    torch.manual_seed(0)
    ca = ConditioningAugmentation(5, 3, augment=False)  # the paper's "CA: No" ablation (Sec. 5.2, Table 3)
    text = torch.randn(1, 5).repeat(4, 1)
    c, mu, _ = ca(text)
    assert torch.equal(c, mu) and torch.equal(mu, torch.relu(ca.fc(text))[:, :3])
    assert torch.equal(c, ca(text)[0]) and torch.equal(c[0], c[3])  # no eps: one code per text


def test_d_reads_the_caption_through_its_own_context_under_text_conditioning():
    """The TF original's D (stageI/model.py context_embedding): caption -> FC -> leaky_rectify 0.2, tiled."""
    torch.manual_seed(0)
    port, original = (
        StackGANDiscriminator(16, 1, ndf=4, condition_dim=5),
        StackGANDiscriminator(16, 1, ndf=4, condition_dim=5, text_dim=7),
    )
    count = lambda net: sum(p.numel() for p in net.parameters())
    assert count(original) - count(port) == 7 * 5 + 5  # the context FC's weight and bias
    x, text = torch.randn(3, 1, 16, 16), torch.randn(3, 7)
    fc = original.context[0]
    code = torch.nn.functional.leaky_relu(text @ fc.weight.T + fc.bias, 0.2)
    features = original.features(x)
    assert torch.equal(original.conditional(features, text), original.conditional_logit(features, code))
    trees = TreeDiscriminators(base_resolution=8, scales=3, channels=1, ndf=4, condition_dim=5, text_dim=7)
    assert [d.context[0].in_features for d in trees] == [7, 7, 7]
