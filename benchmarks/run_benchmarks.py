"""Benchmarks (not tests): generate logs, run the pipeline, write benchmarks/RESULTS.md.

Usage: python benchmarks/run_benchmarks.py [--rows 1000000 10000000] [--work /tmp/cohortscan-bench]
       [--engine duckdb] [--max-memory GB]

Each size is generated once with the project's generator (``benchmarks/generate.py``, cached
in the work directory), then ``cohortscan run`` runs in a child process under
``/usr/bin/time -v`` (wall time, peak RSS); step timings and projection counts come from the
run's manifest and detection quality from ``cohortscan evaluate``. Results are appended to
``benchmarks/results.jsonl`` and the tables in ``RESULTS.md`` are regenerated from it.

Without ``--max-memory`` the runs have the run's own default limit (80% of the memory
available), as a user's would; a run that stops (the memory guard refuses the log, or any
error) is recorded too, with its exit code, its error line, the steps it finished and its
time and peak until then, in a second table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.generate import write_logs  # noqa: E402

# --tables-only: the child skips the HTML report, figures, bundles and GEXF/GraphML
# (its "outputs" time is then the CSV/Parquet tables and the manifest only), as
# benchmarks/step_cpu.py's --without report does.
TABLES_ONLY = (f"import sys\nsys.path.insert(0, {str(HERE.parent)!r})\n"
               "from benchmarks.step_cpu import leave_out\nleave_out('report')\n"
               "from pipelines.cli import app\napp()\n")
STEPS = ("ingest", "layers", "projection", "clustering", "scoring", "outputs")


def _timed(cmd: list[str], cwd: Path | None = None) -> dict[str, float]:
    proc = _under_time(cmd, cwd)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return _measured(proc.stderr)


def _under_time(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True,
                          cwd=cwd)


def _measured(stderr: str) -> dict[str, float]:
    """Wall time and peak RSS from ``/usr/bin/time -v``'s report."""
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    parts = [float(p) for p in wall.group(1).split(":")]
    seconds = sum(p * 60 ** k for k, p in enumerate(reversed(parts)))
    return {"wall_s": seconds, "peak_rss_gib": int(rss.group(1)) / 2**20}


def bench(rows: int, work: Path, engine: str, max_memory: float | None, cluster_p: float,
          tables_only: bool = False) -> dict:
    """Generate (once) and run one size; return its measurements (:func:`stopped` when the
    run exits with an error)."""
    logs = work / f"logs_{rows}"
    if not (logs / "interactions.csv.gz").exists():
        write_logs(rows, logs)
    out = work / f"run_{rows}_{engine}_{cluster_p:g}"
    config = work / f"bench_{cluster_p:g}.toml"
    config.write_text(f"max_cluster_edge_p = {cluster_p!r}\n")
    program = [sys.executable, "-c", TABLES_ONLY] if tables_only else [str(BIN / "cohortscan")]
    cmd = [*program, "run", str(logs / "interactions.csv.gz"),
           "--posts", str(logs / "posts.csv"), "--accounts", str(logs / "accounts.csv"),
           "--out", str(out), "--window", "1h", "--seed", "0", "--engine", engine,
           "--config", str(config), "--verbose"]
    if max_memory is not None:
        cmd += ["--max-memory", str(max_memory)]
    proc = _under_time(cmd)
    measured = _measured(proc.stderr)
    setup = {"date": dt.date.today().isoformat(), "engine": engine,
             "max_cluster_edge_p": cluster_p, "tables_only": tables_only,
             "max_memory_gb": max_memory}
    if proc.returncode != 0:
        return {**setup, **stopped(proc.stderr), "rows_requested": rows,
                "exit_code": proc.returncode, **measured, "load_avg_1m": os.getloadavg()[0]}
    manifest = json.loads((out / "manifest.json").read_text())
    scores = json.loads(subprocess.run(
        [str(BIN / "cohortscan"), "evaluate", str(out), str(logs / "labels.csv"), "--json"],
        capture_output=True, text=True, check=True).stdout)
    n = manifest["rows"]["rows_read"]
    return {**setup, "rows": n, **measured, "rows_per_s": n / measured["wall_s"],
            "cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0],
            "timings_s": manifest["timings_s"], "projection": manifest["projection"],
            "f1": scores["f1"], "precision": scores["precision"], "recall": scores["recall"],
            "ari": scores["ari"]}


def stopped(stderr: str) -> dict:
    r"""What a run that exited with an error logged (``--verbose`` lines): its error line, the
    rows it read and the steps it finished, with their seconds.

    >>> stopped("x INFO rows read 5 = accepted 5 + rejected 0 (0 duplicates collapsed)\n"
    ...         "x INFO ingest done in 2.50 s\nerror: too big\n")
    {'status': 'stopped', 'error': 'error: too big', 'rows': 5, 'steps_done': {'ingest': 2.5}}
    """
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    read = re.search(r"rows read (\d+) =", stderr)
    return {"status": "stopped", "error": errors[-1] if errors else stderr.strip()[-300:],
            "rows": int(read.group(1)) if read else None,
            "steps_done": {m.group(1): float(m.group(2))
                           for m in re.finditer(r"INFO (\w+) done in ([\d.]+) s", stderr)}}


def stopped_table(results: list[dict]) -> str:
    """The RESULTS.md table of recorded runs that stopped with an error ("" when none)."""
    runs = [r for r in results if r.get("status") == "stopped"]
    if not runs:
        return ""
    lines = ["Runs that stopped before their outputs (`--max-memory` empty: the run's default):",
             "", "| date | engine | rows | max memory GB | wall s | peak RSS GiB | steps done "
             "(s) | exit | error |", "|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        steps = ", ".join(f"{k} {v:.1f}" for k, v in r["steps_done"].items())
        rows = r["rows"] if r["rows"] is not None else r["rows_requested"]
        limit = "" if r["max_memory_gb"] is None else f"{r['max_memory_gb']:g}"
        lines.append(f"| {r['date']} | {r['engine']} | {rows:,} | {limit} | {r['wall_s']:.1f} | "
                     f"{r['peak_rss_gib']:.2f} | {steps} | {r['exit_code']} | "
                     f"{r['error'].replace('|', '/')} |")
    return "\n".join(lines)


def table(results: list[dict]) -> str:
    """The RESULTS.md table of all recorded runs that ended (stopped ones:
    :func:`stopped_table`)."""
    head = ("| date | engine | cluster p | report | rows | wall s | rows/s | peak RSS GiB | "
            + " | ".join(f"{s} s" for s in STEPS)
            + " | action pairs | edges kept | edges clustered | F1 | ARI | load avg |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        if r.get("status") == "stopped":
            continue
        t, p = r["timings_s"], r["projection"]
        lines.append(
            f"| {r['date']} | {r['engine']} | {r.get('max_cluster_edge_p', 1):g} | "
            f"{'no' if r.get('tables_only') else 'yes'} | "
            f"{r['rows']:,} | {r['wall_s']:.1f} | "
            f"{r['rows_per_s']:,.0f} | {r['peak_rss_gib']:.2f} | "
            + " | ".join(f"{t.get(s, 0):.1f}" for s in STEPS)
            + f" | {p['action_pairs_enumerated']:,} | {p['edges_kept']:,} | "
            f"{p.get('edges_clustered', p['edges_kept']):,} | {r['f1']:.3f} | "
            f"{r['ari']:.3f} | {r['load_avg_1m']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/cohortscan-bench"))
    parser.add_argument("--engine", default="duckdb")
    parser.add_argument("--max-memory", type=float, default=None,
                        help="the runs' --max-memory (default: the run's own, 80%% of the "
                        "memory available)")
    parser.add_argument("--cluster-p", type=float, default=1.0,
                        help="max_cluster_edge_p of the runs (1: cluster all kept edges)")
    parser.add_argument("--tables-only", action="store_true",
                        help="skip the HTML report, figures, bundles and graph exports")
    args = parser.parse_args()
    store = HERE / "results.jsonl"
    for rows in args.rows:
        result = bench(rows, args.work, args.engine, args.max_memory, args.cluster_p,
                       args.tables_only)
        print(json.dumps(result), flush=True)
        with open(store, "a") as fh:
            fh.write(json.dumps(result) + "\n")
    results = [json.loads(line) for line in store.read_text().splitlines() if line.strip()]
    text = (HERE / "RESULTS.md").read_text() if (HERE / "RESULTS.md").exists() else ""
    marker = "<!-- runs -->"
    before = text.split(marker)[0] if marker in text else "# Benchmarks\n\n"
    after = stopped_table(results)
    (HERE / "RESULTS.md").write_text(before + marker + "\n" + table(results) + "\n"
                                     + (f"\n{after}\n" if after else ""))


if __name__ == "__main__":
    main()
