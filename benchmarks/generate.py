"""Generate benchmark logs with the project's generator and write them as Parquet.

Usage: python benchmarks/generate.py ROWS OUT_DIR [--seed 0] [--viral-size FEWEST MOST]

The world is the ``medium`` scenario scaled with the row count (about 14 rows per organic
account): more viral posts, fandoms and farms as the log grows, so hub targets are present
at every size. Interactions go to ``interactions.csv.gz`` (timestamps as UTC ISO text, as a
log export would have them); posts, accounts and labels to CSV.

Above :data:`SHARD_ROWS` rows the log is several independent worlds ("regions") of at most
that many rows each, generated and appended one at a time, so that memory stays that of one
region (the generator holds its whole world: one 100M-row world needed ≈ 41 GiB). Region
``i`` uses seed ``seed + 1000 * i`` and prefixes its ids (accounts, targets, farm groups)
with ``r<i>.``; regions share the time span, and no account or target spans two regions.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from graphs.synthetic import SyntheticLogs, synthetic_logs

ROWS_PER_ORGANIC = 14.3
SHARD_ROWS = 30_000_000
"""Most rows generated as one world (the 30M-row log took 12.3 GiB to generate)."""


def world(rows: int) -> dict[str, int]:
    """Generator overrides for a log of about ``rows`` interactions."""
    n_organic = max(1000, int(rows / ROWS_PER_ORGANIC))
    return {"n_organic": n_organic, "n_viral": max(5, n_organic // 800),
            "n_farms": max(3, n_organic // 1300), "n_fandoms": max(4, n_organic // 1000)}


def write_logs(rows: int, out: Path, seed: int = 0,
               viral_size: tuple[int, int] | None = None) -> dict[str, float]:
    """Generate and write one benchmark log; return its size and generation time.

    ``viral_size`` (fewest, most engagers of a viral post) replaces the scenario's 200–1,500,
    for logs whose hub targets are hotter (``--viral-size``)."""
    hubs = {} if viral_size is None else {"viral_size": tuple(viral_size)}
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    shards = max(1, math.ceil(rows / SHARD_ROWS))
    written = 0
    with pa.CompressedOutputStream(str(out / "interactions.csv.gz"), "gzip") as sink:
        writer = None
        for shard in range(shards):
            logs = synthetic_logs(scenario="medium", seed=seed + 1000 * shard,
                                  **world(rows // shards), **hubs)
            if shards > 1:
                logs = regional(logs, f"r{shard}.")
            table = _interactions(logs.interactions)
            if writer is None:
                writer = pacsv.CSVWriter(sink, table.schema)
            writer.write_table(table)
            written += table.num_rows
            for name, frame in (("posts", logs.posts), ("accounts", logs.accounts),
                                ("labels", logs.labels)):
                frame.to_csv(out / f"{name}.csv", index=False, mode="w" if shard == 0 else "a",
                             header=shard == 0, date_format="%Y-%m-%dT%H:%M:%SZ")
            del logs, table
        writer.close()
    return {"rows": float(written), "seconds": time.perf_counter() - started}


def regional(logs: SyntheticLogs, prefix: str) -> SyntheticLogs:
    """``logs`` with every account, target and farm group id prefixed (one region of a
    sharded log: its ids meet no other region's)."""
    def ids(column: pd.Series) -> pd.Series:
        return column.where(column.isna() | (column == ""), prefix + column.astype(str))

    return logs._replace(
        interactions=logs.interactions.assign(account_id=ids(logs.interactions["account_id"]),
                                              target_id=ids(logs.interactions["target_id"])),
        posts=logs.posts.assign(target_id=ids(logs.posts["target_id"]),
                                author_id=ids(logs.posts["author_id"])),
        accounts=logs.accounts.assign(account_id=ids(logs.accounts["account_id"])),
        labels=logs.labels.assign(account_id=ids(logs.labels["account_id"]),
                                  group=ids(logs.labels["group"])))


def _interactions(inter: pd.DataFrame) -> pa.Table:
    return pa.table({
        "account_id": pa.array(inter["account_id"].to_numpy(), pa.string()),
        "target_id": pa.array(inter["target_id"].to_numpy(), pa.string()),
        "action": pa.array(inter["action"].to_numpy(), pa.string()),
        "timestamp": pa.array(inter["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(),
                              pa.string()),
    })


def add_viral_size(parser: argparse.ArgumentParser) -> None:
    """The ``--viral-size FEWEST MOST`` option of :func:`write_logs`' ``viral_size``."""
    parser.add_argument("--viral-size", type=int, nargs=2, metavar=("FEWEST", "MOST"),
                        help="engagers of a viral post (default: the scenario's 200 1500)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    add_viral_size(parser)
    args = parser.parse_args()
    result = write_logs(args.rows, args.out, args.seed, args.viral_size)
    print(f"{int(result['rows'])} rows in {result['seconds']:.1f} s → {args.out}")


if __name__ == "__main__":
    main()
