"""Dated input partitions for nightly runs, and the per-partition ingest cache.

A partition is what an input pattern with a ``{date}`` placeholder matches for one date,
e.g. ``logs/date={date}/*.csv.gz``. A nightly run reads the partitions of its lookback
window; dates that match nothing are *missing* (the run is partial, exit code 3).

The cache keeps, per input file, exactly what :func:`pipelines.adapters.read_inputs` returns
for it (raw text columns with the original file and line, its parse rejects, and its layer
map) as Parquet + JSON, keyed by the file's SHA-256, its path, the column mapping, the format,
the cohortscan version and the source of the reading modules. ``read_inputs`` reads files one
by one and concatenates, so cached and fresh parts combine to the same result. Only that
step is reused: typing, the projection, clustering and scoring span the whole window and are
recomputed on every run.
"""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines import __version__, adapters, ingest
from pipelines.adapters import Adapted, read_inputs
from pipelines.ingest import InputError
from pipelines.outputs import sha256_file

log = logging.getLogger(__name__)


class PartitionPlan(NamedTuple):
    dates: list[dt.date]
    """The lookback window, oldest first."""
    files: list[str]
    """Every file matched, sorted."""
    by_date: dict[str, list[str]]
    missing: list[str]
    """ISO dates whose pattern matched no file."""


def lookback_dates(run_date: dt.date, lookback_days: int) -> list[dt.date]:
    """The ``lookback_days`` dates ending with ``run_date``, oldest first.

    >>> [d.isoformat() for d in lookback_dates(dt.date(2026, 11, 2), 3)]
    ['2026-10-31', '2026-11-01', '2026-11-02']
    """
    if lookback_days < 1:
        raise InputError(f"lookback_days: must be at least 1, got {lookback_days}")
    return [run_date - dt.timedelta(days=k) for k in range(lookback_days - 1, -1, -1)]


def partition_plan(pattern: str, run_date: dt.date, lookback_days: int) -> PartitionPlan:
    """Expand ``pattern`` for every date of the window; raise InputError if nothing matches."""
    if "{date}" not in pattern:
        raise InputError(f"input: the pattern must contain {{date}}, got {pattern!r}")
    dates = lookback_dates(run_date, lookback_days)
    by_date: dict[str, list[str]] = {}
    for day in dates:
        expanded = pattern.replace("{date}", day.isoformat())
        matches = sorted(m for m in glob.glob(expanded, recursive=True) if os.path.isfile(m))
        by_date[day.isoformat()] = matches
    missing = [d for d, found in by_date.items() if not found]
    files = sorted(f for found in by_date.values() for f in found)
    if not files:
        raise InputError(f"input: no partition found for {dates[0]}..{dates[-1]} "
                         f"with {pattern!r}")
    return PartitionPlan(dates, files, by_date, missing)


class PartitionCache:
    """A reader for :func:`pipelines.run.run` that reuses cached per-file ingest results."""

    def __init__(self, folder: Path, fmt: str = "auto") -> None:
        self.folder, self.fmt = folder, fmt
        self.reused: list[dict[str, str]] = []
        self.read: list[dict[str, str]] = []
        self._used: set[str] = set()

    def __call__(self, paths: Sequence[Path], columns: Mapping[str, str]) -> Adapted:
        parts = [self._one(Path(path), columns) for path in paths]
        self._prune()
        return Adapted(
            raw=pa.concat_tables([p.raw for p in parts]),
            parse_rejects=pa.concat_tables([p.parse_rejects for p in parts]),
            layer_of={k: v for p in parts for k, v in p.layer_of.items()},
            order_actions=frozenset().union(*(p.order_actions for p in parts)))

    def _one(self, path: Path, columns: Mapping[str, str]) -> Adapted:
        digest = sha256_file(path)
        key = cache_key(path, digest, columns, self.fmt)
        self._used.add(key)
        files = [self.folder / f"{key}.{part}" for part in ("raw.parquet", "rej.parquet", "json")]
        entry = {"path": str(path), "sha256": digest}
        if all(f.is_file() for f in files):
            self.reused.append(entry)
            meta = json.loads(files[2].read_text(encoding="utf-8"))
            return Adapted(pq.read_table(files[0]), pq.read_table(files[1]), meta["layer_of"],
                           frozenset(meta["order_actions"]))
        fresh = read_inputs([path], columns, self.fmt)
        self.folder.mkdir(parents=True, exist_ok=True)
        _write_atomic(fresh.raw, files[0])
        _write_atomic(fresh.parse_rejects, files[1])
        meta = {"layer_of": fresh.layer_of, "order_actions": sorted(fresh.order_actions)}
        tmp = files[2].with_name(f".{files[2].name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(meta, sort_keys=True), encoding="utf-8")
        os.replace(tmp, files[2])
        self.read.append(entry)
        return fresh

    def _prune(self) -> None:
        """Drop entries this run did not use (the window moved past them, or inputs changed)."""
        for path in self.folder.glob("*.*"):
            if path.name.split(".")[0] not in self._used:
                path.unlink(missing_ok=True)

    def note(self) -> dict[str, object]:
        """What the manifest says about reuse."""
        return {"reused": self.reused, "read": self.read,
                "recomputed": "typing, projection, clustering and scoring span the whole "
                              "lookback window and are recomputed on every run"}


def cache_key(path: Path, digest: str, columns: Mapping[str, str], fmt: str) -> str:
    """SHA-256 of everything a cached ingest result depends on."""
    code = hashlib.sha256(b"".join(Path(m.__file__).read_bytes() for m in (ingest, adapters)))
    parts = [str(path.resolve()), digest, json.dumps(dict(columns), sort_keys=True), fmt,
             __version__, code.hexdigest()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _write_atomic(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
