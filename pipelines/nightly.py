"""Nightly batch runs: dated partitions → the pipeline → ``reports/<date>/`` + run history.

:func:`nightly` holds the store's lock, records the run as ``running``, runs
:func:`pipelines.run.run` over the lookback window (outputs are written to a temporary
directory and renamed into place), and — inside the same temporary directory, before the
rename — adds ``lineage.csv`` and the "what changed" section of ``index.html`` and writes the
date's history rows in a transaction that commits only after the rename. Any error rolls the
transaction back and records the run as ``failed``: the previous outputs and history stay.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from graphs.lineage import cohort_lineage
from pipelines import history
from pipelines.config import RunConfig, load_config
from pipelines.ingest import InputError
from pipelines.nightly_report import write_nightly_index
from pipelines.outputs import write_csv
from pipelines.partitions import PartitionCache, PartitionPlan, partition_plan

log = logging.getLogger(__name__)
NIGHTLY_KEYS = ("input", "lookback_days", "store", "reports", "min_overlap", "growth", "cache")
EXIT_OK, EXIT_ERROR, EXIT_PARTIAL = 0, 1, 3


@dataclass(frozen=True)
class NightlyConfig:
    """A nightly job: where partitions are, how far back to read, where to write and store."""

    input: str
    run: RunConfig
    lookback_days: int = 1
    store: Path = Path("history.duckdb")
    reports: Path = Path("reports")
    min_overlap: float = 0.5
    growth: float = 0.5
    cache: bool = True


class NightlyResult(NamedTuple):
    status: str
    """``ok`` or ``partial`` (some partitions missing)."""
    out: Path
    missing: list[str]
    lineage: pd.DataFrame
    manifest: dict[str, Any]


def load_nightly(path: Path | None, **overrides: Any) -> NightlyConfig:
    """Build a NightlyConfig from TOML and options (options that are not None win).

    Nightly keys are :data:`NIGHTLY_KEYS`; every other key is a run key
    (:class:`pipelines.config.RunConfig`) except ``inputs`` and ``out``, which the nightly
    job sets per date.
    """
    values: dict[str, Any] = {}
    if path is not None:
        try:
            values = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InputError(f"config {path}: {exc}") from exc
    values.update({k: v for k, v in overrides.items() if v is not None})
    for key in ("inputs", "out"):
        if key in values:
            raise InputError(f"config: '{key}' is set per date by nightly runs; "
                             f"use 'input' (a pattern with {{date}}) and 'reports'")
    own = {k: values.pop(k) for k in NIGHTLY_KEYS if k in values}
    if not own.get("input"):
        raise InputError("config: 'input' is required (a pattern with {date})")
    run = load_config(None, inputs=("{date}",), out=Path("."), **values)
    for key in ("store", "reports"):
        if key in own:
            own[key] = Path(own[key])
    for key, kind in (("lookback_days", int), ("min_overlap", float), ("growth", float)):
        if key in own and not isinstance(own[key], int | float):
            raise InputError(f"config: '{key}' must be a number, got {own[key]!r}")
        if key in own:
            own[key] = kind(own[key])
    return NightlyConfig(run=run, **own)


def default_date(today: dt.date | None = None) -> dt.date:
    """Yesterday in UTC (the last complete day)."""
    return (today or dt.datetime.now(dt.UTC).date()) - dt.timedelta(days=1)


def plan(cfg: NightlyConfig, run_date: dt.date) -> PartitionPlan:
    """What a run for ``run_date`` would read (also what ``--dry-run`` prints)."""
    return partition_plan(cfg.input, run_date, cfg.lookback_days)


def nightly(cfg: NightlyConfig, run_date: dt.date) -> NightlyResult:
    """Run the nightly job for one date; see the module docstring for the guarantees."""
    from pipelines.run import run

    parts = plan(cfg, run_date)
    out = cfg.reports / run_date.isoformat()
    status = "partial" if parts.missing else "ok"
    with history.store_lock(cfg.store):
        con = history.connect(cfg.store)
        run_id = history.start_run(con, run_date, out, cfg.run.parameters())
        con.close()
        job = _Job(cfg, run_date, parts)
        try:
            result = run(dataclasses.replace(cfg.run, inputs=tuple(parts.files), out=out),
                         reader=job.reader, extra_outputs=job.extra_outputs)
            history.finish_run(job.con, run_id, status, manifest=result.manifest,
                               missing=parts.missing)
            job.con.commit()
        except BaseException as exc:
            job.abort()
            _record_failure(cfg.store, run_id, exc, parts.missing)
            raise
        finally:
            job.close()
    log.info("nightly %s: %s, %d cohorts tracked", run_date, status, int(job.tracked))
    return NightlyResult(status, out, parts.missing, job.lineage, result.manifest)


class _Job:
    """State shared with :func:`pipelines.run.run`'s hooks during one nightly run."""

    def __init__(self, cfg: NightlyConfig, run_date: dt.date, parts: PartitionPlan) -> None:
        self.cfg, self.run_date, self.parts = cfg, run_date, parts
        self.cache = PartitionCache(cfg.store.parent / f"{cfg.store.name}.cache", cfg.run.format)
        self.con = None
        self.lineage = pd.DataFrame()
        self.tracked = 0

    def reader(self, paths, columns):
        from pipelines.adapters import read_inputs

        if self.cfg.cache:
            return self.cache(paths, columns)
        return read_inputs(paths, columns, self.cfg.run.format)

    def extra_outputs(self, tmp: Path, scored: Any, manifest: dict[str, Any]) -> None:
        """Lineage, history rows (uncommitted) and the nightly index, inside the temp dir."""
        self.con = history.connect(self.cfg.store)
        self.con.begin()
        previous = history.last_run_before(self.con, self.run_date)
        before = (history.stored_memberships(self.con, previous["run_date"]) if previous
                  else pd.DataFrame({"account_id": [], "cohort_id": []}))
        tracked = tracked_memberships(scored.cohorts, scored.memberships, self.cfg.run.min_size)
        self.tracked = tracked["cohort_id"].nunique()
        self.lineage = cohort_lineage(
            tracked, before, next_id=history.next_cohort_id(self.con, self.run_date),
            min_overlap=self.cfg.min_overlap, growth=self.cfg.growth)
        write_csv(self.lineage, tmp / "lineage.csv")
        manifest["nightly"] = self._note(previous)
        history.replace_date(self.con, self.run_date, **history_rows(self.lineage, scored))
        earlier = history.earlier_reports(self.con, self.run_date)
        write_nightly_index(tmp, run_date=self.run_date, lineage=self.lineage,
                            cohorts=scored.cohorts, note=manifest["nightly"], earlier=earlier)

    def _note(self, previous: dict[str, Any] | None) -> dict[str, Any]:
        counts = self.lineage["status"].value_counts().sort_index()
        return {"date": self.run_date.isoformat(),
                "window": [d.isoformat() for d in self.parts.dates],
                "partitions": self.parts.by_date, "missing_partitions": self.parts.missing,
                "previous_run": previous["run_date"].isoformat() if previous else None,
                "lineage": {str(k): int(v) for k, v in counts.items()},
                **(self.cache.note() if self.cfg.cache else {"reused": []})}

    def abort(self) -> None:
        if self.con is not None:
            self.con.rollback()

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None


def tracked_memberships(cohorts: pd.DataFrame, memberships: pd.DataFrame,
                        min_size: int) -> pd.DataFrame:
    """Memberships of the cohorts lineage follows: those with at least ``min_size`` accounts."""
    big = cohorts.loc[cohorts["size"] >= min_size, "cohort_id"]
    kept = memberships[memberships["cohort_id"].isin(big)]
    return kept[["account_id", "cohort_id"]].reset_index(drop=True)


def history_rows(lineage: pd.DataFrame, scored: Any) -> dict[str, pd.DataFrame]:
    """The date's rows for the store's cohorts, memberships and lineage tables (stable ids)."""
    alive = lineage.dropna(subset=["run_cohort_id"])
    stable = dict(zip(alive["run_cohort_id"].astype(int), alive["cohort_id"], strict=True))
    cohorts = scored.cohorts[scored.cohorts["cohort_id"].isin(stable)]
    cohorts = pd.DataFrame({
        "cohort_id": cohorts["cohort_id"].map(stable).astype("int64"),
        "run_cohort_id": cohorts["cohort_id"].astype("int64"), "size": cohorts["size"],
        "score": cohorts["score"], "flagged": cohorts["flagged"].astype(bool),
        "explanation": cohorts["explanation"]}).sort_values("cohort_id", ignore_index=True)
    members = scored.memberships[scored.memberships["cohort_id"].isin(stable)]
    members = pd.DataFrame({"cohort_id": members["cohort_id"].map(stable).astype("int64"),
                            "account_id": members["account_id"].astype(str)}).sort_values(
        ["cohort_id", "account_id"], ignore_index=True)
    return {"cohorts": cohorts, "memberships": members, "lineage": lineage}


def _record_failure(store: Path, run_id: int, exc: BaseException, missing: list[str]) -> None:
    con = history.connect(store)
    try:
        history.finish_run(con, run_id, "failed", error=f"{type(exc).__name__}: {exc}",
                           missing=missing)
    finally:
        con.close()
