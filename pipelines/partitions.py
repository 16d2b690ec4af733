"""Dated input partitions for nightly runs, and the per-partition ingest cache.

A partition is what an input pattern with a ``{date}`` placeholder matches for one date,
e.g. ``logs/date={date}/*.csv.gz``. A nightly run reads the partitions of its lookback
window; dates that match nothing are *missing* (the run is partial, exit code 3).

The cache keeps, per input file, exactly what :func:`pipelines.ingest.read_interactions`
returns for it (raw text columns with the original file and line, and its parse rejects) as
Parquet, keyed by the file's SHA-256, its path, the column mapping, the cohortscan version and
the source of the ingest module. Only that step is reused: typing, the projection, clustering
and scoring span the whole window and are recomputed on every run.
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

from pipelines import __version__, ingest
from pipelines.ingest import InputError, RawInteractions, read_interactions
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

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.reused: list[dict[str, str]] = []
        self.read: list[dict[str, str]] = []
        self._used: set[str] = set()

    def __call__(self, paths: Sequence[Path], columns: Mapping[str, str]) -> RawInteractions:
        raws, rejects = [], []
        for path in paths:
            raw, rejected = self._one(Path(path), columns)
            raws.append(raw)
            rejects.append(rejected)
        self._prune()
        return RawInteractions(pa.concat_tables(raws), pa.concat_tables(rejects))

    def _one(self, path: Path, columns: Mapping[str, str]) -> tuple[pa.Table, pa.Table]:
        digest = sha256_file(path)
        key = cache_key(path, digest, columns)
        self._used.add(key)
        raw_file, rej_file = self.folder / f"{key}.raw.parquet", self.folder / f"{key}.rej.parquet"
        entry = {"path": str(path), "sha256": digest}
        if raw_file.is_file() and rej_file.is_file():
            self.reused.append(entry)
            return pq.read_table(raw_file), pq.read_table(rej_file)
        fresh = read_interactions([path], columns)
        self.folder.mkdir(parents=True, exist_ok=True)
        _write_atomic(fresh.raw, raw_file)
        _write_atomic(fresh.parse_rejects, rej_file)
        self.read.append(entry)
        return fresh.raw, fresh.parse_rejects

    def _prune(self) -> None:
        """Drop entries this run did not use (the window moved past them, or inputs changed)."""
        for path in self.folder.glob("*.parquet"):
            if path.name.split(".")[0] not in self._used:
                path.unlink(missing_ok=True)

    def note(self) -> dict[str, object]:
        """What the manifest says about reuse."""
        return {"reused": self.reused, "read": self.read,
                "recomputed": "typing, projection, clustering and scoring span the whole "
                              "lookback window and are recomputed on every run"}


def cache_key(path: Path, digest: str, columns: Mapping[str, str]) -> str:
    """SHA-256 of everything a cached ingest result depends on."""
    code = hashlib.sha256(Path(ingest.__file__).read_bytes()).hexdigest()
    parts = [str(path.resolve()), digest, json.dumps(dict(columns), sort_keys=True),
             __version__, code]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _write_atomic(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
