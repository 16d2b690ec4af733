"""The history store: schema migrations on open, the lock, replacing a date's rows."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from pipelines import history
from pipelines.ingest import InputError

DAY = dt.date(2026, 11, 4)


def test_new_store_is_migrated_once(tmp_path):
    store = tmp_path / "h.duckdb"
    con = history.connect(store)
    assert history.schema_version(con) == history.SCHEMA_VERSION == 1
    con.close()
    con = history.connect(store)
    assert con.sql("SELECT count(*) FROM schema_version").fetchall() == [(1,)]
    tables = {r[0] for r in con.sql("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"runs", "cohorts", "memberships", "lineage", "schema_version"} <= tables
    con.close()


def test_newer_or_unmigrated_store_is_refused(tmp_path):
    store = tmp_path / "h.duckdb"
    history.connect(store).close()
    raw = duckdb.connect(str(store))
    raw.execute("INSERT INTO schema_version VALUES (99, now())")
    raw.close()
    with pytest.raises(InputError, match="schema version 99 is newer"):
        history.connect(store)
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(InputError, match="schema version 0, expected 1"):
        history.connect(empty, read_only=True)
    with pytest.raises(InputError, match="no such file"):
        history.connect(tmp_path / "missing.duckdb", read_only=True)


def test_lock_is_exclusive_and_released(tmp_path):
    store = tmp_path / "h.duckdb"
    with history.store_lock(store) as lock:
        assert lock.read_text().strip().isdigit()
        with pytest.raises(history.StoreLocked, match=r"locked by another run \(pid \d+"):
            with history.store_lock(store):
                pass
    with history.store_lock(store):
        pass


def _rows(cohort_id: int, accounts: list[str]) -> dict[str, pd.DataFrame]:
    return {
        "cohorts": pd.DataFrame({"cohort_id": [cohort_id], "run_cohort_id": [0],
                                 "size": [len(accounts)], "score": [1.5], "flagged": [True],
                                 "explanation": ["x"]}),
        "memberships": pd.DataFrame({"cohort_id": cohort_id, "account_id": accounts}),
        "lineage": pd.DataFrame({"cohort_id": [cohort_id], "run_cohort_id": [0],
                                 "status": ["new"], "previous_cohort_ids": ["[]"],
                                 "overlap": [0.0], "size": [len(accounts)]}),
    }


def test_runs_and_date_rows(tmp_path):
    con = history.connect(tmp_path / "h.duckdb")
    first = history.start_run(con, DAY, tmp_path / "r", {"seed": 0})
    history.replace_date(con, DAY, **_rows(3, ["a", "b"]))
    history.replace_date(con, DAY, **_rows(4, ["c"]))  # a rerun replaces, never appends
    history.finish_run(con, first, "ok", manifest={"rows": {"rows_read": 5}})
    assert history.stored_memberships(con, DAY).values.tolist() == [["c", 4]]
    assert history.next_cohort_id(con, DAY) == 0
    assert history.next_cohort_id(con, DAY + dt.timedelta(days=1)) == 5
    later = DAY + dt.timedelta(days=2)
    assert history.last_run_before(con, later)["run_date"] == DAY
    assert history.earlier_reports(con, later) == [DAY]
    second = history.start_run(con, later, tmp_path / "r2", {})
    history.finish_run(con, second, "failed", error="boom")
    runs = history.runs_table(con)
    con.close()
    assert runs["status"].tolist() == ["failed", "ok"] and runs["error"].iloc[0] == "boom"
