"""Where the time and memory of one run go: wall time and peak RSS per call, in-process.

Usage: python benchmarks/profile_run.py [--tables-only] [--inner] -- cohortscan-run-arguments...

Wraps the step functions that :func:`pipelines.run.run` calls (by their names in
``pipelines.run``) with a timer; a thread samples the process's resident set size every
50 ms. Prints one line per call: name, seconds, RSS at its start and end, and the highest
RSS sampled while it ran (so the step holding the run's peak is named), and the process's
user and system CPU seconds during the call (all its threads; not its child processes).
``--inner`` also wraps the calls inside the projections and scoring (:data:`INNER`,
``module:function`` where it is looked up; names a tree does not have are skipped) and
prints their totals per name at the end; ``--each`` does too, and prints a line for each
of those calls as well. Calls made in the output pool's worker processes
are marked ``(worker)``; their peak is the larger of their start and end RSS (the sampler
runs in the parent only). Each task of the output pool also prints the file it wrote and its
worker's high-water RSS so far (``ru_maxrss``, what ``/usr/bin/time`` reports of it). Not a
test.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pipelines.run as run_module  # noqa: E402

GIB = 1 << 30
WRAPPED = ("read_inputs", "validated_interactions", "streamed_interactions", "read_posts",
           "read_accounts", "input_layers", "layer_incidences", "check_layers_memory",
           "layer_projections", "fused_co_engagement",
           "clustered_edges", "leiden_clusters", "scored_cohorts", "shareable_tables",
           "write_csv", "cohort_layers", "account_context", "write_parquet", "graph_tasks",
           "table_tasks", "report_tasks", "run_tasks", "write_bundles", "write_json", "_rejected",
           "_manifest", "slow_projection", "scored_passes", "slow_kept", "slow_splice",
           "slow_stats", "cohort_rows",
           "with_slow_evidence")
SKIPPED = {"report_tasks": [], "graph_tasks": [], "write_bundles": None}
"""With ``--tables-only``: no pages, figures, graph files or bundles (what each call returns)."""
INNER = ("pipelines.slow_pass:scored_cohorts", "pipelines.slow_pass:leiden_clusters",
         "pipelines.slow_pass:split_large_clusters", "pipelines.slow_pass:pass_codes",
         "graphs.scoring:pruned_members", "graphs.scoring:inner_rows",
         "graphs.scoring:flag_features", "graphs.scoring:_group_test",
         "graphs.scoring:cohort_features", "graphs.scoring:ranked_cohorts",
         "graphs.scoring:bundles_uninformative", "graphs.passes:_rescored",
         "graphs.flag_features:cluster_medians", "graphs.cohort_features:cluster_medians",
         "graphs.flag_features:pair_sizes", "graphs.cohort_features:pair_sizes",
         "graphs.cohort_features:_tied_accounts", "graphs.flag_features:_most_frequent_action",
         "graphs.passes:_merged", "graphs.pass_codes:sorted_codes",
         "graphs.clustering:sorted_codes",
         # inside each pass's projection (both passes' calls summed)
         "graphs.projection:_bounds", "graphs.projection:_kept_ties",
         "graphs.projection:_evidence_frame", "graphs.projection:_edges_frame",
         "graphs.projection:_with_significance", "graphs.projection:targets_json",
         "graphs.projection:_significance", "graphs.projection:_chunk_appended",
         "graphs.edge_targets:targets_json", "graphs.projection:_present_ends",
         "graphs.projection:_activity", "pipelines.slow_pass:slow_pass",
         "pipelines.slow_pass:coded_evidence",
         # the same calls before graphs/pass_codes.py (to profile an older tree)
         "graphs.scoring:_internal", "graphs.scoring:_features",
         "graphs.scoring:_author_features")


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


EACH = False
"""``--each``: also print a line for every call of :data:`INNER` (``--inner`` sums them)."""


def _wrap(name: str, fn, sampler: Sampler, totals: dict | None = None):
    @functools.wraps(fn)
    def timed(*args, **kwargs):
        worker = os.getpid() != sampler.proc.pid  # in the output pool: not sampled
        proc = psutil.Process() if worker else sampler.proc
        mark, rss0, started = len(sampler.samples), proc.memory_info().rss, time.time()
        cpu0 = proc.cpu_times()
        result = fn(*args, **kwargs)
        rss1, cpu1 = proc.memory_info().rss, proc.cpu_times()
        peak = max(rss0, rss1) if worker else sampler.peak_since(mark)
        seconds = time.time() - started
        if totals is None or EACH:
            label = f"{name} (worker)" if worker else name
            print(f"{label:24s} {seconds:8.2f} s  rss {rss0 / GIB:5.2f} -> "
                  f"{rss1 / GIB:5.2f} GiB  peak {peak / GIB:5.2f}  cpu "
                  f"{cpu1.user - cpu0.user:6.2f} user {cpu1.system - cpu0.system:6.2f} system",
                  file=sys.stderr, flush=True)
        else:  # calls, seconds, largest transient (peak above the RSS at the call's start)
            calls, total, rise = totals.get(name, (0, 0.0, 0))
            totals[name] = (calls + 1, total + seconds, max(rise, peak - rss0))
        return result
    return timed


def _marked_tasks(run_tasks):
    """``run_tasks`` whose tasks each print, in their worker, what they wrote and the worker
    process's high-water RSS so far (``ru_maxrss``: what ``/usr/bin/time`` sees of it)."""
    import resource

    @functools.wraps(run_tasks)
    def marked(tasks, **kwargs):
        def mark(task):
            def run():
                result = task()
                high = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
                name = getattr(result, "name", type(result).__name__)
                print(f"task {name[:30]:30s} (worker {os.getpid()}) high-water "
                      f"{high / GIB:5.2f} GiB", file=sys.stderr, flush=True)
                return result
            return run
        return run_tasks([mark(t) for t in tasks], **kwargs)
    return marked


def _wrap_inner(sampler: Sampler, totals: dict) -> None:
    import importlib

    for spec in INNER:
        module_name, name = spec.split(":")
        module = importlib.import_module(module_name)
        if hasattr(module, name):
            setattr(module, name, _wrap(spec, getattr(module, name), sampler, totals))


def main() -> None:
    args = sys.argv[1:]
    tables_only, inner = "--tables-only" in args, "--inner" in args or "--each" in args
    global EACH
    EACH = "--each" in args
    args = [a for a in args if a not in ("--tables-only", "--inner", "--each", "--")]
    sampler = Sampler()
    sampler.start()
    totals: dict = {}
    if inner:
        _wrap_inner(sampler, totals)
    run_module.run_tasks = _marked_tasks(run_module.run_tasks)
    for name in WRAPPED:
        if tables_only and name in SKIPPED:
            setattr(run_module, name, lambda *a, _skipped=SKIPPED[name], **k: _skipped)
        elif hasattr(run_module, name):
            setattr(run_module, name, _wrap(name, getattr(run_module, name), sampler))
    from pipelines.cli import app

    started = time.time()
    try:
        app(["run", *args])
    except SystemExit as exc:
        for name, (calls, seconds, rise) in totals.items():
            print(f"  {name:44s} {calls:3d} calls {seconds:8.2f} s  transient "
                  f"+{rise / GIB:5.2f} GiB", file=sys.stderr)
        print(f"exit {exc.code}; wall {time.time() - started:.1f} s, peak RSS "
              f"{max(sampler.samples) / GIB:.2f} GiB", file=sys.stderr)


if __name__ == "__main__":
    main()
