"""The ingest of one log by both engines, each in a fresh process: wall time and the driver's
peak RSS.

Usage: python benchmarks/spark_ingest.py LOG [LOG ...] [--master local[2]]

``duckdb``: :func:`pipelines.ingest.streamed_interactions` (what a ``duckdb`` run's driver
holds after its ingest: the typed log). ``spark``: :meth:`pipelines.spark_log.SparkLog.ingest`
(the executors type the files; the driver gets counts, rejected rows and actions). The peak is
the Python process's own (``RUSAGE_SELF``): Spark's JVM and its Python workers are other
processes. Prints one JSON line per engine. Not a test.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _child(engine: str, logs: list[str], master: str) -> None:
    sys.path.insert(0, str(ROOT))
    files = [Path(p) for p in logs]
    started = time.perf_counter()
    if engine == "duckdb":
        from pipelines.ingest import streamed_interactions

        valid = streamed_interactions(files, {}).valid
        counts = {"rows_read": valid.rows_read, "interactions": valid.interactions.num_rows}
    else:
        from pipelines.spark_engine import spark_session
        from pipelines.spark_log import SparkLog

        spark_session(master)  # started before the clock: not part of the ingest
        started = time.perf_counter()
        ingest = SparkLog(files, {}, master).ingest()
        counts = {"rows_read": ingest.rows_read, "interactions": ingest.interactions}
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps({"engine": engine, "wall_s": round(wall, 1),
                      "driver_peak_gib": round(peak, 3), **counts}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="+")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--child", choices=["duckdb", "spark"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.logs, args.master)
        return
    for engine in ("duckdb", "spark"):
        subprocess.run([sys.executable, __file__, *args.logs, "--master", args.master,
                        "--child", engine], check=True, stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
