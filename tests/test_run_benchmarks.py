"""benchmarks/run_benchmarks.py: a run that stops is recorded apart, with what it logged; the
--tables-only child leaves out the report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks.run_benchmarks import TABLES_ONLY, stopped, stopped_table, table

LOG = ("2026-11-23 02:11:27,535 INFO ingest …\n"
       "2026-11-23 02:13:49,233 INFO rows read 100146905 = accepted 100146905 + rejected 0 "
       "(0 duplicates collapsed)\n"
       "2026-11-23 02:13:49,253 INFO ingest done in 141.72 s\n"
       "2026-11-23 02:13:51,056 INFO layers done in 1.80 s\n"
       "error: the projection would enumerate up to 3,565,014,952 action pairs (≈ 39.8 GB), "
       "more than max_memory_gb = 8\n"
       "\tCommand exited with non-zero status 1\n")


def test_a_stopped_run_keeps_its_error_rows_and_finished_steps():
    got = stopped(LOG)
    assert got == {"status": "stopped", "rows": 100146905,
                   "steps_done": {"ingest": 141.72, "layers": 1.8},
                   "error": "error: the projection would enumerate up to 3,565,014,952 action "
                            "pairs (≈ 39.8 GB), more than max_memory_gb = 8"}
    assert stopped("Traceback …\nKilled\n")["error"] == "Traceback …\nKilled"
    assert stopped("Killed")["rows"] is None and stopped("Killed")["steps_done"] == {}


def test_stopped_runs_have_their_own_table():
    run = {"date": "2026-11-23", "engine": "duckdb", "max_memory_gb": None, "exit_code": 1,
           "rows_requested": 100_000_000, "wall_s": 207.6, "peak_rss_gib": 13.59, **stopped(LOG)}
    text = stopped_table([run])
    row = "| 2026-11-23 | duckdb | 100,146,905 |  | 207.6 | 13.59 | ingest 141.7, layers 1.8 | 1 |"
    assert row in text and "39.8 GB" in text
    assert stopped_table([]) == ""
    assert table([run]).count("\n") == 1  # the ended runs' table: its header only


def test_the_tables_only_child_leaves_out_the_report(tmp_path):
    sample = Path(__file__).resolve().parent.parent / "data" / "sample"
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-c", TABLES_ONLY, "run",
                           str(sample / "interactions.csv.gz"), "--out", str(out), "--seed", "0"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (out / "cohorts.csv").exists() and (out / "edges.parquet").exists()
    for left_out in ("index.html", "cohorts", "figures", "bundles", "graph.gexf"):
        assert not (out / left_out).exists()
