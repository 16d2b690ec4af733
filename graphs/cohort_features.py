"""Descriptive cohort features beyond the flag rules: lockstep, timing, exclusivity.

They are reported with every cohort (``cohorts.csv``) to help an investigator tell a farm
from a fandom or a crowd; none of them decides a flag.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def cohort_features(clusters: pd.DataFrame, edges: pd.DataFrame, evidence: pd.DataFrame,
                    inner_edges: pd.DataFrame, inner_evidence: pd.DataFrame) -> pd.DataFrame:
    """Lockstep coverage, timing against the background, and how exclusive the ties are.

    Parameters
    ----------
    clusters : pandas.DataFrame
        ``account_id, cluster``.
    edges, evidence : pandas.DataFrame
        All kept edges (``account_a, account_b, shared_targets``) and their evidence
        (``account_a, account_b, target_id, dt_s``).
    inner_edges, inner_evidence : pandas.DataFrame
        The rows of ``edges``/``evidence`` inside a cluster, with its id in ``cluster``.

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
    >>> clusters = pd.DataFrame({"account_id": list("abc"), "cluster": [0, 0, 0]})
    >>> edges = pd.DataFrame({"account_a": ["a", "a", "b", "c"],
    ...     "account_b": ["b", "c", "c", "x"], "shared_targets": [2, 1, 1, 2]})
    >>> evidence = pd.DataFrame({"account_a": ["a", "a", "a", "b", "c", "c"],
    ...     "account_b": ["b", "b", "c", "c", "x", "x"], "target_id": list("pqppst"),
    ...     "dt_s": [10.0, 20.0, 30.0, 40.0, 500.0, 700.0]})
    >>> inner = edges.iloc[:3].assign(cluster=0)
    >>> inner_ev = evidence.iloc[:4].assign(cluster=0)
    >>> cohort_features(clusters, edges, evidence, inner, inner_ev).round(3).to_dict("index")
    {0: {'lockstep_coverage': 0.833, 'dt_vs_background': 0.714, 'inside_share': 1.0}}
    """
    size = clusters.groupby("cluster").size()
    tied = pd.concat([inner_evidence[["cluster", "target_id", "account_a"]].set_axis(
        ["cluster", "target_id", "account"], axis=1), inner_evidence[
        ["cluster", "target_id", "account_b"]].set_axis(["cluster", "target_id", "account"],
                                                        axis=1)]).drop_duplicates()
    per_target = tied.groupby(["cluster", "target_id"]).size()
    coverage = (per_target / size.reindex(per_target.index.get_level_values("cluster"))
                .to_numpy()).groupby(level="cluster").mean()
    background = float(evidence["dt_s"].median()) if len(evidence) else np.nan
    dt_ratio = inner_evidence.groupby("cluster")["dt_s"].median() / background
    return pd.DataFrame({"lockstep_coverage": coverage, "dt_vs_background": dt_ratio,
                         "inside_share": _inside_share(clusters, edges, inner_edges)}
                        ).reindex(size.index).round(6)


def _inside_share(clusters: pd.DataFrame, edges: pd.DataFrame,
                  inner_edges: pd.DataFrame) -> pd.Series:
    """Median over members of (ties inside the cluster / all ties of the member)."""
    def ties(table: pd.DataFrame) -> pd.Series:
        return pd.concat([table.groupby("account_a")["shared_targets"].sum(),
                          table.groupby("account_b")["shared_targets"].sum()]
                         ).groupby(level=0).sum()
    members = clusters.set_index("account_id")["cluster"]
    everything = ties(edges.loc[edges["account_a"].isin(members.index)
                                | edges["account_b"].isin(members.index)])
    inside = ties(inner_edges).reindex(members.index, fill_value=0)
    share = inside / everything.reindex(members.index).where(lambda s: s > 0)
    return share.groupby(members).median()
