"""Self-contained, offline HTML report: a run summary + ranked cohorts, one page per flagged cohort.

Safety rules (ids are adversarial): every page is rendered by one Jinja environment with
``autoescape=True``; data for inline scripts goes through :func:`script_json`; tooltips
are turned into DOM text nodes in the page's own script; a Content-Security-Policy meta
tag forbids any network request. pyvis's own templates are never used.
"""

from __future__ import annotations

import gc
import json
import logging
import multiprocessing as mp
import os
import re
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import cache, partial
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
import pyarrow as pa
from markupsafe import Markup

from pipelines import progress
from pipelines.figures import (
    Histogram,
    dt_histogram,
    png_uri,
    write_cohort_figures,
)
from pipelines.mapped_columns import dropped_pages
from pipelines.outputs import atomic_file
from pipelines.report_evidence import (
    CohortRows,
    burst_decided,
    cohort_actions,
    creation_dates,
    evidence_panels,
    figure_caption,
    member_created,
    methodology,
    page_tables,
    pass_manifest,
    top_shared_targets,
    window_s,
)
from pipelines.report_layers import context_rows, layer_rows, layer_summaries, layers_paragraph
from pipelines.report_network import (
    MAX_NODES,
    CohortNetwork,
    account_stats,
    cohort_network,
)
from pipelines.report_overview import cohort_overview
from pipelines.report_tables import (  # noqa: F401  (display is part of this module's API)
    cohort_table,
    display,
    paged_cohorts,
    ranked_cohorts,
    run_summary,
    sort_key,
)

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
VIS_DIR = "lib/vis-9.1.2"
TOP_ACCOUNTS = 50
MIN_PARALLEL_PAGES = 8
DT_BLOCK = 1 << 22
"""Evidence rows counted at a time by :func:`fast_dt_histogram`."""


def write_report(out_dir: Path, *, workers: int | None = None, **tables: Any) -> list[Path]:
    """Write ``index.html``, one ``cohorts/cohort_<id>.html`` per flagged cohort and figures.

    ``run_tasks(report_tasks(out_dir, **tables), workers=workers)``.

    Parameters
    ----------
    out_dir : Path
        Report directory (created if missing).
    workers : int, optional
        Processes rendering the cohort pages and figures (see :func:`parallel_map`).
    **tables
        The tables and options of :func:`report_tasks` (``cohorts``, ``memberships``,
        ``edges``, ``evidence``, ``manifest``, …).

    Returns
    -------
    list of Path
        The pages written, index first.
    """
    written = run_tasks(report_tasks(out_dir, **tables), workers=workers)
    logger.info("report: %d pages written to %s", len(written), out_dir)
    return written


def report_tasks(
    out_dir: Path,
    *,
    cohorts: pd.DataFrame,
    memberships: pd.DataFrame,
    edges: pd.DataFrame,
    evidence: pd.DataFrame,
    manifest: dict,
    interactions: pa.Table | None = None,
    accounts: pd.DataFrame | None = None,
    figures: bool = True,
    cohort_layers: pd.DataFrame | None = None,
    account_context: pd.DataFrame | None = None,
    max_nodes: int = MAX_NODES,
    slow_background_dt: np.ndarray | None = None,
    max_cohorts: int = 0,
    split: CohortRows | None = None,
) -> list[Callable[[], Path]]:
    """:func:`write_report`'s pages as tasks, ``index.html`` first, for :func:`run_tasks`.

    The shared work (ranking, each page's rows) is done here, once; each task renders and
    writes one page (and its figures). :func:`write_report` is ``run_tasks(report_tasks(...))``;
    a run puts the tasks in one pool with its other writers (:func:`pipelines.run.run`), so
    that the tables are written while pages are drawn.

    Parameters
    ----------
    out_dir : Path
        Report directory (created if missing).
    cohorts, memberships, edges, evidence : DataFrame
        The ``cohorts``, ``memberships``, ``co_engagement_edges`` and ``edge_evidence``
        tables of docs/tables.md.
    manifest : dict
        Run manifest with ``parameters``, ``inputs``, ``rows``, ``timings_s``,
        ``versions`` and ``created_at``.
    interactions : pyarrow.Table, optional
        All interactions, for the lockstep raster and heatmap (every action of the
        cohort on its shared targets); without it the evidence's actions are drawn.
    accounts : DataFrame, optional
        ``account_id, created_at``, for the creation-date panel.
    figures : bool, default True
        Also write ``figures/cohort_<id>_{network,raster}.{png,svg}`` for publication.
    cohort_layers : DataFrame, optional
        ``cohort_id, layer, edges, ties, weight, share``: a ``layers`` column in the index's
        table and a Layers panel on each cohort page.
    account_context : DataFrame, optional
        ``account_context.csv``'s table: an Account context panel (supporting evidence).
    max_nodes : int, default 2000
        Most accounts drawn in a cohort's interactive network (config ``max_report_nodes``).
    slow_background_dt : numpy.ndarray, optional
        The slow pass's gaps between tied actions, the background of its cohorts' timing
        panel.
    max_cohorts : int, default 0
        Pages and figures for the ``max_cohorts`` highest ranked flagged cohorts only (config
        ``max_report_cohorts``; 0: all); the index lists every cohort and says so.
    split : CohortRows, optional
        The paged cohorts' edges and evidence, split once for the pages and the bundles
        (:func:`pipelines.report_evidence.cohort_rows`); computed here when not given.

    Returns
    -------
    list of callable
        One task per page, ``index.html`` first; each returns the path it wrote.
    """
    out_dir = Path(out_dir)
    ranked = ranked_cohorts(cohorts)
    n_flagged = int(ranked["flagged"].astype(bool).sum())
    flagged_ids = paged_cohorts(ranked, max_cohorts)
    if max_nodes < 1:
        raise ValueError(f"max_report_nodes must be at least 1, got {max_nodes}")
    min_size = int((manifest.get("parameters") or {}).get("min_size", 1))

    def index() -> Path:  # a task beside the pages (all cohorts: ≈ 4 s at 10M rows)
        overview = cohort_overview(ranked, memberships, edges, min_size=min_size)
        for node in overview["nodes"]:
            node["page"] = node["cohort_id"] in flagged_ids
        has_layers = cohort_layers is not None and not cohort_layers.empty
        index_html = render(
            "index.html", summary=run_summary(manifest),
            table=cohort_table(ranked, layer_summaries(cohort_layers) if has_layers else None,
                               paged=set(flagged_ids)),
            n_flagged=n_flagged, n_paged=len(flagged_ids), overview=overview,
            overview_json=script_json(overview),
            vis_js=Markup(vis_asset("vis-network.min.js")),
            vis_css=Markup(vis_asset("vis-network.css")),
        )
        return write_text_atomic(out_dir / "index.html", index_html)

    shared = page_tables(flagged_ids, memberships=memberships, edges=edges, evidence=evidence,
                         interactions=interactions, accounts=accounts, split=split)
    rows = ranked.set_index("cohort_id", drop=False)
    @cache
    def dt_background(kind: str, window: float) -> tuple[Histogram, str]:
        if kind == "slow":
            return dt_histogram(slow_background_dt, window), "all slow-pass edges"
        return fast_dt_histogram(evidence, window), "all kept edges"

    def page(cohort_id: int) -> Path:
        if cohort_id == INDEX:
            return index()
        cohort = rows.loc[cohort_id]
        slow = cohort.get("pass") == "slow" and slow_background_dt is not None
        html = cohort_view(
            cohort, members=shared.members.get(cohort_id, []),
            edges=shared.edges.get(cohort_id, edges.head(0)),
            evidence=shared.evidence.get(cohort_id, evidence.head(0)), manifest=manifest,
            background=dt_background("slow" if slow else "fast",
                                     window_s(pass_manifest(cohort, manifest))),
            interactions=shared.interactions, accounts=shared.accounts,
            creation_background=shared.creation, max_nodes=max_nodes,
            layers=layer_rows(cohort_layers, cohort_id),
            context=context_rows(account_context, cohort_id),
            figures_dir=out_dir / "figures" if figures else None,
        )
        return write_text_atomic(out_dir / "cohorts" / f"cohort_{cohort_id}.html", html)

    return [partial(page, cohort_id) for cohort_id in [INDEX, *flagged_ids]]


INDEX = -1
"""The item of :func:`write_report`'s tasks that writes ``index.html`` (cohort ids are >= 0)."""
_TASK: list[Callable[[int], Path]] = []


def _run_task(item: int) -> Path:
    return _TASK[0](item)


def parallel_map(task: Callable[[int], Path], items: list[int], *,
                 workers: int | None = None, what: str = "") -> list[Path]:
    """``[task(i) for i in items]``, in forked worker processes when there are enough items.

    Cohort pages are independent (each renders its own figures with matplotlib, the bulk
    of a report's time), so they run on ``workers`` processes (default: the CPUs, at most
    4, once there are at least ``MIN_PARALLEL_PAGES`` pages). Workers inherit the inputs
    by ``fork`` instead of pickling them; results come back in ``items`` order, and when
    tasks fail the error raised is that of the first failing item in ``items`` order (not
    whichever worker failed first), so a failure is reported the same way on every run. A
    worker that dies (killed, out of memory) raises ``BrokenProcessPool`` instead of hanging
    (``multiprocessing.Pool`` waits for its result forever).

    The objects alive when it starts (the run's tables, the loaded modules) are frozen out of
    the garbage collector (:func:`gc.freeze`, as Python's documentation advises before a
    fork) until it returns: each full collection while drawing pages walked all of them,
    ≈ 130 ms each, 12% of the time of a report at 1M rows.

    Each finished item moves the current step's progress (:func:`pipelines.progress.update`,
    ``what`` naming the items), in the order items finish.
    """
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if len(items) >= MIN_PARALLEL_PAGES else 1
    gc.freeze()
    try:
        if workers <= 1 or len(items) < 2 or "fork" not in mp.get_all_start_methods():
            out = []
            for item in items:
                out.append(task(item))
                progress.update(len(out), len(items), what)
            return out
        _TASK[:] = [task]
        with ProcessPoolExecutor(min(workers, len(items)), mp_context=mp.get_context("fork"),
                                 initializer=progress.forget) as pool:
            with progress.fork_safe():  # the first submit forks every worker
                futures = [pool.submit(_run_task, item) for item in items]
            finished = iter(range(1, len(items) + 1))
            for future in futures:
                future.add_done_callback(lambda _: progress.update(next(finished), len(items),
                                                                   what))
            try:
                return [future.result() for future in futures]
            except BaseException:
                pool.shutdown(cancel_futures=True)  # do not render the remaining pages
                raise
    finally:
        _TASK.clear()
        gc.unfreeze()


def run_tasks(tasks: list[Callable[[], Path]], *, workers: int | None = None,
              what: str = "") -> list[Path]:
    """Call every task (in forked worker processes, as :func:`parallel_map`); results in order.

    Tasks are handed out in list order to whichever worker is free, so long tasks should
    come first.

    Examples
    --------
    >>> run_tasks([lambda: Path("a"), lambda: Path("b")], workers=1)
    [PosixPath('a'), PosixPath('b')]
    """
    return parallel_map(lambda i: tasks[i](), list(range(len(tasks))), workers=workers,
                        what=what)


def cohort_view(
    cohort: pd.Series, *, members: list[str], edges: pd.DataFrame, evidence: pd.DataFrame,
    manifest: dict, background: tuple[Histogram, str], interactions: pa.Table | None = None,
    accounts: pd.DataFrame | None = None, creation_background: Histogram | None = None,
    max_nodes: int = MAX_NODES, layers: list[tuple[str, ...]] | None = None,
    context: list[tuple[str, str, str]] | None = None, figures_dir: Path | None = None,
) -> str:
    """One cohort's page (HTML): explanation, layers, clickable network, evidence, methodology.

    ``background`` is the Δt background and its label (:func:`evidence_panels`);
    ``creation_background`` all accounts' creation dates (the panel is left out without
    it). ``layers`` and ``context`` are the rows of
    :func:`pipelines.report_layers.layer_rows` and
    :func:`~pipelines.report_layers.context_rows` (panels left out when empty). With
    ``figures_dir``, the cohort's publication figures are written there first and the
    page's raster panel is the publication raster (drawn once, not twice).
    """
    manifest = pass_manifest(cohort, manifest)
    stats = account_stats(members, edges, evidence)
    network = cohort_network(stats, edges, evidence, max_nodes=max_nodes)
    actions = cohort_actions(members, evidence, interactions)
    caption = figure_caption(manifest, actions)
    times = member_created(accounts, members)
    created = creation_dates(times)
    for node in network.data["nodes"]:
        node["created"] = created.get(node["account"], "")
    raster = None
    if figures_dir is not None:
        paths = _write_figures(figures_dir, int(cohort["cohort_id"]), network, actions, caption)
        raster = png_uri(next(p for p in paths if p.name.endswith("_raster.png")).read_bytes())
    method = methodology(cohort, manifest.get("parameters") or {})
    if layers:  # after "what was measured"
        method.insert(1, layers_paragraph(layers, manifest.get("parameters") or {}))
    html = render(
        "cohort.html",
        cohort_id=int(cohort["cohort_id"]),
        explanation=str(cohort.get("explanation", "")),
        facts=[(k, display(v)) for k, v in cohort.items() if k != "explanation"],
        layers=layers or [], context=context or [],
        burst_decided=burst_decided(cohort, manifest.get("parameters") or {}),
        min_creation_burst=(manifest.get("parameters") or {}).get("min_creation_burst"),
        network=network, graph_json=script_json(network.data),
        vis_js=Markup(vis_asset("vis-network.min.js")),
        vis_css=Markup(vis_asset("vis-network.css")),
        panels=evidence_panels(actions, evidence, background, None if creation_background is None
                               or times is None else (times, creation_background), raster=raster),
        caption=caption,
        methodology=method,
        targets=[[display(v) for v in row] for row in top_shared_targets(evidence).itertuples(
            index=False)],
        n_targets=int(evidence["target_id"].nunique()) if len(evidence) else 0,
        accounts=[
            (acc, display(r.degree), display(r.total_weight), display(r.targets),
             created.get(acc, "—"))
            for acc, r in zip(
                stats.index[:TOP_ACCOUNTS], stats.head(TOP_ACCOUNTS).itertuples(), strict=True
            )
        ],
    )
    return html


def _write_figures(directory: Path, cohort_id: int, network: CohortNetwork,
                   actions: pd.DataFrame, caption: str) -> list[Path]:
    nodes, links = network.data["nodes"], network.data["edges"]
    positions = np.array([[n["x"], n["y"]] for n in nodes], dtype=float).reshape(-1, 2)
    return write_cohort_figures(
        directory, cohort_id, positions=positions,
        pairs=[(e["from"], e["to"]) for e in links], weights=[e["weight"] for e in links],
        labels=[n["account"] for n in nodes], actions=actions, caption=caption,
    )


def fast_dt_histogram(evidence: pd.DataFrame, window: float) -> Histogram:
    """:func:`pipelines.figures.dt_histogram` of the gaps of every evidence row not of the
    slow layer, counted a block of rows at a time (no copy of the gaps, which may be read
    from a file: :func:`pipelines.mapped_columns.dropped_pages` after each block).

    >>> ev = pd.DataFrame({"dt_s": [30.0, 90.0, 5.0], "layer": ["engage", "engage", "slow"]})
    >>> fast_dt_histogram(ev, 3600).n
    2
    """
    empty = dt_histogram(np.zeros(0), window)
    counts, n = np.zeros_like(empty.counts), 0
    gaps = evidence["dt_s"].to_numpy()
    for start in range(0, len(gaps), DT_BLOCK):
        block = gaps[start:start + DT_BLOCK]
        if "layer" in evidence:
            block = block[evidence["layer"].iloc[start:start + DT_BLOCK].ne("slow").to_numpy()]
        found = dt_histogram(block, window)
        counts, n = counts + found.counts, n + found.n
        dropped_pages()
    return Histogram(counts, empty.edges, n)


def script_json(data: object) -> Markup:
    """JSON safe to place inside an inline ``<script>``: ``< > &`` and U+2028/9 escaped."""
    text = json.dumps(data, ensure_ascii=True, default=str)  # NaN is valid in a JS literal
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


@cache
def vis_asset(name: str) -> str:
    """Text of a vis-network file bundled with pyvis, safe to inline in ``<script>``/``<style>``."""
    text = files("pyvis").joinpath(VIS_DIR, name).read_text(encoding="utf-8")
    return re.sub(r"</(script|style)", r"<\\/\1", text, flags=re.IGNORECASE)


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render(template: str, **context: object) -> str:
    """Render one template of ``pipelines/templates`` with autoescaping on."""
    return _environment().get_template(template).render(**context)


def write_text_atomic(path: Path, text: str) -> Path:
    """Write UTF-8 text via a temporary file and ``os.replace``; return ``path``."""
    with atomic_file(path, "w", encoding="utf-8", errors="replace", newline="\n") as fh:
        fh.write(text)
    return path
