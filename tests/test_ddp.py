"""Two CPU processes (gloo) through the real CLI: the strategy the CLI picks keeps G and D in
lockstep across ranks, while each rank draws its own latents and its own data shard."""

import torch

from tests.conftest import run_cli


def test_two_process_ddp_keeps_weights_equal_and_noise_distinct(tmp_path, tiny_dcgan_args):
    result = run_cli(
        "fit", *tiny_dcgan_args, "--trainer.devices", "2", "--trainer.max_steps", "12",
        "--trainer.callbacks+=tests.ddp_probe.RankProbe", f"--trainer.callbacks.out_dir={tmp_path / 'probe'}",
        cwd=tmp_path, timeout=400,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    rank0 = torch.load(tmp_path / "probe" / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "probe" / "rank1.pt", weights_only=True)
    assert rank0["strategy"] == "DDPStrategy" and rank0["world_size"] == 2
    for net in ("generator", "discriminator"):
        for name, weight in rank0[net].items():
            assert torch.equal(weight, rank1[net][name]), f"{net}.{name} differs across ranks"
    assert not torch.allclose(rank0["next_latents"], rank1["next_latents"])
    assert not torch.equal(rank0["first_batch"], rank1["first_batch"])  # disjoint data shards
    assert rank0["images_seen"] == rank1["images_seen"] == 6 * 32 * 2  # counted over both ranks
    assert len(list((tmp_path / "runs").glob("*/*"))) == 1  # both ranks share one run folder
