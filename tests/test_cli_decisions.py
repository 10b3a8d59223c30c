"""The CLI's decisions that need no subprocess: DDP or not, W&B online or offline, argv handling."""

import pytest

import cli
from zoo import lightning_cli
from zoo.dcgan import DCGAN
from zoo.errors import ZooError
from zoo.registry import init_parameters


@pytest.mark.parametrize(
    "devices,num_nodes,accelerator,expected",
    [(1, 1, "cpu", False), (2, 1, "cpu", True), ("2", 1, "gpu", True), ("0,1", 1, "gpu", True), ([3], 1, "gpu", False),
     ([0, 1], 1, "gpu", True), (1, 4, "gpu", True), ("auto", 1, "cpu", False)],
)  # fmt: skip
def test_ddp_is_chosen_exactly_when_more_than_one_process_runs(devices, num_nodes, accelerator, expected):
    assert lightning_cli.needs_ddp(devices, num_nodes, accelerator) is expected


def test_wandb_login_is_read_from_the_environment_or_netrc(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_BASE_URL", raising=False)
    netrc = tmp_path / "netrc"
    netrc.write_text("machine example.org login user password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert not lightning_cli.wandb_logged_in()
    netrc.write_text("machine api.wandb.ai login user password 0123456789abcdef0123456789abcdef01234567\n")
    assert lightning_cli.wandb_logged_in()
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    assert not lightning_cli.wandb_logged_in()
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    assert lightning_cli.wandb_logged_in()


def test_options_are_found_and_popped_in_both_spellings():
    argv = ["fit", "--model", "dcgan", "--data=mnist", "--ckpt_path", "a.ckpt"]
    assert cli.pop_option(argv, "--model") == "dcgan" and cli.pop_option(argv, "--data") == "mnist"
    assert cli.option_value(argv, "--ckpt_path") == "a.ckpt" and argv == ["fit", "--ckpt_path", "a.ckpt"]
    assert cli.pop_option(argv, "--model") is None
    with pytest.raises(ZooError, match="--model needs a value"):
        cli.pop_option(["fit", "--model"], "--model")


def test_constructor_parameters_follow_kwargs_into_the_base_class():
    params = init_parameters(DCGAN)
    assert {"resolution", "channels", "ngf", "g_lr", "d_steps", "seed"} <= params
    assert "kwargs" not in params and "self" not in params
