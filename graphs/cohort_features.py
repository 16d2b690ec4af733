"""Descriptive cohort features beyond the flag rules: lockstep, timing, exclusivity.

They are reported with every cohort (``cohorts.csv``) to help an investigator tell a farm
from a fandom or a crowd; none of them decides a flag.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from graphs.bipartite import BLOCK
from graphs.cluster_stats import cluster_medians
from graphs.flag_features import pair_sizes
from graphs.pass_codes import InnerRows, PassCodes, member_ties


def cohort_features(clusters: pd.DataFrame, members: np.ndarray, inner: InnerRows,
                    codes: PassCodes, *, median_dt_s: pd.Series | None = None) -> pd.DataFrame:
    """Lockstep coverage, timing against the background, and how exclusive the ties are.

    Parameters
    ----------
    clusters : pandas.DataFrame
        ``account_id, cluster``.
    members : numpy.ndarray
        Code of each account of ``clusters`` (:func:`graphs.pass_codes.account_codes`).
    inner, codes
        The pass's edges and evidence inside the clusters (:func:`graphs.pass_codes.inner_rows`)
        and its codes (:func:`graphs.pass_codes.pass_codes`: all its edges and evidence).
    median_dt_s : pandas.Series, optional
        The median gap of each cluster's evidence inside, when already known (the flag
        rules' ``median_dt_s``: :func:`graphs.flag_features.flag_features`); else computed.

    Returns
    -------
    pandas.DataFrame
        Indexed by cluster: ``lockstep_coverage`` (mean over the cohort's shared targets of
        the share of its members tied on that target: 1 when every member engaged every
        shared target in step), ``dt_vs_background`` (the cohort's median gap between tied
        actions over the median gap of all evidence: below 1 is tighter than the run's
        co-engagement in general), ``inside_share`` (median over members of the share of
        their ties that are inside the cohort: 1 when members are tied to no one else).

    Examples
    --------
    >>> from graphs.pass_codes import account_codes, inner_rows, pass_codes
    >>> clusters = pd.DataFrame({"account_id": list("abc"), "cluster": [0, 0, 0]})
    >>> edges = pd.DataFrame({"account_a": ["a", "a", "b", "c"],
    ...     "account_b": ["b", "c", "c", "x"], "shared_targets": [2, 1, 1, 2]})
    >>> evidence = pd.DataFrame({"account_a": ["a", "a", "a", "b", "c", "c"],
    ...     "account_b": ["b", "b", "c", "c", "x", "x"], "target_id": list("pqppst"),
    ...     "action_a": "like", "dt_s": [10.0, 20.0, 30.0, 40.0, 500.0, 700.0]})
    >>> activity = pd.DataFrame({"account_id": list("abcx"), "n_actions": 1.0,
    ...                          "crowd_sum": 1.0})
    >>> codes = pass_codes(edges, evidence, activity)
    >>> members = account_codes(codes, clusters["account_id"])
    >>> inner = inner_rows(codes, members, clusters["cluster"].to_numpy())
    >>> cohort_features(clusters, members, inner, codes).round(3).to_dict("index")
    {0: {'lockstep_coverage': 0.833, 'dt_vs_background': 0.714, 'inside_share': 1.0}}
    """
    size = clusters.groupby("cluster").size()
    per_target = _tied_accounts(inner, len(codes.accounts) + 1, len(codes.targets))
    coverage = (per_target / size.reindex(per_target.index.get_level_values("cluster"))
                .to_numpy()).groupby(level="cluster").mean()
    if median_dt_s is None:
        median_dt_s = cluster_medians(inner.evidence["cluster"].to_numpy(),
                                      inner.evidence["dt_s"].to_numpy())
    dt_ratio = median_dt_s / codes.background_dt_s
    return pd.DataFrame({"lockstep_coverage": coverage, "dt_vs_background": dt_ratio,
                         "inside_share": _inside_share(clusters, members, inner, codes)}
                        ).reindex(size.index).round(6)


def _tied_accounts(inner: InnerRows, n_codes: int, n_targets: int) -> pd.Series:
    """Distinct members tied on each (cluster, target) of the evidence inside, sorted by
    both (a member's code and its target's make one int64 key: no string or frame dedupe;
    ``pd.unique`` hashes them, a block of :data:`BLOCK` rows at a time, then the blocks'
    distinct keys: at 30M rows ≈ 1 GB of keys at once before; the far fewer pairs are then
    counted by :func:`graphs.flag_features.pair_sizes`)."""
    evidence = inner.evidence
    target, cluster = evidence["target"].to_numpy(), evidence["cluster"].to_numpy()
    found = []
    for start in range(0, len(target), BLOCK):  # the rows inside with a known target
        kept = (target[start:start + BLOCK] >= 0) & (cluster[start:start + BLOCK] >= 0)
        base = target[start:start + BLOCK][kept].astype("int64") * n_codes
        found.append(pd.unique(np.concatenate([
            base + evidence[c].to_numpy()[start:start + BLOCK][kept]
            for c in ("account_a", "account_b")])))  # hash: no sort
    keys = pd.unique(np.concatenate(found)) if found else np.empty(0, dtype="int64")
    del found
    tied = pd.DataFrame({"cluster": inner.cluster_of[keys % n_codes],
                         "target": keys // n_codes})
    return pair_sizes(tied, "target", n_targets)


def _inside_share(clusters: pd.DataFrame, members: np.ndarray, inner: InnerRows,
                  codes: PassCodes) -> pd.Series:
    """Median over members of (ties inside the cluster / all ties of the member)."""
    inside = member_ties(inner.edges, len(codes.accounts))[members]
    everything = codes.ties[members].astype(float)
    share = inside / np.where(everything > 0, everything, np.nan)
    return pd.Series(share).groupby(clusters["cluster"].to_numpy()).median()
