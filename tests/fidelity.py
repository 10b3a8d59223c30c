"""Comparisons with the authors' reference outputs (../shared/reference), shared by the importer tests. When
$GAN_ZOO_FIDELITY_REPORT names a file, every comparison and parameter count is appended to it as a JSON line,
which benchmarks/fidelity.py turns into RESULTS.md's fidelity table."""

from __future__ import annotations

import json
import os

import torch
from torch import nn

#: the fixtures' READMEs suggest 1e-5 relative to the output's scale
TOLERANCE = 1e-5


def relative_difference(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    """max |ours - theirs| / max |theirs|."""
    return ((ours.reshape(theirs.shape) - theirs).abs().max() / theirs.abs().max().clamp_min(1e-12)).item()


def record(entry: dict) -> None:
    if path := os.environ.get("GAN_ZOO_FIDELITY_REPORT"):
        with open(path, "a") as report:
            report.write(json.dumps(entry) + "\n")


def assert_matches(source: str, ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor]) -> None:
    """Every output equal to ``TOLERANCE`` relative to the reference output of the same name (and of as many
    elements: a D's (N, 1) logits compare with their (N,))."""
    for name, output in ours.items():
        assert output.numel() == theirs[name].numel(), name
        difference = relative_difference(output, theirs[name])
        record({"source": source, "output": name, "relative": difference})
        assert difference <= TOLERANCE, name


def assert_counts(
    source: str,
    generator: nn.Module | None,
    discriminator: nn.Module | None,
    reference: tuple[int | None, int | None],
    code: str | None = None,
) -> None:
    """G's and D's parameter counts equal the reference's (G, D); None where the reference gives one network only.
    ``code`` names where the reference numbers come from when no fixture does (a paper's table, the authors'
    repository at the paper's configuration): benchmarks/fidelity.py lists those in a table of their own."""
    nets = (generator, discriminator)
    counts = tuple(None if net is None else sum(p.numel() for p in net.parameters()) for net in nets)
    record({"source": source, "counts": counts, "reference": list(reference), **({"code": code} if code else {})})
    assert counts == tuple(reference)
