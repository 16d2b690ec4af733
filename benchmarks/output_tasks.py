"""What each table task of the output pool adds to its worker's memory, on a run's own tables.

Usage: python benchmarks/output_tasks.py RUN_DIR [accounts.csv] [evidence.csv] [rows]

Loads a finished run's ``edge_evidence.parquet``, ``edges.parquet``, ``memberships.csv``,
``cohorts.parquet`` and ``accounts.csv`` (for ``n_actions``) as the run holds them (ids,
actions and layers as categoricals over their sorted values), then runs each named task of
:func:`pipelines.exports.table_tasks` (``rows``: :func:`pipelines.exports.flagged_evidence_rows`
alone) in a forked child, as the run's pool does, and prints its time and its high-water
RSS over the RSS it was forked at (the kernel's ``VmHWM``, reset in the child). The files
go to a temporary directory and are compared with the run's own (``same bytes``). Arrow
uses the system allocator here, so that the loading's freed memory goes back before the
forks. Not a test.
"""

from __future__ import annotations

import os

os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

import ctypes  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import psutil  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from graphs.projection import coded_ids, id_categories  # noqa: E402
from pipelines.exports import flagged_evidence_rows, table_tasks  # noqa: E402

GIB = 1 << 30


def _coded(column: pa.ChunkedArray, categories: pa.Array) -> pd.Series:
    """``column`` as a categorical over ``categories``, as the projection builds its ids."""
    codes = pc.index_in(column, value_set=categories).to_numpy().astype(np.int32)
    return coded_ids(id_categories(categories), codes)


def _tables(run: Path) -> dict:
    evidence, edges = (pq.read_table(run / name) for name in ("edge_evidence.parquet",
                                                              "edges.parquet"))
    ids = pc.unique(pa.chunked_array([*evidence["account_a"].chunks, *evidence["account_b"]
                                      .chunks, *edges["account_a"].chunks,
                                      *edges["account_b"].chunks])).sort()
    frames = []
    for table in (evidence, edges):
        frame = {}
        for name in table.column_names:
            if name in ("account_a", "account_b"):
                frame[name] = _coded(table[name], ids)
            elif name in ("target_id", "action_a", "action_b", "layer"):
                frame[name] = _coded(table[name], pc.unique(table[name]).sort())
            else:
                frame[name] = table[name].to_pandas()
        frames.append(pd.DataFrame(frame, copy=False))
    memberships = pd.read_csv(run / "memberships.csv")
    actions = pd.read_csv(run / "accounts.csv", usecols=["account_id", "n_actions"])
    return {"evidence": frames[0], "edges": frames[1], "memberships": memberships,
            "cohorts": pq.read_table(run / "cohorts.parquet").to_pandas(),
            "n_actions": memberships["account_id"].map(actions.set_index("account_id")[
                "n_actions"])}


def _high_water() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status
                    if line.startswith("VmHWM"))


def main(argv: list[str]) -> int:
    run, names = Path(argv[0]), argv[1:] or ["accounts.csv", "evidence.csv"]
    t = _tables(run)
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    out = Path(tempfile.mkdtemp(prefix="output-tasks-"))
    tasks = dict(zip(["cohorts.parquet", "accounts.csv", "evidence.csv"], table_tasks(
        out, cohorts=t["cohorts"], memberships=t["memberships"], edges=t["edges"],
        evidence=t["evidence"], n_actions=t["n_actions"]), strict=True))
    tasks["rows"] = lambda: flagged_evidence_rows(t["memberships"], t["evidence"], t["cohorts"])
    print(f"{run}: {len(t['evidence']):,} evidence rows, {len(t['edges']):,} edges; "
          f"RSS {psutil.Process().memory_info().rss / GIB:.2f} GiB", flush=True)
    for name in names:
        forked = psutil.Process().memory_info().rss
        child = os.fork()
        if child == 0:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")  # the high-water mark from here
            started = time.perf_counter()
            tasks[name]()
            took, peak = time.perf_counter() - started, _high_water()
            same = ("" if name == "rows" else " same bytes" if (out / name).read_bytes() == (
                run / name).read_bytes() else " DIFFERENT bytes")
            print(f"{name:13s} {took:7.2f} s  forked at {forked / GIB:.2f} GiB  "
                  f"+{(peak - forked) / GIB:.2f} GiB{same}", flush=True)
            os._exit(0)
        os.waitpid(child, 0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
