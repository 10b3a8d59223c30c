"""The layers of the spectral-norm family (zoo/nn/spectral_norm.py, attention.py, conditional.py) against
closed forms and references: torch.linalg.matrix_norm for spectral norms, explicit sums for attention and the
projection, plain batch norm for conditional batch norm."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from zoo.errors import ZooError
from zoo.nets.resnet import ResNetDiscriminator
from zoo.nn.attention import SelfAttention
from zoo.nn.conditional import ConditionalBatchNorm2d, ProjectionHead
from zoo.nn.spectral_norm import Layers, spectral_norm


def normalized_modules(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if hasattr(m, "parametrizations") and "weight" in m.parametrizations]


def tiny_discriminator(seed: int, num_classes: int | None = 5) -> ResNetDiscriminator:
    torch.manual_seed(seed)
    return ResNetDiscriminator(16, 3, [16, 16, 16], [True, True, False], Layers(), True, num_classes, 8)


# ------------------------------------------------------------------------------------------ spectral norm


def test_every_normalized_weight_has_spectral_norm_one_after_a_few_power_iterations():
    net = tiny_discriminator(0)
    x, y = torch.randn(4, 3, 16, 16), torch.tensor([0, 1, 2, 3])
    for _ in range(5):  # five training forwards: five more power iterations per layer
        net(x, y)
    net.eval()
    modules = normalized_modules(net)
    # 3 blocks x (conv1, conv2, shortcut) but the last block's identity shortcut, 4 attention convs, psi, embed
    assert len(modules) == 3 * 3 - 1 + 4 + 2
    for module in modules:
        w = module.weight.detach()
        sigma = torch.linalg.matrix_norm(w.reshape(w.shape[0], -1), ord=2)
        assert sigma.item() == pytest.approx(1.0, abs=1e-2), type(module).__name__
        raw = module.parametrizations.weight.original.detach()
        assert torch.linalg.matrix_norm(raw.reshape(raw.shape[0], -1), ord=2) > 1.05  # really rescaled


def test_one_power_iteration_per_training_forward_and_none_in_eval():
    torch.manual_seed(0)
    conv = spectral_norm(nn.Conv2d(3, 6, 3))
    sn = conv.parametrizations.weight[0]
    w = conv.parametrizations.weight.original.detach().reshape(6, -1)
    v0 = sn._v.clone()
    conv(torch.randn(2, 3, 5, 5))
    u1 = F.normalize(w @ v0, dim=0)  # Algorithm 1's two updates, u <- W v / ||W v|| and v <- W^T u / ||W^T u||
    v1 = F.normalize(w.T @ u1, dim=0)
    torch.testing.assert_close(sn._v, v1)
    torch.testing.assert_close(sn._u, u1)
    conv.eval()  # in training mode even reading conv.weight would run an iteration
    conv(torch.randn(2, 3, 5, 5))
    torch.testing.assert_close(sn._u, u1, rtol=0, atol=0)
    torch.testing.assert_close(conv.weight, (w / (u1 @ w @ v1)).view_as(conv.weight))  # W / sigma(W)


def test_the_authors_power_iteration_starts_from_u_and_runs_unstored_in_eval():
    # BigGAN-PyTorch layers.py power_iteration: v <- W^T u, u <- W v, sigma = u^T W v; stored only in training
    torch.manual_seed(0)
    conv = spectral_norm(nn.Conv2d(3, 6, 3), authors_power_iteration=True)
    sn = conv.parametrizations.weight[0]
    w = conv.parametrizations.weight.original.detach().reshape(6, -1)
    u0 = sn._u.clone()
    v1 = F.normalize(w.T @ u0, dim=0)
    u1 = F.normalize(w @ v1, dim=0)
    conv.eval()
    torch.testing.assert_close(conv.weight, (w / (u1 @ w @ v1)).view_as(conv.weight))
    assert torch.equal(sn._u, u0)  # nothing stored in eval
    conv.train()
    conv(torch.randn(2, 3, 5, 5))
    torch.testing.assert_close(sn._u, u1)
    torch.testing.assert_close(sn._v, v1)


def test_u_and_v_are_in_the_state_dict_and_a_reload_gives_the_same_output(tmp_path):
    net = tiny_discriminator(0)
    x, y = torch.randn(4, 3, 16, 16), torch.tensor([0, 1, 2, 3])
    for _ in range(3):
        net(x, y)
    state = net.state_dict()
    assert "head.psi.parametrizations.weight.0._u" in state and "head.embed.parametrizations.weight.0._v" in state
    assert sum(k.endswith("._u") for k in state) == len(normalized_modules(net))
    torch.save(state, tmp_path / "d.pt")
    reloaded = tiny_discriminator(1)  # other weights, other u
    reloaded.load_state_dict(torch.load(tmp_path / "d.pt", weights_only=True))
    net.eval(), reloaded.eval()
    torch.testing.assert_close(reloaded(x, y), net(x, y), rtol=0, atol=0)
    net.train(), reloaded.train()  # and the power iteration continues from the same vectors
    torch.testing.assert_close(reloaded(x, y), net(x, y), rtol=0, atol=0)


def test_layers_initialize_before_normalizing_and_reject_unknown_initializers():
    torch.manual_seed(0)
    conv = Layers(spectral_norm=False, init="xavier").conv(64, 64, 3, gain=2**0.5)
    bound = 2**0.5 * (6 / (64 * 9 + 64 * 9)) ** 0.5  # Glorot uniform with gain sqrt 2
    assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.95 * bound
    assert conv.bias.abs().max() == 0
    linear = Layers(init="orthogonal").linear(8, 16)
    raw = linear.parametrizations.weight.original.detach()
    torch.testing.assert_close(raw.T @ raw, torch.eye(8))  # orthonormal columns
    with pytest.raises(ZooError, match="unknown initialization 'he'; choose one of: xavier, orthogonal, normal"):
        Layers(init="he")


# ------------------------------------------------------------------------------------------ attention


def test_self_attention_with_gamma_zero_is_the_identity():
    torch.manual_seed(0)
    attention = SelfAttention(16, Layers())
    assert attention.gamma.item() == 0.0
    x = torch.randn(2, 16, 8, 8)
    torch.testing.assert_close(attention(x), x, rtol=0, atol=0)


@pytest.mark.parametrize("pool", [False, True])
def test_self_attention_matches_eq_1_and_2_position_by_position(pool):
    torch.manual_seed(0)
    attention = SelfAttention(16, Layers(spectral_norm=False), pool=pool).eval()
    with torch.no_grad():
        attention.gamma.fill_(0.7)
    x = torch.randn(1, 16, 4, 4)
    f, g, h = attention.f(x), attention.g(x), attention.h(x)
    if pool:
        f, h = F.max_pool2d(f, 2), F.max_pool2d(h, 2)
    f, g, h = f[0].flatten(1), g[0].flatten(1), h[0].flatten(1)  # (C', positions)
    attended = torch.zeros(8, 16)
    for j in range(16):  # output position j: beta_{j,i} = softmax over i of f(x_i)^T g(x_j)
        beta = torch.softmax(torch.stack([f[:, i] @ g[:, j] for i in range(f.shape[1])]), dim=0)
        attended[:, j] = sum(beta[i] * h[:, i] for i in range(f.shape[1]))
    expected = x + 0.7 * attention.v(attended.view(1, 8, 4, 4))
    torch.testing.assert_close(attention(x), expected)


# --------------------------------------------------------------------------------- conditional batch norm


def test_conditional_batch_norm_with_zero_offsets_is_plain_batch_norm():
    torch.manual_seed(0)
    x, y = torch.randn(6, 4, 3, 3) * 3 + 1, torch.tensor([0, 1, 2, 0, 1, 2])
    plain = nn.BatchNorm2d(4, affine=False)
    by_class = ConditionalBatchNorm2d.by_class(4, num_classes=3)
    torch.testing.assert_close(by_class(x, y), plain(x))
    torch.testing.assert_close(by_class.norm.running_mean, plain.running_mean)
    by_vector = ConditionalBatchNorm2d.by_vector(4, condition_dim=5, layers=Layers(spectral_norm=False))
    with torch.no_grad():
        by_vector.gamma.weight.zero_()
        by_vector.beta.weight.zero_()
    torch.testing.assert_close(by_vector(x, torch.randn(6, 5)), F.batch_norm(x, None, None, training=True))


def test_conditional_batch_norm_applies_gain_one_plus_gamma_and_bias_beta_of_the_class():
    x, y = torch.randn(4, 2, 3, 3), torch.tensor([1, 0, 1, 1])
    cbn = ConditionalBatchNorm2d.by_class(2, num_classes=2)
    with torch.no_grad():
        cbn.gamma.weight.copy_(torch.tensor([[0.0, 0.0], [0.5, -1.0]]))
        cbn.beta.weight.copy_(torch.tensor([[0.0, 0.0], [2.0, 3.0]]))
    normed = F.batch_norm(x, None, None, training=True)
    out = cbn(x, y)
    torch.testing.assert_close(out[1], normed[1])  # class 0: gain 1, bias 0
    torch.testing.assert_close(out[0, 0], 1.5 * normed[0, 0] + 2.0)
    torch.testing.assert_close(out[0, 1], 0.0 * normed[0, 1] + 3.0)


def test_vector_conditional_batch_norm_projects_the_condition_without_bias():
    cbn = ConditionalBatchNorm2d.by_vector(3, condition_dim=5, layers=Layers(spectral_norm=False))
    assert cbn.gamma.bias is None and cbn.beta.bias is None
    x, c = torch.randn(4, 3, 2, 2), torch.randn(4, 5)
    gain, bias = 1 + c @ cbn.gamma.weight.T, c @ cbn.beta.weight.T
    expected = F.batch_norm(x, None, None, training=True) * gain[:, :, None, None] + bias[:, :, None, None]
    torch.testing.assert_close(cbn(x, c), expected)


# ------------------------------------------------------------------------------------------- projection


def test_projection_discriminator_output_is_psi_of_phi_plus_the_class_inner_product():
    net = tiny_discriminator(0).eval()
    x, y = torch.randn(3, 3, 16, 16), torch.tensor([4, 0, 4])
    h = x
    for i, block in enumerate(net.blocks):
        h = block(h)
        if i == net.attention_after:
            h = net.attention(h)
    phi = F.relu(h).sum(dim=(2, 3))  # global sum pooling
    psi_w, psi_b, embed = net.head.psi.weight, net.head.psi.bias, net.head.embed.weight
    expected = torch.stack([psi_w[0] @ phi[n] + psi_b[0] + embed[y[n]] @ phi[n] for n in range(3)])
    torch.testing.assert_close(net(x, y), expected)
    unconditional = ProjectionHead(16, None, Layers()).eval()
    torch.testing.assert_close(unconditional(phi), phi @ unconditional.psi.weight[0] + unconditional.psi.bias[0])
