"""benchmarks/quality.py toy2d: the coverage curve leaves training unchanged, --jobs gives the same table
as a single process, the curve lines report the means over seeds, and workers stop with a killed benchmark."""

import dataclasses
import subprocess
import sys
import time
import types

import pytest
import torch

from benchmarks import quality
from benchmarks.protocol_script import run_protocol
from benchmarks.quality import Row, ToyRun, curve_lines, run_all, train_and_score
from metrics.mode_coverage import ModeCoverage
from tests.conftest import ROOT

#: 100 iterations of batch 100, 16-unit networks, a ring of wide modes: scores that differ between seeds
BUDGET_KIMG, TINY = 10.0, {"num_points": 1000, "width": 16, "std": 0.3}


@pytest.fixture
def one_thread():
    """toy2d runs every training on one thread (its worker processes too), so the single-process runs here
    must as well to be comparable bit for bit."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_curve_scores_every_interval_without_changing_the_run():
    plain = train_and_score("gan", "ring", 0, BUDGET_KIMG, **TINY)
    curved = train_and_score("gan", "ring", 0, BUDGET_KIMG, curve_every_kimg=5.0, **TINY)
    assert plain.curve == {}
    assert list(curved.curve) == [5.0, 10.0]  # after 50 and 100 iterations of 100 points
    assert curved.score == plain.score  # same samples, so the sampling in between left training alone
    assert curved.curve[10.0] == curved.score  # the last point is the final model, scored the same way
    assert curved.curve[5.0] != curved.score and curved.score.modes > 0


def test_parallel_jobs_give_the_single_process_results(one_thread):
    tasks = [("gan", "ring", seed, BUDGET_KIMG, 1, TINY["num_points"], TINY["width"], TINY["std"]) for seed in (0, 1)]
    single = run_all(tasks, jobs=1)
    parallel = run_all(tasks, jobs=2)
    assert [r.score for r in parallel] == [r.score for r in single]
    assert single[0].score != single[1].score  # the seeds differ, so the order is checked too


def test_curve_lines_average_modes_and_hq_over_seeds():
    def run(modes_1, hq_1, modes_2, hq_2):
        curve = {1.0: ModeCoverage(modes_1, 8, hq_1, 0.0), 2.0: ModeCoverage(modes_2, 8, hq_2, 0.0)}
        return ToyRun(curve[2.0], curve, 1.0)

    row = Row("gan", 4, {"ring": [run(3, 0.1, 8, 0.9), run(5, 0.3, 7, 0.8)]})
    assert curve_lines(row) == ["- gan, pack 4, ring: 1: 4.0 (20.0%), 2: 7.5 (85.0%)"]
    assert curve_lines(dataclasses.replace(row, runs={"ring": [ToyRun(run(1, 0, 1, 0).score, {}, 1.0)]})) == []


ORPHAN_PROBE = """
import multiprocessing, os, sys, time
from concurrent.futures import ProcessPoolExecutor
sys.path.insert(0, sys.argv[1])
from benchmarks.quality import pool_worker

if __name__ == "__main__":
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=pool_worker)
    print(pool.submit(os.getpid).result(), flush=True)
    pool.submit(time.sleep, 120)
    time.sleep(120)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_workers_stop_when_the_benchmark_is_killed(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(ORPHAN_PROBE)
    parent = subprocess.Popen([sys.executable, str(probe), str(ROOT)], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    parent.kill()  # SIGKILL: no cleanup runs in the parent
    parent.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and worker_alive(worker):
        time.sleep(0.2)
    assert not worker_alive(worker)


def worker_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, exited but not yet reaped by init, counts as stopped)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_every_delegated_protocol_is_a_subcommand_of_quality_py(monkeypatch, capsys):
    """Each protocol module's options parse under its name (one table, benchmarks/quality.py DELEGATED)."""
    for name in quality.DELEGATED:
        monkeypatch.setattr(sys, "argv", ["quality.py", name, "--help"])
        with pytest.raises(SystemExit) as done:
            quality.main()
        assert done.value.code == 0 and f"quality.py {name}" in capsys.readouterr().out


def test_a_protocol_module_runs_on_its_own_with_the_options_quality_py_gives_it():
    seen = []
    module = types.SimpleNamespace(
        __doc__="a protocol",
        add_arguments=lambda parser: parser.add_argument("--steps", type=int, default=1),
        main_with=seen.append,
    )
    run_protocol(module, ["--steps", "7"])
    assert [args.steps for args in seen] == [7]
