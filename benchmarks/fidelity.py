"""Fidelity to the authors' code (issue 19): each importer's reference fixture, entry by entry.

Runs the importer tests (tests/test_importers*.py, tests/test_stylegan2_nvlabs.py) and the parameter-count
tests of the entries without a fixture (PAPER_COUNT_TESTS) with
$GAN_ZOO_FIDELITY_REPORT set, so that every comparison they assert (tests/fidelity.py) is also written down,
and tabulates: the reference, G and D parameter counts beside the reference's, and the largest relative output
difference (max |ours - theirs| / max |theirs| over every output the fixture records). Beside them,
StyleGAN2's synthesis FLOPs per image (zoo/flops.py, counted on the meta device) at paper256 and 1024 px,
next to the numbers NVlabs' networks give under the same counter (the issue's 30.1 and 150.8 GFLOP).

    python benchmarks/fidelity.py             # needs ../shared/reference (the fixtures)
    python benchmarks/fidelity.py --record    # also writes the table into benchmarks/RESULTS.md

Targets: equal counts, max relative difference <= 1e-5, FLOPs within 2% of NVlabs'.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results import record_block

TESTS = ["tests/test_importers.py", "tests/test_importers_biggan_pggan.py", "tests/test_stylegan2_nvlabs.py"]
#: the tests that hold entries at their papers' configurations against the reference's parameter counts
PAPER_COUNT_TESTS = [
    "tests/test_conditional_entries.py::test_acgan_appendix_networks_have_the_reference_parameter_counts",
    "tests/test_conditional_entries.py::test_infogan_mnist_networks_have_the_authors_parameter_counts",
    "tests/test_infogan.py::test_celeba_recipe_builds_table_3_networks_with_the_papers_parameter_counts",
    "tests/test_objective_entries.py::test_wgan_gp_networks_have_the_authors_parameter_counts",
    "tests/test_objective_entries.py::test_ebgan_networks_are_the_appendix_s_64_px_model",
    "tests/test_objective_entries.py::test_ebgan_mnist_networks_are_fig_9_s_fully_connected_model",
    "tests/test_objective_entries.py::test_began_networks_are_fig_1_s_with_the_reference_parameter_counts",
    "tests/test_resnet_family.py::test_sngan_32_px_parameter_counts_equal_the_authors_networks",
    "tests/test_resnet_family.py::test_biggan_32_counts_and_discriminator_attention_equal_biggan_pytorchs",
    "tests/test_resnet_family.py::test_biggan_128_px_imagenet_counts_equal_biggan_pytorchs",
    "tests/test_nets.py::test_dcgan_64px_matches_the_reference_widths",
    "tests/test_pggan.py::test_parameter_counts_at_1024_px_equal_the_authors_tensorflow_networks",
    "tests/test_stylegan.py::test_config_f_has_18_ws_and_the_papers_26_2m_generator_parameters",
    "tests/test_stylegan2.py::test_config_f_generator_has_the_authors_parameter_count",
    "tests/test_cyclegan.py::test_networks_have_the_reference_sizes_and_shapes",
    "tests/test_stargan.py::test_networks_have_the_reference_sizes_and_shapes",
]
REFERENCES = {
    "dcgan-examples": "pytorch/examples dcgan/main.py",
    "cyclegan": "junyanz/pytorch-CycleGAN-and-pix2pix",
    "stargan": "yunjey/stargan",
    "biggan-pytorch": "ajbrock/BigGAN-PyTorch",
    "pggan-zoo": "facebookresearch/pytorch_GAN_zoo (PGAN)",
    "nvlabs": "NVlabs/stylegan2-ada-pytorch",
}
#: NVlabs' synthesis FLOPs per image (the issue's measurement of their networks under the same counter), by
#: configuration: (resolution, channel_base, GFLOP); paper256 and config F, channel_max 512, w_dim 512
NVLABS_GFLOP = {"paper256": (256, 16384, 30.1), "config F, 1024 px": (1024, 32768, 150.8)}


def collect() -> list[dict]:
    """Runs the importer tests with the report on and returns its entries."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "fidelity.jsonl"
        env = {**os.environ, "GAN_ZOO_FIDELITY_REPORT": str(report)}
        command = [sys.executable, "-m", "pytest", *TESTS, *PAPER_COUNT_TESTS, "-q", "-o", "addopts="]
        run = subprocess.run(
            [*command, "-p", "no:cacheprovider"], check=False, cwd=ROOT, env=env, capture_output=True, text=True
        )
        print(run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-2000:], file=sys.stderr)
        return [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []


def modes_of(name: str, entries: list[dict]) -> set[str]:
    """The sources that are ``name`` in one mode: "cyclegan (eval)" for "cyclegan"."""
    return {e["source"] for e in entries if e["source"].startswith(name + " (")}


def fidelity_rows(entries: list[dict]) -> list[str]:
    """One row per fixture that reported its counts; its outputs are those reported under its name, or under
    its name with a mode ("cyclegan (eval)", "cyclegan (train)")."""
    counts = {e["source"]: (e["counts"], e["reference"]) for e in entries if "counts" in e and "code" not in e}
    rows = []
    for name, (ours, theirs) in sorted(counts.items()):
        compared = [e for e in entries if "output" in e and e["source"] in (name, *modes_of(name, entries))]
        worst = max((e["relative"] for e in compared), default=float("nan"))
        equal = "yes" if ours == theirs else "**no**"
        rows.append(
            f"| {name} | {REFERENCES[name.split(' (')[0]]} | {ours[0]:,} / {ours[1]:,} | {theirs[0]:,} / {theirs[1]:,} "
            f"| {equal} | {worst:.1e} ({len(compared)} comparisons) |"
        )
    return rows


def pair(counts: list[int | None]) -> str:
    """``G / D`` with thousands separators; a network the reference does not count is a dash."""
    return " / ".join("-" if n is None else f"{n:,}" for n in counts)


def paper_rows(entries: list[dict]) -> list[str]:
    """One row per entry held at its paper's configuration against the reference's counts (no fixture)."""
    rows = []
    for e in sorted((e for e in entries if "code" in e), key=lambda e: e["source"]):
        equal = "yes" if list(e["counts"]) == e["reference"] else "**no**"
        rows.append(f"| {e['source']} | {e['code']} | {pair(e['counts'])} | {pair(e['reference'])} | {equal} |")
    return rows


def flops_rows() -> list[str]:
    import torch

    from zoo.flops import synthesis_flops
    from zoo.nets.stylegan2 import SynthesisNetwork

    rows = []
    for label, (resolution, channel_base, theirs) in NVLABS_GFLOP.items():
        with torch.device("meta"):  # counted, never computed
            synthesis = SynthesisNetwork(512, resolution, 3, channel_base=channel_base, channel_max=512)
        ours = synthesis_flops(synthesis, 512) / 1e9
        rows.append(f"| {label} | {ours:.2f} | {theirs:.1f} | {100 * (ours - theirs) / theirs:+.1f}% |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--record", action="store_true", help="write the table into benchmarks/RESULTS.md")
    args = parser.parse_args()
    entries = collect()
    rows = fidelity_rows(entries)
    body = "\n".join(
        [
            "```bash",
            "python benchmarks/fidelity.py --record",
            "```",
            "",
            "| fixture | reference code | zoo G / D parameters | reference G / D | equal | max relative difference |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            "Entries at their papers' configurations, where no fixture exists: parameter counts against the numbers",
            "the paper's tables or the authors' code give (a dash: the reference counts one network only).",
            "",
            "| entry and configuration | reference | zoo G / D parameters | reference G / D | equal |",
            "|---|---|---|---|---|",
            *paper_rows(entries),
            "",
            "StyleGAN2 synthesis FLOPs per image (zoo/flops.py):",
            "",
            "| configuration | zoo GFLOP | NVlabs GFLOP | difference |",
            "|---|---|---|---|",
            *flops_rows(),
        ]
    )
    print(body)
    if args.record:
        record_block("fidelity", "Fidelity to the authors' code (issue 19)", body)


if __name__ == "__main__":
    main()
