"""StyleGAN2 against NVlabs' stylegan2-ada-pytorch (issue 19): the fixture snapshots of
../shared/reference/nvlabs-stylegan2-ada/{uncond,cond} imported without running their code, their io.pt inputs
run through the zoo's networks and compared with NVlabs' outputs to 1e-5 relative (max |diff| / max |reference|);
fused and un-fused modulated convs agree; a wrong mapping fails; the refusing unpickler; parameter counts and
synthesis FLOPs equal to NVlabs'."""

import copy
import os
import pickle

import pytest
import torch

from tests.conftest import ROOT
from tests.fidelity import TOLERANCE, assert_counts, assert_matches, relative_difference
from zoo.errors import ZooError
from zoo.flops import synthesis_flops
from zoo.importers import nvlabs
from zoo.nets.stylegan2 import SynthesisNetwork
from zoo.nn.modulated import ModulatedConv2d
from zoo.stylegan2 import StyleGAN2

REFERENCE = ROOT.parent / "shared" / "reference" / "nvlabs-stylegan2-ada"
needs_fixture = pytest.mark.skipif(not REFERENCE.is_dir(), reason="no ../shared/reference fixtures")
#: the fixtures' README: G and D parameter counts of NVlabs' networks
FIXTURE_COUNTS = {"uncond": (263_987, 288_993), "cond": (268_787, 327_072)}
conv2d = torch.nn.functional.conv2d


def networks(state_dict: dict, hparams: dict):
    """G, D and G_ema of an imported state dict, in eval mode (the state the snapshot holds)."""
    model = StyleGAN2(**hparams)

    def part(prefix: str) -> dict:
        return {k[len(prefix) + 1 :]: v for k, v in state_dict.items() if k.startswith(prefix + ".")}

    model.generator.load_state_dict(part("generator"))
    model.discriminator.load_state_dict(part("discriminator"))
    ema = copy.deepcopy(model.generator)
    ema.load_state_dict(part("generator_ema"))
    return model.generator.eval(), model.discriminator.eval(), ema.eval()


def outputs(state_dict: dict, hparams: dict, io: dict) -> dict:
    """The io.pt keys, computed by the zoo's networks from io.pt's inputs."""
    g, d, ema = networks(state_dict, hparams)
    z, y = io["z"], io["labels"] if hparams["num_classes"] else None
    with torch.no_grad():
        return {
            "ws_psi1": ema.mapping(z, y),
            "ws_psi0.7_cutoff8": ema.mapping(z, y, 0.7, 8),
            "ws_psi0.7_cutoff4": ema.mapping(z, y, 0.7, 4),
            "img_const": ema(z, y, noise_mode="const"),
            "img_none": ema(z, y, noise_mode="none"),
            "img_psi0.7_cutoff8_const": ema(z, y, 0.7, 8, noise_mode="const"),
            "img_G_const": g(z, y, noise_mode="const"),
            "d_img_const": d(io["img_const"], y)[:, None],
            "d_img_none": d(io["img_none"], y)[:, None],
            "d_random_images": d(io["random_images"], y)[:, None],
            "w_avg": ema.mapping.w_avg,
            "G_w_avg": g.mapping.w_avg,
        }


@pytest.fixture(scope="module", params=["uncond", "cond"])
def fixture(request):
    folder = REFERENCE / request.param
    if not folder.is_dir():
        pytest.skip("no ../shared/reference fixtures")
    imported = nvlabs.load(folder / "network-snapshot-000000.pkl")
    return request.param, imported, torch.load(folder / "io.pt", weights_only=True)


@needs_fixture
def test_imported_snapshot_computes_nvlabs_outputs(fixture):
    kind, imported, io = fixture
    assert imported.model == "stylegan2" and io["settings"]["mode"] == "eval"
    assert imported.hparams["num_classes"] == (10 if kind == "cond" else None)
    if kind == "cond":  # NVlabs' c is the one-hot label the zoo's mappings embed
        torch.testing.assert_close(torch.nn.functional.one_hot(io["labels"], 10).float(), io["c"])
    assert_matches(f"nvlabs ({kind})", outputs(imported.state_dict, imported.hparams, io), io)
    g, d, ema = networks(imported.state_dict, imported.hparams)
    assert_counts(f"nvlabs ({kind})", g, d, FIXTURE_COUNTS[kind])
    for key, noise in io["noise_const"].items():  # synthesis.bR.convK.noise_const
        block, layer = key.split(".")[1:3]
        index = int(block[1:]).bit_length() - 3
        torch.testing.assert_close(getattr(ema.synthesis.blocks[index], layer).noise.noise_const[0, 0], noise)


@needs_fixture
def test_training_mode_runs_un_fused_and_agrees_with_the_fused_reference(fixture, monkeypatch):
    _, imported, io = fixture
    _, _, ema = networks(imported.state_dict, imported.hparams)
    calls = []

    def counted_conv2d(*args, **kwargs):
        calls.append(kwargs.get("groups", 1))
        return conv2d(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "conv2d", counted_conv2d)
    y = io["labels"] if imported.hparams["num_classes"] else None
    with torch.no_grad():
        ws = ema.mapping(io["z"], y)
        ema.synthesis.train()
        unfused = ema.synthesis(ws, noise_mode="const")
    assert relative_difference(unfused, io["img_const"]) <= TOLERANCE
    assert 8 not in calls  # no grouped conv over the batch of 8 in training (the FIR filter's groups are channels)


@pytest.mark.parametrize("kernel_size, demodulate, up", [(3, True, False), (3, True, True), (1, False, False)])
def test_fused_and_unfused_modulated_convs_agree(kernel_size, demodulate, up):
    torch.manual_seed(0)
    conv = ModulatedConv2d(6, 5, kernel_size, w_dim=4, demodulate=demodulate, up=up)
    x, w = torch.randn(3, 6, 8, 8), torch.randn(3, 4)
    with torch.no_grad():
        fused, unfused = conv(x, w, fused=True), conv(x, w, fused=False)
        assert conv.eval()(x, w).equal(fused) and conv.train()(x, w).equal(unfused)  # NVlabs' default per mode
    assert fused.shape == (3, 5, 16 if up else 8, 16 if up else 8)
    assert relative_difference(unfused, fused) <= TOLERANCE


@needs_fixture
@pytest.mark.parametrize(
    "first, second, output",
    [
        ("generator_ema.synthesis.blocks.1.conv0.conv.weight", "generator_ema.synthesis.blocks.1.conv1.conv.weight",
         "img_const"),
        ("discriminator.blocks.1.conv0.weight", "discriminator.blocks.2.conv0.weight", "d_random_images"),
    ],
)  # fmt: skip
def test_a_wrong_mapping_fails_the_comparison(fixture, first, second, output):
    _, imported, io = fixture
    state = dict(imported.state_dict)
    state[first], state[second] = state[second], state[first]
    assert relative_difference(outputs(state, imported.hparams, io)[output], io[output]) > 100 * TOLERANCE


# ------------------------------------------------------------------------------------------ the unpickler


class Payload:
    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


@needs_fixture
def test_snapshots_are_detected_by_their_persistence_module(tmp_path):
    assert nvlabs.detect(REFERENCE / "cond" / "network-snapshot-000000.pkl")
    assert not nvlabs.detect(REFERENCE / "cond" / "io.pt")  # a torch.save zip
    assert not nvlabs.detect(tmp_path)


def test_a_pickle_with_an_os_system_payload_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "network-snapshot-000000.pkl"
    with open(path, "wb") as f:
        pickle.dump({"G": Payload(f"touch {marker}"), "D": None, "G_ema": None}, f)
    with pytest.raises(ZooError, match=r"refusing to load (posix|nt|os)\.system") as error:
        nvlabs.load(path)
    assert "\n" not in str(error.value)
    assert not marker.exists()


@needs_fixture
@pytest.mark.parametrize(
    "network, group, key, value, accepted",
    [
        ("D", None, "architecture", "skip", False),
        ("G", "synthesis_kwargs", "architecture", "resnet", False),
        ("D", "mapping_kwargs", "num_layers", 2, False),
        ("G", "mapping_kwargs", "lr_multiplier", 1.0, False),
        ("D", "block_kwargs", "fp16_channels_last", True, True),  # a memory layout: the same function
    ],
)
def test_constructor_arguments_the_zoo_does_not_compute_are_named(network, group, key, value, accepted):
    snapshot = nvlabs.read_snapshot(REFERENCE / "cond" / "network-snapshot-000000.pkl")
    kwargs = snapshot[network].state["_init_kwargs"]
    (kwargs.setdefault(group, {}) if group else kwargs)[key] = value
    if accepted:
        assert nvlabs.stylegan2_hparams(snapshot["G"], snapshot["D"])["resolution"] == 32
    else:
        with pytest.raises(ZooError, match=rf"{network}\.{f'{group}.' if group else ''}{key}={value!r}"):
            nvlabs.stylegan2_hparams(snapshot["G"], snapshot["D"])


def test_a_snapshot_without_networks_is_refused(tmp_path):
    path = tmp_path / "network-snapshot-000000.pkl"
    path.write_bytes(pickle.dumps({"G": 1}))
    with pytest.raises(ZooError, match="no G, D and G_ema"):
        nvlabs.load(path)


# ------------------------------------------------------------------------------------ counts and FLOPs


def test_conditional_cifar_discriminator_has_nvlabs_parameter_count():
    # NVlabs' Discriminator(c_dim=10, img_resolution=32, img_channels=3, architecture="orig", channel_base=32768,
    # channel_max=512, epilogue_kwargs={"mbstd_group_size": 32}): ADA's train.py --cfg cifar --cond
    with torch.device("meta"):
        model = StyleGAN2(resolution=32, preset="cifar", num_classes=10)
    assert len(model.discriminator.mapping.layers) == 8 and len(model.generator.mapping.layers) == 2
    code = "NVlabs/stylegan2-ada-pytorch train.py --cfg cifar --cond"
    assert_counts("stylegan2 cifar conditional 32 px", None, model.discriminator, (None, 23_089_664), code)


def test_synthesis_flops_at_paper256_are_nvlabs():
    # NVlabs' SynthesisNetwork(w_dim=512, img_resolution=256, img_channels=3, channel_base=16384, channel_max=512),
    # counted by torch.utils.flop_counter in eval mode: 30.067 GFLOP per image (the 30.1)
    with torch.device("meta"):
        synthesis = SynthesisNetwork(512, 256, 3, channel_base=16384, channel_max=512)
    assert synthesis_flops(synthesis, 512) == pytest.approx(30.067e9, rel=0.02)
    assert synthesis_flops(synthesis, 512) == pytest.approx(30.1e9, rel=0.02)
