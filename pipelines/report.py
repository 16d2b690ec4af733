"""Self-contained, offline HTML report: a run summary + ranked cohorts, one page per flagged cohort.

Safety rules (ids are adversarial): every page is rendered by one Jinja environment with
``autoescape=True``; data for inline scripts goes through :func:`script_json`; tooltips
are turned into DOM text nodes in the page's own script; a Content-Security-Policy meta
tag forbids any network request. pyvis's own templates are never used.
"""

from __future__ import annotations

import json
import logging
import math
import numbers
import os
import re
import tempfile
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import NamedTuple

import jinja2
import numpy as np
import pandas as pd
import pyarrow as pa
from markupsafe import Markup

from pipelines.figures import write_cohort_figures
from pipelines.report_evidence import (
    cohort_actions,
    creation_dates,
    evidence_panels,
    figure_caption,
    methodology,
    top_shared_targets,
)
from pipelines.report_network import (
    CohortNetwork,
    account_stats,
    cohort_network,
    cohort_overview,
)

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
VIS_DIR = "lib/vis-9.1.2"
TOP_ACCOUNTS = 50


def write_report(
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
) -> list[Path]:
    """Write ``index.html``, one ``cohorts/cohort_<id>.html`` per flagged cohort and figures.

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

    Returns
    -------
    list of Path
        The pages written, index first.
    """
    out_dir = Path(out_dir)
    ranked = ranked_cohorts(cohorts)
    flagged_ids = [int(c) for c in ranked.loc[ranked["flagged"].astype(bool), "cohort_id"]]
    overview = cohort_overview(ranked, memberships, edges)
    index_html = render(
        "index.html", summary=run_summary(manifest), table=cohort_table(ranked),
        n_flagged=len(flagged_ids), overview=overview, overview_json=script_json(overview),
        vis_js=Markup(vis_asset("vis-network.min.js")),
        vis_css=Markup(vis_asset("vis-network.css")),
    )
    written = [write_text_atomic(out_dir / "index.html", index_html)]
    cohort_of = dict(
        zip(memberships["account_id"], memberships["cohort_id"].astype(int), strict=True)
    )
    edges_in = within_cohort(edges, cohort_of)
    evidence_in = within_cohort(evidence, cohort_of)
    members = memberships.groupby("cohort_id")["account_id"].apply(list)
    rows = ranked.set_index("cohort_id", drop=False)
    background = evidence["dt_s"].to_numpy(dtype=float)
    for cohort_id in flagged_ids:
        view = cohort_view(
            rows.loc[cohort_id], members=list(members.get(cohort_id, [])),
            edges=edges_in.get(cohort_id, edges.head(0)),
            evidence=evidence_in.get(cohort_id, evidence.head(0)),
            manifest=manifest, background_dt=background, interactions=interactions,
            accounts=accounts,
        )
        page = out_dir / "cohorts" / f"cohort_{cohort_id}.html"
        written.append(write_text_atomic(page, view.html))
        if figures:
            _write_figures(out_dir / "figures", cohort_id, view)
    logger.info("report: %d pages written to %s", len(written), out_dir)
    return written


class CohortView(NamedTuple):
    """One cohort's page and what its figures are drawn from."""

    html: str
    network: CohortNetwork
    actions: pd.DataFrame
    caption: str


def cohort_view(
    cohort: pd.Series, *, members: list[str], edges: pd.DataFrame, evidence: pd.DataFrame,
    manifest: dict, background_dt: np.ndarray, interactions: pa.Table | None = None,
    accounts: pd.DataFrame | None = None,
) -> CohortView:
    """One cohort's page: explanation, clickable network, evidence panels, methodology."""
    stats = account_stats(members, edges, evidence)
    network = cohort_network(stats, edges, evidence)
    actions = cohort_actions(members, evidence, interactions)
    caption = figure_caption(manifest, actions)
    created = creation_dates(accounts, members)
    for node in network.data["nodes"]:
        node["created"] = created.get(node["account"], "")
    html = render(
        "cohort.html",
        cohort_id=int(cohort["cohort_id"]),
        explanation=str(cohort.get("explanation", "")),
        facts=[(k, display(v)) for k, v in cohort.items() if k != "explanation"],
        network=network, graph_json=script_json(network.data),
        vis_js=Markup(vis_asset("vis-network.min.js")),
        vis_css=Markup(vis_asset("vis-network.css")),
        panels=evidence_panels(actions, evidence, background_dt, manifest, accounts, members),
        caption=caption,
        methodology=methodology(cohort, manifest.get("parameters") or {}),
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
    return CohortView(html, network, actions, caption)


def _write_figures(directory: Path, cohort_id: int, view: CohortView) -> list[Path]:
    nodes, links = view.network.data["nodes"], view.network.data["edges"]
    positions = np.array([[n["x"], n["y"]] for n in nodes], dtype=float).reshape(-1, 2)
    return write_cohort_figures(
        directory, cohort_id, positions=positions,
        pairs=[(e["from"], e["to"]) for e in links], weights=[e["weight"] for e in links],
        labels=[n["account"] for n in nodes], actions=view.actions, caption=view.caption,
    )


def ranked_cohorts(cohorts: pd.DataFrame) -> pd.DataFrame:
    """Cohorts with flagged ones first, each group by score descending, then cohort id."""
    order = cohorts.assign(_flag=cohorts["flagged"].astype(bool))
    order = order.sort_values(
        ["_flag", "score", "cohort_id"], ascending=[False, False, True], kind="mergesort"
    )
    return order.drop(columns="_flag").reset_index(drop=True)


def cohort_table(ranked: pd.DataFrame) -> dict:
    """Header and cells (display text, sort key, CSS class) of the index's cohort table."""
    first = [c for c in ("cohort_id", "explanation") if c in ranked.columns]
    columns = first + [c for c in ranked.columns if c not in first]  # the why next to the id
    records = ranked.to_dict("records")
    kinds = ["num" if any(sort_key(r[c]) for r in records) else "text" for c in columns]
    rows = []
    for record in records:
        link = f"cohorts/cohort_{int(record['cohort_id'])}.html" if record["flagged"] else None
        cells = [
            (display(record[c]), sort_key(record[c]), kind)
            for c, kind in zip(columns, kinds, strict=True)
        ]
        rows.append({"cells": cells, "link": link, "flagged": bool(record["flagged"])})
    return {"columns": columns, "rows": rows}


def run_summary(manifest: dict) -> dict:
    """Manifest sections as (key, text) pairs for the index's summary tables."""

    def pairs(section: str) -> list[tuple[str, str]]:
        return [(str(k), display(v)) for k, v in (manifest.get(section) or {}).items()]

    inputs = [
        (str(i.get("path", "")), str(i.get("sha256", "")), display(i.get("rows")))
        for i in manifest.get("inputs") or []
    ]
    return {
        "created_at": str(manifest.get("created_at", "")),
        "inputs": inputs,
        "rows": pairs("rows"),
        "parameters": pairs("parameters"),
        "timings": pairs("timings_s"),
        "versions": pairs("versions"),
    }


def display(value: object) -> str:
    """Short text for a table cell: 4 significant digits, ``—`` for missing values.

    Examples
    --------
    >>> [display(v) for v in (0.123456, 11260.4, float("nan"), True, 3, "x")]
    ['0.1235', '11260', '—', 'yes', '3', 'x']
    """
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        return f"{number:.0f}" if 1e4 <= abs(number) < 1e15 else f"{number:.4g}"
    return str(value)


def sort_key(value: object) -> str:
    """A number as text for the table's numeric sort, or ``""`` for text and missing values."""
    if isinstance(value, bool | np.bool_):
        return str(int(value))
    if isinstance(value, numbers.Real) and not math.isnan(float(value)):
        return repr(float(value))
    return ""


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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def within_cohort(table: pd.DataFrame, cohort_of: dict[str, int]) -> dict[int, pd.DataFrame]:
    """Rows whose two accounts share a cohort, split by that cohort id."""
    a = table["account_a"].map(cohort_of)
    b = table["account_b"].map(cohort_of)
    same = a.notna() & (a == b)
    inside = table[same]
    return {int(cid): rows for cid, rows in inside.groupby(a[same].astype(int), sort=False)}
