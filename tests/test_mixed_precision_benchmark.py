"""benchmarks/mixed_precision.py: each scheme's trainer precision and stylegan2 arguments as run through
benchmarks/speed.py, and the block it records when no GPU is there."""

import json
import sys

import pytest

from benchmarks import mixed_precision, protocol_script


def test_schemes_are_run_with_their_precision_and_arguments():
    args = mixed_precision.make_parser().parse_args(["--device", "cpu", "--model_args", '{"channel_max": 128}'])
    settings = mixed_precision.run_settings(args, "fp16-blocks")
    assert (settings.model, settings.resolution, settings.batch, settings.precision) == ("stylegan2", 256, 8, "32-true")
    model_args = json.loads(settings.model_args)
    assert model_args == {
        "preset": "paper256", "use_labels": False, "channel_max": 128,
        "num_fp16_res": 4, "conv_clamp": 256, "low_precision": "fp16",
    }  # fmt: skip
    autocast = mixed_precision.run_settings(args, "bf16-autocast")
    assert autocast.precision == "bf16-mixed" and json.loads(autocast.model_args)["num_fp16_res"] == 0


def test_without_a_gpu_the_cuda_block_says_not_measured_with_its_command(monkeypatch, tmp_path):
    results = tmp_path / "RESULTS.md"
    monkeypatch.setattr(protocol_script, "RESULTS", results)
    monkeypatch.setattr(protocol_script.torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(mixed_precision, "timed_run", lambda scheme: pytest.fail("a run was timed"))
    monkeypatch.setattr(sys, "argv", ["mixed_precision.py", "--device", "cuda", "--record"])
    mixed_precision.main()
    assert results.read_text() == (
        "# Measured results\n\n## StyleGAN2 mixed precision: training speed (cuda)\n\n"
        "<!-- mixed-precision-cuda:start -->\n"
        "not measured: no GPU lent (torch.cuda.is_available() is False here); command: "
        "`python benchmarks/mixed_precision.py --device cuda --record`\n<!-- mixed-precision-cuda:end -->\n"
    )
