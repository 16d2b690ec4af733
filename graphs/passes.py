"""Two detection passes: a fast window for lockstep delivery, a slow one for evasive farms.

Farms that spread each order over one to three days and use a random part of their pool
for each order leave each pair of their accounts one or two shared targets, rarely within
an hour of each other: the fast pass (the run's ``window``) sees nothing. The slow pass pairs
the same engagements within days (``slow_window``) but only on targets with few engagers
(``slow_max_crowd``): popular posts, where organic users meet by the thousand over days,
are left out, while a farm's orders — posts of small customers that the farm's accounts
engage and few others — stay in. Each pass is clustered and scored on its own graph; the
slow pass only looks at accounts the fast pass did not flag, and its flagged cohorts are
added to the fast pass's cohorts (the accounts it flags leave their fast-pass clusters).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from graphs.lookup import in_values
from graphs.scoring import ScoredCohorts, ranked_cohorts

Score = Callable[[pd.DataFrame], ScoredCohorts]


def two_pass_cohorts(fast_clusters: pd.DataFrame,
                     cluster_slow: Callable[[set[str]], pd.DataFrame] | None, *,
                     score_fast: Score, score_slow: Score, slow_note: str = "") -> ScoredCohorts:
    """Cohorts of the fast pass plus the flagged cohorts of the slow pass, ranked together.

    Parameters
    ----------
    fast_clusters : pandas.DataFrame
        ``account_id, cluster`` of the fast pass (e.g. from
        :func:`graphs.clustering.leiden_clusters`).
    cluster_slow : callable or None
        Accounts flagged by the fast pass → ``account_id, cluster`` of the slow pass over the
        other accounts (its graph without the flagged ones); ``None`` when the slow pass is
        off (the fast pass's cohorts are returned, with the ``pass`` column).
    score_fast, score_slow : callable
        Cluster table → :class:`graphs.scoring.ScoredCohorts`, each on its own pass's edges
        (e.g. :func:`graphs.scoring.scored_cohorts` with the pass's projection bound).
    slow_note : str
        Appended to the explanation of every slow-pass cohort (what the slow pass paired).

    Returns
    -------
    ScoredCohorts
        Fast-pass cohorts (flagged or not) and the slow pass's flagged cohorts, with a
        ``pass`` column (``fast``/``slow``), ranked as :func:`graphs.scoring.scored_cohorts`
        ranks (flagged first, then by score), ``cohort_id`` renumbered 0..; every account is
        in at most one cohort.

    Examples
    --------
    >>> from graphs.scoring import ScoredCohorts, ranked_cohorts
    >>> def score(clusters, flag):
    ...     c = clusters.groupby("cluster").size().rename("size").reset_index()
    ...     c = c.assign(cohort_id=c["cluster"], score=c["size"] * 1.0,
    ...                  flagged=c["cluster"].isin(flag), explanation="x")
    ...     m = clusters.rename(columns={"cluster": "cohort_id"})
    ...     f = m.merge(c[c.flagged], on="cohort_id")[["account_id", "cohort_id", "score"]]
    ...     return ScoredCohorts(c.drop(columns="cluster"), m,
    ...                          f.rename(columns={"score": "cohort_score"}))
    >>> fast = pd.DataFrame({"account_id": list("abcdef"), "cluster": [0, 0, 1, 1, 1, 1]})
    >>> slow = pd.DataFrame({"account_id": list("cdefg"), "cluster": [5, 5, 5, 6, 6]})
    >>> out = two_pass_cohorts(fast, lambda taken: slow, score_fast=lambda c: score(c, {0}),
    ...                        score_slow=lambda c: score(c, {5}))
    >>> out.cohorts[["cohort_id", "pass", "size", "flagged"]].values.tolist()
    [[0, 'slow', 3, True], [1, 'fast', 2, True], [2, 'fast', 1, False]]
    >>> out.memberships.values.tolist()
    [['c', 0], ['d', 0], ['e', 0], ['a', 1], ['b', 1], ['f', 2]]
    """
    fast = score_fast(fast_clusters)
    if cluster_slow is None:
        return _with_pass(fast, "fast")
    taken = set(fast.flagged_accounts["account_id"])
    slow_clusters = cluster_slow(taken)
    rest = slow_clusters[~in_values(slow_clusters["account_id"], taken)]
    if rest.empty:
        return _with_pass(fast, "fast")
    slow = score_slow(rest)
    slow_flagged = set(slow.flagged_accounts["account_id"])
    if not slow_flagged:
        return _with_pass(fast, "fast")
    fast = _rescored(fast, fast_clusters, slow_flagged, score_fast)
    kept = slow.cohorts["flagged"].to_numpy()
    slow = ScoredCohorts(
        cohorts=slow.cohorts[kept].assign(explanation=slow.cohorts.loc[kept, "explanation"]
                                          + slow_note),
        memberships=slow.memberships[in_values(slow.memberships["account_id"], slow_flagged)],
        flagged_accounts=slow.flagged_accounts)
    return _merged([_with_pass(fast, "fast"), _with_pass(slow, "slow")])


def _rescored(fast: ScoredCohorts, fast_clusters: pd.DataFrame, gone: set[str],
              score_fast: Score) -> ScoredCohorts:
    """The fast pass's cohorts with the ``gone`` accounts taken out of their clusters.

    Scoring is per cluster, so only the clusters that held a ``gone`` account are scored
    again (at 10M rows a full second scoring took as long as the first); the others keep
    their rows. Ranks are assigned again when the passes are merged.
    """
    gone_rows = in_values(fast_clusters["account_id"], gone)
    touched = fast_clusters.loc[gone_rows, "cluster"].unique()
    if not len(touched):
        return fast
    inside = fast_clusters["cluster"].isin(touched)
    old_ids = set(fast.memberships.loc[in_values(
        fast.memberships["account_id"], fast_clusters.loc[inside, "account_id"]), "cohort_id"])
    keep = ScoredCohorts(
        cohorts=fast.cohorts[~fast.cohorts["cohort_id"].isin(old_ids)],
        memberships=fast.memberships[~fast.memberships["cohort_id"].isin(old_ids)],
        flagged_accounts=fast.flagged_accounts[~fast.flagged_accounts["cohort_id"].isin(old_ids)])
    part = fast_clusters[inside & ~gone_rows]
    return _merged([keep, score_fast(part)]) if len(part) else _merged([keep])


def _with_pass(scored: ScoredCohorts, name: str) -> ScoredCohorts:
    cohorts = scored.cohorts.copy()
    cohorts.insert(1, "pass", name)
    return scored._replace(cohorts=cohorts)


def _merged(parts: list[ScoredCohorts]) -> ScoredCohorts:
    """Cohorts of several scorings ranked together (:func:`graphs.scoring.ranked_cohorts`)."""
    features, clusters, offset = [], [], 0
    for part in parts:
        features.append(part.cohorts.set_index(part.cohorts["cohort_id"].to_numpy() + offset)
                        .drop(columns="cohort_id"))
        clusters.append(pd.DataFrame({"account_id": part.memberships["account_id"],
                                      "cluster": part.memberships["cohort_id"] + offset}))
        offset += int(part.cohorts["cohort_id"].max()) + 1 if len(part.cohorts) else 0
    return ranked_cohorts(pd.concat(features), pd.concat(clusters, ignore_index=True))
