"""The batch chain: ingest → bipartite → projection → clustering → scoring → outputs.

One straight function, :func:`run`; each step is a pure function from ``graphs/``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import platform
import time
from collections.abc import Callable, Iterator
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pandas as pd
import pyarrow as pa

from graphs.account_context import account_context
from graphs.clustering import leiden_clusters
from graphs.interactions import ValidatedInteractions, validated_interactions
from graphs.multiplex import (
    cohort_layers,
    fused_co_engagement,
    layer_incidences,
    layer_projections,
    rowless_layers,
)
from graphs.projection import CoEngagement, clustered_edges
from graphs.scoring import ScoredCohorts
from pipelines import __version__, progress
from pipelines.adapters import plain_logs, read_inputs
from pipelines.bundle import write_bundles
from pipelines.config import RunConfig, check_config
from pipelines.duckdb_limits import duckdb_config, duckdb_limits
from pipelines.exports import graph_tasks, table_tasks
from pipelines.ingest import (
    RAW_SCHEMA,
    InputError,
    RawInteractions,
    duckdb_memory,
    future_timestamps,
    read_interactions,
    streamed_interactions,
)
from pipelines.kernel_cache import kernels_aside
from pipelines.layers import account_profiles, input_layers, input_paths
from pipelines.limits import (
    DUCKDB_SHARE,
    check_layers_memory,
    check_resident_memory,
    default_memory_gb,
    release_freed,
)
from pipelines.mapped_columns import FileColumns, PagesTrimmed, dropped_pages
from pipelines.outputs import atomic_directory, sha256_file, write_csv, write_json, write_parquet
from pipelines.pseudonyms import shareable_tables
from pipelines.report import MIN_PARALLEL_PAGES, report_tasks, run_tasks
from pipelines.report_evidence import cohort_rows
from pipelines.report_tables import paged_cohorts
from pipelines.set_aside import (
    Aside,
    columns_mapped,
    frames_aside,
    mapped_aside,
    rows_of_accounts,
    set_aside,
)
from pipelines.side_tables import SideTable, read_accounts, read_posts
from pipelines.slow_pass import (
    TIME_COLUMNS,
    SlowKept,
    SlowPass,
    scored_passes,
    slow_kept,
    slow_projection,
    slow_skipped,
    slow_splice,
    slow_stats,
    with_slow_evidence,
)
from pipelines.spark_progress import spark_task_progress
from pipelines.window_auto import auto_window

if TYPE_CHECKING:  # imported where the spark engine runs
    from pipelines.spark_log import SparkIngest, SparkLog

log = logging.getLogger(__name__)
_NO_MEMBERS = pd.DataFrame({"account_id": pd.Series(dtype="str"),
                            "cohort_id": pd.Series(dtype="int64")})
CLUSTER_COLUMNS = ["account_a", "account_b", "weight", "p_value"]
"""What clustering reads of the edges (its copy of the kept rows has only these)."""
PACKAGES = ("duckdb", "pyarrow", "pandas", "numpy", "numba", "igraph", "networkx", "pyvis")


class RunResult(NamedTuple):
    out: Path
    manifest: dict[str, Any]
    cohorts: pd.DataFrame


def run(config: RunConfig, *, reader: Callable[..., Any] = read_interactions,
        extra_outputs: Callable[[Path, Any, dict[str, Any]], None] | None = None) -> RunResult:
    """Run the whole pipeline for one configuration and write its outputs to ``config.out``.

    ``reader(files, columns)`` returns the raw interactions (default: read the files; with
    ``engine = "spark"`` the executors read them, :mod:`pipelines.spark_log`, and ``reader``
    is not used);
    ``extra_outputs(tmp_dir, scored, manifest)`` may add files to the output directory (and
    keys to the manifest) before it is renamed into place. Both are for the nightly runs.
    DuckDB works within a share of the run's ``max_memory_gb``
    (:data:`pipelines.limits.DUCKDB_SHARE`: its results come back beside it) and spills to a
    directory of the run's own (:func:`pipelines.duckdb_limits.duckdb_limits`); the projection
    kernels are loaded by a thread (on a cold numba cache, compiled by a child process) while
    the logs are read (:func:`pipelines.kernel_cache.kernels_aside`).
    """
    max_memory_gb = config.max_memory_gb or default_memory_gb()  # once, as the run starts
    check_config(config)  # before the logs are read, not after
    if config.engine == "spark":
        from pipelines.spark_engine import require_pyspark

        require_pyspark()
    with (duckdb_limits(max_memory_gb * DUCKDB_SHARE) as spill,
          kernels_aside(config.engine == "duckdb") as kernels_ready,  # beside the ingest
          contextlib.ExitStack() as held):  # the Spark log, from the ingest to the report
        return _run(config, reader=reader, extra_outputs=extra_outputs,
                    kernels_ready=kernels_ready, spill=spill, max_memory_gb=max_memory_gb,
                    held=held)


def _run(config: RunConfig, *, reader: Callable[..., Any],
         extra_outputs: Callable[[Path, Any, dict[str, Any]], None] | None,
         kernels_ready: Callable[[], None], spill: Path, max_memory_gb: float,
         held: contextlib.ExitStack) -> RunResult:
    timings: dict[str, float] = {}
    with _step("ingest", timings):
        files = input_paths(config.inputs)
        spark_log = spark_ingest = None
        if config.engine == "spark":  # read, typed and counted on Spark: the log stays there
            with spark_task_progress():
                spark_log, spark_ingest = _spark_ingest(files, config, held)
            raw = interactions = None  # on Spark
            counts, rejects = _spark_counts(spark_ingest), spark_ingest.rejected
        else:
            if reader is read_interactions and plain_logs(files, config.columns, config.format):
                streamed = streamed_interactions(files, config.columns)  # typed as scanned
                raw = RawInteractions(RAW_SCHEMA.empty_table(), streamed.parse_rejects)
                valid = streamed.valid
                del streamed  # it would hold the interactions after they are set aside
            else:
                raw = (read_inputs(files, config.columns, config.format)
                       if reader is read_interactions else reader(files, config.columns))
                with duckdb_memory("typing the logs"):
                    valid = validated_interactions(raw.raw, duckdb_config=duckdb_config())
            raw = raw._replace(raw=raw.raw.schema.empty_table())  # text: 1.2 GB per 10M rows
            counts, interactions = _counts(raw.parse_rejects.num_rows, valid), valid.interactions
            rejects = pa.concat_tables([raw.parse_rejects, valid.rejected])
            del valid
        posts = _side(read_posts, config.posts)
        accounts = _side(read_accounts, config.accounts)
        rejected = _rejected(rejects, posts, accounts)
        rows = _row_accounting(counts, config)
        rows["side_tables"] = {name: _side_accounting(side) for name, side in
                               (("posts", posts), ("accounts", accounts)) if side is not None}
    # from the projections to the splice, the pages read of columns in files are dropped
    # every moment (pipelines.mapped_columns.PagesTrimmed), not only after a step
    trimmed = held.enter_context(PagesTrimmed())
    window_scan = None
    if config.window_auto:
        with _step("window_scan", timings):
            kernels_ready()  # it projects too
            config, window_scan = auto_window(
                raw, interactions, config, posts=posts.table if posts else None,
                accounts=accounts.table if accounts else None)
    if spark_log is not None:
        with _step("projection", timings):
            from pipelines.spark_engine import spark_passes

            with spark_task_progress():
                found, per_layer, weights, slow_skip = spark_passes(
                    spark_log, spark_ingest, config, posts=posts.table if posts else None)
                slow = _aside(found, spill)
                del found
            projected = fused_co_engagement(per_layer, weights)
        report_rows = spark_log.rows_of_accounts
    else:
        with _step("layers", timings):
            layers = input_layers(raw, interactions, config)
        with _step("projection", timings):
            kernels_ready()
            incidences = layer_incidences(layers)
            pairs_bound = check_layers_memory(layers, max_crowd=config.max_crowd,
                                              max_memory_gb=max_memory_gb,
                                              incidences=incidences)
            slow_skip = slow_skipped(layers, config)
            # The projections read the incidences; only the report reads the interactions
            # again (its members' rows): on disk, and the layers without their rows
            report_rows = partial(rows_of_accounts,
                                  set_aside(interactions, spill / "interactions.arrow"))
            layers = rowless_layers(layers)
            del interactions
            release_freed()  # their pages (at 10M rows 0.14 GiB), before the projections
            slow = _aside(slow_projection(  # first: its transient is the larger one
                layers, config, lambda ls, c, inc=incidences: _projections(
                    ls, c, inc, "slow pass ", max_memory_gb=max_memory_gb, targets=False,
                    spill=spill),
                max_memory_gb=max_memory_gb, incidences=incidences,
                posts=posts.table if posts else None, skipped=slow_skip), spill)
            per_layer = _projections(layers, config, incidences, max_memory_gb=max_memory_gb,
                                     spill=spill)
            weights = {name: layer.weight for name, layer in layers.items()}
            projected = fused_co_engagement(per_layer, weights)
            projected.stats["pairs_bound"] = pairs_bound  # what the memory guard counted
            del incidences, layers
    # from here on every column of the edges and the evidence but the ids themselves (the
    # categoricals' categories) is read from a file as a memory map (pipelines.mapped_columns;
    # the projections wrote the evidence's so already): at 100M rows the parent went from
    # 9.4 to 1.9 GiB here
    for tables in ("edges", "evidence"):
        columns_mapped([getattr(p, tables) for p in (projected, *per_layer.values())], spill)
    release_freed()
    check_resident_memory("projection", max_memory_gb)
    # not read by clustering or scoring: the 1 h pass's evidence times (the slow pass's are
    # coded apart; 0.3 GB at 10M rows), put back as maps of their files
    put_back = [mapped_aside([p.evidence for p in (projected, *per_layer.values())], column,
                             spill) for column in TIME_COLUMNS]
    with _step("clustering", timings):
        clustered = clustered_edges(projected.edges[CLUSTER_COLUMNS],  # a lazy selection
                                    max_edge_p=config.max_cluster_edge_p)
        dropped_pages()  # of the maps it read (p_value, the account codes)
        projected.stats["edges_clustered"] = int(len(clustered))
        projected.stats["clustered_because"] = (
            "all kept edges" if config.max_cluster_edge_p >= 1 else
            f"edges among accounts with a tie of p <= {config.max_cluster_edge_p:g}")
        leiden = config.leiden(clustered)
        clusters = leiden_clusters(clustered, **leiden)
        projected.stats["accounts_clustered"] = int(len(clusters))  # the graph's vertices
        projected.stats["leiden_resolution"] = leiden["resolution"]
        del clustered  # a copy of the edges when max_cluster_edge_p < 1
    with _step("scoring", timings):  # incl. the slow pass's Leiden (on unflagged accounts)
        scored, kept = _scored_passes(
            config, projected, clusters, slow, spill, posts=posts, accounts=accounts,
            fast_tables=[getattr(p, t) for p in (projected, *per_layer.values())
                         for t in ("edges", "evidence")])
        ties, slow_counts, slow_dt = kept if kept is not None else (None, None, None)
        projected.stats["slow_pass"] = slow_stats(slow_counts, config, scored, skipped=slow_skip)
        del slow, kept
        for back in reversed(put_back):  # in their places again (the last taken out first)
            back()
        del put_back  # the splice and the outputs read them
        splice = slow_splice(per_layer, weights, projected, ties)
        del per_layer, ties  # the splice moves the fused tables' columns: no other holder
        projected = with_slow_evidence(projected, splice, spill)
    trimmed.stop()  # before the output pool forks
    manifest = _manifest(config, files, rows, projected.stats, scored.cohorts, timings)
    if window_scan is not None:
        manifest["window_scan"] = window_scan
    shared = shareable_tables(memberships=scored.memberships, edges=projected.edges,
                              evidence=projected.evidence, rejected=rejected,
                              flagged_accounts=scored.flagged_accounts,
                              enabled=config.pseudonymise, key=config.pseudonym_key)
    manifest["pseudonyms"] = shared.note
    paged = paged_cohorts(scored.cohorts, config.max_report_cohorts)  # pages and bundles
    manifest["cohorts"]["with_pages"] = len(paged)
    started = time.perf_counter()
    log.info("outputs …")
    with atomic_directory(config.out) as tmp:
        with progress.step("outputs"):
            write_csv(scored.flagged_accounts, tmp / "flagged_accounts.csv")
            write_csv(scored.cohorts, tmp / "cohorts.csv")
            layers_tied = cohort_layers(scored.memberships, projected.edges)
            write_csv(layers_tied, tmp / "cohort_layers.csv")
            context = None if accounts is None else account_context(
                scored.memberships, account_profiles(config.accounts, accounts.table))
            if context is not None:
                write_csv(context, tmp / "account_context.csv")
            write_csv(shared.memberships, tmp / "memberships.csv")
            if len(rejected):
                write_csv(shared.rejected, tmp / "rejected.csv")
            graph_tables = dict(memberships=shared.memberships, edges=shared.edges,
                                cohorts=scored.cohorts)
            tables = table_tasks(tmp, evidence=shared.evidence, **graph_tables,
                                 n_actions=scored.memberships["account_id"].map(
                                     projected.activity.set_index("account_id")["n_actions"]))
            parquets = [partial(write_parquet, shared.evidence, tmp / "edge_evidence.parquet"),
                        partial(write_parquet, shared.edges, tmp / "edges.parquet")]
            split = cohort_rows(paged, memberships=shared.memberships, edges=shared.edges,
                                evidence=shared.evidence)  # for the pages and the bundles
            members = shared.memberships.loc[shared.memberships["cohort_id"].isin(paged),
                                             "account_id"]
            pages = report_tasks(tmp, cohorts=scored.cohorts, memberships=shared.memberships,
                                 edges=shared.edges, evidence=shared.evidence, manifest=manifest,
                                 interactions=report_rows(members),
                                 accounts=accounts.table if accounts else None,
                                 cohort_layers=layers_tied, account_context=context,
                                 max_nodes=config.max_report_nodes, slow_background_dt=slow_dt,
                                 max_cohorts=config.max_report_cohorts, split=split)
            # One pool for every writer, the longest tasks first: the tables and graph files
            # are written while the pages are drawn (each was a serial step before).
            run_tasks([tables[2], parquets[0], *graph_tasks(
                tmp, **graph_tables, max_cohorts=config.max_report_cohorts), tables[1], parquets[1],
                tables[0], *pages], workers=_output_workers(len(pages)), what="files and pages")
            if extra_outputs is not None:
                extra_outputs(tmp, scored, manifest)
            manifest["timings_s"]["outputs"] = round(time.perf_counter() - started, 3)
            write_json(manifest, tmp / "manifest.json")
            log.info("outputs done in %.2f s", manifest["timings_s"]["outputs"])
        with progress.step("bundles"):
            write_bundles(tmp, cohorts=scored.cohorts, memberships=shared.memberships,
                          edges=shared.edges, evidence=shared.evidence,
                          max_cohorts=config.max_report_cohorts, split=split)
    return RunResult(config.out, manifest, scored.cohorts)


def _output_workers(n_pages: int) -> int:
    """Processes for the output tasks: the CPUs, at most 4 once there are enough pages for
    the report's pool (:func:`pipelines.report.parallel_map`), else at most 2 (the graph
    files' two)."""
    return min(os.cpu_count() or 1, 4 if n_pages >= MIN_PARALLEL_PAGES else 2)


def _spark_ingest(files: list[Path], config: RunConfig,
                  held: contextlib.ExitStack) -> tuple[SparkLog, SparkIngest]:
    """The run's :class:`pipelines.spark_log.SparkLog` (released when ``held`` closes, after
    the report) and what its ingest tells the driver. Spark reads plain logs only."""
    from pipelines.spark_log import SparkLog

    if not plain_logs(files, config.columns, config.format):
        raise InputError("engine 'spark' reads plain logs (account_id, target_id, action, "
                         "timestamp as CSV, Parquet or JSON Lines); this input needs an adapter "
                         "(use engine = \"duckdb\")")
    source = SparkLog(files, config.columns, config.spark_master)
    held.callback(source.close)
    return source, source.ingest()


def _aside(slow: SlowPass | None, spill: Path) -> Aside[SlowPass] | None:
    """The slow pass's projection on disk from its end until the fast pass is clustered and
    scored (nothing reads it in between: at 10M rows 0.64 GB less held by the fast pass's
    projection, clustering and scoring), taken back by its clustering
    (:class:`pipelines.set_aside.Aside`); ``None`` when there is no slow pass."""
    return None if slow is None else Aside(slow, spill / "slow_pass.pickle")


def _scored_passes(config: RunConfig, projected: CoEngagement, clusters: pd.DataFrame,
                   slow: Aside[SlowPass] | None, spill: Path, *, posts: SideTable | None,
                   accounts: SideTable | None, fast_tables: list[pd.DataFrame],
                   ) -> tuple[ScoredCohorts, SlowKept | None]:
    """Both passes scored (:func:`pipelines.slow_pass.scored_passes`), and what the run keeps
    of the slow pass (``None`` without one).

    While the slow pass is clustered and scored, the 1 h pass's codes and the columns of its
    ``fast_tables`` (the fused and per-layer edges and evidence, which nothing reads then)
    wait in ``spill`` (:func:`pipelines.set_aside.frames_aside`: at 30M rows 1.4 GB less at
    the slow pass's scoring). The slow pass is dropped as soon as it is scored, before the
    1 h pass's cohorts are scored again (at 30M rows 2.5 GB less there)."""
    kept: list[SlowKept] = []

    def slow_scored(found: SlowPass, members: pd.DataFrame) -> None:
        assert slow is not None
        kept.append(slow_kept(found, members))
        slow.dropped()

    scored = scored_passes(
        config, projected, clusters, None if slow is None else slow.taken_back,
        posts=posts.table if posts else None, accounts=accounts.table if accounts else None,
        aside=lambda codes: frames_aside(fast_tables, spill / "fast_pass.pickle", codes),
        on_slow_scored=slow_scored)
    if slow is not None and not kept:  # clustered, but nothing to score: no cohorts
        kept.append(slow_kept(slow.taken_back(), _NO_MEMBERS))
        slow.dropped()
    return scored, kept[0] if kept else None


def _projections(layers: dict, config: RunConfig, incidences: dict | None = None,
                 label: str = "", *, max_memory_gb: float, targets: bool = True,
                 spill: Path | None = None) -> dict:
    """Per-layer projections with the DuckDB engine's kernel; its progress is shown as
    ``<label><layer> pairs``, and the resident memory is checked against ``max_memory_gb``
    after every chunk. ``targets=False``: edges without ``targets`` (the slow pass's). With
    ``spill``, the edges' and the evidence's columns are written into files there as they
    are made and read as memory maps (:class:`pipelines.mapped_columns.FileColumns`)."""
    def on_progress(name: str, done: int, total: int) -> None:
        """After each chunk of accounts: the progress bar, and the memory limit (the kept
        ties grow with the log's share of kept pairs, which the guard's bound cannot know)."""
        progress.update(done, total, f"{label}{name} pairs")
        share = f"{100 * done // max(total, 1)}%"
        check_resident_memory(f"projection ({label}{name}, {share} of its pairs)", max_memory_gb)

    return layer_projections(
        layers, max_crowd=config.max_crowd, min_shared_targets=config.min_shared_targets,
        incidences=incidences, on_progress=on_progress, targets=targets,
        columns=None if spill is None else FileColumns(spill))


@contextlib.contextmanager
def _step(name: str, timings: dict[str, float]) -> Iterator[None]:
    """Time a step; log it, and show it on the progress display (:mod:`pipelines.progress`)."""
    started = time.perf_counter()
    log.info("%s …", name)
    with progress.step(name):
        yield
    release_freed()
    timings[name] = round(time.perf_counter() - started, 3)
    log.info("%s done in %.2f s", name, timings[name])


def _side(reader, path: Path | None) -> SideTable | None:
    return reader(path) if path is not None else None


def _rejected(rejects: pa.Table, *sides: SideTable | None) -> pd.DataFrame:
    frames = [rejects.to_pandas()]
    frames += [side.rejected for side in sides if side is not None and len(side.rejected)]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=["source", "line", "reason", "raw"])
    return pd.concat(frames, ignore_index=True).sort_values(["source", "line"], kind="stable")


def _counts(parse_rejected: int, valid: ValidatedInteractions) -> dict[str, int]:
    """The row counts of a DuckDB ingest (:func:`_row_accounting` checks them)."""
    return {
        "rows_read": valid.rows_read + parse_rejected,
        "rows_accepted": valid.rows_accepted,
        "rows_rejected": valid.rejected.num_rows + parse_rejected,
        "duplicates_collapsed": valid.duplicates_collapsed,
        "interactions": valid.interactions.num_rows,
        "future_timestamps": future_timestamps(valid.interactions, dt.datetime.now(dt.UTC)),
    }


def _spark_counts(ingest: SparkIngest) -> dict[str, int]:
    """The row counts of a Spark ingest, as :func:`_counts` gives a DuckDB one's."""
    return {"rows_read": ingest.rows_read, "rows_accepted": ingest.rows_accepted,
            "rows_rejected": ingest.rejected.num_rows,
            "duplicates_collapsed": ingest.rows_accepted - ingest.interactions,
            "interactions": ingest.interactions, "future_timestamps": ingest.future_timestamps}


def _row_accounting(counts: dict[str, int], config: RunConfig) -> dict[str, int]:
    rows = dict(counts)
    assert rows["rows_read"] == rows["rows_accepted"] + rows["rows_rejected"]
    log.info("rows read %d = accepted %d + rejected %d (%d duplicates collapsed)",
             rows["rows_read"], rows["rows_accepted"], rows["rows_rejected"],
             rows["duplicates_collapsed"])
    if rows["rows_read"] == 0:
        raise InputError("no data rows in the input (header only?)")
    share = rows["rows_rejected"] / rows["rows_read"]
    if share > config.max_rejected_share:
        raise InputError(f"{rows['rows_rejected']} of {rows['rows_read']} rows rejected "
                         f"({share:.0%} > max_rejected_share {config.max_rejected_share:.0%})")
    return rows


def _side_accounting(side: SideTable) -> dict[str, int]:
    """Rows read = accepted + rejected for a posts or accounts table (its rejects are in
    ``rejected.csv`` next to the interactions' ones, under the table's path)."""
    counts = {"rows_read": side.rows_read,
              "rows_accepted": len(side.table), "rows_rejected": len(side.rejected)}
    assert counts["rows_read"] == counts["rows_accepted"] + counts["rows_rejected"]
    return counts


def _manifest(config: RunConfig, files: list[Path], rows: dict[str, int], projection: dict,
              cohorts: pd.DataFrame, timings: dict[str, float]) -> dict[str, Any]:
    side = [p for p in (config.posts, config.accounts) if p is not None]
    return {
        "cohortscan": __version__,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "parameters": config.parameters(),
        "seed": config.seed,
        "inputs": [{"path": str(p), "sha256": sha256_file(p), "bytes": p.stat().st_size}
                   for p in [*files, *side]],
        "rows": rows,
        "projection": projection,
        "cohorts": {"n_cohorts": int(len(cohorts)), "n_flagged": int(cohorts["flagged"].sum()),
                    "accounts_flagged": int(cohorts.loc[cohorts["flagged"], "size"].sum())},
        "timings_s": dict(timings),
        "versions": {"python": platform.python_version(),
                     **{p: metadata.version(p) for p in PACKAGES},
                     **({"pyspark": metadata.version("pyspark")} if config.engine == "spark"
                        else {})},
    }
