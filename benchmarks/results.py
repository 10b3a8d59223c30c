"""benchmarks/RESULTS.md is written by the benchmark scripts, never by hand: each owns one block between
``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` and replaces it when run with ``--record``."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def record_block(name: str, title: str, body: str, results: Path = RESULTS) -> None:
    """Replaces block ``name`` of RESULTS.md with ``body``, or appends it under ``## title`` the first time."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.strip()}\n{end}"
    text = results.read_text() if results.exists() else "# Measured results\n"
    if start in text:
        before, rest = text.split(start, 1)
        text = before + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + f"\n\n## {title}\n\n{block}\n"
    results.write_text(text)
