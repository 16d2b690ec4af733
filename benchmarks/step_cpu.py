"""Wall time and CPU time of each step of one run, and what the report's parts add (not a test).

Usage:
    python benchmarks/step_cpu.py [--without pages|report] -- cohortscan-run-arguments...

Runs ``cohortscan run ARGS`` in this process and prints, for each step the progress display
shows (ingest, layers, projection, clustering, scoring, outputs, bundles), its wall time, its
CPU time (this process's threads — DuckDB's, numba's — and the output pool's workers, which
have ended when the step does) and the cores it kept busy on average. The CPU time is the
budget a wall-time target has to fit: on 2 cores a step cannot take less than half of it.

``--without pages``: the report's index only, no cohort pages (nor their figures; the
bundles are still written, without figures). ``--without report``: no HTML report, figures,
bundles or GEXF/GraphML (what ``run_benchmarks.py --tables-only`` measures). Both only
leave out files; the steps before the outputs are the same run's.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pipelines.run as run_module  # noqa: E402
from pipelines import progress  # noqa: E402


def cpu_seconds() -> float:
    """CPU seconds (user + system) of this process and of its children that have ended."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def leave_out(what: str) -> None:
    """Patch :mod:`pipelines.run` so that a run leaves out the cohort pages or the report
    (``run_benchmarks.py --tables-only`` runs its child with ``leave_out("report")``)."""
    if what == "pages":
        report_tasks = run_module.report_tasks
        run_module.report_tasks = lambda *a, **k: report_tasks(*a, **k)[:1]  # index.html
    elif what == "report":
        run_module.report_tasks = run_module.graph_tasks = lambda *a, **k: []
        run_module.write_bundles = lambda *a, **k: None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--without", choices=("pages", "report"))
    parser.add_argument("run_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    run_args = [a for a in args.run_args if a != "--"]
    rows: list[tuple[str, float, float]] = []
    step = progress.step

    @contextlib.contextmanager
    def measured(name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), cpu_seconds()
        with step(name):
            yield
        rows.append((name, time.perf_counter() - wall, cpu_seconds() - cpu))

    progress.step = measured  # pipelines.run calls progress.step(...) for every step
    if args.without:
        leave_out(args.without)
    from pipelines.cli import app

    wall, cpu = time.perf_counter(), cpu_seconds()
    try:
        app(["run", *run_args])
    except SystemExit as exc:
        if exc.code:
            raise
    rows.append(("whole run", time.perf_counter() - wall, cpu_seconds() - cpu))
    print(f"{'step':12s} {'wall s':>8s} {'CPU s':>8s} {'cores':>6s}")
    for name, seconds, busy in rows:
        print(f"{name:12s} {seconds:8.2f} {busy:8.2f} {busy / seconds if seconds else 0:6.2f}")


if __name__ == "__main__":
    main()
