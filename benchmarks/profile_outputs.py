"""Time the output writers (graphs, tables, report, bundles) on one run's tables, in-process.

Usage:
    python benchmarks/profile_outputs.py capture STATE.pkl -- cohortscan-run-arguments...
    python benchmarks/profile_outputs.py replay STATE.pkl OUT_DIR [--profile] [--only NAMES]

``capture`` runs the pipeline once and pickles the arguments that :func:`pipelines.run.run`
passes to ``graph_tasks``, ``table_tasks``, ``report_tasks`` and ``write_bundles``.
``replay`` calls the four writers (``write_graphs``, ``write_tables``, ``write_report``,
``write_bundles``: each runs its tasks on its own) on those arguments into ``OUT_DIR`` (the run's
``manifest.json`` is written first, as the run does before the bundles) and prints the wall
time of each; ``--profile`` prints a cProfile of each call (driver process only: worker
processes are not profiled), ``--only write_report,write_bundles`` runs a subset in order.
Compare two replays' trees with ``benchmarks/compare_outputs.py``. Not a test.
"""

from __future__ import annotations

import cProfile
import json
import os
import pickle
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pipelines.run as run_module  # noqa: E402

WRITERS = ("write_graphs", "write_tables", "write_report", "write_bundles")
CAPTURED = {"graph_tasks": "write_graphs", "table_tasks": "write_tables",
            "report_tasks": "write_report", "write_bundles": "write_bundles"}
"""What :func:`pipelines.run.run` calls → the writer replayed on the same arguments."""


def capture(state: Path, run_args: list[str]) -> None:
    """Run the pipeline with ``run_args`` and pickle each writer's arguments to ``state``."""
    calls: dict[str, tuple] = {}

    def recorder(name: str, fn):
        def record(*args, **kwargs):
            calls[name] = (args, kwargs)
            return fn(*args, **kwargs)
        return record

    for name, writer in CAPTURED.items():
        setattr(run_module, name, recorder(writer, getattr(run_module, name)))
    from pipelines.cli import app

    try:
        app(["run", *run_args])
    except SystemExit as exc:
        print(f"run exit {exc.code}", file=sys.stderr)
    out = Path(run_args[run_args.index("--out") + 1])
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    with open(state, "wb") as fh:
        pickle.dump({"calls": calls, "manifest": manifest}, fh, protocol=5)


def replay(state: Path, out: Path, *, profile: bool, only: list[str]) -> None:
    """Call the writers on the captured arguments into ``out``; print seconds per call."""
    from pipelines import bundle, exports, report

    with open(state, "rb") as fh:
        saved = pickle.load(fh)
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").write_text(json.dumps(saved["manifest"], indent=2, sort_keys=True,
                                                  default=str) + "\n", encoding="utf-8")
    writers = {"write_graphs": exports.write_graphs, "write_tables": exports.write_tables,
               "write_report": report.write_report, "write_bundles": bundle.write_bundles}
    for name in only or WRITERS:
        args, kwargs = saved["calls"][name]
        profiler = cProfile.Profile() if profile else None
        started, cpu = time.perf_counter(), _cpu()
        if profiler:
            profiler.enable()
        writers[name](out, *args[1:], **kwargs)
        if profiler:
            profiler.disable()
        print(f"{name:14s} {time.perf_counter() - started:8.2f} s wall {_cpu() - cpu:8.2f} s CPU"
              " (with worker processes)", flush=True)
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)


def _cpu() -> float:
    """CPU seconds of this process and of its ended children (the pool's workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main() -> None:
    mode, state, *rest = sys.argv[1:]
    if mode == "capture":
        capture(Path(state), [a for a in rest if a != "--"])
        return
    only = rest[rest.index("--only") + 1].split(",") if "--only" in rest else []
    replay(Path(state), Path(rest[0]), profile="--profile" in rest, only=only)


if __name__ == "__main__":
    main()
