"""The cohort features the flag rules read: size, density, targets, timing, authors, bundles
and sign-up dates (:func:`graphs.scoring.scored_cohorts` adds the group test)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from graphs.account_context import burst_shares
from graphs.cluster_stats import cluster_medians, cluster_shares
from graphs.pass_codes import InnerRows, PassCodes


def flag_features(clusters: pd.DataFrame, inner: InnerRows, codes: PassCodes,
                  accounts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per cluster: ``size, n_edges, total_weight, density, mean_weight, shared_targets,
    median_dt_s, effective_targets, action`` (the most frequent ``action_a``, for the
    explanation), ``n_authors, top_author_share, effective_authors`` (NA without posts),
    ``same_action_share`` (evidence with ``action_b``), ``creation_spread_days,
    creation_burst_share`` (NaN without ``accounts``). See docs/tables.md.

    Parameters
    ----------
    clusters : pandas.DataFrame
        ``account_id, cluster``.
    inner, codes
        The pass's rows inside the clusters (:func:`graphs.pass_codes.inner_rows`) and its
        codes (:func:`graphs.pass_codes.pass_codes`, with the posts when authors are known).
    accounts : pandas.DataFrame, optional
        ``account_id, created_at``.

    Returns
    -------
    pandas.DataFrame
        Indexed by cluster.

    Examples
    --------
    >>> from graphs.pass_codes import account_codes, inner_rows, pass_codes
    >>> edges = pd.DataFrame({"account_a": ["a"], "account_b": ["b"], "shared_targets": [2],
    ...                       "weight": [2.0]})
    >>> evidence = pd.DataFrame({"account_a": ["a", "a"], "account_b": ["b", "b"],
    ...     "target_id": ["x", "y"], "action_a": ["like"] * 2, "dt_s": [60.0, 90.0]})
    >>> activity = pd.DataFrame({"account_id": ["a", "b"], "n_actions": 2.0, "crowd_sum": 2.0})
    >>> clusters = pd.DataFrame({"account_id": ["a", "b"], "cluster": [0, 0]})
    >>> codes = pass_codes(edges, evidence, activity)
    >>> inner = inner_rows(codes, account_codes(codes, clusters["account_id"]),
    ...                    clusters["cluster"].to_numpy())
    >>> f = flag_features(clusters, inner, codes)
    >>> f[["size", "density", "shared_targets", "median_dt_s", "action"]].values.tolist()
    [[2, 1.0, 2, 75.0, 'like']]
    """
    out = clusters.groupby("cluster").size().rename("size").to_frame()
    by_edge = inner.edges.groupby("cluster")
    out["n_edges"] = by_edge.size()
    out["total_weight"] = by_edge["weight"].sum()
    out = out.fillna({"n_edges": 0, "total_weight": 0.0}).astype({"n_edges": int})
    pairs = out["size"] * (out["size"] - 1) / 2
    out["density"] = (out["n_edges"] / pairs.where(pairs > 0)).fillna(0.0)
    out["mean_weight"] = (out["total_weight"] / out["n_edges"].where(out["n_edges"] > 0)).fillna(0)
    evidence = inner.evidence
    per_target = pair_sizes(evidence, "target", len(codes.targets))
    out["shared_targets"] = per_target.groupby(level="cluster").size()
    cluster = evidence["cluster"].to_numpy()
    out["median_dt_s"] = cluster_medians(cluster, evidence["dt_s"].to_numpy())
    out["effective_targets"] = _effective_number(per_target)
    out["action"] = _most_frequent_action(evidence, codes)
    out = out.join(_author_features(per_target, codes.authors))
    if codes.action_b is not None:  # evidence of one action column: unknown
        a = evidence["action_a"].to_numpy()
        same = a == evidence["action_b"].to_numpy()
        same &= a >= 0
        out["same_action_share"] = cluster_shares(cluster, same)
    out = out.join(_creation_features(clusters, accounts))
    out = out.fillna({"shared_targets": 0, "effective_targets": 0.0})
    return out.astype({"shared_targets": int})


def _most_frequent_action(evidence: pd.DataFrame, codes: PassCodes) -> pd.Series:
    """Per cluster, the most frequent ``action_a``; the first in sorted order on a tie (what
    ``Series.mode().iloc[0]`` gives)."""
    counts = pair_sizes(evidence, "action_a", len(codes.actions))
    top = counts[counts.eq(counts.groupby(level="cluster").transform("max"))]
    top = top[~top.index.get_level_values("cluster").duplicated()]
    names = codes.actions.take(top.index.get_level_values("action_a").to_numpy()).to_pylist()
    return pd.Series(names, index=top.index.get_level_values("cluster"), dtype=object)


def pair_sizes(evidence: pd.DataFrame, column: str, n_codes: int) -> pd.Series:
    """Rows per ``(cluster, column)`` of the inner ``evidence`` (``cluster >= 0``) whose
    ``column`` code (below ``n_codes``) is known (``>= 0``): what ``groupby(["cluster",
    column]).size()`` of those rows gives (the pairs sorted, int64 counts), from one int64
    key per such row sorted in place (pandas' grouping on two keys held ≈ 40 bytes per row
    at once: 1.2 GB for 30M inner rows).

    >>> ev = pd.DataFrame({"cluster": [2, 0, 2, 0, -1],
    ...                    "target": np.array([5, 1, 5, -1, 1], np.int32)})
    >>> pair_sizes(ev, "target", 6).to_dict()
    {(0, 1): 1, (2, 5): 2}
    """
    clusters, codes = evidence["cluster"].to_numpy(), evidence[column].to_numpy()
    keep = (codes >= 0) & (clusters >= 0)
    if keep.all():
        key = clusters.astype(np.int64)
    else:
        key = clusters[keep].astype(np.int64, copy=False)
        codes = codes[keep]
    del keep
    key *= max(n_codes, 1)
    key += codes
    key.sort()
    first = np.empty(key.size, dtype=bool)
    first[:1] = True
    np.not_equal(key[1:], key[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    del first
    sizes = np.diff(np.append(starts, key.size))
    key = key[starts]
    cluster, code = np.divmod(key, max(n_codes, 1))
    index = pd.MultiIndex.from_arrays(
        [pd.Index(cluster, dtype=clusters.dtype, name="cluster"),
         pd.Index(code.astype(codes.dtype), name=column)])
    return pd.Series(sizes.astype(np.int64), index=index)


def _author_features(per_target: pd.Series, authors: pd.DataFrame | None) -> pd.DataFrame:
    """``n_authors, top_author_share, effective_authors`` from the tied rows per (cluster,
    target) and each target's author rows (one row per post row, as a merge gives)."""
    if authors is None:
        empty = pd.Series(dtype="Int64")
        return pd.DataFrame({"n_authors": empty, "top_author_share": pd.Series(dtype=float),
                             "effective_authors": pd.Series(dtype=float)})
    tied = per_target.rename("rows").reset_index().merge(authors, on="target")
    counts = tied.groupby(["cluster", "author"])["rows"].sum()
    per_cluster = counts.groupby(level="cluster")
    return pd.DataFrame({
        "n_authors": per_cluster.size().astype("Int64"),
        "top_author_share": per_cluster.max() / per_cluster.sum(),
        "effective_authors": _effective_number(counts),
    })


def _effective_number(counts: pd.Series) -> pd.Series:
    """Per cluster, ``1 / Σ p²`` over the shares ``p`` of its ties on each value, from the
    ties per (cluster, value) sorted by both."""
    share = counts / counts.groupby(level="cluster").transform("sum")
    return (1.0 / (share**2).groupby(level="cluster").sum()).round(6)


def _creation_features(clusters: pd.DataFrame, accounts: pd.DataFrame | None,
                       burst_days: float = 3.0) -> pd.DataFrame:
    """Per cluster: the interquartile range of the members' creation dates in days, and the
    largest share of its dated members created within ``burst_days`` of each other."""
    index = pd.Index(clusters["cluster"].unique(), name="cluster")
    if accounts is None:
        return pd.DataFrame({"creation_spread_days": np.nan, "creation_burst_share": np.nan},
                            index=index)
    created = clusters.merge(accounts[["account_id", "created_at"]].dropna(), on="account_id")
    days = (created["created_at"] - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(days=1)
    q = days.groupby(created["cluster"]).quantile([0.25, 0.75]).unstack()
    spread = (q[0.75] - q[0.25]) if len(q) else pd.Series(dtype=float)
    bursts = burst_shares(created["cluster"], created["created_at"], burst_days=burst_days)
    return pd.DataFrame({"creation_spread_days": spread,
                         "creation_burst_share": bursts}).reindex(index)
