"""Cohort features, score, flag decision and a one-line explanation."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from graphs.cohort_features import cohort_features
from graphs.explanations import explanation, flag_reasons
from graphs.flag_features import flag_features
from graphs.pass_codes import PassCodes, account_codes, inner_rows, member_ties, pass_codes
from graphs.significance import tie_p_values


class ScoredCohorts(NamedTuple):
    """Result of :func:`scored_cohorts`."""

    cohorts: pd.DataFrame
    """One row per cohort, ranked by score (cohort_id 0 is the highest)."""
    memberships: pd.DataFrame
    """``account_id, cohort_id`` for every clustered account."""
    flagged_accounts: pd.DataFrame
    """``account_id, cohort_id, cohort_score`` for every account of a flagged cohort."""


def scored_cohorts(
    clusters: pd.DataFrame, edges: pd.DataFrame, evidence: pd.DataFrame,
    activity: pd.DataFrame, *, n_actions: int,
    posts: pd.DataFrame | None = None, accounts: pd.DataFrame | None = None,
    min_size: int = 5, min_shared_targets: int = 5, min_density: float = 0.1,
    min_lift: float = 3.0, max_cohort_p: float = 1e-6,
    min_authors: int = 5, max_top_author_share: float = 0.5, min_member_lift: float = 2.0,
    min_effective_authors: float = 5.0, min_effective_targets: float = 5.0,
    min_creation_burst: float = 0.25, min_same_action_share: float = 0.8,
    require_farm_sign: bool | None = None, codes: PassCodes | None = None,
) -> ScoredCohorts:
    """Score each cluster and decide which cohorts to flag.

    The group test: the cohort's observed ties (shared targets summed over its internal
    edges) against the ties expected under the null of :mod:`graphs.significance` summed over
    all its member pairs; ``lift`` is their ratio and ``cohort_p_value`` a Poisson tail.
    Many weak ties inside one group are evidence even when no single pair is.

    A cohort is flagged when it has at least ``min_size`` accounts, density ``min_density``
    or more, ``min_shared_targets`` or more distinct co-engaged targets, a lift of at least
    ``min_lift`` with ``cohort_p_value`` at most ``max_cohort_p``, and — when ``posts``
    gives the authors — targets from at least ``min_authors`` authors with no single author
    above ``max_top_author_share`` of the co-engagements (fans of one creator are not a farm).
    Concentration is also tested softly: the *effective number* of targets of the cohort's
    ties, ``1 / Σ p²`` over each target's share of the internal ties, must be at least
    ``min_effective_targets``, and the same over authors at least ``min_effective_authors``
    (when ``posts`` is given). Organic users who happened to co-engage the same two or three
    popular posts form a tight clique with a high lift but an effective number of 2–4
    targets; a farm working for many customers spreads its ties over 15–20.
    Without ``posts`` the authors are unknown and one creator's fans co-engage like a farm;
    every cohort then needs a second sign of a farm: at least ``min_creation_burst`` of its
    dated members created within 3 days of each other (farm accounts are made in batches:
    0.37–0.54 measured on the generator, fandoms 0.05–0.10; needs ``accounts``), or at least
    ``min_same_action_share`` of its tied action pairs being the same action (a farm
    delivers bundles of one action — likes, or follows —: 0.95–1.0 measured, fans who like
    and comment 0.53–0.64; not asked for when all of ``evidence`` reaches that share too, as
    in a log of one action type: :func:`bundles_uninformative`).
    ``require_farm_sign`` asks for that second sign even with ``posts`` (the slow pass,
    whose weak ties and split clusters let small organic groups through on lift alone);
    ``None`` asks for it when ``posts`` is ``None``.
    The score is the lift.

    Before scoring, each member's own ties into its cluster are tested the same way: a
    member with fewer than ``min_member_lift`` times the ties expected by chance is moved
    out (organic accounts that Leiden absorbed into a farm). A cohort has at least two
    accounts: single accounts left by pruning or by Leiden are not cohorts and are not in
    ``memberships``.

    Parameters
    ----------
    clusters : pandas.DataFrame
        ``account_id, cluster`` from :func:`graphs.clustering.leiden_clusters`.
    edges, evidence, activity : pandas.DataFrame
        ``co_engagement_edges``, ``edge_evidence`` and account activity from
        :func:`graphs.projection.co_engagement`.
    n_actions : int
        Number of actions in the projected incidence (the null's N).
    posts : pandas.DataFrame, optional
        ``target_id, author_id``.
    accounts : pandas.DataFrame, optional
        ``account_id, created_at``: adds ``creation_spread_days`` (interquartile range) and
        ``creation_burst_share`` (largest share of members created within 3 days).
    codes : PassCodes, optional
        ``pass_codes(edges, evidence, activity, posts)`` (:mod:`graphs.pass_codes`) when
        several scorings share the pass's tables: built here when not given.

    Returns
    -------
    ScoredCohorts

    Examples
    --------
    >>> clusters = pd.DataFrame({"account_id": ["a", "b"], "cluster": [0, 0]})
    >>> edges = pd.DataFrame({"account_a": ["a"], "account_b": ["b"], "shared_targets": [2],
    ...                       "weight": [2.0], "median_dt_s": [60.0]})
    >>> evidence = pd.DataFrame({"account_a": ["a", "a"], "account_b": ["b", "b"],
    ...     "target_id": ["x", "y"], "action_a": ["like"] * 2, "dt_s": [60.0, 60.0]})
    >>> activity = pd.DataFrame({"account_id": ["a", "b"], "n_actions": [2.0, 2.0],
    ...                          "crowd_sum": [2.0, 2.0]})
    >>> scored = scored_cohorts(clusters, edges, evidence, activity, n_actions=100)
    >>> print(scored.cohorts.loc[0, "explanation"])  # doctest: +NORMALIZE_WHITESPACE
    not flagged: group test p = 7.8e-04 above 1e-06; fewer than 5 accounts; fewer than 5
    shared targets; 2 accounts co-liked 2 targets, median 60 s apart, 50× the
    co-engagement expected by chance
    """
    if codes is None:
        codes = pass_codes(edges, evidence, activity, posts)
    _check_codes(codes, edges, evidence, posts is not None)
    clusters = pruned_members(clusters, edges, activity, n_actions=n_actions,
                              min_member_lift=min_member_lift, codes=codes)
    clusters = clusters[clusters.groupby("cluster")["account_id"].transform("size") >= 2]
    members = account_codes(codes, clusters["account_id"])
    inner = inner_rows(codes, members, clusters["cluster"].to_numpy())
    features = flag_features(clusters, inner, codes, accounts)
    features = features.join(_group_test(clusters, members, inner.edges, codes, n_actions))
    features = features.join(cohort_features(clusters, members, inner, codes,
                                             median_dt_s=features["median_dt_s"]))
    sign = posts is None if require_farm_sign is None else require_farm_sign
    if bundles_uninformative(codes, min_same_action_share):
        min_same_action_share = 0.0
    rules = dict(min_size=min_size, min_shared_targets=min_shared_targets,
                 min_density=min_density, min_lift=min_lift, max_cohort_p=max_cohort_p,
                 min_authors=min_authors, max_top_author_share=max_top_author_share,
                 min_effective_authors=min_effective_authors,
                 min_effective_targets=min_effective_targets,
                 min_creation_burst=min_creation_burst if sign else 0.0,
                 min_same_action_share=min_same_action_share if sign else 0.0)
    features["score"] = features["lift"].round(6)
    reasons = pd.Series([flag_reasons(row, **rules) for row in features.to_dict("records")],
                        index=features.index, dtype=object)  # dicts: iterrows took 1 s at 10M
    features["flagged"] = reasons.map(len).eq(0)
    features["explanation"] = [
        explanation(row, why) for row, why in zip(features.itertuples(), reasons, strict=True)
    ]
    return ranked_cohorts(features.drop(columns=["action"]), clusters)


def bundles_uninformative(codes: PassCodes, min_same_action_share: float) -> bool:
    """True when tied action pairs in general (all the pass's evidence rows, by their action
    codes) are the same action at least as often as a bundle needs (a log of likes only):
    the bundle sign then tells nothing.

    >>> ev = pd.DataFrame({"account_a": ["a", "a"], "account_b": ["b", "b"],
    ...     "target_id": ["x", "y"], "action_a": ["like", "like"],
    ...     "action_b": ["like", "comment"], "dt_s": [1.0, 1.0]})
    >>> codes = pass_codes(pd.DataFrame({"account_a": ["a"], "account_b": ["b"],
    ...     "shared_targets": [2]}), ev, pd.DataFrame({"account_id": ["a", "b"],
    ...     "n_actions": 2.0, "crowd_sum": 2.0}))
    >>> bundles_uninformative(codes, 0.8), bundles_uninformative(codes, 0.4)
    (False, True)
    """
    a, b = codes.action_a, codes.action_b
    if b is None or a.size == 0:
        return True
    return bool(((a == b) & (a >= 0)).mean() >= min_same_action_share)


def pruned_members(clusters: pd.DataFrame, edges: pd.DataFrame, activity: pd.DataFrame, *,
                   n_actions: int, min_member_lift: float = 2.0,
                   codes: PassCodes | None = None) -> pd.DataFrame:
    """Clusters with each member whose ties into its cluster are not above chance moved out.

    A member's observed ties are the shared targets of its edges inside its cluster; its
    expected ties are the null's λ summed over its pairs with the other members. Members
    below ``min_member_lift`` times the expectation get a cluster of their own (new ids
    after the existing ones, in account order). ``codes``: the pass's
    :func:`graphs.pass_codes.pass_codes` when already built (its edges and activity are used).

    Examples
    --------
    >>> clusters = pd.DataFrame({"account_id": ["a", "b", "c"], "cluster": [0, 0, 0]})
    >>> edges = pd.DataFrame({"account_a": ["a"], "account_b": ["b"], "shared_targets": [3]})
    >>> activity = pd.DataFrame({"account_id": ["a", "b", "c"], "n_actions": [3.0, 3.0, 9.0],
    ...                          "crowd_sum": [3.0, 3.0, 90.0]})
    >>> pruned_members(clusters, edges, activity, n_actions=1000)["cluster"].tolist()
    [0, 0, 1]
    """
    if min_member_lift < 0:
        raise ValueError(f"min_member_lift must be >= 0, got {min_member_lift}")
    if codes is None:
        codes = pass_codes(edges, None, activity)
    _check_codes(codes, edges)
    members = account_codes(codes, clusters["account_id"])
    inner = inner_rows(codes, members, clusters["cluster"].to_numpy(), evidence=False)
    act = _member_activity(clusters, members, codes)
    total = act.groupby("cluster")[["n_actions", "crowd_sum"]].transform("sum")
    expected = (act["n_actions"] * (total["crowd_sum"] - act["crowd_sum"])
                + act["crowd_sum"] * (total["n_actions"] - act["n_actions"]))
    expected = expected / (2.0 * max(n_actions, 1))
    observed = member_ties(inner.edges, len(codes.accounts))[members]
    out = observed < min_member_lift * expected.to_numpy()
    cluster = clusters["cluster"].to_numpy().copy()
    first = int(cluster.max()) + 1 if len(cluster) else 0
    cluster[out] = first + np.arange(int(out.sum()))
    return pd.DataFrame({"account_id": clusters["account_id"].to_numpy(), "cluster": cluster})


def _member_activity(clusters: pd.DataFrame, members: np.ndarray,
                     codes: PassCodes) -> pd.DataFrame:
    """``cluster, n_actions, crowd_sum`` of each member, in ``clusters``' order."""
    act = codes.activity.iloc[members]  # code -1: the last row, zeros
    return pd.DataFrame({"cluster": clusters["cluster"].to_numpy(),
                         "n_actions": act["n_actions"].to_numpy(),
                         "crowd_sum": act["crowd_sum"].to_numpy()})


def _check_codes(codes: PassCodes, edges: pd.DataFrame, evidence: pd.DataFrame | None = None,
                 with_posts: bool | None = None) -> None:
    if codes.edges is not edges or (evidence is not None and codes.evidence is not evidence) or (
            with_posts is not None and (codes.authors is not None) != with_posts):
        raise ValueError("codes: built from other edges, evidence or posts than the ones "
                         "given (pass_codes(edges, evidence, activity, posts))")


def _group_test(clusters: pd.DataFrame, members: np.ndarray, inner_edges: pd.DataFrame,
                codes: PassCodes, n_actions: int) -> pd.DataFrame:
    """Observed vs expected ties inside each cluster, their ratio and a Poisson tail."""
    act = _member_activity(clusters, members, codes)
    act["n_c"] = act["n_actions"] * act["crowd_sum"]
    sums = act.groupby("cluster")[["n_actions", "crowd_sum", "n_c"]].sum()
    expected = (sums["n_actions"] * sums["crowd_sum"] - sums["n_c"]) / (2.0 * max(n_actions, 1))
    observed = inner_edges.groupby("cluster")["shared_targets"].sum().reindex(sums.index)
    observed = observed.fillna(0).astype(int)
    return pd.DataFrame({
        "observed_ties": observed,
        "expected_ties": expected.round(6),
        "lift": (observed / expected.clip(lower=1e-9)).round(6),
        "cohort_p_value": tie_p_values(observed.to_numpy(), expected.to_numpy()),
    }, index=sums.index)


def ranked_cohorts(features: pd.DataFrame, clusters: pd.DataFrame) -> ScoredCohorts:
    """Cohorts ranked flagged first, then by score, then by size (stable), ``cohort_id``
    0.. in that order; ``features`` is indexed by the ``cluster`` ids of ``clusters``.

    Examples
    --------
    >>> f = pd.DataFrame({"size": [2, 3], "score": [1.0, 1.0], "flagged": [False, True]},
    ...                  index=[7, 9])
    >>> c = pd.DataFrame({"account_id": list("abcde"), "cluster": [7, 7, 9, 9, 9]})
    >>> ranked_cohorts(f, c).memberships.values.tolist()
    [['c', 0], ['d', 0], ['e', 0], ['a', 1], ['b', 1]]
    """
    ranked = features.sort_values(["flagged", "score", "size"], ascending=[False, False, False],
                                  kind="stable")
    cohort_of = pd.Series(np.arange(len(ranked)), index=ranked.index)
    cohorts = ranked.reset_index(drop=True)
    cohorts.insert(0, "cohort_id", np.arange(len(ranked)))
    memberships = pd.DataFrame({"account_id": clusters["account_id"],
                                "cohort_id": cohort_of.loc[clusters["cluster"]].to_numpy()})
    memberships = memberships.sort_values(["cohort_id", "account_id"], ignore_index=True)
    flagged = memberships.merge(cohorts[["cohort_id", "score", "flagged"]], on="cohort_id")
    flagged = flagged.loc[flagged["flagged"], ["account_id", "cohort_id", "score"]]
    return ScoredCohorts(cohorts=cohorts,
                         memberships=memberships,
                         flagged_accounts=flagged.rename(columns={"score": "cohort_score"})
                         .reset_index(drop=True))
