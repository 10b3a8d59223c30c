"""Start-up time of the command line (issue 20, "a quiet, fast start"): how long a user waits for

- ``python cli.py models``, the zoo's list: launch to exit;
- ``python cli.py fit --model dcgan``, the quickstart (DCGAN on the bundled digits, recipe configs/dcgan/digits.yaml),
  from launch to the end of its first training iteration (one D and one G update), read from a clock callback
  added on the command line (benchmarks/probe/startup_clock.py); the same run stops after that iteration
  (``--trainer.max_steps 2``: manual optimization counts both updates) and its launch-to-exit time is reported too.

Each number is the median of ``--runs`` runs, each in a fresh process and working folder, the checkouts
interleaved, W&B offline (what a user who has not run ``wandb login`` gets). ``--repo PATH`` times another checkout
beside this one, e.g. the commit before the quiet start (``git worktree add --detach /tmp/before bae1c07^``)::

    python benchmarks/startup.py                               # this checkout, 3 runs each
    python benchmarks/startup.py --repo /tmp/before --record   # before/after, written into benchmarks/RESULTS.md
    python benchmarks/startup.py --whole                       # also the whole quickstart run, once (minutes)

The machine is shared on the development box: the load averages at start and end are recorded beside the table.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results import record_block

PROBE = ROOT / "benchmarks" / "probe"
CLOCK_ENV = "GAN_ZOO_STARTUP_CLOCK"
QUICKSTART = ("fit", "--model", "dcgan")
#: one iteration (max_steps counts the D and the G optimizer step) and the clock callback
FIT_EXTRA = ("--trainer.max_steps", "2", "--trainer.callbacks+=startup_clock.FirstIterationClock")
#: the timings of one checkout, each a list of seconds over the runs
MEASURES = ("models", "first_iteration", "fit_exit")
TITLE = "Start-up time: `cli.py models` and the quickstart's first iteration (issue 20)"


def run(repo: Path, args: tuple[str, ...], cwd: Path, env: dict) -> float:
    """Seconds from launching ``python REPO/cli.py ARGS`` in ``cwd`` to its exit; a failed run raises with its
    last lines of output."""
    start = time.time()
    command = [sys.executable, str(repo / "cli.py"), *args]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)
    seconds = time.time() - start
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).decode(errors="replace")[-2000:]
        raise SystemExit(f"{repo}/cli.py {' '.join(args)} failed ({done.returncode}):\n{tail}")
    return seconds


def run_env(repo: Path) -> dict:
    """The environment of a timed run: the checkout and the clock callback importable, W&B offline."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo), str(PROBE)]), "WANDB_MODE": "offline"}


def time_whole_quickstart(repo: Path) -> float:
    """Seconds from launching the README's quickstart, ``python cli.py fit --model dcgan`` as it stands, to its
    exit, in a fresh working folder."""
    with tempfile.TemporaryDirectory(prefix="quickstart-") as tmp:
        return run(repo, QUICKSTART, Path(tmp), run_env(repo))


def time_once(repo: Path) -> dict[str, float]:
    """One run of each measure for ``repo``, each in a fresh working folder."""
    env = run_env(repo)
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        tmp = Path(tmp)
        models = run(repo, ("models",), tmp, env)
        clock = tmp / "first-iteration"
        start = time.time()
        fit_exit = run(repo, (*QUICKSTART, *FIT_EXTRA), tmp, {**env, CLOCK_ENV: str(clock)})
        first_iteration = read_clock(clock) - start
    return {"models": models, "first_iteration": first_iteration, "fit_exit": fit_exit}


def read_clock(path: Path) -> float:
    """The time the clock callback wrote; a run that ended without a first iteration is an error."""
    if not path.is_file():
        raise SystemExit(f"the fit run ended without finishing an iteration: no {path.name} written")
    return float(path.read_text())


def measure(repos: list[Path], runs: int, time_one=None) -> dict[Path, dict[str, list[float]]]:
    """``runs`` timings of every measure for each repo (by ``time_one``, default ``time_once``), the repos
    interleaved run by run so that a change in the machine's load falls on all of them alike."""
    time_one = time_one or time_once
    timings = {repo: {name: [] for name in MEASURES} for repo in repos}
    for i in range(runs):
        for repo in repos:
            for name, seconds in time_one(repo).items():
                timings[repo][name].append(seconds)
            print(f"run {i + 1}/{runs} {repo}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in timings[repo].items()))
    return timings


def commit_of(repo: Path) -> str:
    """The short commit of a checkout, ``+ changes`` when its work tree differs from it."""
    git = ["git", "-C", str(repo)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    if head.returncode != 0:
        return "not a git checkout"
    dirty = subprocess.run([*git, "status", "--porcelain", "-uno"], capture_output=True, text=True, check=False)
    return head.stdout.strip() + (" + changes" if dirty.stdout.strip() else "")


def cell(values: list[float]) -> str:
    """The median and every run, e.g. ``2.10 (2.05, 2.10, 2.31)``."""
    return f"{statistics.median(values):.2f} ({', '.join(f'{v:.2f}' for v in values)})"


def table(commits: dict[Path, str], timings: dict[Path, dict[str, list[float]]]) -> str:
    """A markdown table, one row per checkout: median seconds and the single runs of each measure."""
    lines = [
        "| checkout | `cli.py models` s | `fit --model dcgan` to 1st iteration s | 1-iteration fit, launch to exit s |",
        "|---|---|---|---|",
    ]
    for repo, commit in commits.items():
        lines.append(f"| {commit} | " + " | ".join(cell(timings[repo][name]) for name in MEASURES) + " |")
    return "\n".join(lines)


def report(table_text: str, runs: int, command: str, load_before: float, load_after: float) -> str:
    """The RESULTS.md block: the command, the machine and its load, and the table."""
    machine = f"{platform.machine()} CPU x{os.cpu_count()}"
    return (
        f"`{command}` on {machine}; median of {runs} runs (each run in brackets), W&B offline; "
        f"1-minute load average {load_before:.2f} at the start, {load_after:.2f} at the end (the machine is shared: "
        f"other processes slow every column alike).\n\n{table_text}"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=None, help="another checkout to time beside this one")
    parser.add_argument("--runs", type=int, default=3, help="runs per measure and checkout (the median is reported)")
    parser.add_argument("--record", action="store_true", help="write the table into benchmarks/RESULTS.md")
    parser.add_argument("--whole", action="store_true", help="also time the whole quickstart run of this checkout")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be >= 1")
    if args.repo is not None and not (args.repo / "cli.py").is_file():
        parser.error(f"--repo {args.repo} has no cli.py: give the folder of a GAN Zoo checkout")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    repos = [*([args.repo.resolve()] if args.repo else []), ROOT]  # the other checkout first: "before" above "after"
    load_before = os.getloadavg()[0]
    timings = measure(repos, args.runs)
    load_after = os.getloadavg()[0]
    commits = {repo: commit_of(repo) for repo in repos}
    command = "python benchmarks/startup.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = report(table(commits, timings), args.runs, command.strip(), load_before, load_after)
    if args.whole:
        seconds = time_whole_quickstart(ROOT)
        text += (
            f"\n\nThe whole quickstart, `python cli.py fit --model dcgan` ({commits[ROOT]}), launch to exit: "
            f"{seconds:.0f} s (one run; load average {os.getloadavg()[0]:.2f} at its end)."
        )
    print(text)
    if args.record:
        record_block("startup", TITLE, text)


if __name__ == "__main__":
    main()
