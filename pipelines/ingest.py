"""Read interaction logs (CSV, CSV.gz, Parquet, JSON Lines) into raw text columns.

Every value is read as text so that typing and validation happen in one place
(:func:`graphs.interactions.validated_interactions`); lines the reader itself cannot split
(wrong column count, broken quoting, invalid JSON) become parse rejects with their line.
"""

from __future__ import annotations

import bz2
import collections
import contextlib
import csv
import datetime as dt
import difflib
import glob
import gzip
import io
import lzma
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graphs.interactions import (
    REQUIRED_COLUMNS,
    ValidatedInteractions,
    typed_select,
    validated_from_typed,
)
from pipelines.duckdb_limits import connect, duckdb_config

SUFFIX_FORMATS = {
    ".csv": "csv", ".csv.gz": "csv", ".tsv": "csv", ".tsv.gz": "csv",
    ".parquet": "parquet",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".jsonl.gz": "jsonl",
}
RAW_SCHEMA = pa.schema([("source", pa.string()), ("line", pa.int64()),
                        *((name, pa.string()) for name in REQUIRED_COLUMNS)])
"""The raw table every reader and adapter returns (values as text, with their file line)."""
REJECT_SCHEMA = pa.schema(
    [("source", pa.string()), ("line", pa.int64()), ("reason", pa.string()), ("raw", pa.string())]
)


class InputError(ValueError):
    """A data or configuration problem the user must fix; the CLI exits with code 1."""


class RawInteractions(NamedTuple):
    raw: pa.Table
    """Columns source, line, account_id, target_id, action, timestamp (all text but line)."""
    parse_rejects: pa.Table
    """Lines the reader could not split: source, line, reason, raw."""


def file_format(path: Path) -> str:
    """Return ``csv``, ``parquet`` or ``jsonl`` from the file name, or raise InputError."""
    name = path.name.lower()
    for suffix, fmt in sorted(SUFFIX_FORMATS.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix):
            return fmt
    known = ", ".join(sorted(SUFFIX_FORMATS))
    raise InputError(f"{path}: unknown input format (expected one of {known})")


def input_files(patterns: Sequence[str]) -> list[Path]:
    """Expand files, directories (recursively) and globs into a sorted list of log files."""
    found: set[Path] = set()
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            found.update(p for p in path.rglob("*") if p.is_file() and _known(p))
        elif path.is_file():
            file_format(path)
            found.add(path)
        else:
            matches = [Path(m) for m in glob.glob(pattern, recursive=True)]
            if not matches:
                raise InputError(f"{pattern}: no such file, directory or glob match")
            found.update(p for p in matches if p.is_file() and _known(p))
    if not found:
        raise InputError(f"no log files found in {', '.join(patterns)}")
    return sorted(found)


def read_interactions(paths: Sequence[Path], columns: Mapping[str, str]) -> RawInteractions:
    """Read log files into one raw table; ``columns`` maps our names to the file's names."""
    con = connect()
    raws, rejects = [], []
    for path in paths:
        reader = {"csv": _read_csv, "parquet": _read_parquet, "jsonl": _read_jsonl}
        raw, rejected = reader[file_format(path)](con, path, columns)
        raws.append(raw)
        rejects.append(rejected)
    con.close()
    return RawInteractions(pa.concat_tables(raws), pa.concat_tables(rejects))


class StreamedInteractions(NamedTuple):
    """Result of :func:`streamed_interactions`."""

    parse_rejects: pa.Table
    """Lines the reader could not split: source, line, reason, raw."""
    valid: ValidatedInteractions
    """The typed rows, as :func:`graphs.interactions.validated_interactions` returns them."""


def streamed_interactions(paths: Sequence[Path],
                          columns: Mapping[str, str]) -> StreamedInteractions:
    """Read and type log files in one DuckDB pipeline per file: the raw text never becomes a
    Python table.

    The same result as :func:`read_interactions` then
    :func:`graphs.interactions.validated_interactions`, without holding every value as text
    (1.2 GB per 10M rows) beside DuckDB's typed copy: each CSV or Parquet scan feeds
    :func:`graphs.interactions.typed_select` directly, in a connection of
    :func:`pipelines.duckdb_limits.connect` (within a run: the run's memory limit, spilling to
    its directory). JSON Lines files are read as by :func:`read_interactions` first (their
    invalid lines are found on the text). Rejected rows keep their file line.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "log.csv"
    >>> _ = path.write_text("account_id,target_id,action,timestamp\\n"
    ...                     "u1,p1,like,1793527200\\nu2,p1,like,yesterday\\n")
    >>> got = streamed_interactions([path], {})
    >>> got.valid.rows_accepted, got.valid.rejected["line"].to_pylist()
    (1, [3])
    """
    con = connect()
    con.execute("SET TimeZone = 'UTC'")
    rejects, reject_lines = [], {}
    for index, path in enumerate(paths):
        fmt = file_format(path)
        if fmt == "csv":
            scan, parse_lines = _csv_scan(con, path, columns)
        elif fmt == "parquet":
            scan, parse_lines = _parquet_scan(con, path, columns), None
        else:
            raw, rejected = _read_jsonl(con, path, columns)
            con.register(f"jsonl_{index}", raw)
            scan, parse_lines = f"jsonl_{index}", None
            rejects.append(rejected)
        start = 0 if index == 0 else con.execute("SELECT count(*) FROM typed").fetchone()[0]
        verb = "CREATE TEMP TABLE typed AS" if index == 0 else "INSERT INTO typed"
        try:
            con.execute(f"{verb} {typed_select(scan)}")
            if parse_lines is not None:
                # A CSV row's ordinal is its place in the table (DuckDB keeps the insertion
                # order): numbering rows in the scan would make the typing single-threaded.
                con.execute(f"UPDATE typed SET line = rowid - {start} + 1 "
                            f"WHERE rowid >= {start} AND reason IS NOT NULL")
                rejected, reject_lines[str(path)] = parse_lines()
                rejects.append(rejected)
        except duckdb.Error as exc:
            name = {"csv": "CSV", "parquet": "Parquet", "jsonl": "JSON Lines"}[fmt]
            raise InputError(f"{path}: cannot read as {name} "
                             f"({str(exc).splitlines()[0]})") from exc
    with duckdb_memory("gathering the typed rows"):
        valid = validated_from_typed(con, "typed")
    con.close()
    valid = valid._replace(rejected=_file_lines(valid.rejected, reject_lines))
    return StreamedInteractions(pa.concat_tables(rejects) if rejects
                                else REJECT_SCHEMA.empty_table(), valid)


@contextlib.contextmanager
def duckdb_memory(what: str) -> Iterator[None]:
    """Turn DuckDB running out of memory in the block into an :class:`InputError` that says
    what it was doing, its limit and what to change (the CLI exits with code 1).

    >>> try:
    ...     with duckdb_memory("typing"):
    ...         raise duckdb.OutOfMemoryException("failed to pin block")
    ... except InputError as exc:
    ...     print(exc)
    DuckDB ran out of memory typing (its limit: default; failed to pin block); raise --max-memory
    """
    try:
        yield
    except duckdb.OutOfMemoryException as exc:
        limit = duckdb_config().get("memory_limit", "default")
        raise InputError(f"DuckDB ran out of memory {what} (its limit: {limit}; "
                         f"{str(exc).splitlines()[0]}); raise --max-memory") from exc


def _sql_text(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _csv_scan(con, path: Path, columns: Mapping[str, str], *, numbered: bool = False):
    """The raw-row scan of a CSV, and a function that returns its parse rejects and their
    lines. ``line`` is the data row's ordinal when ``numbered`` (a single-threaded scan), else
    NULL: :func:`streamed_interactions` numbers the rejected rows itself. Either becomes a
    file line with :func:`_data_lines`."""
    header, delim = csv_header(path)
    _check_columns(path, header, columns)
    con.execute("DROP TABLE IF EXISTS reject_errors; DROP TABLE IF EXISTS reject_scans")
    types = "{" + ", ".join(f"{_sql_text(h)}: 'VARCHAR'" for h in header) + "}"
    line = "row_number() OVER ()" if numbered else "CAST(NULL AS BIGINT)"
    scan = (f"(SELECT {_sql_text(str(path))} AS source, {line} AS line, "
            f"{_select_list(columns)} FROM read_csv({_sql_text(str(path))}, columns = {types}, "
            f"header = true, auto_detect = false, delim = {_sql_text(delim)}, quote = '\"', "
            "escape = '\"', store_rejects = true))")

    def parse_rejects() -> tuple[pa.Table, np.ndarray]:
        errors = con.sql(
            "SELECT line, string_agg(DISTINCT error_type || ': ' || error_message, '; '"
            " ORDER BY error_type || ': ' || error_message) AS reason,"
            " any_value(csv_line) AS raw FROM reject_errors GROUP BY line ORDER BY line"
        ).to_arrow_table()
        lines = np.asarray(errors["line"].to_numpy(), dtype=np.int64)
        return pa.table({"source": _repeated(str(path), errors.num_rows), "line": lines,
                         "reason": errors["reason"], "raw": errors["raw"]},
                        schema=REJECT_SCHEMA), lines

    return scan, parse_rejects


def _parquet_scan(con, path: Path, columns: Mapping[str, str]) -> str:
    """The raw-row scan of a Parquet file (``line`` is the row's number, from 1)."""
    try:
        described = con.sql(f"DESCRIBE SELECT * FROM read_parquet({_sql_text(str(path))})"
                            ).fetchall()
    except duckdb.Error as exc:
        raise InputError(f"{path}: cannot read as Parquet ({str(exc).splitlines()[0]})") from exc
    found = [r[0] for r in described]
    _check_columns(path, found, columns)
    floats = [r[0] for r in described if r[1] in ("FLOAT", "DOUBLE")]
    return (f"(SELECT {_sql_text(str(path))} AS source, file_row_number + 1 AS line, "
            f"{_select_list(columns, floats)} "
            f"FROM read_parquet({_sql_text(str(path))}, file_row_number = true))")


def _file_lines(rejected: pa.Table, reject_lines: Mapping[str, np.ndarray]) -> pa.Table:
    """Rejected rows of CSVs get their file line (header and unsplittable lines skipped)
    from their data row's ordinal; other rows already carry it."""
    if rejected.num_rows == 0 or not reject_lines:
        return rejected
    sources = rejected["source"].to_numpy(zero_copy_only=False)
    lines = rejected["line"].to_numpy().astype(np.int64)
    for source, skipped in reject_lines.items():
        mine = sources == source
        lines[mine] = _data_lines(lines[mine], skipped)
    return rejected.set_column(rejected.schema.get_field_index("line"), "line",
                               pa.array(lines, pa.int64()))


def _known(path: Path) -> bool:
    return any(path.name.lower().endswith(s) for s in SUFFIX_FORMATS)


def _check_columns(path: Path, found: Sequence[str], columns: Mapping[str, str]) -> None:
    if len(found) == 1 and not any(columns.get(c, c) == found[0] for c in REQUIRED_COLUMNS):
        raise InputError(f"{path}: the header line has a single column ({found[0][:80]!r}): "
                         "no known delimiter (',' ';' tab '|') found"
                         f"{_delimiter_hint(found[0])}; convert the file to comma-separated CSV")
    for ours in REQUIRED_COLUMNS:
        theirs = columns.get(ours, ours)
        if theirs in found:
            continue
        hint = difflib.get_close_matches(theirs, found, n=1)
        did_you_mean = f"; did you mean '{hint[0]}'?" if hint else ""
        shown = ", ".join(found[:12]) or "none"
        raise InputError(
            f"{path}: missing required column '{theirs}' (found: {shown}){did_you_mean}"
            + (" Map names in the config's [columns] table." if theirs == ours else "")
        )


def _delimiter_hint(header: str) -> str:
    """``"; it looks delimited by ':'"`` for the most frequent separator-like character."""
    counts = collections.Counter(ch for ch in header if not (ch.isalnum() or ch in "_\"'"))
    if not counts:
        return ""
    ch = counts.most_common(1)[0][0]
    return f"; it looks delimited by {ch!r}"


COMPRESSED = {".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open}
"""Openers of compressed CSVs by suffix (the adapters read them through pandas)."""


def csv_header(path: Path) -> tuple[list[str], str]:
    opener = COMPRESSED.get(path.suffix.lower(), open)
    try:
        with opener(path, "rb") as fh:
            first = fh.readline(1 << 20).decode("utf-8-sig", errors="replace")
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from exc
    if not first.strip():
        raise InputError(f"{path}: empty file (expected a header line with column names)")
    try:
        delim = csv.Sniffer().sniff(first, delimiters=",;\t|").delimiter
    except csv.Error:
        delim = ","
    header = next(csv.reader(io.StringIO(first), delimiter=delim))
    return [h.strip() for h in header], delim


def _select_list(columns: Mapping[str, str], float_columns: Sequence[str] = ()) -> str:
    """Every required column as text; whole-number float ids (Parquet) lose their ``.0``."""
    parts = []
    for ours in REQUIRED_COLUMNS:
        theirs = columns.get(ours, ours).replace('"', '""')
        text = f'CAST("{theirs}" AS VARCHAR)'
        if ours in ("account_id", "target_id") and columns.get(ours, ours) in float_columns:
            text = (f'CASE WHEN isfinite("{theirs}") AND "{theirs}" = trunc("{theirs}") '
                    f'THEN CAST(CAST("{theirs}" AS HUGEINT) AS VARCHAR) ELSE {text} END')
        parts.append(f"{text} AS {ours}")
    return ", ".join(parts)


def _read_csv(con, path: Path, columns: Mapping[str, str]) -> tuple[pa.Table, pa.Table]:
    scan, parse_rejects = _csv_scan(con, path, columns, numbered=True)
    try:
        table = con.sql(f"SELECT * FROM {scan}").to_arrow_table()
        rejected, reject_lines = parse_rejects()
    except duckdb.Error as exc:
        raise InputError(f"{path}: cannot read as CSV ({str(exc).splitlines()[0]})") from exc
    return _raw_table(path, _data_lines(table["line"].to_numpy(), reject_lines), table), rejected


def _repeated(text: str, n: int) -> pa.Array:
    """``n`` copies of ``text`` as a string array (no Python list: 10M rows 4.1 s -> 0.8 s)."""
    return pa.repeat(pa.scalar(text, pa.string()), n)


def _data_lines(ordinals: np.ndarray, reject_lines: np.ndarray) -> np.ndarray:
    """The file line of the k-th parsed data row, skipping the header and rejected lines."""
    target = ordinals.astype(np.int64) + 1
    if reject_lines.size == 0:
        return target
    shifted = np.sort(reject_lines) - np.arange(reject_lines.size)
    return target + np.searchsorted(shifted, target, side="right")


def _raw_table(path: Path, lines: np.ndarray, table: pa.Table) -> pa.Table:
    return pa.table({
        "source": _repeated(str(path), table.num_rows),
        "line": pa.array(lines, pa.int64()),
        **{name: table[name].cast(pa.string()) for name in REQUIRED_COLUMNS},
    })


def _read_parquet(con, path: Path, columns: Mapping[str, str]) -> tuple[pa.Table, pa.Table]:
    scan = _parquet_scan(con, path, columns)
    try:
        table = con.sql(f"SELECT * FROM {scan}").to_arrow_table()
    except duckdb.Error as exc:
        raise InputError(f"{path}: cannot read as Parquet ({str(exc).splitlines()[0]})") from exc
    lines = table["line"].to_numpy().astype(np.int64)
    return _raw_table(path, lines, table), REJECT_SCHEMA.empty_table()


def _read_jsonl(con, path: Path, columns: Mapping[str, str]) -> tuple[pa.Table, pa.Table]:
    fields = ", ".join(
        f"CASE WHEN ok THEN j->>'$.\"{columns.get(c, c)}\"' END AS {c}" for c in REQUIRED_COLUMNS
    )
    try:
        table = con.sql(
            f"SELECT ordinal, ok, j, {fields} FROM ("
            "  SELECT row_number() OVER () AS ordinal, j, json_valid(j) AS ok"
            "  FROM read_csv(?, columns = {'j': 'VARCHAR'}, header = false, delim = '\x1f',"
            "                quote = '', escape = '', auto_detect = false))"
            " WHERE trim(j) <> ''", params=[str(path)]
        ).to_arrow_table()
    except duckdb.Error as exc:
        raise InputError(f"{path}: cannot read as JSON Lines ({str(exc).splitlines()[0]})") from exc
    ok = table["ok"].to_numpy(zero_copy_only=False).astype(bool)
    lines = table["ordinal"].to_numpy().astype(np.int64)
    raw = _raw_table(path, lines[ok], table.filter(pa.array(ok)))
    bad = table.filter(pa.array(~ok))
    rejected = pa.table({
        "source": _repeated(str(path), bad.num_rows),
        "line": pa.array(lines[~ok], pa.int64()),
        "reason": pa.array(["invalid JSON line"] * bad.num_rows, pa.string()),
        "raw": bad["j"],
    }, schema=REJECT_SCHEMA)
    return raw, rejected


def future_timestamps(interactions: pa.Table, now: dt.datetime) -> int:
    """How many accepted interactions are later than ``now`` (kept, counted in the manifest)."""
    if interactions.num_rows == 0:
        return 0
    later = pc.greater(interactions["timestamp"], pa.scalar(now, interactions["timestamp"].type))
    return int(pc.sum(later).as_py() or 0)
