"""benchmarks/protocol_script.py's device gate for the measured protocols (semi_supervised, infogan, lapgan, cocogan,
logan, stacked_text2image, stacked_mnist; conditional and limited_data write their own command): ``--device cuda
--record`` without a GPU records the exact command as not measured and trains nothing, without ``--record`` it stops
with one message, and the ready GPU commands in benchmarks/RESULTS.md parse with their protocol's options and rebuild
themselves word for word (so they never rot); semi_supervised's ``--lr_decay`` (the script's decay, for the full
schedule on a GPU) reaches the model."""

import argparse
import re
import shlex
from types import SimpleNamespace

import pytest
import torch

from benchmarks import (
    cocogan,
    conditional,
    infogan,
    lapgan,
    limited_data,
    logan,
    protocol_script,
    semi_supervised,
    stacked_mnist,
    stacked_text2image,
)
from benchmarks.results import RESULTS
from tests.helpers import protocol_args

NOT_MEASURED = "not measured: no GPU lent (torch.cuda.is_available() is False here); command: "
#: protocol -> (its module, options given, the command it records, the block's heading)
PROTOCOLS = {
    "semi_supervised": (
        semi_supervised,
        "--root data --seeds 0 1 --iterations 7",
        (
            "python benchmarks/quality.py semi_supervised --root data --seeds 0 1 --arms triplegan classifier_only "
            "--labelled 100 --pretrain_iterations 50 --iterations 7 --labelled_batch 100 --batch_size 500 "
            "--classifier_unlabelled 100 --generated_batch 200 --pseudo_label_fraction 0.3 --jobs 1 --device cuda "
            "--block b-gpu --record"
        ),
        "Semi-supervised MNIST, 100 labels: Triple-GAN vs its classifier alone",
    ),
    "infogan": (
        infogan,
        "--root data --seeds 3 --iterations 9",
        (
            "python benchmarks/quality.py infogan --root data --seeds 3 --iterations 9 --batch_size 128 --width 64 "
            "--samples 2000 --out_dir benchmarks/outputs/infogan --jobs 1 --device cuda --block b-gpu --record"
        ),
        "InfoGAN on MNIST: the categorical code as a digit classifier, the continuous codes",
    ),
    "lapgan": (
        lapgan,
        "--root data --minutes 2.5 --width 64",
        (
            "python benchmarks/quality.py lapgan --root data --minutes 2.5 --batch_size 128 --width 64 --base_g_hidden "
            "1200 --base_d_hidden 600 --eval_samples 10000 --seed 0 --device cuda --block b-gpu --record"
        ),
        "LAPGAN vs a single-scale GAN on MNIST (2.5 min each)",
    ),
    "cocogan": (
        cocogan,
        "--root data --minutes 3 --model_args '{\"d_lr\":0.0001}'",
        (
            "python benchmarks/quality.py cocogan --root data --minutes 3 --batch_size 64 --width 16 --model_args "
            "'{\"d_lr\": 0.0001}' --eval_samples 2000 --regressor_steps 300 --seed 0 --device cuda --block b-gpu "
            "--record"
        ),
        "COCO-GAN on MNIST: parts and wholes (3 min)",
    ),
    "logan": (
        logan,
        "--root data --parts mnist --toy_kimg 2.5",
        (
            "python benchmarks/quality.py logan --parts mnist --variants baseline logan --mixtures ring grid --seeds "
            "0 1 2 --toy_kimg 2.5 --jobs 1 --root data --generator_steps 200 --width 8 --batch_size 64 --eval_samples "
            "5000 --seed 0 --device cuda --block b-gpu --record"
        ),
        "LOGAN: latent optimisation vs none at equal G steps",
    ),
    "stacked_text2image": (
        stacked_text2image,
        "--root data --entries stackgan --generator_steps 5",
        (
            "python benchmarks/quality.py stacked_text2image --root data --out data/captioned_mnist "
            "--text_encoder_steps 1500 --entries stackgan --generator_steps 5 --batch_size 64 --width 32 "
            "--text_features 32 --eval_images 2000 --diversity_samples 64 --seed 0 --device cuda --threads 1 "
            "--block b-gpu --record"
        ),
        "StackGAN and StackGAN++ on captioned MNIST, stage by stage (5 G steps)",
    ),
    "stacked_mnist": (
        stacked_mnist,
        "--root data --iterations 7",
        (
            "python benchmarks/quality.py stacked_mnist --root data --iterations 7 --batch_size 64 --width 32 "
            "--train_images 128000 --eval_samples 26000 --seed 0 --device cuda --block b-gpu --record"
        ),
        "Stacked MNIST mode coverage (DCGAN)",
    ),
}

#: the gated protocols that write their own command (``module.command``, not ``protocol_script.command_line``)
OWN_COMMAND = {
    "conditional": (
        conditional,
        "--root data --entries cgan --generator_steps 7 --curve_every 2",
        (
            "python benchmarks/quality.py conditional --root data --entries cgan --generator_steps 7 --batch_size 64 "
            "--width 32 --eval_samples 10000 --seed 0 --curve_every 2 --curve_samples 1000 --device cuda --block b-gpu "
            "--record"
        ),
        "Class-conditional MNIST: accuracy and class coverage (7 G steps)",
    ),
    "limited_data": (
        limited_data,
        "--root data --iterations 9",
        (
            "python benchmarks/quality.py limited_data --root data --entry dcgan --augments none ada --per_class 100 "
            "--resolution 16 --iterations 9 --batch_size 32 --width 32 --ada_kimg 10 --eval_samples 5000 --seed 0 "
            "--device cuda --block b-gpu --record"
        ),
        "Limited data: dcgan on 1000 MNIST digits, augment none vs ada, 9 iterations",
    ),
}
GATED = {**PROTOCOLS, **OWN_COMMAND}


def rebuilt(module, args: argparse.Namespace) -> str:
    """The command ``module`` records for ``args``."""
    return module.command(args) if hasattr(module, "command") else protocol_script.command_line(module, args)


@pytest.fixture
def no_gpu(monkeypatch, tmp_path):
    """No CUDA, a temporary RESULTS.md; returns its path."""
    results = tmp_path / "RESULTS.md"
    monkeypatch.setattr(protocol_script, "RESULTS", results)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    return results


@pytest.mark.parametrize("name", GATED)
def test_cuda_without_a_gpu_records_the_exact_command_as_not_measured_and_trains_nothing(name, no_gpu, monkeypatch):
    module, options, command, heading = GATED[name]
    monkeypatch.setattr(module, "run", lambda args: pytest.fail("it trained"))
    module.main_with(protocol_args(module, *shlex.split(options), "--device", "cuda", "--block", "b-gpu", "--record"))
    assert no_gpu.read_text() == (
        f"# Measured results\n\n## {heading}\n\n<!-- b-gpu:start -->\n{NOT_MEASURED}`{command}`\n<!-- b-gpu:end -->\n"
    )


@pytest.mark.parametrize("name", GATED)
def test_cuda_without_a_gpu_and_without_record_stops_with_one_message(name, no_gpu, monkeypatch):
    module, options, _, _ = GATED[name]
    monkeypatch.setattr(module, "run", lambda args: pytest.fail("it trained"))
    with pytest.raises(SystemExit, match=r"^--device cuda: no GPU here \(torch.cuda.is_available\(\) is False\)"):
        module.main_with(protocol_args(module, *shlex.split(options), "--device", "cuda"))
    assert not no_gpu.exists()


@pytest.mark.parametrize("name", GATED)
def test_the_cpu_command_names_no_device(name):
    module, options, command, _ = GATED[name]
    args = protocol_args(module, *shlex.split(options), "--block", "b-gpu")
    assert args.device == "cpu"
    assert rebuilt(module, args) == command.replace(" --device cuda", "")


def test_a_measured_run_gets_the_timing_line_the_table_and_its_block(tmp_path, monkeypatch):
    ticks = iter([10.0, 130.0])
    monkeypatch.setattr(protocol_script.time, "perf_counter", lambda: next(ticks))
    monkeypatch.setattr(protocol_script, "machine", lambda device: f"machine of {device}")
    monkeypatch.setattr(protocol_script, "command_line", lambda module, args: "python x --record")
    module = SimpleNamespace(
        title=lambda args: "Heading",
        run=lambda args: {"value": 4},
        table=lambda result, args: f"| value | {result['value']} |",
    )
    args = argparse.Namespace(device="cpu", block="x", record=True)
    result = protocol_script.report_protocol(module, args, tmp_path / "RESULTS.md")
    assert result == {"value": 4}
    assert (tmp_path / "RESULTS.md").read_text() == (
        "# Measured results\n\n## Heading\n\n<!-- x:start -->\n"
        "`python x --record` on machine of cpu: 2.0 min in all.\n\n| value | 4 |\n<!-- x:end -->\n"
    )


def ready_commands() -> dict[str, str]:
    """block name -> the command of each not-measured block in benchmarks/RESULTS.md."""
    pattern = re.compile(r"<!-- ([\w-]+):start -->\n" + re.escape(NOT_MEASURED) + r"`([^`]+)`\n<!-- \1:end -->")
    return dict(pattern.findall(RESULTS.read_text()))


@pytest.mark.parametrize("name", GATED)
def test_the_ready_gpu_command_in_results_parses_and_rebuilds_itself(name):
    module = GATED[name][0]
    prefix = ["python", "benchmarks/quality.py", name]
    ready = {b: c for b, c in ready_commands().items() if shlex.split(c)[:3] == prefix}
    assert ready, f"no ready GPU command of {name} in RESULTS.md"
    for block, command in ready.items():
        args = protocol_args(module, *shlex.split(command)[3:])
        assert (args.device, args.block, args.record) == ("cuda", block, True)
        assert rebuilt(module, args) == command


def test_budget_clock_is_cpu_time_on_the_cpu_and_wall_time_on_a_gpu():
    import time

    assert lapgan.budget_clock("cpu") is time.process_time
    assert lapgan.budget_clock("cuda") is time.perf_counter


@pytest.mark.parametrize("flag, start_kimg", [([], None), (["--lr_decay"], 4.0)])
def test_lr_decay_follows_the_script_per_600_iterations_from_where_r_p_starts(flag, start_kimg, monkeypatch):
    import zoo.triplegan

    built = {}

    def capture(**kwargs):
        built.update(kwargs)
        raise InterruptedError  # nothing to train: the arguments are what is checked

    monkeypatch.setattr(zoo.triplegan, "TripleGAN", capture)
    args = protocol_args(
        semi_supervised, "--pretrain_iterations", "10", "--iterations", "100", "--batch_size", "100", *flag
    )
    with pytest.raises(InterruptedError):
        semi_supervised.train_and_score("triplegan", 0, args)
    # R_P and the decay from 10 + 0.3 x 100 iterations of 100 unlabelled images; the decay's period 600 iterations
    assert built["pseudo_label_kimg"] == pytest.approx(4.0)
    assert built["lr_decay_start_kimg"] == (None if start_kimg is None else pytest.approx(start_kimg))
    assert built["lr_decay_every_kimg"] == pytest.approx(60.0)
    assert ("--lr_decay" in protocol_script.command_line(semi_supervised, args)) == bool(flag)


def test_quality_py_runs_the_gate_for_its_delegated_protocols(no_gpu, monkeypatch):
    import sys

    from benchmarks import quality

    monkeypatch.setattr(lapgan, "run", lambda args: pytest.fail("it trained"))
    argv = ["quality.py", "lapgan", "--root", "data", "--minutes", "2.5", "--width", "64", "--device", "cuda"]
    monkeypatch.setattr(sys, "argv", [*argv, "--block", "b-gpu", "--record"])
    quality.main()
    assert f"{NOT_MEASURED}`{PROTOCOLS['lapgan'][2]}`" in no_gpu.read_text()
