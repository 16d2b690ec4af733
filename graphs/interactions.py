"""Typed, validated interactions from raw string columns.

The raw table comes from any reader (CSV, Parquet, JSON Lines) with every value as text;
this module decides, row by row, what is accepted and why the rest is rejected.
"""

from __future__ import annotations

from typing import NamedTuple

import duckdb
import pyarrow as pa

REQUIRED_COLUMNS = ("account_id", "target_id", "action", "timestamp")
CODED_COLUMNS = ("account_id", "target_id", "action")
"""The accepted rows' dictionary-encoded columns (:func:`validated_from_typed`)."""

# Epoch numbers: below 1e11 they are seconds (up to year 5138), below 1e14 milliseconds.
_EPOCH_S_MAX = 1e11
_EPOCH_MS_MAX = 1e14
# Accepted timestamps: 1970-01-01 up to (not including) 2100-01-01, UTC. Outside this range
# a value is a placeholder or a unit mix-up, and far years overflow Python datetimes.
MIN_TIMESTAMP = "1970-01-01"
MAX_TIMESTAMP = "2100-01-01"

# Trimmed from both ends of every value: space, tab, LF, VT, FF, CR, no-break space, BOM.
_WHITESPACE = " || ".join(f"chr({c})" for c in (32, 9, 10, 11, 12, 13, 160, 65279))
# The same characters as an RE2 class: trim() with a character list is slow in DuckDB, so it
# runs only on values that start or end with one of them (at 1M rows: 0.3 s instead of 2 s).
_WHITESPACE_RE = r"[ \t\n\x0b\x0c\r\x{a0}\x{feff}]"


def _trimmed(column: str) -> str:
    return (f"CASE WHEN regexp_matches({column}, '^{_WHITESPACE_RE}|{_WHITESPACE_RE}$') "
            f"THEN trim({column}, {_WHITESPACE}) ELSE {column} END")


_RAW = "__cohortscan_raw__"
_TYPED_SQL = f"""
WITH cleaned AS (
    SELECT source, line,
           nullif({_trimmed('account_id')}, '') AS account_id,
           nullif({_trimmed('target_id')}, '') AS target_id,
           nullif(lower({_trimmed('action')}), '') AS action,
           nullif({_trimmed('"timestamp"')}, '') AS ts_text,
           account_id AS raw_account_id, target_id AS raw_target_id, action AS raw_action,
           "timestamp" AS raw_timestamp
    FROM {_RAW}
), parsed AS (
    SELECT *,
        CASE
            WHEN ts_text IS NULL THEN NULL
            WHEN regexp_full_match(ts_text, '-?[0-9]+(\\.[0-9]+)?') THEN
                CASE
                    WHEN abs(ts_text::DOUBLE) < {_EPOCH_S_MAX} THEN to_timestamp(ts_text::DOUBLE)
                    WHEN abs(ts_text::DOUBLE) < {_EPOCH_MS_MAX}
                        THEN to_timestamp(ts_text::DOUBLE / 1000)
                END
            ELSE try_cast(ts_text AS TIMESTAMPTZ)
        END AS ts
    FROM cleaned
), checked AS (
SELECT *,
    CASE
        WHEN account_id IS NULL THEN 'missing account_id'
        WHEN target_id IS NULL THEN 'missing target_id'
        WHEN action IS NULL THEN 'missing action'
        WHEN ts_text IS NULL THEN 'missing timestamp'
        WHEN instr(account_id, chr(0)) > 0 THEN 'NUL byte in account_id'
        WHEN instr(target_id, chr(0)) > 0 THEN 'NUL byte in target_id'
        WHEN instr(action, chr(0)) > 0 THEN 'NUL byte in action'
        WHEN ts IS NULL THEN 'unparseable timestamp (expected ISO-8601 or epoch seconds/ms): '
                             || left(ts_text, 80)
        WHEN ts < TIMESTAMPTZ '{MIN_TIMESTAMP}' OR ts >= TIMESTAMPTZ '{MAX_TIMESTAMP}'
            THEN 'timestamp out of range ({MIN_TIMESTAMP} to {MAX_TIMESTAMP}): '
                 || left(ts_text, 80)
    END AS reason
FROM parsed
)
-- the source and raw text only for rejected rows: a copy of every row's text doubled the
-- typing's memory, and the source path repeated on every row cost 0.5 GB per 10M rows
SELECT CASE WHEN reason IS NOT NULL THEN source END AS source, line,
    account_id, target_id, action, ts, reason,
    CASE WHEN reason IS NOT NULL THEN replace(concat_ws(',', raw_account_id, raw_target_id,
         raw_action, raw_timestamp), chr(0), '\\x00') END AS raw
FROM checked
"""


class ValidatedInteractions(NamedTuple):
    """Result of :func:`validated_interactions`."""

    interactions: pa.Table
    """Accepted rows, exact duplicates collapsed: account_id, target_id, action (dictionary-
    encoded, each column's distinct values sorted), timestamp; sorted by timestamp then ids."""
    rejected: pa.Table
    """Rejected rows: source, line, reason, raw."""
    rows_read: int
    rows_accepted: int
    duplicates_collapsed: int


def typed_select(raw: str) -> str:
    """The SQL that types and checks every row of the relation ``raw`` (its columns are
    :func:`validated_interactions`' ``raw`` table's): one row out per row in, with the trimmed
    values, the UTC timestamp ``ts`` and the ``reason`` it is rejected (NULL if accepted);
    ``source`` and the ``raw`` text are kept for rejected rows only.

    A reader can run it straight on its scan of a file (so the raw text never becomes a table)
    and gather the result with :func:`validated_from_typed`.

    >>> "FROM my_scan" in typed_select("my_scan")
    True
    """
    return _TYPED_SQL.replace(_RAW, raw)


def validated_from_typed(con: duckdb.DuckDBPyConnection, typed: str) -> ValidatedInteractions:
    """Gather a table of :func:`typed_select` rows on ``con`` into the accepted rows (exact
    duplicates collapsed, sorted), the rejected ones (sorted by source and line) and counts.

    The accepted rows' ids and actions come back dictionary-encoded (:func:`coded_column`):
    DuckDB numbers each column's distinct values in sorted order and the rows travel as
    those numbers, so each id is held once, not once per row (at 10M rows 0.17 GB against
    0.40 GB as text, and the incidence need not hash them again).

    >>> con = duckdb.connect()
    >>> _ = con.execute("SET TimeZone = 'UTC'")
    >>> _ = con.register("raw", pa.table({"source": ["a.csv"], "line": [2], "account_id": ["u"],
    ...                                   "target_id": ["p"], "action": ["like"],
    ...                                   "timestamp": ["1793527200"]}))
    >>> _ = con.execute(f"CREATE TEMP TABLE typed AS {typed_select('raw')}")
    >>> valid = validated_from_typed(con, "typed")
    >>> valid.rows_accepted, valid.interactions["account_id"].to_pylist()
    (1, ['u'])
    """
    rejected = con.sql(
        f"SELECT source, line, reason, raw FROM {typed} WHERE reason IS NOT NULL "
        "ORDER BY source, line"
    ).to_arrow_table()
    rows_read, rows_accepted = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE reason IS NULL) FROM {typed}"
    ).fetchall()[0]
    values = {}
    for column in CODED_COLUMNS:  # each column's distinct values, numbered in sorted order
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {typed}_{column} AS "
            f"SELECT {column} AS value, (row_number() OVER (ORDER BY {column}) - 1)::INTEGER "
            f"AS code FROM (SELECT DISTINCT {column} FROM {typed} WHERE reason IS NULL)")
        values[column] = con.sql(f"SELECT value FROM {typed}_{column} ORDER BY code"
                                 ).to_arrow_table()["value"].combine_chunks()
    joins = " ".join(f"JOIN {typed}_{c} AS {c}_ ON {typed}.{c} = {c}_.value"
                     for c in CODED_COLUMNS)
    codes = con.sql(  # the codes sort as the values do: the same order as sorting the text
        f"SELECT DISTINCT {', '.join(f'{c}_.code AS {c}' for c in CODED_COLUMNS)}, "
        f"ts AS timestamp FROM {typed} {joins} WHERE reason IS NULL "
        f"ORDER BY timestamp, {', '.join(CODED_COLUMNS)}"
    ).to_arrow_table()
    for column in CODED_COLUMNS:
        con.execute(f"DROP TABLE {typed}_{column}")
    interactions = pa.table({**{c: coded_column(codes[c], values[c]) for c in CODED_COLUMNS},
                             "timestamp": codes["timestamp"]})
    return ValidatedInteractions(
        interactions=interactions,
        rejected=rejected,
        rows_read=int(rows_read),
        rows_accepted=int(rows_accepted),
        duplicates_collapsed=int(rows_accepted) - interactions.num_rows,
    )


def coded_column(codes: pa.ChunkedArray, values: pa.Array) -> pa.ChunkedArray:
    """``values`` indexed by ``codes``, as a dictionary-encoded column whose chunks share
    ``values`` (held once) and whose indices are the narrowest signed integers that fit.

    >>> col = coded_column(pa.chunked_array([[1, 0, 1]]), pa.array(["a", "b"]))
    >>> col.type, col.to_pylist()
    (DictionaryType(dictionary<values=string, indices=int8, ordered=0>), ['b', 'a', 'b'])
    """
    index = next(t for t in (pa.int8(), pa.int16(), pa.int32())
                 if len(values) <= 2 ** (t.bit_width - 1))
    return pa.chunked_array(
        [pa.DictionaryArray.from_arrays(chunk.cast(index), values) for chunk in codes.chunks],
        type=pa.dictionary(index, values.type))


def decoded(table: pa.Table) -> pa.Table:
    """``table`` with its dictionary-encoded columns as plain columns of their values.

    >>> decoded(pa.table({"a": pa.array(["x", "y", "x"]).dictionary_encode()}))["a"].type
    DataType(string)
    """
    return pa.table([c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c
                     for c in table.columns], names=table.column_names)


def validated_interactions(raw: pa.Table, *,
                           duckdb_config: dict[str, str] | None = None) -> ValidatedInteractions:
    """Type and validate raw interaction rows.

    Parameters
    ----------
    raw : pyarrow.Table
        Columns ``source, line, account_id, target_id, action, timestamp``, values as text.
    duckdb_config : dict, optional
        Settings of the DuckDB connection that types them (e.g. ``memory_limit``,
        ``temp_directory``: beyond the limit its sort and de-duplication spill there).

    Returns
    -------
    ValidatedInteractions
        Accepted rows (ids trimmed, action lower-cased, timestamp as UTC ``TIMESTAMPTZ``,
        exact duplicates collapsed), rejected rows with their reason (a missing value, a NUL
        byte in an id or action, an unparseable timestamp or one outside
        [``MIN_TIMESTAMP``, ``MAX_TIMESTAMP``)), and the counts;
        ``rows_read == rows_accepted + len(rejected)`` always holds.

    Examples
    --------
    >>> raw = pa.table({"source": ["a.csv"] * 3, "line": [2, 3, 4],
    ...                 "account_id": ["u1", "u1", ""], "target_id": ["p1", "p1", "p2"],
    ...                 "action": ["like", "LIKE", "like"],
    ...                 "timestamp": ["2026-11-01T10:00:00Z", "1793527200", "0"]})
    >>> v = validated_interactions(raw)
    >>> (v.rows_read, v.rows_accepted, v.duplicates_collapsed, v.rejected["reason"][0].as_py())
    (3, 2, 1, 'missing account_id')
    """
    con = duckdb.connect(config=duckdb_config or {})
    con.execute("SET TimeZone = 'UTC'")
    con.register("raw", raw)
    con.execute(f"CREATE TEMP TABLE typed AS {typed_select('raw')}")
    valid = validated_from_typed(con, "typed")
    con.close()
    return valid
