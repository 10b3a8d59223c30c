"""benchmarks/stacked_mnist.py (`quality.py stacked_mnist`): the subcommand reaches it, and a measured run's block
(its numbers stand in for a run) holds report_protocol's command and timing line, then the table once."""

from functools import partial

import pytest

from benchmarks import protocol_script, stacked_mnist
from tests.helpers import protocol_args, quality_subcommand_args

#: what ``stacked_mnist.run`` returns, at a made-up tiny budget
RESULT = {
    "classifier_accuracy_28px": 0.9934,
    "classifier_accuracy_32px": 0.991,
    "classifier_s": 6.0,
    "real": {"modes": 998, "kl": 0.0512, "samples": 40, "total_modes": 1000},
    "real_mode_accuracy": 0.9767,
    "train_s": 48.0,
    "iterations": 7,
    "kimg": 0.448,
    "dcgan": {"modes": 12, "kl": 4.321, "samples": 40, "total_modes": 1000},
    "threads": 2,
}


#: ``stacked_mnist``'s options from command-line words
parse = partial(protocol_args, stacked_mnist)


def test_quality_runs_it_as_its_stacked_mnist_subcommand(monkeypatch):
    args = quality_subcommand_args(monkeypatch, "stacked_mnist", "--root", "mnist", "--iterations", "7")
    assert (args.root, args.iterations, args.eval_samples, args.device) == ("mnist", 7, 26_000, "cpu")
    assert (args.block, args.record) == ("stacked-mnist", False)


def test_a_measured_run_records_the_quality_command_then_the_table(tmp_path, monkeypatch):
    monkeypatch.setattr(stacked_mnist, "run", lambda args: RESULT)
    monkeypatch.setattr(protocol_script, "machine", lambda device: "the test machine")
    results = tmp_path / "RESULTS.md"
    args = parse("--root", "data", "--iterations", "7", "--eval_samples", "40", "--block", "b", "--record")
    assert protocol_script.report_protocol(stacked_mnist, args, results) == RESULT
    _, _, heading, _, start, timing, _, parts, _, protocol, *rest = results.read_text().splitlines()
    assert heading == "## Stacked MNIST mode coverage (DCGAN)"
    assert (start, rest[-1]) == ("<!-- b:start -->", "<!-- b:end -->")
    command = (
        "python benchmarks/quality.py stacked_mnist --root data --iterations 7 --batch_size 64 --width 32 "
        "--train_images 128000 --eval_samples 40 --seed 0 --block b --record"
    )
    assert timing.startswith(f"`{command}` on the test machine: ") and timing.endswith(" min in all.")
    assert parts == "Of those, 0.8 min of GAN training, 0.1 min loading (or training, on first use) the classifier."
    assert "trained for 7 iterations (0 kimg, 0.00 epochs of 128000 stacked images; " in protocol
    assert "the papers train 50 epochs), 2 threads; 40 samples, each channel labelled" in protocol
    assert "| this repo | DCGAN | 7 it. | 12 | 4.32 |" in rest
    assert not any("python" in line for line in [parts, protocol, *rest])  # the command once: in the timing line


@pytest.mark.parametrize("device, where", [("cpu", "2 threads"), ("cuda", "on the GPU")])
def test_the_protocol_says_where_it_trained(device, where):
    assert f"the papers train 50 epochs), {where}; " in stacked_mnist.table(RESULT, parse("--device", device))
