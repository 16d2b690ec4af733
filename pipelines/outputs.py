"""Writing outputs: tables, the manifest, and the whole output directory atomically."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from graphs.lookup import spelled
from pipelines.duckdb_limits import connect, process_alive
from pipelines.mapped_columns import arrow_table, dropped_pages, is_mapped

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_SQL = ("'='", "'+'", "'-'", "'@'", "chr(9)", "chr(13)")
CSV_SLICE_ROWS = 1 << 18
"""Rows per slice of a CSV formatted by DuckDB: each slice's text, spelled ids and lines are
built at once (at 30M rows, 22M evidence rows written: +0.33 GiB at 2^20 rows per slice,
+0.06 GiB at 2^18, in the same time)."""
PARQUET_SLICE_ROWS = 1 << 20
"""Rows per slice (and row group) of a Parquet file written from categorical columns."""
MAPPED_TAKE_ROWS = 1 << 12
"""Rows :func:`write_csv` takes at a time from columns read from files: at most that many
pages of each such column resident (16 MiB)."""
CSV_DUCKDB_MIN_ROWS = 2000
"""Shorter frames are written by pandas: a DuckDB connection costs ≈ 35 ms, pandas writes 500
rows in 15 ms (bundles write four small CSVs per cohort)."""


@contextlib.contextmanager
def atomic_directory(out: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``out``; on success it replaces ``out`` in one rename.

    On error the temporary directory is removed and ``out`` is left as it was.
    """
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-{os.getpid()}-", dir=out.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def remove_stale_partials(out: Path) -> list[Path]:
    """Clean up after runs killed while writing ``out``; return the directories removed.

    ``.<out>.partial-<pid>-*`` (a report being written, never renamed into place) is removed.
    ``.<out>.old-<pid>`` (the previous report, moved aside just before the final rename) is
    put back as ``out`` when the kill came between the two renames, else removed. Directories
    of a process that is still running (a concurrent run) are left alone.
    """
    removed = []
    for path in sorted(out.parent.glob(f".{out.name}.*")):
        kind, _, rest = path.name[len(out.name) + 2:].partition("-")
        pid = rest.split("-")[0]
        if kind not in ("partial", "old") or not pid.isdigit() or process_alive(int(pid)):
            continue
        if kind == "old" and not out.exists():
            os.replace(path, out)
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


@contextlib.contextmanager
def atomic_file(path: Path, mode: str = "wb", **open_args: Any) -> Iterator[IO]:
    """Yield an open temporary sibling of ``path``; on success it becomes ``path`` (mode 0644).

    On error the temporary file is removed and ``path`` is left as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **open_args) as fh:
            yield fh
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def safe_for_spreadsheets(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula with a quote ``'``."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            text = out[col].astype("string")
            risky = text.str.startswith(FORMULA_PREFIXES).fillna(False)
            out[col] = text.mask(risky, "'" + text)
    return out


def write_csv(frame: pd.DataFrame, path: Path, *, rows: np.ndarray | None = None,
              first: tuple[str, np.ndarray] | None = None) -> Path:
    """Write a CSV (UTF-8, no index, formula-safe).

    The bytes are those of ``safe_for_spreadsheets(frame).to_csv(index=False,
    lineterminator="\\n")``; frames whose columns are all text, integers, booleans, float64
    or whole-second UTC times are formatted by DuckDB instead (:func:`csv_lines_sql`), in
    slices of ``CSV_SLICE_ROWS`` rows: ≈ 10× faster than pandas on the evidence, same bytes
    (from ``CSV_DUCKDB_MIN_ROWS`` rows on; shorter frames are quicker through pandas).

    ``rows`` (positions) and ``first`` (a column's name and one value per row written) make
    it the file of ``frame.take(rows)`` with that column put first; on DuckDB's path each
    slice's rows are taken from ``frame`` as they are written, so the taken table is never
    whole in memory (the flagged cohorts' evidence at 30M rows: 22M rows, ≈ 1 GB).

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "x.csv"
    >>> frame = pd.DataFrame({"a": ["x", "=y", "z"]})
    >>> _ = write_csv(frame, path, rows=np.array([2, 1]), first=("n", np.array([7, 8])))
    >>> path.read_text()
    "n,a\\n7,z\\n8,'=y\\n"
    """
    n_rows = len(frame) if rows is None else len(rows)
    table = _csv_table(frame) if n_rows >= CSV_DUCKDB_MIN_ROWS else None
    if table is not None and first is not None and _csv_table(
            pd.DataFrame({first[0]: first[1][:1]})) is None:
        table = None
    if table is None:
        frame = (frame.copy(deep=False) if rows is None  # the caller's frame unchanged
                 else frame.take(rows).reset_index(drop=True))
        if first is not None:
            frame.insert(0, first[0], first[1])
        safe_for_spreadsheets(frame).to_csv(path, index=False, lineterminator="\n")
        return path

    mapped = any(is_mapped(frame[c]) for c in frame.columns)

    def part(start: int, stop: int) -> pa.Table:
        out = table.slice(start, stop - start) if rows is None else _taken(
            table, rows[start:stop], mapped)
        return out if first is None else out.add_column(0, first[0],
                                                        pa.array(first[1][start:stop]))

    columns = ([first[0]] if first is not None else []) + list(frame.columns)
    header = ",".join(_csv_field(str(name)) for name in columns) + "\n"
    con = connect()
    con.execute("SET TimeZone = 'UTC'")
    sql = csv_lines_sql(_spelled(part(0, 0)).schema)
    with open(path, "wb") as fh:
        fh.write(header.encode("utf-8"))
        for start in range(0, n_rows, CSV_SLICE_ROWS):
            con.register("frame", _spelled(part(start, min(start + CSV_SLICE_ROWS, n_rows))))
            for chunk in con.sql(sql).to_arrow_table()["line"].chunks:
                fh.write(_string_bytes(chunk))
            dropped_pages()  # of columns read from files (pipelines.mapped_columns)
    con.close()
    return path


def _taken(table: pa.Table, rows: np.ndarray, mapped: bool) -> pa.Table:
    """``table.take(rows)``; with ``mapped`` columns (:mod:`pipelines.mapped_columns`), taken
    :data:`MAPPED_TAKE_ROWS` rows at a time with the pages read dropped after each: rows
    from all over the table (a flagged cohort's) touch a page each."""
    if not mapped or len(rows) <= MAPPED_TAKE_ROWS:
        out = table.take(pa.array(rows))
        if mapped:
            dropped_pages()
        return out
    parts = []
    for start in range(0, len(rows), MAPPED_TAKE_ROWS):
        parts.append(table.take(pa.array(rows[start:start + MAPPED_TAKE_ROWS])))
        dropped_pages()
    return pa.concat_tables(parts)


def csv_lines_sql(schema: pa.Schema) -> str:
    """SELECT one ``line`` (fields joined by commas, ending in LF) per row of ``frame``.

    Each field as pandas' ``to_csv`` writes it after :func:`safe_for_spreadsheets`: formula
    prefixes get a ``'``; fields with a comma, double quote or LF are quoted with quotes
    doubled (Python's csv module leaves CR alone); NULL and NaN are empty; floats in the
    shortest round-trip form (DuckDB's spelling is Python's ``repr``); booleans
    ``True``/``False``; UTC times ``YYYY-MM-DD HH:MM:SS+00:00``.
    """
    fields = []
    for field in schema:
        col = '"' + field.name.replace('"', '""') + '"'
        kind = field.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            # the prefix ' is never a character that needs quoting: test the value itself
            risky = " OR ".join(f"starts_with({col}, {c})" for c in _FORMULA_SQL)
            prefix = f"CASE WHEN {risky} THEN chr(39) ELSE '' END"
            quote = f"contains({col}, ',') OR contains({col}, chr(34)) OR contains({col}, chr(10))"
            expr = (f"CASE WHEN {quote} THEN chr(34) || {prefix} || replace({col}, chr(34), "
                    f"chr(34) || chr(34)) || chr(34) ELSE {prefix} || {col} END")
        elif pa.types.is_boolean(kind):
            expr = f"CASE WHEN {col} THEN 'True' ELSE 'False' END"
        elif pa.types.is_floating(kind):
            expr = f"CASE WHEN isnan({col}) THEN '' ELSE CAST({col} AS VARCHAR) END"
        elif pa.types.is_timestamp(kind):
            expr = f"strftime({col}, '%Y-%m-%d %H:%M:%S+00:00')"
        else:
            expr = f"CAST({col} AS VARCHAR)"
        fields.append(f"coalesce({expr}, '')")
    return f"SELECT concat({', chr(44), '.join(fields)}, chr(10)) AS line FROM frame"


def _csv_table(frame: pd.DataFrame) -> pa.Table | None:
    """``frame`` as Arrow when :func:`csv_lines_sql` formats every column as pandas would."""
    if not all(isinstance(c, str) for c in frame.columns) or frame.columns.duplicated().any():
        return None
    try:
        table = arrow_table(frame)  # from_pandas, mapped columns not read whole
    except (pa.ArrowException, ValueError, TypeError):
        return None
    for k, (column, dtype) in enumerate(zip(table.columns, frame.dtypes, strict=True)):
        kind = column.type
        if pa.types.is_timestamp(kind):
            if not _whole_utc_seconds(column):
                return None
            table = table.set_column(k, table.field(k), column.cast(
                pa.timestamp("us", tz="UTC")))
        elif pa.types.is_floating(kind) or pa.types.is_boolean(kind):
            if dtype not in (np.float64, np.bool_):
                return None  # float32, nullable Float64/boolean print differently
        elif pa.types.is_dictionary(kind):  # categorical ids: spelled per slice (_spelled)
            if not (pa.types.is_string(kind.value_type)
                    or pa.types.is_large_string(kind.value_type)) or column.null_count:
                return None
        elif not (pa.types.is_string(kind) or pa.types.is_large_string(kind)
                  or pa.types.is_integer(kind)):
            return None
    return table


def _spelled(table: pa.Table) -> pa.Table:
    """``table`` with its dictionary (categorical) columns decoded to text."""
    for k, column in enumerate(table.columns):
        if pa.types.is_dictionary(column.type):
            table = table.set_column(k, table.field(k).name,
                                     column.cast(column.type.value_type))
    return table


def _whole_utc_seconds(column: pa.ChunkedArray) -> bool:
    """Whether every time is a whole second, in UTC (read in blocks, no copy of the column)."""
    if str(column.type.tz) not in ("UTC", "+00:00") or column.null_count:
        return False
    per_second = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[column.type.unit]
    for chunk in column.chunks:
        ticks = chunk.view(pa.int64()).to_numpy()
        for start in range(0, len(ticks), CSV_SLICE_ROWS):
            whole = not (ticks[start:start + CSV_SLICE_ROWS] % per_second).any()
            dropped_pages()  # of a column read from a file (pipelines.mapped_columns)
            if not whole:
                return False
    return True


def _csv_field(text: str) -> str:
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if any(c in text for c in ',"\n') else text


def _string_bytes(chunk: pa.Array) -> memoryview:
    """The UTF-8 bytes of a string array's values, back to back (no copy per value)."""
    width = 8 if pa.types.is_large_string(chunk.type) else 4
    offsets = np.frombuffer(chunk.buffers()[1], dtype=f"<i{width}", count=len(chunk) + 1,
                            offset=chunk.offset * width)
    return memoryview(chunk.buffers()[2])[int(offsets[0]):int(offsets[-1])]


def write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` to Parquet (no index). Categorical columns (ids held as codes) are
    written as text, as if the frame held strings, one slice of
    ``PARQUET_SLICE_ROWS`` rows at a time (the text of one slice in memory, not of all)."""
    coded = [c for c, t in frame.dtypes.items() if isinstance(t, pd.CategoricalDtype)]
    if not coded:
        frame.to_parquet(path, index=False)
        return path
    table = arrow_table(frame)
    schema = _spelled_schema(table.schema, pa.Table.from_pandas(spelled(frame.iloc[:1]),
                                                                preserve_index=False).schema)
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, max(len(frame), 1), PARQUET_SLICE_ROWS):
            part = _spelled(table.slice(start, PARQUET_SLICE_ROWS))
            writer.write_table(part.cast(schema), row_group_size=PARQUET_SLICE_ROWS)
            dropped_pages()
    return path


def _spelled_schema(schema: pa.Schema, sample: pa.Schema) -> pa.Schema:
    """``schema`` (of a frame with categorical columns) as the frame with those columns as
    text gives it: their fields and pandas metadata taken from ``sample`` (a spelled row)."""
    spelled = {f.name for f in schema if pa.types.is_dictionary(f.type)}
    meta = json.loads(schema.metadata[b"pandas"])
    sample_columns = {c["name"]: c for c in json.loads(sample.metadata[b"pandas"])["columns"]}
    meta["columns"] = [sample_columns[c["name"]] if c["name"] in spelled else c
                       for c in meta["columns"]]
    fields = [sample.field(f.name) if f.name in spelled else f for f in schema]
    return pa.schema(fields, metadata={**schema.metadata, b"pandas": json.dumps(meta).encode()})


def write_json(data: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n",
                    encoding="utf-8")
    return path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
