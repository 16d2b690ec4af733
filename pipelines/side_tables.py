"""Read the optional side tables: posts (who authored each target) and accounts (creation)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import duckdb
import pandas as pd

from pipelines.duckdb_limits import connect
from pipelines.ingest import InputError, file_format


class SideTable(NamedTuple):
    table: pd.DataFrame
    rejected: pd.DataFrame
    """source, line, reason, raw — rows dropped from the side table."""
    rows_read: int = 0
    """Data rows read from the file (``len(table) + len(rejected)`` by construction)."""


def read_posts(path: Path) -> SideTable:
    """Read ``target_id, author_id[, posted_at]``; rows missing an id are rejected."""
    return _read(path, ["target_id", "author_id"], time_column="posted_at", time_required=False)


def read_accounts(path: Path) -> SideTable:
    """Read ``account_id, created_at``; rows with a missing id or bad date are rejected."""
    return _read(path, ["account_id"], time_column="created_at", time_required=True)


def _relation_sql(path: Path) -> str:
    fmt = file_format(path)
    if fmt == "csv":
        return "read_csv(?, all_varchar = true, header = true)"
    if fmt == "parquet":
        return "read_parquet(?)"
    return "read_json(?, format = 'newline_delimited')"


def _read(path: Path, ids: list[str], *, time_column: str, time_required: bool) -> SideTable:
    con = connect()
    con.execute("SET TimeZone = 'UTC'")
    source = _relation_sql(path)
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (expected a header line with column names)")
    try:
        found = [r[0] for r in con.sql(f"DESCRIBE SELECT * FROM {source}", params=[str(path)])
                 .fetchall()]
        wanted = ids + ([time_column] if time_required or time_column in found else [])
        missing = [c for c in wanted if c not in found]
        if missing:
            raise InputError(f"{path}: missing required column '{missing[0]}' "
                             f"(found: {', '.join(found)})")
        cols = ", ".join(f"nullif(trim(CAST(\"{c}\" AS VARCHAR)), '') AS {c}" for c in wanted)
        frame = con.sql(f"SELECT row_number() OVER () + 1 AS line, {cols} FROM {source}",
                        params=[str(path)]).df()
    except duckdb.Error as exc:
        raise InputError(f"{path}: cannot read ({str(exc).splitlines()[0]})") from exc
    finally:
        con.close()
    return _validated(path, frame, ids, time_column if time_column in frame else None)


def _validated(path: Path, frame: pd.DataFrame, ids: list[str], time_column: str | None):
    """Split rows into kept and rejected (missing id, bad time, repeated key) with reasons."""
    original = frame
    reason = pd.Series("", index=frame.index, dtype=object)
    for col in reversed(ids):
        reason = reason.mask(frame[col].isna(), f"missing {col}")
    if time_column:
        parsed = pd.to_datetime(frame[time_column], utc=True, errors="coerce", format="ISO8601")
        bad = parsed.isna() & (reason == "")
        reason = reason.mask(bad, f"unparseable {time_column} (expected ISO-8601)")
        frame = frame.assign(**{time_column: parsed})
    key = ids[0]
    first_line = frame.loc[reason == ""].groupby(key)["line"].transform("min")
    repeated = (reason == "") & frame["line"].ne(first_line.reindex(frame.index))
    reason = reason.mask(repeated, "repeated " + key + " (the first row, line "
                         + first_line.reindex(frame.index).astype("Int64").astype(str)
                         + ", is kept)")
    ok = reason == ""
    text = original.loc[~ok].drop(columns="line").astype(object)  # raw text of rejected rows only
    text = text.where(text.notna(), "")
    raw = (text.astype(str).agg(",".join, axis=1) if len(text)
           else pd.Series([], index=text.index, dtype=str))
    rejected = pd.DataFrame({"source": str(path), "line": frame.loc[~ok, "line"].astype("int64"),
                             "reason": reason[~ok].astype(str), "raw": raw})
    table = frame.loc[ok].drop(columns="line")
    return SideTable(table.reset_index(drop=True), rejected.reset_index(drop=True),
                     rows_read=len(original))
