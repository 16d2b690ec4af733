"""The same job with the coordination-network-toolkit (CNT) and cohortscan, ~250k rows.

Usage: python benchmarks/cnt_compare.py [--rows 250000] [--work /tmp/cohortscan-bench]
       [--cnt /tmp/cnt-venv/bin/compute_networks] [--logs DIR] [--viral-size 1500 4000]

``--logs DIR`` runs both on a folder holding an ``interactions.csv.gz`` in the common
format (``account_id,target_id,action,timestamp``), e.g. one of ``../shared/data/real``;
``posts.csv`` and ``accounts.csv`` are used when present; precision and recall are computed
only against the generator's farm labels. Without it the generator's ``--rows`` log is used;
``--viral-size 1500 4000`` gives its viral posts bigger crowds (≈ 7.9e7 same-target pairs
within the hour at 288k rows, as the field notes' ~250k reference set had 7.3e7; CNT takes
minutes on it instead of ≈ 80 s).

CNT (``pip install coordination-network-toolkit`` in its own venv) computes a co-retweet
network with the same 1-hour window: every interaction is a "retweet" of its target. Its
CSV export crashes in 1.5.2, so its edges are read from its SQLite ``co_retweet_network``
table. Accounts flagged by CNT are the accounts with an edge of at least ``min_edge_weight``
co-retweets (CNT's own knob; 2 and 3 are reported); precision/recall are against the
generator's farm labels, as ``cohortscan evaluate`` computes them for cohortscan.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.csv as pacsv

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.generate import add_viral_size, write_logs  # noqa: E402
from benchmarks.run_benchmarks import _timed  # noqa: E402


def cnt_input(logs: Path, out: Path) -> int:
    """Write the log in CNT 1.5.2's CSV layout (8 columns, repost_id = our target)."""
    options = pacsv.ConvertOptions(column_types={"account_id": "string", "target_id": "string"})
    table = pacsv.read_csv(logs / "interactions.csv.gz", convert_options=options).to_pandas()
    ts = pd.to_datetime(table["timestamp"], utc=True).astype("int64") // 10**9
    pd.DataFrame({"message_id": range(len(table)), "user_id": table["account_id"],
                  "username": table["account_id"], "repost_id": table["target_id"],
                  "reply_id": "", "message": "", "timestamp": ts,
                  "urls": ""}).to_csv(out, index=False)
    return len(table)


def scores(flagged: set[str], labels: pd.DataFrame | None) -> dict[str, float]:
    if labels is None:
        return {"n_flagged": len(flagged)}
    farm = set(labels.loc[labels["label"] == "farm", "account_id"])
    hit = len(flagged & farm)
    precision = hit / len(flagged) if flagged else 0.0
    recall = hit / len(farm) if farm else 0.0
    f1 = 2 * precision * recall / (precision + recall) if hit else 0.0
    return {"n_flagged": len(flagged), "precision": precision, "recall": recall, "f1": f1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=250_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/cohortscan-bench"))
    parser.add_argument("--cnt", default="/tmp/cnt-venv/bin/compute_networks")
    parser.add_argument("--logs", type=Path, default=None)
    add_viral_size(parser)
    args = parser.parse_args()
    hubs = "" if args.viral_size is None else "_viral{}-{}".format(*args.viral_size)
    logs = args.logs or args.work / f"logs_{args.rows}{hubs}"
    if args.logs is None and not (logs / "interactions.csv.gz").exists():
        write_logs(args.rows, logs, viral_size=args.viral_size)
    labels = (pd.read_csv(logs / "labels.csv", dtype=str, keep_default_na=False)
              if args.logs is None else None)
    args.work.mkdir(parents=True, exist_ok=True)
    csv, db = args.work / "cnt_input.csv", args.work / "cnt.db"
    db.unlink(missing_ok=True)
    rows = cnt_input(logs, csv)
    started = time.perf_counter()
    pre = _timed([args.cnt, str(db), "preprocess", "--format", "csv", str(csv)])
    comp = _timed([args.cnt, str(db), "compute", "co_retweet", "--time_window", "3600",
                   "--n_cpus", "2"])
    cnt_wall = time.perf_counter() - started
    result = {"logs": str(logs), "rows": rows, "cnt_wall_s": cnt_wall,
              "cnt_preprocess_s": pre["wall_s"], "cnt_compute_s": comp["wall_s"],
              "cnt_peak_rss_gib": max(pre["peak_rss_gib"], comp["peak_rss_gib"])}
    with sqlite3.connect(db) as con:  # counted in SQLite: the hub log's 54M edges as a
        # pandas frame took ≈ 20 GB
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        table = next(n for n in names if "co_retweet" in n)
        first, second, weight = (r[1] for r in con.execute(f"PRAGMA table_info({table})")
                                 .fetchall()[:3])
        result["cnt_edges"] = con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        for k in (2, 3):
            flagged = {str(r[0]) for r in con.execute(
                f"SELECT {first} FROM {table} WHERE {weight} >= ? "
                f"UNION SELECT {second} FROM {table} WHERE {weight} >= ?", (k, k))}
            result[f"cnt_min_weight_{k}"] = scores(flagged, labels)
    out = args.work / "run_cnt_cohortscan"
    sides = [arg for name in ("posts", "accounts") if (logs / f"{name}.csv").exists()
             for arg in (f"--{name}", str(logs / f"{name}.csv"))]
    ours = _timed([str(Path(sys.executable).parent / "cohortscan"), "run",
                   str(logs / "interactions.csv.gz"), *sides, "--out", str(out),
                   "--window", "1h", "--max-memory", "64"])
    flagged = pd.read_csv(out / "flagged_accounts.csv", dtype={"account_id": str})
    result.update({"cohortscan_wall_s": ours["wall_s"],
                   "cohortscan_peak_rss_gib": ours["peak_rss_gib"],
                   "cohortscan": scores(set(flagged["account_id"]), labels)})
    print(json.dumps(result), flush=True)
    with open(HERE / "cnt_results.jsonl", "a") as fh:
        fh.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
