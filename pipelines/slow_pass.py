"""Wiring of the slow pass (:mod:`graphs.passes`): its projection, scoring and evidence."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from graphs.bipartite import Incidence
from graphs.clustering import leiden_clusters, split_large_clusters
from graphs.edge_targets import targets_json
from graphs.layer_fusion import Splice, layer_splice, spliced_tables
from graphs.lookup import in_values
from graphs.multiplex import Layer
from graphs.pass_codes import (
    PassCodes,
    account_codes,
    coded_evidence,
    edges_without,
    inside_rows,
    pass_codes,
    spelled_evidence,
)
from graphs.passes import two_pass_cohorts
from graphs.projection import CoEngagement
from graphs.scoring import ScoredCohorts, scored_cohorts
from pipelines.config import RunConfig
from pipelines.limits import check_layers_memory, release_freed
from pipelines.mapped_columns import dropped_pages, mappable, mapped_column, taken_rows

SLOW_LAYER = "slow"
"""Layer name of the slow pass's ties in the output edges and evidence."""
TIME_COLUMNS = ("time_a", "time_b")
"""The evidence's columns that clustering and scoring do not read (set aside meanwhile)."""
UNSCORED = ["targets", "p_value", "q_value"]
"""Edge columns the slow pass does not keep: only its cohorts' edges need ``targets`` (spelled
again from their evidence), and the splice recomputes ``p_value`` and ``q_value``."""


class SlowPass(NamedTuple):
    """Result of :func:`slow_projection`."""

    projection: CoEngagement
    """The slow pass's projection: edges without :data:`UNSCORED`, evidence with its ids
    and actions as codes (:func:`graphs.pass_codes.coded_evidence`); only its cohorts' rows
    are spelled again (:func:`slow_ties`)."""
    codes: PassCodes
    """Its codes for every scoring (``codes.edges`` and ``codes.evidence`` are
    ``projection``'s)."""


def slow_projection(layers: dict[str, Layer], config: RunConfig,
                    project: Callable[[dict[str, Layer], RunConfig], dict[str, CoEngagement]],
                    *, skipped: str, max_memory_gb: float, posts: pd.DataFrame | None,
                    incidences: dict[str, Incidence] | None = None) -> SlowPass | None:
    """The ``engage`` layer paired within ``slow_window``, targets above ``slow_max_crowd``
    engagers unpaired, coded at once (with ``posts``' authors) so that its evidence's text
    is not held through clustering and scoring; ``None`` when the slow pass does not run:
    ``skipped`` says why (:func:`slow_skipped`, asked while the layers still had their rows:
    :func:`graphs.multiplex.rowless_layers` drops them before the projections).
    ``incidences`` (the 1 h pass's, :func:`graphs.multiplex.layer_incidences`) bound the
    memory guard; ``project`` should
    reuse them too (same rows, only the window differs), and need not spell the edges'
    ``targets`` (:data:`UNSCORED`)."""
    if skipped:
        return None
    engage = layers["engage"]
    slow = {"engage": engage._replace(window_s=config.slow_window_s)}
    check_layers_memory(slow, max_crowd=config.slow_max_crowd, max_memory_gb=max_memory_gb,
                        incidences=incidences)
    found = project(slow, dataclasses.replace(config, max_crowd=config.slow_max_crowd))["engage"]
    return slow_pass(found, posts)


def slow_pass(found: CoEngagement, posts: pd.DataFrame | None) -> SlowPass:
    """The slow pass's projection ``found`` coded at once (with ``posts``' authors), as
    :func:`slow_projection` keeps it (either engine's; its edges with or without the
    :data:`UNSCORED` columns)."""
    codes = pass_codes(found.edges, found.evidence, found.activity, posts)
    dropped_pages()  # of the columns it read whole (over files in a run)
    codes = coded_evidence(codes, after_block=dropped_pages)  # the times a block at a time
    codes = codes._replace(edges=found.edges.drop(columns=UNSCORED, errors="ignore"))
    return SlowPass(found._replace(edges=codes.edges, evidence=codes.evidence), codes)


def slow_skipped(layers: dict[str, Layer], config: RunConfig) -> str:
    """Why the slow pass does not run ("" when it does)."""
    engage = layers.get("engage")
    return slow_skip_reason(config, n_engage=0 if engage is None else len(engage.interactions),
                            same_action=lambda: same_action_chance(engage))


def slow_skip_reason(config: RunConfig, *, n_engage: int,
                     same_action: Callable[[], float]) -> str:
    """Why the slow pass does not run ("" when it does), from the ``engage`` layer's row
    count and a function giving its :func:`same_action_chance` (asked only when needed).

    >>> from pathlib import Path
    >>> slow_skip_reason(RunConfig(inputs=("a.csv",), out=Path("o")), n_engage=0,
    ...                  same_action=lambda: 1.0)
    'no engage layer (the slow pass pairs generic engagements only)'
    """
    if config.slow_window_s <= 0:
        return "slow_window = off"
    if n_engage == 0:
        return "no engage layer (the slow pass pairs generic engagements only)"
    if config.posts is not None or (config.accounts is not None and config.min_creation_burst > 0):
        return ""
    chance = same_action()
    if chance >= config.min_same_action_share:
        return ("no posts table, no accounts table with min_creation_burst, and bundles tell "
                f"nothing (two engagements are the same action with chance {chance:.2f} >= "
                "min_same_action_share): over days, only authors, a sign-up burst or bundles "
                "tell a farm from one creator's fans")
    return ""


def same_action_chance(layer: Layer) -> float:
    """Chance that two engagements of the same target are the same action: Σ n² over
    (target, action) counts / Σ n² over target counts (1 when each target takes one action,
    as hashtags are only used and domains only shared)."""
    rows = layer.interactions
    per_action = rows.groupby(["target_id", "action"], observed=True).size().astype(float)
    per_target = per_action.groupby(level="target_id", observed=True).sum()
    return float((per_action**2).sum() / max((per_target**2).sum(), 1.0))


def scored_passes(config: RunConfig, projected: CoEngagement, clusters: pd.DataFrame,
                  slow: Callable[[], SlowPass] | None, *,
                  posts: pd.DataFrame | None, accounts: pd.DataFrame | None,
                  aside: Callable[[PassCodes], Callable[[], PassCodes]] | None = None,
                  on_slow_scored: Callable[[SlowPass, pd.DataFrame], None] | None = None,
                  ) -> ScoredCohorts:
    """Score the 1 h pass, cluster the slow pass's edges among the accounts it did not flag
    (Leiden, same seed and resolution), score them, and combine both passes. Each pass's
    ids are coded once (:func:`graphs.pass_codes.pass_codes`; the slow pass's in
    :func:`slow_projection`) for all its scorings. ``slow()`` gives the slow pass (``None``
    when it does not run); it is first called after the fast pass is scored, so that the run
    can keep the slow pass on disk until then. ``aside(codes)``, when given, keeps the
    1 h pass's codes (without the tables they point to; the run sets those tables' columns
    aside with them) away while the slow pass is clustered and scored, and returns the
    function giving them back (and the columns), called before the 1 h pass's cohorts are
    scored again (:func:`graphs.passes.two_pass_cohorts`) or else once both passes are.
    ``on_slow_scored(slow, memberships)``, when given, is called once the slow pass is
    scored, with its flagged cohorts' memberships, before the 1 h pass's cohorts are scored
    again: the run keeps what it needs of the slow pass then (:func:`slow_kept`) and drops
    it. The pages read of columns in files are dropped after each scoring
    (:func:`pipelines.mapped_columns.dropped_pages`)."""
    score = partial(scored_cohorts, posts=posts, accounts=accounts, **config.scoring_rules())
    fast_codes: PassCodes | None = pass_codes(projected.edges, projected.evidence,
                                              projected.activity, posts)
    dropped_pages()  # read of the columns in files: each step below reads what it needs
    fast_back: Callable[[], PassCodes] | None = None  # while cluster_slow set them aside

    def score_fast(c: pd.DataFrame) -> ScoredCohorts:
        nonlocal fast_codes
        if fast_codes is None:
            assert fast_back is not None
            fast_codes = fast_back()._replace(edges=projected.edges,
                                              evidence=projected.evidence)
        scored = score(c, projected.edges, projected.evidence, projected.activity,
                       n_actions=projected.stats["n_actions"], codes=fast_codes)
        dropped_pages()
        return scored

    def score_slow(c: pd.DataFrame) -> ScoredCohorts:
        assert slow is not None
        found = slow()
        scored = score(c, found.projection.edges, found.projection.evidence,
                       found.projection.activity, n_actions=found.projection.stats["n_actions"],
                       codes=found.codes, **slow_rules(config), require_farm_sign=True)
        dropped_pages()
        if on_slow_scored is not None:  # the members two_pass_cohorts keeps
            members = scored.memberships
            on_slow_scored(found, members[in_values(members["account_id"], set(
                scored.flagged_accounts["account_id"]))])
        return scored

    note = (f" (slow pass: engagements up to {config.slow_window_s / 86400:g} d apart on "
            f"targets with at most {config.slow_max_crowd} engagers)")
    def cluster_slow(taken: set[str]) -> pd.DataFrame:
        nonlocal fast_codes, fast_back
        assert slow is not None
        if aside is not None and fast_codes is not None:  # the run holds the tables
            fast_back = aside(fast_codes._replace(edges=None, evidence=None))
            fast_codes = None
        found = slow()
        edges = found.projection.edges[edges_without(found.codes, taken)]
        stats = found.projection.stats
        stats["edges_clustered"] = int(len(edges))
        leiden = config.leiden(edges)
        found = leiden_clusters(edges, **leiden)
        found = split_large_clusters(found, edges, max_size=config.slow_split_above,
                                     seed=config.seed, resolution=config.resolution)
        stats["accounts_clustered"] = int(len(found))
        stats["leiden_resolution"] = leiden["resolution"]
        return found

    scored = two_pass_cohorts(clusters, cluster_slow if slow is not None else None,
                              score_fast=score_fast, score_slow=score_slow, slow_note=note)
    if fast_codes is None and fast_back is not None:  # not scored again: what was set aside
        fast_back()  # with the codes comes back all the same
    return scored


class SlowKept(NamedTuple):
    """What a run keeps of the slow pass once it is scored (:func:`slow_kept`)."""

    ties: CoEngagement | None
    """Its cohorts' ties (:func:`slow_ties`)."""
    stats: dict[str, Any]
    """Its projection's counts, with those its clustering added (:func:`slow_stats`)."""
    dt_s: np.ndarray
    """The gaps of all its evidence rows (the report's background for its cohorts)."""


def slow_kept(slow: SlowPass, memberships: pd.DataFrame) -> SlowKept:
    """What the run keeps of ``slow`` once it is scored, ``memberships`` (``account_id,
    cohort_id``) being its flagged cohorts': the run then drops the slow pass, before the
    1 h pass's cohorts are scored again (:func:`scored_passes`, ``on_slow_scored``)."""
    return SlowKept(slow_ties(slow, memberships), slow.projection.stats,
                    slow.projection.evidence["dt_s"].to_numpy(dtype=float))


def slow_ties(slow: SlowPass, memberships: pd.DataFrame) -> CoEngagement | None:
    """What the slow layer adds to the output edges and evidence: the slow pass's ties among
    the members of each of its flagged cohorts (``memberships``: ``account_id, cohort_id``),
    spelled as the 1 h pass's are (edges with ``targets``, evidence with ids and actions as
    text); ``None`` when there is no such cohort. Nothing else of the slow pass is kept, so
    runs where it flags nothing write the same tables as without it; the run drops the slow
    pass once it has these (few) rows (:func:`slow_kept`)."""
    if memberships.empty:
        return None
    edge_rows, evidence_rows = inside_rows(slow.codes, account_codes(
        slow.codes, memberships["account_id"]), memberships["cohort_id"].to_numpy())
    edges = slow.projection.edges.iloc[edge_rows]
    evidence = spelled_evidence(slow.codes, evidence_rows)
    edges = edges.assign(targets=list(targets_json(  # as co_engagement spells them
        slow.codes.targets, slow.codes.target[evidence_rows], edges["shared_targets"].to_numpy())))
    return slow.projection._replace(edges=edges, evidence=evidence)


def slow_splice(per_layer: dict[str, CoEngagement], weights: dict[str, float],
                projected: CoEngagement, ties: CoEngagement | None) -> Splice | None:
    """The slow layer's ``ties`` (:func:`slow_ties`) spliced into the fused tables
    ``projected`` of the ``per_layer`` projections; ``None`` when there are none. Applied by
    :func:`with_slow_evidence` (same tables as fusing every layer anew,
    :func:`graphs.layer_fusion.spliced_layer`). The rows of the added pairs are taken a
    range at a time from the columns read from files, their pages dropped after each
    (:func:`pipelines.mapped_columns.taken_rows`): taken at once, rows of pairs all over
    the edges touched nearly every page of their columns (at 10M rows +0.39 GiB)."""
    if ties is None:
        return None
    return layer_splice(projected, per_layer, SLOW_LAYER, ties, weights, take=taken_rows)


def with_slow_evidence(projected: CoEngagement, splice: Splice | None,
                       spill: Path | None = None) -> CoEngagement:
    """The output edges and evidence: ``projected``'s with the slow layer spliced in
    (:func:`slow_splice`). ``projected``'s edges and evidence are emptied, their columns
    moved one at a time (:func:`graphs.layer_fusion.spliced_tables`): the caller should
    hold no other reference to them (nor to the per-layer projections, which share them).
    The freed pages go back to the system after each column (:func:`release_freed`): glibc
    kept them, and the next columns were placed beside them (at 10M rows a trim after the
    evidence's splice gave back 0.27 GiB). With a ``spill`` directory the columns but the
    ids themselves (:func:`pipelines.mapped_columns.mappable`) are written there as each is
    placed and read as memory maps (:func:`pipelines.mapped_columns.mapped_column`), as the
    projections and the run made them."""
    if splice is None:
        return projected

    def placed(name: str, column: pd.Series) -> pd.Series:
        assert spill is not None
        return mapped_column(column.rename(name), spill) if mappable(column) else column

    edges, evidence = spliced_tables(projected.edges, projected.evidence, splice,
                                     after_column=release_freed,
                                     placed=None if spill is None else placed)
    stats: dict[str, Any] = {**projected.stats, "edges_kept": int(len(edges)),
                             "layers": splice.layer_stats}
    return projected._replace(edges=edges, evidence=evidence, stats=stats)


def slow_rules(config: RunConfig) -> dict[str, float]:
    """The slow pass's own flag rules, each at least as strict as the fast pass's."""
    return {"min_member_lift": config.slow_min_member_lift,
            "min_density": max(config.min_density, config.slow_min_density),
            "min_lift": max(config.min_lift, config.slow_min_lift),
            "min_size": max(config.min_size, config.slow_min_size)}


def slow_stats(stats: dict[str, Any] | None, config: RunConfig, scored: ScoredCohorts, *,
               skipped: str = "") -> dict[str, Any]:
    """What the slow pass did (its projection's ``stats``, :attr:`SlowKept.stats`; ``None``
    when it did not run, and why), for the manifest."""
    if stats is None:
        return {"enabled": False, "reason": skipped}
    flagged = scored.cohorts[scored.cohorts["pass"].eq("slow")]
    return {"enabled": True, "window_s": config.slow_window_s,
            "max_crowd": config.slow_max_crowd,
            **slow_rules(config), "split_above": config.slow_split_above,
            **{k: stats[k] for k in ("n_actions", "action_pairs_enumerated",
                                          "hub_actions_skipped", "edges_kept")},
            "edges_clustered": stats.get("edges_clustered", 0),
            "accounts_clustered": stats.get("accounts_clustered", 0),
            "leiden_resolution": stats.get("leiden_resolution", config.resolution),
            "cohorts_flagged": int(len(flagged)),
            "accounts_flagged": int(flagged["size"].sum())}
