"""``cohortscan nightly`` and ``cohortscan runs list``: thin commands over pipelines.nightly.

Exit codes: 0 ok, 1 data or configuration error (also: the store is locked by another run),
3 partial (some partitions of the window missing; they are named on stderr and in the summary).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import tomllib
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from pipelines import history, progress
from pipelines.ingest import InputError

runs_app = typer.Typer(no_args_is_help=True, help="The run history of a nightly store.")
err = Console(stderr=True)


class JsonLines(logging.Formatter):
    """One JSON object per log record: time, level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({"time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
                           "level": record.levelname, "logger": record.name,
                           "message": record.getMessage()}, sort_keys=True)


def _logging(json_logs: bool, verbose: bool) -> None:
    handler: logging.Handler
    if json_logs:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLines())
    else:
        handler = RichHandler(console=err, show_path=False)
    logging.basicConfig(level=logging.INFO if verbose or json_logs else logging.WARNING,
                        format="%(message)s", handlers=[handler], force=True)


def _sets(pairs: list[str] | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set: expected KEY=VALUE, got {pair!r}")
        try:
            values[key.strip()] = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            values[key.strip()] = text
    return values


def _emit(summary: dict[str, Any], json_logs: bool) -> None:
    if json_logs:
        typer.echo(json.dumps(summary, sort_keys=True, default=str))
        return
    changes = " ".join(f"{k}={v}" for k, v in summary.get("lineage", {}).items()) or "none"
    missing = ", ".join(summary.get("missing_partitions", [])) or "none"
    typer.echo(f"cohortscan nightly {summary['date']}: {summary['status']} — "
               f"{summary.get('cohorts', 0)} cohorts ({summary.get('flagged', 0)} flagged); "
               f"lineage {changes}; missing partitions: {missing}; "
               f"reused {summary.get('reused', 0)} of {summary.get('files', 0)} files"
               f" → {summary.get('out', '')}")


def nightly_command(
    config: Annotated[Path | None, typer.Option(help="TOML configuration file.")] = None,
    date: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: yesterday, UTC).")] = None,
    input: Annotated[str | None, typer.Option("--input", help="Pattern with {date}.")] = None,
    lookback_days: Annotated[int | None, typer.Option(help="Days read, ending at --date.")] = None,
    store: Annotated[Path | None, typer.Option(help="History store (DuckDB file).")] = None,
    reports: Annotated[Path | None, typer.Option(help="Folder of reports/<date>/.")] = None,
    posts: Annotated[Path | None, typer.Option(help="target_id, author_id[, posted_at].")] = None,
    accounts: Annotated[Path | None, typer.Option(help="account_id, created_at.")] = None,
    window: Annotated[str | None, typer.Option(help="Window: 90s, 30m, 1h, 2d.")] = None,
    seed: Annotated[int | None, typer.Option(help="Leiden seed.")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Any config key: KEY=VALUE.")]
    = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be read.")] = False,
    json_logs: Annotated[bool, typer.Option("--json-logs", help="Logs as JSON lines.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each step.")] = False,
) -> None:
    """Run the pipeline for one date over its lookback window; record it in the history store.

    Example: cohortscan nightly --input 'logs/date={date}/*.csv.gz' --lookback-days 7
    --store history.duckdb --reports reports/ --date 2026-11-21
    """
    # here, not at the top: the pipeline's modules (matplotlib, igraph, numba …) take ≈ 2 s
    # to import, which every other command (``--help`` too) would pay
    from pipelines.limits import batch_gc
    from pipelines.nightly import default_date, load_nightly, nightly

    _logging(json_logs, verbose)
    batch_gc()
    try:
        cfg = load_nightly(config, input=input, lookback_days=lookback_days, store=store,
                           reports=reports, posts=posts, accounts=accounts, window=window,
                           seed=seed, **_sets(set_))
        run_date = dt.date.fromisoformat(date) if date else default_date()
        if dry_run:
            return _dry_run(cfg, run_date, json_logs)
        with progress.display(err) if err.is_terminal and not json_logs else nullcontext():
            result = nightly(cfg, run_date)
    except (InputError, ValueError, OSError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", markup=True, highlight=False,
                  soft_wrap=True)
        raise typer.Exit(code=1) from None
    note, m = result.manifest["nightly"], result.manifest
    _emit({"date": run_date.isoformat(), "status": result.status, "out": str(result.out),
           "cohorts": m["cohorts"]["n_cohorts"], "flagged": m["cohorts"]["n_flagged"],
           "lineage": note["lineage"], "missing_partitions": result.missing,
           "reused": len(note.get("reused", [])),
           "files": sum(len(f) for f in note["partitions"].values())}, json_logs)
    _exit_partial(result.missing)


def _exit_partial(missing: list[str]) -> None:
    from pipelines.nightly import EXIT_PARTIAL

    if missing:
        err.print(f"partial: no partition for {', '.join(missing)}", highlight=False)
        raise typer.Exit(code=EXIT_PARTIAL)


def _dry_run(cfg, run_date: dt.date, json_logs: bool) -> None:
    from pipelines.nightly import plan

    parts = plan(cfg, run_date)
    if json_logs:
        typer.echo(json.dumps({"date": run_date.isoformat(), "partitions": parts.by_date,
                               "missing_partitions": parts.missing, "store": str(cfg.store),
                               "out": str(cfg.reports / run_date.isoformat())}, sort_keys=True))
    else:
        for day, files in parts.by_date.items():
            typer.echo(f"{day}: " + (" ".join(files) if files else "MISSING"))
        typer.echo(f"would write {cfg.reports / run_date.isoformat()} and record in {cfg.store}")
    _exit_partial(parts.missing)


@runs_app.command("list")
def runs_list(
    store: Annotated[Path, typer.Option(help="History store (DuckDB file).")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")]
    = False,
) -> None:
    """Print the run history, newest first.

    Example: cohortscan runs list --store history.duckdb
    """
    try:
        con = history.connect(store, read_only=True)
        try:
            table = history.runs_table(con)
        finally:
            con.close()
    except (InputError, OSError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", markup=True, highlight=False,
                  soft_wrap=True)
        raise typer.Exit(code=1) from None
    if as_json:
        for record in table.to_dict("records"):
            typer.echo(json.dumps(record, sort_keys=True, default=str))
        return
    view = Table(*table.columns)
    for row in table.itertuples(index=False):
        view.add_row(*[str(v) if pd.notna(v) else "" for v in row])
    Console().print(view)
