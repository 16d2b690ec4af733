"""Where the time and memory of one run go: wall time and peak RSS per call, in-process.

Usage: python benchmarks/profile_run.py [--tables-only] -- cohortscan-run-arguments...

Wraps the step functions that :func:`pipelines.run.run` calls (by their names in
``pipelines.run``) with a timer; a thread samples the process's resident set size every
50 ms. Prints one line per call: name, seconds, RSS at its start and end, and the highest
RSS sampled while it ran (so the step holding the run's peak is named). Not a test.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pipelines.run as run_module  # noqa: E402

GIB = 1 << 30
WRAPPED = ("read_inputs", "validated_interactions", "read_posts", "read_accounts",
           "input_layers", "layer_incidences", "check_layers_memory", "layer_projections",
           "fused_co_engagement",
           "clustered_edges", "leiden_clusters", "scored_cohorts", "shareable_tables",
           "write_csv", "cohort_layers", "account_context", "write_parquet", "write_graphs",
           "write_tables", "write_report", "write_bundles", "write_json", "_rejected",
           "_manifest", "slow_projection", "scored_passes", "with_slow_evidence")
SKIPPED = ("write_report", "write_bundles", "write_graphs")


class Sampler(threading.Thread):
    """Samples RSS; ``peak_since(mark)`` is the highest sample after sample index ``mark``."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process()
        self.samples: list[int] = []

    def run(self) -> None:
        while True:
            self.samples.append(self.proc.memory_info().rss)
            time.sleep(0.05)

    def peak_since(self, mark: int) -> int:
        return max(self.samples[mark:] + [self.proc.memory_info().rss])


def _wrap(name: str, fn, sampler: Sampler):
    @functools.wraps(fn)
    def timed(*args, **kwargs):
        mark, rss0, started = len(sampler.samples), sampler.proc.memory_info().rss, time.time()
        result = fn(*args, **kwargs)
        rss1, peak = sampler.proc.memory_info().rss, sampler.peak_since(mark)
        print(f"{name:24s} {time.time() - started:8.2f} s  rss {rss0 / GIB:5.2f} -> "
              f"{rss1 / GIB:5.2f} GiB  peak {peak / GIB:5.2f}", file=sys.stderr, flush=True)
        return result
    return timed


def main() -> None:
    args = sys.argv[1:]
    tables_only = "--tables-only" in args
    args = [a for a in args if a not in ("--tables-only", "--")]
    sampler = Sampler()
    sampler.start()
    for name in WRAPPED:
        if tables_only and name in SKIPPED:
            setattr(run_module, name, lambda *a, **k: None)
        elif hasattr(run_module, name):
            setattr(run_module, name, _wrap(name, getattr(run_module, name), sampler))
    from pipelines.cli import app

    started = time.time()
    try:
        app(["run", *args])
    except SystemExit as exc:
        print(f"exit {exc.code}; wall {time.time() - started:.1f} s, peak RSS "
              f"{max(sampler.samples) / GIB:.2f} GiB", file=sys.stderr)


if __name__ == "__main__":
    main()
