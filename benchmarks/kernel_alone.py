"""Time the projection's compiled kernel alone on a log's incidence, with a digest of its output.

Usage: python benchmarks/kernel_alone.py LOG [--window 3600] [--max-crowd 1000] [--repeat 3]

Reads a plain log as a run does (:func:`pipelines.ingest.streamed_interactions`), builds its
``engage`` incidence (:func:`graphs.multiplex.layer_incidences`), then runs
:func:`graphs.projection._kept_ties` (the chunk loop of every projection) ``--repeat`` times
after one warm-up, timing only the calls of the kernel
(:func:`graphs.pair_kernel.chunk_ties`). Prints one JSON line per repeat: the kernel's seconds,
the whole ``_kept_ties`` call's, the counts (edges, evidence ties, action pairs, (pair,
target) ties, candidate pairs) and a digest of the kept edges, their weights and medians and
the evidence ties, so that a change to the kernel can be shown to keep its output exactly
(same digest) and timed apart from the rest of a run (whole runs vary by ±30 s at 10M rows).
The slow pass's settings are ``--window 604800 --max-crowd 100``. Not a test.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import graphs.projection as projection  # noqa: E402
from graphs.multiplex import layer_incidences, typed_layers  # noqa: E402
from pipelines.ingest import streamed_interactions  # noqa: E402


def kernel_timed(seconds: list[float]):
    """The kernel, adding the seconds of each call to ``seconds``."""
    kernel = projection.chunk_ties_kernel

    def timed(*args):
        started = time.perf_counter()
        kernel(*args)
        seconds.append(time.perf_counter() - started)

    return timed


def digest(ties) -> str:
    """Digest of the kept edges (pair, shared targets), their weight and median gap, and the
    evidence ties (pair, target, gap, entries)."""
    h = hashlib.sha1()
    for part in (ties.edges, ties.edge_values):
        h.update(part.tobytes())
    for found in ties.evidence:  # the rows (a, b, target, gap, entries), as one array's bytes
        own = np.arange(found.first, found.first + len(found.per_account))
        h.update(np.column_stack([np.repeat(own, found.per_account).astype(found.rows.dtype),
                                  found.rows]).tobytes())
    return h.hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--window", type=int, default=3600)
    parser.add_argument("--max-crowd", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    valid = streamed_interactions([args.log], {}).valid
    inc = layer_incidences(typed_layers(valid.interactions, window_s=args.window))["engage"]
    del valid
    back, ahead, _ = projection._bounds(inc, args.window)
    seconds: list[float] = []
    projection.chunk_ties_kernel = kernel_timed(seconds)
    for run in range(args.repeat + 1):  # the first loads (or compiles) the kernels
        seconds.clear()
        started = time.perf_counter()
        ties = projection._kept_ties(inc, back, ahead, max_crowd=args.max_crowd, min_shared=2,
                                     chunk_ties=projection.CHUNK_TIES)
        whole = time.perf_counter() - started
        if run:
            print(json.dumps({"run": run, "kernel_s": round(sum(seconds), 3),
                              "kept_ties_s": round(whole, 3), "chunks": len(seconds),
                              "edges": len(ties.edges),
                              "evidence": sum(len(f.rows) for f in ties.evidence),
                              "counts": ties.counts[:3].tolist(), "digest": digest(ties)}),
                  flush=True)


if __name__ == "__main__":
    main()
