"""benchmarks/RESULTS.md is written by the benchmark scripts, never by hand: each owns one block between
``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` and replaces it when run with ``--record``.

A block whose command no longer measures what it says (the code under it changed) is withdrawn, heading and all,
with ``python benchmarks/results.py --drop NAME ...``; its numbers stay in git history."""

from __future__ import annotations

import argparse
import re
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


def drop_block(name: str, results: Path = RESULTS) -> None:
    """Removes block ``name`` and the ``## title`` line written above it; an unknown name is an error."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = results.read_text()
    if start not in text:
        raise SystemExit(f"no block {name!r} in {results}")
    pattern = re.compile(rf"\n## [^\n]*\n\n{re.escape(start)}.*?{re.escape(end)}\n", re.DOTALL)
    kept, found = pattern.subn("\n", text, count=1)
    if not found:  # a block without its own heading
        before, rest = text.split(start, 1)
        kept = before + rest.split(end, 1)[1].lstrip("\n")
    results.write_text(re.sub(r"\n{3,}", "\n\n", kept))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drop", nargs="+", required=True, metavar="NAME", help="blocks to withdraw")
    for block in parser.parse_args().drop:
        drop_block(block)
