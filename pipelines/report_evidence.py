"""Evidence of one cohort for its page and figures: actions, targets, Δt, methodology text,
and the tables of all pages split once (:func:`page_tables`).

Plain data in and out (DataFrames, lists of strings); rendering is in ``report`` and
``figures``.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graphs.lookup import pair_group_rows, spelled
from pipelines.figures import (
    Histogram,
    creation_histogram,
    draw_creation,
    draw_dt_histogram,
    draw_heatmap,
    draw_raster,
    figure,
    figure_height,
    png_data_uri,
)
from pipelines.mapped_columns import taken_rows

ACTION_COLUMNS = ["account_id", "target_id", "timestamp"]


def cohort_actions(
    members: list[str], evidence: pd.DataFrame, interactions: pa.Table | None = None
) -> pd.DataFrame:
    """Every action of the cohort's accounts on the targets they co-engaged.

    Parameters
    ----------
    members : list of str
        The cohort's account ids.
    evidence : DataFrame
        The cohort's ``edge_evidence`` rows (they name the shared targets).
    interactions : pyarrow.Table, optional
        All ``interactions``; without it, the actions named by the evidence are used
        (the closest pair of actions per tie), which is a subset.

    Returns
    -------
    DataFrame
        ``account_id, target_id, timestamp``, sorted by time, then account, then target.
    """
    targets = sorted(set(evidence["target_id"]))
    if interactions is not None:
        mask = pc.and_(
            pc.is_in(interactions["account_id"], pa.array(sorted(set(members)), pa.string())),
            pc.is_in(interactions["target_id"], pa.array(targets, pa.string())),
        )
        table = interactions.filter(mask).select(ACTION_COLUMNS).to_pandas()
    else:
        sides = [
            evidence[[f"account_{s}", "target_id", f"time_{s}"]].set_axis(ACTION_COLUMNS, axis=1)
            for s in ("a", "b")
        ]
        table = pd.concat(sides, ignore_index=True).drop_duplicates()
    table["timestamp"] = pd.to_datetime(table["timestamp"], utc=True)
    table = table.sort_values(["timestamp", "account_id", "target_id"], kind="mergesort")
    return table.reset_index(drop=True)


def top_shared_targets(evidence: pd.DataFrame, *, limit: int = 50) -> pd.DataFrame:
    """Targets most widely co-engaged inside one cohort.

    Parameters
    ----------
    evidence : DataFrame
        ``edge_evidence`` rows with both ends in the cohort.
    limit : int, default 50
        Number of targets to keep.

    Returns
    -------
    DataFrame
        ``target_id, n_accounts, min_dt_s, median_dt_s``, most accounts first.
    """
    if evidence.empty:
        return pd.DataFrame(columns=["target_id", "n_accounts", "min_dt_s", "median_dt_s"])
    accounts = pd.concat(
        [
            evidence[["target_id", "account_a"]].set_axis(["target_id", "account_id"], axis=1),
            evidence[["target_id", "account_b"]].set_axis(["target_id", "account_id"], axis=1),
        ]
    )
    table = pd.DataFrame(
        {
            "n_accounts": accounts.groupby("target_id")["account_id"].nunique(),
            "min_dt_s": evidence.groupby("target_id")["dt_s"].min(),
            "median_dt_s": evidence.groupby("target_id")["dt_s"].median(),
        }
    ).reset_index()
    table = table.sort_values(
        ["n_accounts", "median_dt_s", "target_id"], ascending=[False, True, True], kind="mergesort"
    )
    return table.head(limit).reset_index(drop=True)


def figure_caption(manifest: dict, actions: pd.DataFrame) -> str:
    """One line for a figure: data source (input file names), window and date range."""
    names = [Path(str(i.get("path", ""))).name for i in manifest.get("inputs") or []]
    window = (manifest.get("parameters") or {}).get("window_s")
    times = actions["timestamp"] if len(actions) else pd.Series([], dtype="datetime64[ns, UTC]")
    span = "no dates" if times.empty else (
        f"{times.min():%Y-%m-%d %H:%M} – {times.max():%Y-%m-%d %H:%M} UTC"
    )
    source = ", ".join(names) if names else "inputs not recorded"
    window_text = f"{window} s" if window is not None else "not recorded"
    return f"Data: {source}. Co-engagement window {window_text}. Actions shown: {span}."


def pass_manifest(cohort: pd.Series, manifest: dict) -> dict:
    """``manifest`` with the parameters of the pass that found ``cohort``: for a slow-pass
    cohort (``pass == "slow"``) its window, crowd cap and density floor, so that captions,
    the Δt histogram and the methodology state what tied these accounts."""
    p = manifest.get("parameters") or {}
    if cohort.get("pass") != "slow" or "slow_window_s" not in p:
        return manifest
    slow = {"window_s": p["slow_window_s"], "max_crowd": p.get("slow_max_crowd"),
            "min_density": max(p.get("min_density") or 0, p.get("slow_min_density") or 0)}
    return {**manifest, "parameters": {**p, **slow}}


def methodology(cohort: pd.Series, parameters: dict) -> list[str]:
    """Plain-words paragraphs: what was measured, the thresholds, the null model, the verdict."""
    p = {k: parameters.get(k, "—") for k in (
        "window_s", "max_crowd", "min_shared_targets", "min_size", "min_density",
        "min_cohort_targets", "min_lift", "max_cohort_p", "min_authors", "max_top_author_share",
        "min_creation_burst", "min_same_action_share")}
    return [
        f"What was measured: two accounts are tied when they acted on the same post within "
        f"{p['window_s']} seconds of each other, on at least {p['min_shared_targets']} different "
        f"posts. Actions in a crowd of more than {p['max_crowd']} actions on the same post "
        "within the window are not paired, and crowded posts count less (1 / log2 of the "
        "crowd), so viral posts do not tie their audience together.",
        "Null model: if every account kept its activity and every action its crowd but the "
        "accounts chose posts independently, a pair would be expected to share λ = "
        "(n_b·C_a + n_a·C_b) / 2N targets. Each tie gets a Poisson tail p-value; the group "
        "test compares the ties observed inside the cohort with the ties this null expects "
        "over all its member pairs.",
        f"Thresholds: at least {p['min_size']} accounts, density ≥ {p['min_density']}, at least "
        f"{p['min_cohort_targets']} distinct co-engaged posts, at least {p['min_lift']}× the "
        f"expected co-engagement with group p ≤ {p['max_cohort_p']}; with a posts table, the "
        f"posts come from ≥ {p['min_authors']} authors and no author has more than "
        f"{p['max_top_author_share']} of the co-engagements (fans of one creator are not a farm)"
        + ("; without one (fans of one creator co-engage like a farm), the cohort also shows "
           f"a sign-up burst (≥ {p['min_creation_burst']} of its members created within 3 days "
           f"of each other) or single-action bundles (≥ {p['min_same_action_share']} of its "
           "tied action pairs are the same action)." if _without_posts(parameters) else "."),
        *([f"Slow pass: this cohort was found by the second pass, which pairs engagements up "
           f"to {p['window_s']} seconds apart but only on posts with at most {p['max_crowd']} "
           "engagers in that window, among the accounts the first pass did not flag — for "
           "farms that spread each order over days. Its ties are weaker, so its cohorts also "
           f"need a lift of at least {parameters.get('slow_min_lift', '—')} and a second sign "
           f"of a farm: a sign-up burst (≥ {p['min_creation_burst']} of the members created "
           f"within 3 days) or single-action bundles (≥ {p['min_same_action_share']} of the "
           "tied action pairs the same action)."] if cohort.get("pass") == "slow" else []),
        "This cohort: " + _verdict(cohort),
    ]


def _without_posts(parameters: dict) -> bool:
    """The run had no posts table (a manifest without the key says nothing either way)."""
    return "posts" in parameters and parameters["posts"] is None


def burst_decided(cohort: pd.Series, parameters: dict) -> bool:
    """True when the cohort's sign-up burst was one of the signs its flag rested on (no posts
    table gave the authors)."""
    threshold = float(parameters.get("min_creation_burst") or 0)
    burst = cohort.get("creation_burst_share")
    return ((_without_posts(parameters) or cohort.get("pass") == "slow") and threshold > 0
            and pd.notna(burst) and float(burst) >= threshold)


def _verdict(cohort: pd.Series) -> str:
    def get(key: str) -> object:
        value = cohort.get(key)
        return "—" if value is None or (not isinstance(value, str) and pd.isna(value)) else value

    flagged = "flagged" if bool(cohort.get("flagged", False)) else "not flagged"
    return (
        f"{flagged}. {get('size')} accounts, density {_num(get('density'))}, "
        f"{get('shared_targets')} co-engaged posts of {get('n_authors')} authors "
        f"(top author share {_num(get('top_author_share'))}); {_num(get('observed_ties'))} ties "
        f"observed against {_num(get('expected_ties'))} expected (lift {_num(get('lift'))}, "
        f"group p = {_num(get('cohort_p_value'))}). {get('explanation')}"
    )


def _num(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, int | float) else str(value)


def evidence_panels(actions: pd.DataFrame, evidence: pd.DataFrame,
                    background: tuple[Histogram, str],
                    creation: tuple[pd.Series, Histogram] | None = None, *,
                    raster: str | None = None) -> list[tuple[str, str]]:
    """(title, PNG data URI) of the raster, heatmap, Δt histogram and creation dates.

    ``background`` is the Δt background (:func:`pipelines.figures.dt_histogram`) and its
    label; ``creation`` the members' creation times (:func:`member_created`) and all
    accounts' (:func:`pipelines.figures.creation_histogram`), without which the creation
    panel is left out. ``raster``: the raster's URI when it is drawn already (the
    publication figure), else it is drawn here.
    """
    n_accounts = actions["account_id"].nunique() if len(actions) else 0
    panels = []
    if raster is None:
        with figure(10.0, figure_height(n_accounts)) as fig:
            draw_raster(fig, actions)
            raster = png_data_uri(fig)
    panels.append(("Lockstep raster", raster))
    with figure(10.0, figure_height(n_accounts)) as fig:
        draw_heatmap(fig, actions)
        panels.append(("Account × target heatmap", png_data_uri(fig)))
    with figure(7.0, 3.2) as fig:
        draw_dt_histogram(fig, evidence["dt_s"].to_numpy(dtype=float), *background)
        panels.append(("Δt against the background", png_data_uri(fig)))
    if creation is not None:
        with figure(7.0, 3.2) as fig:
            draw_creation(fig, *creation)
            panels.append(("Account creation dates", png_data_uri(fig)))
    return panels


def window_s(manifest: dict) -> float:
    """The co-engagement window of ``manifest``'s parameters (3600 s when not recorded)."""
    return float((manifest.get("parameters") or {}).get("window_s") or 3600)


def member_actions(interactions: pa.Table | None, accounts: pd.Series) -> pa.Table | None:
    """Rows of ``interactions`` by ``accounts``: one pass over all interactions for every
    page, which :func:`cohort_actions` then filters per cohort."""
    if interactions is None:
        return None
    wanted = pa.array(sorted(set(accounts)), pa.string())
    return interactions.filter(pc.is_in(interactions["account_id"], wanted))


def member_created(accounts: pd.DataFrame | None, members: list[str]) -> pd.Series | None:
    """Creation times (UTC) of the members found in ``accounts``, indexed by account id."""
    if accounts is None:
        return None
    inside = accounts[accounts["account_id"].isin(set(members))]
    return pd.to_datetime(inside["created_at"], utc=True).set_axis(inside["account_id"])


def creation_dates(created: pd.Series | None) -> dict[str, str]:
    """``account_id → creation time`` text of :func:`member_created`'s times."""
    if created is None:
        return {}
    return {a: ("—" if pd.isna(t) else t.strftime("%Y-%m-%d %H:%M:%SZ"))
            for a, t in created.items()}


class PageTables(NamedTuple):
    """The rows every cohort page draws from, split or filtered once for all pages (before
    the worker processes fork) instead of filtering whole tables per page."""

    members: dict[int, list[str]]
    edges: dict[int, pd.DataFrame]
    evidence: dict[int, pd.DataFrame]
    interactions: pa.Table | None
    accounts: pd.DataFrame | None
    creation: Histogram | None


class CohortRows(NamedTuple):
    """The edges and evidence rows inside each of some cohorts (:func:`cohort_rows`): split
    once for the pages and the bundles."""

    cohort_ids: frozenset[int]
    edges: dict[int, pd.DataFrame]
    evidence: dict[int, pd.DataFrame]


def cohort_rows(cohort_ids: list[int], *, memberships: pd.DataFrame, edges: pd.DataFrame,
                evidence: pd.DataFrame, split: CohortRows | None = None) -> CohortRows:
    """:func:`within_cohort` of the edges and of the evidence, for the cohorts ``cohort_ids``.
    A ``split`` already made (for the pages, reused by the bundles) is returned instead, after
    checking it was made for exactly these cohorts.

    >>> members = pd.DataFrame({"account_id": ["a", "b", "c"], "cohort_id": [0, 0, 1]})
    >>> edges = pd.DataFrame({"account_a": ["a", "a"], "account_b": ["b", "c"]})
    >>> rows = cohort_rows([0, 1], memberships=members, edges=edges, evidence=edges)
    >>> sorted(rows.edges), len(rows.edges[0])
    ([0], 1)
    """
    ids = frozenset(int(c) for c in cohort_ids)
    if split is not None:
        if split.cohort_ids != ids:
            raise ValueError(f"cohort rows were split for {len(split.cohort_ids)} cohorts, "
                             f"not the {len(ids)} paged ones")
        return split
    paged = memberships[memberships["cohort_id"].isin(cohort_ids)]
    return CohortRows(ids, within_cohort(edges, paged), within_cohort(evidence, paged))


def page_tables(cohort_ids: list[int], *, memberships: pd.DataFrame, edges: pd.DataFrame,
                evidence: pd.DataFrame, interactions: pa.Table | None = None,
                accounts: pd.DataFrame | None = None,
                split: CohortRows | None = None) -> PageTables:
    """Members, edges and evidence of the cohorts ``cohort_ids`` (ties inside one cohort),
    their members' interactions and accounts rows, and all accounts' creation histogram
    (``None`` without an accounts table or with an empty one). ``split`` holds the edges and
    evidence already split for these cohorts (:func:`cohort_rows`)."""
    paged = memberships[memberships["cohort_id"].isin(cohort_ids)]
    creation = None
    if accounts is not None and len(accounts):
        creation = creation_histogram(pd.to_datetime(accounts["created_at"], utc=True))
        accounts = accounts[accounts["account_id"].isin(set(paged["account_id"]))]
    members = paged.groupby("cohort_id")["account_id"].apply(list).to_dict()
    split = cohort_rows(cohort_ids, memberships=memberships, edges=edges, evidence=evidence,
                        split=split)
    return PageTables(members, split.edges, split.evidence,
                      member_actions(interactions, paged["account_id"]), accounts, creation)


def within_cohort(table: pd.DataFrame, memberships: pd.DataFrame) -> dict[int, pd.DataFrame]:
    """Rows whose two accounts share a cohort, split by that cohort id (ids as text: each
    page's few rows are then worked on without the millions of categories)."""
    rows, cohort = pair_group_rows(table, memberships.set_index("account_id")["cohort_id"])
    inside = taken_rows(table, rows)  # columns read from files: a range at a time
    return {int(cid): part for cid, part in spelled(inside).groupby(cohort, sort=False)}
