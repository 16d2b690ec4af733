"""The run history: an embedded DuckDB file with runs, cohorts, memberships and lineage.

The schema is versioned (table ``schema_version``); :func:`connect` applies the missing
migrations of :data:`MIGRATIONS` in one transaction when it opens a store, and refuses a
store written by a newer cohortscan. A store is guarded by a lock file (``<store>.lock``,
``fcntl.flock``) held for the whole of a nightly run: :func:`store_lock` raises
:class:`StoreLocked` when another process holds it.

Every run gets a row in ``runs`` (``running`` when it starts, then ``ok``, ``partial`` or
``failed``). The cohorts, memberships and lineage of a date are replaced in one
transaction by :func:`replace_date`, so a date has exactly one set of rows: the last
successful run's.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from pipelines.ingest import InputError

MIGRATIONS: list[list[str]] = [
    [  # 1: runs, cohorts, memberships, lineage
        """CREATE TABLE runs (
            run_id INTEGER PRIMARY KEY, run_date DATE NOT NULL, status VARCHAR NOT NULL,
            started_at TIMESTAMPTZ NOT NULL, finished_at TIMESTAMPTZ, out_dir VARCHAR,
            parameters JSON, inputs JSON, versions JSON, row_accounting JSON, timings JSON,
            reused JSON, missing_partitions JSON, error VARCHAR)""",
        """CREATE TABLE cohorts (
            run_date DATE NOT NULL, cohort_id BIGINT NOT NULL, run_cohort_id BIGINT NOT NULL,
            size BIGINT NOT NULL, score DOUBLE, flagged BOOLEAN NOT NULL, explanation VARCHAR,
            PRIMARY KEY (run_date, cohort_id))""",
        """CREATE TABLE memberships (
            run_date DATE NOT NULL, cohort_id BIGINT NOT NULL, account_id VARCHAR NOT NULL,
            PRIMARY KEY (run_date, account_id))""",
        """CREATE TABLE lineage (
            run_date DATE NOT NULL, cohort_id BIGINT NOT NULL, run_cohort_id BIGINT,
            status VARCHAR NOT NULL, previous_cohort_ids VARCHAR NOT NULL,
            overlap DOUBLE NOT NULL, size BIGINT NOT NULL, PRIMARY KEY (run_date, cohort_id))""",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)


class StoreLocked(InputError):
    """Another run holds the store's lock."""


@contextlib.contextmanager
def store_lock(store: Path) -> Iterator[Path]:
    """Hold ``<store>.lock`` exclusively for the block; raise StoreLocked if it is taken."""
    store.parent.mkdir(parents=True, exist_ok=True)
    path = store.with_name(store.name + ".lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise StoreLocked(f"history store {store} is locked by another run "
                              f"(pid {holder}, lock file {path})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing releases the lock


def connect(store: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the store, creating and migrating it to :data:`SCHEMA_VERSION` unless read-only."""
    if read_only and not store.exists():
        raise InputError(f"history store {store}: no such file")
    try:
        con = duckdb.connect(str(store), read_only=read_only)
    except duckdb.Error as exc:
        raise InputError(f"history store {store}: cannot open ({exc})") from exc
    version = schema_version(con)
    if version > SCHEMA_VERSION:
        con.close()
        raise InputError(f"history store {store}: schema version {version} is newer than this "
                         f"cohortscan understands ({SCHEMA_VERSION}); upgrade cohortscan")
    if version < SCHEMA_VERSION and read_only:
        con.close()
        raise InputError(f"history store {store}: schema version {version}, expected "
                         f"{SCHEMA_VERSION}; open it once with a nightly run to migrate")
    if version < SCHEMA_VERSION:
        _migrate(con, version)
    return con


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The store's schema version (0 for an empty database)."""
    known = con.sql("SELECT count(*) FROM information_schema.tables "
                    "WHERE table_name = 'schema_version'").fetchall()[0][0]
    if not known:
        return 0
    return int(con.sql("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0])


def _migrate(con: duckdb.DuckDBPyConnection, version: int) -> None:
    con.begin()
    try:
        con.execute("CREATE TABLE IF NOT EXISTS schema_version "
                    "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)")
        for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in statements:
                con.execute(statement)
            con.execute("INSERT INTO schema_version VALUES (?, ?)", [number, _now()])
        con.commit()
    except BaseException:
        con.rollback()
        raise


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def start_run(con: duckdb.DuckDBPyConnection, run_date: dt.date, out_dir: Path,
              parameters: dict[str, Any]) -> int:
    """Record a run as ``running`` and return its id."""
    run_id = con.sql("SELECT coalesce(max(run_id), 0) + 1 FROM runs").fetchall()[0][0]
    con.execute("INSERT INTO runs (run_id, run_date, status, started_at, out_dir, parameters) "
                "VALUES (?, ?, 'running', ?, ?, ?)",
                [run_id, run_date, _now(), str(out_dir), _json(parameters)])
    return int(run_id)


def finish_run(con: duckdb.DuckDBPyConnection, run_id: int, status: str, *,
               manifest: dict[str, Any] | None = None, error: str | None = None,
               missing: list[str] | None = None) -> None:
    """Set a run's final status and what its manifest says."""
    m = manifest or {}
    con.execute(
        "UPDATE runs SET status = ?, finished_at = ?, inputs = ?, versions = ?, "
        "row_accounting = ?, timings = ?, reused = ?, missing_partitions = ?, error = ? "
        "WHERE run_id = ?",
        [status, _now(), _json(m.get("inputs")), _json(m.get("versions")), _json(m.get("rows")),
         _json(m.get("timings_s")), _json(m.get("nightly", {}).get("reused")),
         _json(missing or []), error, run_id])


def replace_date(con: duckdb.DuckDBPyConnection, run_date: dt.date, *, cohorts: pd.DataFrame,
                 memberships: pd.DataFrame, lineage: pd.DataFrame) -> None:
    """Replace the date's cohorts, memberships and lineage (call inside a transaction)."""
    for table, frame in (("cohorts", cohorts), ("memberships", memberships),
                         ("lineage", lineage)):
        con.execute(f"DELETE FROM {table} WHERE run_date = ?", [run_date])
        if len(frame):
            con.register("_rows", frame.assign(run_date=run_date))
            columns = ", ".join(frame.columns)
            con.execute(f"INSERT INTO {table} (run_date, {columns}) "
                        f"SELECT run_date, {columns} FROM _rows")
            con.unregister("_rows")


def last_run_before(con: duckdb.DuckDBPyConnection, run_date: dt.date) -> dict[str, Any] | None:
    """The latest date before ``run_date`` with a successful run: date, out_dir."""
    rows = con.sql("SELECT run_date, out_dir FROM runs WHERE status IN ('ok', 'partial') "
                   "AND run_date < ? ORDER BY run_date DESC, run_id DESC LIMIT 1",
                   params=[run_date]).fetchall()
    return {"run_date": rows[0][0], "out_dir": rows[0][1]} if rows else None


def stored_memberships(con: duckdb.DuckDBPyConnection, run_date: dt.date) -> pd.DataFrame:
    """``account_id, cohort_id`` (stable ids) stored for a date."""
    return con.sql("SELECT account_id, cohort_id FROM memberships WHERE run_date = ? "
                   "ORDER BY cohort_id, account_id", params=[run_date]).df()


def next_cohort_id(con: duckdb.DuckDBPyConnection, run_date: dt.date) -> int:
    """One more than every stable id used on dates before ``run_date`` (0 for the first)."""
    return int(con.sql("SELECT coalesce(max(cohort_id) + 1, 0) FROM lineage WHERE run_date < ?",
                       params=[run_date]).fetchall()[0][0])


def earlier_reports(con: duckdb.DuckDBPyConnection, run_date: dt.date) -> list[dt.date]:
    """Dates before ``run_date`` with a successful run, newest first."""
    rows = con.sql("SELECT DISTINCT run_date FROM runs WHERE status IN ('ok', 'partial') "
                   "AND run_date < ? ORDER BY run_date DESC", params=[run_date]).fetchall()
    return [r[0] for r in rows]


def runs_table(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The run history, newest first, for ``cohortscan runs list``."""
    return con.sql(
        "SELECT r.run_id, strftime(r.run_date, '%Y-%m-%d') AS run_date, r.status, "
        "strftime(r.started_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS started_at, "
        "round(epoch(r.finished_at) - epoch(r.started_at), 1) AS seconds, "
        "(SELECT count(*) FROM cohorts c WHERE c.run_date = r.run_date) AS cohorts_stored, "
        "r.missing_partitions, r.error, r.out_dir FROM runs r ORDER BY r.run_id DESC").df()


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)
