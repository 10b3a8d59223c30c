import pytest
import torch
from torch import nn

import zoo
from tests.fidelity import assert_counts
from zoo.errors import ZooError
from zoo.nets.dcgan import DCGANDiscriminator, DCGANGenerator


@pytest.mark.parametrize("resolution,channels", [(32, 1), (32, 3), (64, 3), (64, 1), (16, 2)])
def test_dcgan_shapes_and_range(resolution, channels):
    model = zoo.get_model("dcgan")(resolution=resolution, channels=channels, ngf=8, ndf=8)
    z = model.sample_latent(5, generator=torch.Generator().manual_seed(0))
    images = model(z)
    assert images.shape == (5, channels, resolution, resolution)
    assert images.abs().max() <= 1.0
    assert model.discriminator(images).shape == (5,)


def test_dcgan_64px_matches_the_reference_widths():
    g = DCGANGenerator(latent_dim=100, resolution=64, channels=3, width=64)
    convs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [512, 256, 128, 64, 3]
    assert [c.stride[0] for c in convs] == [1, 2, 2, 2, 2]
    d = DCGANDiscriminator(resolution=64, channels=3, width=64)
    layers = list(d.net)
    assert isinstance(layers[1], nn.LeakyReLU) and layers[1].negative_slope == 0.2  # no BN on the input layer
    assert [m.out_channels for m in d.modules() if isinstance(m, nn.Conv2d)] == [64, 128, 256, 512, 1]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.modules()) == 3
    code = "pytorch/examples dcgan/main.py (nz 100, ngf = ndf = 64)"
    assert_counts("dcgan 64 px", g, d, (3_576_704, 2_765_568), code)


def test_dcgan_init_is_normal_0_02():
    torch.manual_seed(0)
    model = zoo.get_model("dcgan")(resolution=64, channels=3)
    conv = model.generator.net[3].weight
    assert conv.mean().abs() < 1e-3 and conv.std().item() == pytest.approx(0.02, rel=0.02)
    bn = model.generator.net[1]
    assert bn.weight.mean().item() == pytest.approx(1.0, abs=5e-3) and bn.bias.abs().max() == 0


@pytest.mark.parametrize("model", ["lsgan", "gan"])
def test_toy_networks_have_pacgans_init(model):
    """PacGAN's code initializes every weight from N(0, 0.02), biases at 0 and BatchNorm scales at 1."""
    torch.manual_seed(0)
    toy = {
        "gan": {"g_hidden": (400,) * 4, "g_batch_norm": True, "d_hidden": (200,) * 3, "init_std": 0.02},
        "lsgan": {"ngf": 400, "ndf": 200},  # the objective family's toy networks are PacGAN's
    }
    net = zoo.get_model(model)(sample_shape=(2,), latent_dim=2, **toy[model])
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 5 + 4  # G: 4 hidden + output; D: 3 maxout + output
    weights = torch.cat([m.weight.flatten() for m in linears])
    assert weights.mean().abs() < 2e-4 and weights.std().item() == pytest.approx(0.02, rel=0.01)
    assert all(m.bias is None or m.bias.abs().max() == 0 for m in linears)
    norms = [m for m in net.generator.modules() if isinstance(m, nn.BatchNorm1d)]
    assert len(norms) == 4 and all((m.weight == 1).all() and (m.bias == 0).all() for m in norms)


@pytest.mark.parametrize("resolution", [4, 24, 48])
def test_dcgan_rejects_resolutions_it_cannot_make(resolution):
    with pytest.raises(ZooError, match="power-of-two resolution"):
        DCGANGenerator(100, resolution, 3, 8)


def test_mlp_gan_on_points_and_images():
    points = zoo.get_model("gan")(sample_shape=(2,), latent_dim=2, output_activation="identity")
    assert points(torch.randn(7, 2)).shape == (7, 2)
    assert points.discriminator(torch.randn(7, 2)).shape == (7,)
    images = zoo.get_model("gan")(sample_shape=(1, 8, 8))
    out = images(torch.randn(3, 100))
    assert out.shape == (3, 1, 8, 8) and out.abs().max() <= 1


def test_maxout_takes_the_max_over_pieces():
    from zoo.nn import Maxout

    layer = Maxout(1, 2, pieces=3)
    with torch.no_grad():
        layer.linear.weight.copy_(torch.tensor([[1.0], [-1.0], [2.0], [0.0], [3.0], [-2.0]]))
        layer.linear.bias.zero_()
    assert layer(torch.tensor([[1.0]])).tolist() == [[2.0, 3.0]]
    assert layer(torch.tensor([[-1.0]])).tolist() == [[1.0, 2.0]]


def test_registry_knows_the_entries_and_lists_them_on_a_typo():
    assert zoo.get_model("dcgan").__name__ == "DCGAN"
    with pytest.raises(ZooError, match="dcgan, dragan, ebgan, fgan, gan, gan_t2i, improved_gan"):
        zoo.get_model("dcgna")
