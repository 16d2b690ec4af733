"""The job the coordination-network-toolkit does, done by cohortscan: ingest + 1 h projection.

Usage: python benchmarks/cnt_job.py [--logs /tmp/cohortscan-bench/logs_250000] [--repeat 2]

CNT's ``preprocess`` + ``compute co_retweet --time_window 3600`` reads a log and builds the
windowed co-engagement network. The same job in cohortscan is ingest (read, type, validate,
de-duplicate, as a run reads plain logs: :func:`pipelines.ingest.streamed_interactions`) + the
1 h projection with hub discounting and evidence — no slow pass, clustering, scoring or
report. As in a run, the projection's kernels are loaded while the log is read
(:func:`pipelines.kernel_cache.kernels_aside`); the wait for them counts in ``projection_s``;
and as in the CLI, :func:`pipelines.limits.batch_gc` sets the cycle collector for a batch
process. It runs in a fresh child process under ``/usr/bin/time -v`` (so interpreter start,
imports and numba's cached-kernel loading count, as CNT's start does); the child prints its
own split. ``--repeat`` runs the child again (the first run may compile
the numba kernels if their cache is cold; both are reported). Not a test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = """
import json, sys, time
started = time.perf_counter()
from graphs.multiplex import fused_co_engagement, layer_projections, typed_layers
from pipelines.ingest import streamed_interactions
from pipelines.kernel_cache import kernels_aside
from pipelines.limits import batch_gc
imported = time.perf_counter()
batch_gc()  # as the CLI does: fewer collections, none over what is left at exit
with kernels_aside() as kernels_ready:  # as a run: the kernels load while the log is read
    valid = streamed_interactions([__import__("pathlib").Path(sys.argv[1])], {}).valid
    layers = typed_layers(valid.interactions, window_s=3600)
    ingested = time.perf_counter()
    kernels_ready()
fused = fused_co_engagement(layer_projections(layers, max_crowd=1000, min_shared_targets=2))
done = time.perf_counter()
print(json.dumps({"imports_s": imported - started, "ingest_s": ingested - imported,
                  "projection_s": done - ingested, "rows": valid.rows_read,
                  "edges_kept": len(fused.edges), "evidence_rows": len(fused.evidence),
                  "action_pairs": fused.stats["action_pairs_enumerated"]}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=Path, default=Path("/tmp/cohortscan-bench/logs_250000"))
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    for run in range(args.repeat):
        proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", CHILD,
                               str(args.logs / "interactions.csv.gz")],
                              capture_output=True, text=True, cwd=HERE.parent)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-3000:])
        split = json.loads(proc.stdout.strip().splitlines()[-1])
        wall = [line for line in proc.stderr.splitlines() if "Elapsed (wall" in line][0]
        rss = [line for line in proc.stderr.splitlines() if "Maximum resident" in line][0]
        minutes, seconds = wall.rsplit(" ", 1)[1].split(":")[-2:]
        result = {"run": run + 1, "wall_s": 60 * float(minutes) + float(seconds),
                  "peak_rss_gib": int(rss.rsplit(" ", 1)[1]) / 2**20, **split}
        print(json.dumps(result), flush=True)
        with open(HERE / "cnt_results.jsonl", "a") as fh:
            fh.write(json.dumps({"cohortscan_same_job": result}) + "\n")


if __name__ == "__main__":
    main()
