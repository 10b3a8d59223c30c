"""Fault injection (issue 18): every case of tests/test_faults_*.py, run as a user meets it, tallied into a table.

Each test injects one fault in the real formats (a signal sent to a running ``cli.py fit``, a NaN-producing
learning rate, a full tmpfs, a damaged cache file, a malformed dataset.json, a bad flag, ...) and asserts the
specified behaviour: exit code, the file or value named in the message, no traceback, and for checkpoints the
values in the files. A case "behaves as specified" when its test passes.

    python benchmarks/faults.py             # runs the cases and prints the table
    python benchmarks/faults.py --record    # also writes it into benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results import record_block

#: the test files and the part of the issue each covers
FILES = {
    "tests/test_faults_checkpoint.py": "checkpoints, signals, NaN, resume, W&B",
    "tests/test_faults_data.py": "dataset caches and data inputs",
    "tests/test_faults_cli.py": "command-line errors",
}


def run_cases() -> tuple[list[tuple[str, str, str, float]], float]:
    """Runs every fault test through pytest; returns (file, case, outcome, seconds) rows and the wall time."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "pytest", *FILES, "-q", "-p", "no:cacheprovider", f"--junitxml={report}"],
            cwd=ROOT,
            check=False,
        )
        wall = time.perf_counter() - start
        rows = []
        for case in ET.parse(report).getroot().iter("testcase"):
            outcome = "skipped" if case.find("skipped") is not None else "passed"
            if case.find("failure") is not None or case.find("error") is not None:
                outcome = "FAILED"
            file = case.get("classname", "").replace(".", "/") + ".py"
            rows.append((file, case.get("name", ""), outcome, float(case.get("time", 0))))
    return rows, wall


def table(rows: list[tuple[str, str, str, float]], wall: float) -> str:
    lines = ["| area | cases tried | behaving as specified | skipped |", "|---|---|---|---|"]
    for file, area in FILES.items():
        mine = [r for r in rows if r[0] == file]
        passed = sum(r[2] == "passed" for r in mine)
        skipped = sum(r[2] == "skipped" for r in mine)
        lines.append(f"| {area} (`{file}`) | {len(mine)} | {passed} | {skipped} |")
    total = sum(r[2] == "passed" for r in rows)
    lines.append(f"| **all** | **{len(rows)}** | **{total}** | {sum(r[2] == 'skipped' for r in rows)} |")
    failed = [f"`{r[0]}::{r[1]}`" for r in rows if r[2] == "FAILED"]
    skipped = [f"`{r[0]}::{r[1]}`" for r in rows if r[2] == "skipped"]
    lines += ["", "Cases:", ""]
    lines += [f"- `{r[1]}` ({r[0].split('/')[-1]}): {r[2]}, {r[3]:.1f} s" for r in rows]
    notes = [f"Failed: {', '.join(failed)}." if failed else "", f"Skipped: {', '.join(skipped)}." if skipped else ""]
    machine = f"CPU {platform.machine()} x{len(os.sched_getaffinity(0))} threads"
    return "\n".join(
        [
            "```bash",
            "python benchmarks/faults.py --record",
            "```",
            "",
            *lines,
            "",
            *[n for n in notes if n],
            f"Machine: {machine}; all cases ran in {wall:.0f} s.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--record", action="store_true", help="write the table into benchmarks/RESULTS.md")
    args = parser.parse_args()
    rows, wall = run_cases()
    body = table(rows, wall)
    print(body)
    if args.record:
        record_block("faults", "Fault injection: cases tried and behaving as specified (issue 18)", body)


if __name__ == "__main__":
    main()
