"""Generate benchmark logs with the project's generator and write them as Parquet.

Usage: python benchmarks/generate.py ROWS OUT_DIR [--seed 0]

The world is the ``medium`` scenario scaled with the row count (about 14 rows per organic
account): more viral posts, fandoms and farms as the log grows, so hub targets are present
at every size. Interactions go to ``interactions.csv.gz`` (timestamps as UTC ISO text, as a
log export would have them); posts, accounts and labels to CSV.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from graphs.synthetic import synthetic_logs

ROWS_PER_ORGANIC = 14.3


def world(rows: int) -> dict[str, int]:
    """Generator overrides for a log of about ``rows`` interactions."""
    n_organic = max(1000, int(rows / ROWS_PER_ORGANIC))
    return {"n_organic": n_organic, "n_viral": max(5, n_organic // 800),
            "n_farms": max(3, n_organic // 1300), "n_fandoms": max(4, n_organic // 1000)}


def write_logs(rows: int, out: Path, seed: int = 0) -> dict[str, float]:
    """Generate and write one benchmark log; return its size and generation time."""
    started = time.perf_counter()
    logs = synthetic_logs(scenario="medium", seed=seed, **world(rows))
    out.mkdir(parents=True, exist_ok=True)
    inter = logs.interactions
    table = pa.table({
        "account_id": pa.array(inter["account_id"].to_numpy(), pa.string()),
        "target_id": pa.array(inter["target_id"].to_numpy(), pa.string()),
        "action": pa.array(inter["action"].to_numpy(), pa.string()),
        "timestamp": pa.array(inter["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(),
                              pa.string()),
    })
    with pa.CompressedOutputStream(str(out / "interactions.csv.gz"), "gzip") as sink:
        pacsv.write_csv(table, sink)
    for name, frame in (("posts", logs.posts), ("accounts", logs.accounts)):
        frame.to_csv(out / f"{name}.csv", index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
    logs.labels.to_csv(out / "labels.csv", index=False)
    return {"rows": float(table.num_rows), "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    result = write_logs(args.rows, args.out, args.seed)
    print(f"{int(result['rows'])} rows in {result['seconds']:.1f} s → {args.out}")


if __name__ == "__main__":
    main()
