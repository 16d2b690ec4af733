"""The ``cohortscan`` command line: each command makes one library call.

Expected errors (bad input, bad config) become one line on stderr and exit code 1;
usage errors exit with 2 (typer's default).
"""

from __future__ import annotations

import json
import logging
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from pipelines import progress
from pipelines.config import load_config
from pipelines.ingest import InputError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Find coordinated account networks (click farms) in interaction logs.")
err = Console(stderr=True)


def _logging(verbose: bool) -> None:
    # Rich output on a terminal; plain timestamped lines in CI logs and pipes.
    handler = (RichHandler(console=err, show_path=False) if err.is_terminal
               else logging.StreamHandler())
    fmt = "%(message)s" if err.is_terminal else "%(asctime)s %(levelname)s %(message)s"
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format=fmt,
                        handlers=[handler], force=True)


def _fail(exc: Exception) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


@app.command()
def run(
    logs: Annotated[list[str] | None, typer.Argument(help="Log files, dirs or globs.")] = None,
    out: Annotated[Path | None, typer.Option(help="Output directory.")] = None,
    posts: Annotated[Path | None, typer.Option(help="target_id, author_id[, posted_at].")] = None,
    accounts: Annotated[Path | None, typer.Option(help="account_id, created_at.")] = None,
    config: Annotated[Path | None, typer.Option(help="TOML configuration file.")] = None,
    window: Annotated[str | None, typer.Option(help="Window: 90s, 30m, 1h, 2d.")] = None,
    seed: Annotated[int | None, typer.Option(help="Leiden seed.")] = None,
    pseudonymise: Annotated[bool | None, typer.Option(
        "--pseudonymise", help="Pseudonymise accounts outside flagged cohorts.")] = None,
    fmt: Annotated[str | None, typer.Option(
        "--format", help="auto, generic, twitter-v2, cnt, coortweet, crowdtangle or ira.")] = None,
    max_memory: Annotated[float | None, typer.Option(
        "--max-memory", help="Memory limit in GB (default: 80% of available).")] = None,
    engine: Annotated[str | None, typer.Option(
        help="Engine of the ingest and projection: duckdb (this machine) or spark.")] = None,
    spark_master: Annotated[str | None, typer.Option(
        help="Spark master URL for --engine spark (local[2], spark://host:7077, yarn).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each step.")] = False,
) -> None:
    """Run the pipeline on interaction logs and write cohorts, evidence and a report.

    Example: cohortscan run data/sample/interactions.csv.gz --posts data/sample/posts.csv
    --out reports/demo --window 1h --seed 0
    """
    from pipelines.limits import batch_gc
    from pipelines.run import run as run_pipeline

    _logging(verbose)
    batch_gc()
    try:
        cfg = load_config(config, inputs=logs or None, out=out, posts=posts, accounts=accounts,
                          window=window, seed=seed, pseudonymise=pseudonymise, format=fmt,
                          max_memory_gb=max_memory, engine=engine, spark_master=spark_master)
        with progress.display(err) if err.is_terminal else nullcontext():
            result = run_pipeline(cfg)
    except (InputError, ValueError, OSError) as exc:
        raise _fail(exc) from None
    m = result.manifest
    typer.echo(f"{m['rows']['rows_read']} rows read, {m['rows']['rows_rejected']} rejected; "
               f"{m['cohorts']['n_cohorts']} cohorts, {m['cohorts']['n_flagged']} flagged "
               f"({m['cohorts']['accounts_flagged']} accounts) → {result.out / 'index.html'}")


@app.command()
def generate(
    out: Annotated[Path, typer.Argument(help="Directory to write the synthetic logs into.")],
    scenario: Annotated[str, typer.Option(help="easy, medium or hard.")] = "medium",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Generate synthetic logs with planted click farms, fandoms and viral posts.

    Writes interactions.csv.gz, posts.csv, accounts.csv and labels.csv (ground truth).
    Example: cohortscan generate data/sample --scenario medium --seed 0
    """
    from graphs.synthetic import synthetic_logs
    from pipelines.synthetic_io import write_synthetic

    try:
        paths = write_synthetic(synthetic_logs(scenario=scenario, seed=seed), out)
    except (ValueError, OSError) as exc:
        raise _fail(exc) from None
    typer.echo("wrote " + ", ".join(str(p) for p in paths))


@app.command()
def evaluate(
    run_dir: Annotated[Path | None, typer.Argument(help="Output directory of a run.")] = None,
    labels: Annotated[Path | None,
                      typer.Argument(help="labels.csv: account_id, label, group.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    grid: Annotated[bool, typer.Option("--grid", help="Run the generator scenario grid.")] = False,
    holdout: Annotated[bool, typer.Option("--holdout", help="Add the held-out cells.")] = False,
    n_organic: Annotated[int, typer.Option(help="Organic accounts per grid cell.")] = 4000,
) -> None:
    """Score a run's flagged accounts against ground-truth labels, or run the scenario grid.

    Example: cohortscan evaluate reports/demo data/sample/labels.csv;
    cohortscan evaluate --grid --holdout
    """
    from graphs.evaluation import detection_scores

    if grid:
        from pipelines.evaluate_grid import evaluation_grid, grid_cells, grid_markdown

        table = evaluation_grid(grid_cells(holdout=holdout), n_organic=n_organic)
        typer.echo(table.to_json(orient="records") if as_json else grid_markdown(table))
        return
    if run_dir is None or labels is None:
        raise typer.BadParameter("RUN_DIR and LABELS are required without --grid")
    try:
        flagged = pd.read_csv(run_dir / "flagged_accounts.csv", dtype={"account_id": str})
        members = pd.read_csv(run_dir / "memberships.csv", dtype={"account_id": str})
        truth = pd.read_csv(labels, dtype=str, keep_default_na=False)
        scores = detection_scores(flagged, members, truth)
    except (ValueError, OSError, KeyError) as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(json.dumps(scores, sort_keys=True))
        return
    table = Table("metric", "value")
    for key, value in scores.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    Console().print(table)


from pipelines.nightly_cli import nightly_command, runs_app  # noqa: E402

app.command("nightly")(nightly_command)
app.add_typer(runs_app, name="runs")


def main() -> None:  # pragma: no cover - console-script shim
    app()


if __name__ == "__main__":  # pragma: no cover - spark-submit pipelines/cli.py run ...
    app()
