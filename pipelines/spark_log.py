"""The run's log on Spark: read, typed and checked by the executors, not by the driver.

With ``engine = "spark"`` the driver never holds the log. Each log file is one Spark task,
which runs the DuckDB ingest of a ``duckdb`` run on it
(:func:`pipelines.ingest.streamed_interactions`, in the executor's Python worker through
``mapInArrow``): the same typing, the same reasons and file lines for rejected rows, the
same counts. The typed rows stay on Spark (exact duplicates collapsed across files there);
only the counts, the rejected rows, the distinct actions, one number for the slow pass and,
for the report, the rows of the paged cohorts' members come back to the driver.

Executors need cohortscan installed (``pip install 'cohortscan[spark]'``, which brings DuckDB
and PyArrow), and the log files on a file system mounted at the same path on every node.
A file is read by one task: split a large log into several files (dated partitions are) to
read it in parallel.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import pandas as pd
import pyarrow as pa

from pipelines.duckdb_limits import duckdb_limits
from pipelines.ingest import REJECT_SCHEMA, InputError, file_format, streamed_interactions
from pipelines.limits import DUCKDB_SHARE, default_memory_gb

log = logging.getLogger(__name__)
SCANNED = pa.schema([
    ("kind", pa.string()),  # row | reject | count | error
    ("account_id", pa.string()), ("target_id", pa.string()), ("action", pa.string()),
    ("timestamp", pa.timestamp("us", tz="UTC")),
    ("source", pa.string()), ("line", pa.int64()), ("reason", pa.string()), ("raw", pa.string()),
    ("rows_read", pa.int64()), ("rows_accepted", pa.int64())])
"""What the executors return per file: its typed rows, its rejected rows, one row of counts,
or the error that stopped its reading (an :class:`~pipelines.ingest.InputError`'s message)."""
SCANNED_DDL = ("kind STRING, account_id STRING, target_id STRING, action STRING, "
               "timestamp TIMESTAMP, source STRING, line BIGINT, reason STRING, raw STRING, "
               "rows_read BIGINT, rows_accepted BIGINT")
ROWS = ["account_id", "target_id", "action", "timestamp"]
BATCH_ROWS = 1 << 18
T = TypeVar("T")


def file_batches(paths: Iterable[pa.RecordBatch], columns: Mapping[str, str]
                 ) -> Iterator[pa.RecordBatch]:
    """The executor's side: each path of the ``path`` column read and typed by
    :func:`pipelines.ingest.streamed_interactions`, as :data:`SCANNED` batches.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "log.csv"
    >>> _ = path.write_text("account_id,target_id,action,timestamp\\nu,p,like,1\\nv,p,,2\\n")
    >>> out = pa.Table.from_batches(file_batches([pa.record_batch({"path": [str(path)]})], {}))
    >>> out["kind"].to_pylist(), out["reason"].to_pylist()[1]
    (['count', 'reject', 'row'], 'missing action')
    """
    for batch in paths:
        for path in batch.column("path").to_pylist():
            try:
                with duckdb_limits(default_memory_gb() * DUCKDB_SHARE):  # spills in tmp
                    streamed = streamed_interactions([Path(path)], columns)
            except InputError as exc:
                yield _scanned("error", 1, source=pa.array([path]), reason=pa.array([str(exc)]))
                continue
            valid = streamed.valid
            rejected = pa.concat_tables([streamed.parse_rejects, valid.rejected])
            yield _scanned("count", 1, rows_read=pa.array([valid.rows_read + streamed.parse_rejects
                                                           .num_rows]),
                           rows_accepted=pa.array([valid.rows_accepted]))
            for part in rejected.to_batches(max_chunksize=BATCH_ROWS):
                yield _scanned("reject", part.num_rows, **_columns(part, REJECT_SCHEMA.names))
            for part in valid.interactions.to_batches(max_chunksize=BATCH_ROWS):
                yield _scanned("row", part.num_rows, **_columns(part, ROWS))


def _columns(batch: pa.RecordBatch, names: Sequence[str]) -> dict[str, pa.Array]:
    return {name: batch.column(name) for name in names}


def _scanned(kind: str, n: int, **columns: pa.Array) -> pa.RecordBatch:
    arrays = [pa.array([kind] * n, pa.string())]
    for field in list(SCANNED)[1:]:
        given = columns.get(field.name)
        arrays.append(pa.nulls(n, field.type) if given is None else given.cast(field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=SCANNED)


class SparkIngest(NamedTuple):
    """What the driver learns of the log (:meth:`SparkLog.ingest`)."""

    rejected: pa.Table
    """Rejected rows: source, line, reason, raw (sorted as the DuckDB ingest sorts them)."""
    rows_read: int
    rows_accepted: int
    interactions: int
    """Accepted rows after exact duplicates are collapsed (across files)."""
    future_timestamps: int
    actions: list[str]
    """The distinct actions of the accepted rows, sorted."""


class SparkLog:
    """The run's log files on Spark, read once (:meth:`ingest`) for the counts, both passes'
    projections (:meth:`typed`) and the report's rows (:meth:`rows_of_accounts`); :meth:`close`
    releases the cached tables.

    >>> SparkLog([Path("a.csv")], {}, "local[2]").close()  # nothing read, nothing to release
    """

    def __init__(self, files: Sequence[Path], columns: Mapping[str, str], master: str) -> None:
        self.files, self.columns, self.master = list(files), dict(columns), master
        self._scanned: Any = None
        self._typed: Any = None

    def _scan(self) -> Any:
        if self._scanned is None:
            from pipelines.spark_engine import spark_session

            log.info("spark: master %s, %d files", self.master, len(self.files))
            self._scanned = scanned_files(spark_session(self.master), self.files,
                                          self.columns).cache()
        return self._scanned

    def ingest(self) -> SparkIngest:
        """Counts, rejected rows and actions of the log; InputError as the DuckDB ingest
        raises it (the first failing file's, in the files' order)."""
        from pyspark.sql import functions as F

        scanned = self._scan()
        kind = F.col("kind")
        errors = scanned.where(kind == "error").select("source", "reason").collect()
        if errors:
            order = {str(p.resolve()): i for i, p in enumerate(self.files)}
            raise InputError(min(errors, key=lambda e: order.get(e.source, 0)).reason)
        read, accepted = scanned.where(kind == "count").agg(
            F.sum("rows_read"), F.sum("rows_accepted")).first()
        rejected = to_driver(scanned.where(kind == "reject").select(*REJECT_SCHEMA.names).toArrow,
                             "the rejected rows")
        rejected = rejected.cast(REJECT_SCHEMA).sort_by([("source", "ascending"),
                                                         ("line", "ascending")])
        typed = self.typed()
        now = dt.datetime.now(dt.UTC)
        n_rows, future = typed.agg(F.count(F.lit(1)), F.sum(
            (F.col("timestamp") > F.lit(now)).cast("long"))).first()
        actions = sorted(r.action for r in typed.select("action").distinct().collect())
        return SparkIngest(rejected, int(read or 0), int(accepted or 0), int(n_rows),
                           int(future or 0), actions)

    def typed(self) -> Any:
        """The accepted rows, exact duplicates collapsed: ``account_id, target_id, action,
        timestamp`` and ``time`` (whole seconds, floored), cached on first use."""
        if self._typed is None:
            self._typed = typed_rows(self._scan()).cache()
        return self._typed

    def layer_rows(self, actions: Sequence[str], *, url: bool = False) -> Any:
        """The typed rows of ``actions`` (a filter of the cached :meth:`typed`); with ``url``,
        as :func:`graphs.url_layer.url_shares` makes them: targets ``url:`` + the
        normalised link (each distinct link of a batch normalised once, on the executors),
        rows without a host dropped, action ``share_url``."""
        from pyspark.sql import functions as F

        typed = self.typed()
        rows = typed.where(F.col("action").isin(list(actions)))
        if not url:
            return rows
        normalised = F.pandas_udf(_normalised_urls, "string")(F.col("target_id"))
        rows = rows.withColumn("target_id", normalised).where(
            (F.col("target_id") != "") & ~F.col("target_id").startswith("/"))
        return rows.withColumn("target_id", F.concat(F.lit("url:"), "target_id")).withColumn(
            "action", F.lit("share_url"))

    def same_action_chance(self, rows: Any) -> float:
        """:func:`pipelines.slow_pass.same_action_chance` of ``rows`` (a :meth:`layer_rows`),
        on Spark."""
        from pyspark.sql import functions as F

        per_action = rows.groupBy("target_id", "action").count()
        per_target = per_action.groupBy("target_id").agg(F.sum("count").alias("n"))
        same = per_action.agg(F.sum(F.col("count") * F.col("count"))).first()[0] or 0
        any_ = per_target.agg(F.sum(F.col("n") * F.col("n"))).first()[0] or 0
        return float(same) / max(float(any_), 1.0)

    def rows_of_accounts(self, accounts: Iterable[str]) -> pa.Table:
        """The accepted rows of ``accounts``, as :func:`pipelines.set_aside.rows_of_accounts`
        returns them from a DuckDB run's log (same columns, types and order)."""
        wanted = sorted(set(accounts))
        typed = self.typed()
        spark = typed.sparkSession
        chosen = spark.createDataFrame([(a,) for a in wanted], "account_id STRING")
        rows = typed.join(chosen.hint("broadcast"), "account_id", "left_semi").select(*ROWS)
        schema = pa.schema([SCANNED.field(name) for name in ROWS])
        table = (to_driver(rows.toArrow, "the members' rows").cast(schema) if wanted
                 else schema.empty_table())
        return table.sort_by([("timestamp", "ascending"), ("account_id", "ascending"),
                              ("target_id", "ascending"), ("action", "ascending")])

    def close(self) -> None:
        """Release the cached tables (when they were read)."""
        for frame in (self._typed, self._scanned):
            if frame is not None:
                frame.unpersist()
        self._scanned = self._typed = None


def _normalised_urls(urls: pd.Series) -> pd.Series:
    """:func:`graphs.url_layer.normalized_urls`, as a pandas UDF runs it on the executors
    (with the type hints Spark reads).

    >>> _normalised_urls(pd.Series(["http://x.org/p/"])).tolist()
    ['x.org/p']
    """
    from graphs.url_layer import normalized_urls

    return normalized_urls(urls)


def to_driver(collect: Callable[[], T], what: str, hint: str = "") -> T:
    """``collect()`` (a DataFrame's ``toPandas`` or ``toArrow``, bringing ``what`` to the
    driver); when the rows are more than Spark lets come back (``spark.driver.maxResultSize``,
    1g unless set; a ``local[N]`` session sets no limit, the run checks its memory), an
    InputError that says so and what to change (``hint``: what else would help).

    >>> class Kept:
    ...     def toArrow(self):
    ...         raise RuntimeError("Total size of serialized results of 7 tasks (1.2 GiB) is "
    ...                            "bigger than spark.driver.maxResultSize (1024.0 MiB)")
    >>> try:
    ...     to_driver(Kept().toArrow, "the kept ties")
    ... except InputError as exc:
    ...     print(str(exc).split(" (Total")[0])
    the kept ties are more than Spark lets come back to the driver
    """
    try:
        return collect()
    except Exception as exc:  # Py4JJavaError, or PySpark's own wrapper of it
        found = [line for line in str(exc).splitlines() if "spark.driver.maxResultSize" in line]
        if not found:
            raise
        cause = found[0].split("SparkException: ")[-1].split("stage failure: ")[-1].strip()
        raise InputError(
            f"{what} are more than Spark lets come back to the driver ({cause}): raise "
            "spark.driver.maxResultSize within the driver's memory (spark-submit --conf "
            f"spark.driver.maxResultSize=8g; 0 = no limit){hint}") from None


def scanned_files(spark: Any, files: Sequence[Path], columns: Mapping[str, str]) -> Any:
    """One Spark task per file runs :func:`file_batches` on it: a DataFrame of
    :data:`SCANNED` rows. Unknown formats raise InputError here, on the driver."""
    for path in files:
        file_format(path)
    paths = [(str(Path(p).resolve()),) for p in files]
    listed = spark.createDataFrame(spark.sparkContext.parallelize(paths, max(len(paths), 1)),
                                   "path STRING")
    return listed.mapInArrow(functools.partial(file_batches, columns=dict(columns)),
                             SCANNED_DDL)


def typed_rows(scanned: Any) -> Any:
    """The ``row`` rows of :func:`scanned_files`, exact duplicates collapsed (the DuckDB
    ingest collapses them over all files too), with ``time`` in whole seconds."""
    from pyspark.sql import functions as F

    rows = scanned.where(F.col("kind") == "row").select(*ROWS).dropDuplicates()
    return rows.withColumn("time", F.expr("unix_micros(timestamp) div 1000000"))


def spark_interactions(spark: Any, files: Sequence[Path], columns: Mapping[str, str]) -> Any:
    """Read and type the log files on Spark (:func:`scanned_files`, :func:`typed_rows`):
    ``account_id, target_id, action, timestamp, time``; rejected rows dropped."""
    return typed_rows(scanned_files(spark, files, columns))

