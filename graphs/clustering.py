"""Leiden clustering of the co-engagement graph into candidate cohorts."""

from __future__ import annotations

import random

import igraph as ig
import numpy as np
import pandas as pd

from graphs.lookup import pair_groups, sorted_codes, stacked_column

LEIDEN_ITERATIONS = 2
"""Leiden passes (the default of igraph and leidenalg). Iterating until nothing moves
(``-1``) took 203 s instead of 40 s (leidenalg) on the 3.5M edges of the 10M benchmark for a
0.003% higher quality."""


def effective_resolution(total_weight: float, *, resolution: float = 1.0,
                         reference_weight: float = 0.0) -> float:
    """The modularity resolution to give :func:`leiden_clusters` on a graph of
    ``total_weight``: ``resolution`` up to ``reference_weight``, and beyond it ``resolution``
    × ``total_weight / reference_weight`` (``reference_weight`` 0: never scaled).

    Modularity merges two groups of total degrees K₁ and K₂ when the weight between them
    exceeds ``resolution`` × K₁K₂ / 2m, and m grows with the log: the longer the log, the
    weaker the ties that merge a farm with a fandom it shares a few targets with (the
    resolution limit). Beyond ``reference_weight`` the threshold stops falling, so how two
    groups are clustered depends on their own ties and degrees, not on how many other
    accounts the log holds. On the generator's logs (docs/detection.md), farm-majority
    clusters held 549 fans at 10M rows (m = 1.9e6), 1,852 at 30M and 20,299 at 100M with the
    plain resolution; 615 at 30M and 2,125 at 100M with it scaled from m = 1.9e6.

    >>> [effective_resolution(m, reference_weight=2e6) for m in (5e5, 6e6)]
    [1.0, 3.0]
    """
    if reference_weight <= 0 or total_weight <= reference_weight:
        return resolution
    return resolution * total_weight / reference_weight


def leiden_clusters(
    edges: pd.DataFrame, *, seed: int = 0, resolution: float = 1.0, weight: str = "weight"
) -> pd.DataFrame:
    """Partition the accounts of a weighted edge list with Leiden (igraph's C implementation
    of Traag et al.'s algorithm, modularity with a resolution: leidenalg's
    RB-configuration partition, about ten times faster).

    Account ids are sorted before the graph is built, so the same edges and the same seed
    give the same clusters whatever the row order.

    Parameters
    ----------
    edges : pandas.DataFrame
        Columns ``account_a, account_b`` and the ``weight`` column.
    seed : int
        Seed of the random number generator igraph uses for this call.
    resolution : float
        Resolution of the RB-configuration (modularity) quality; higher gives smaller clusters
        (:func:`effective_resolution` grows it with the graph).
    weight : str
        Name of the edge-weight column.

    Returns
    -------
    pandas.DataFrame
        ``account_id, cluster`` for every account with an edge; clusters numbered 0.. from
        the largest, ties broken by smallest member id.

    Examples
    --------
    >>> e = pd.DataFrame({"account_a": ["a", "a", "b", "x", "x", "y"],
    ...                   "account_b": ["b", "c", "c", "y", "z", "z"], "weight": [1.0] * 6})
    >>> leiden_clusters(e, seed=0).groupby("cluster")["account_id"].apply(list).tolist()
    [['a', 'b', 'c'], ['x', 'y', 'z']]
    """
    if edges.empty:
        return pd.DataFrame({"account_id": pd.Series(dtype=str), "cluster": pd.Series(dtype=int)})
    ends = stacked_column([edges["account_a"], edges["account_b"]])  # codes stay codes
    sorted_ids, codes = sorted_codes(ends)  # text: Arrow hashing (7M ends 15 s -> 1 s);
    # categoricals of one dtype (the projection's): from their codes, no text per row
    ids = sorted_ids.to_numpy(zero_copy_only=False)
    a, b = codes[:len(edges)].astype(np.int64), codes[len(edges):].astype(np.int64)
    order = np.argsort(a * len(ids) + b, kind="stable")  # np.lexsort((b, a)) as one key:
    # 18.6M edges 0.4-3.1 s against 5.6-6.9 s (codes < 2**31, so the key fits)
    graph = ig.Graph(n=len(ids))  # then add_edges: the constructor took twice as long (3.5M
    graph.add_edges(np.column_stack([a[order], b[order]]))  # edges: 1.3 s against 2.8-3.1 s)
    # the weights as an array, not an edge attribute: igraph keeps attributes as a list of
    # Python floats (≈ 32 bytes an edge: a random graph of 9.3M edges alone peaked at 1.82
    # GiB so, 1.47 GiB with the array)
    weights = edges[weight].to_numpy(dtype=float)[order]
    ig.set_random_number_generator(random.Random(seed))
    try:
        partition = graph.community_leiden(objective_function="modularity", weights=weights,
                                           resolution=resolution, n_iterations=LEIDEN_ITERATIONS)
    finally:
        ig.set_random_number_generator(random)
    raw = pd.DataFrame({"account_id": ids, "raw": partition.membership})
    return raw.assign(cluster=_ranked(raw))[["account_id", "cluster"]]


def _ranked(raw: pd.DataFrame) -> np.ndarray:
    """Renumber clusters by size (descending), then by smallest member id."""
    key = raw.groupby("raw")["account_id"].agg(["size", "min"])
    order = key.sort_values(["size", "min"], ascending=[False, True]).index
    rank = pd.Series(np.arange(len(order)), index=order)
    return rank.loc[raw["raw"]].to_numpy()


def split_large_clusters(clusters: pd.DataFrame, edges: pd.DataFrame, *, max_size: int,
                         seed: int = 0, resolution: float = 1.0,
                         weight: str = "weight") -> pd.DataFrame:
    """Re-run Leiden inside every cluster of more than ``max_size`` accounts.

    Modularity has a resolution limit: on a big sparse graph it merges a small dense group
    (a farm of 40 accounts) into a cluster of hundreds of loosely tied accounts. Clustering
    each such cluster again on its own internal edges lets the group stand out; clusters of
    at most ``max_size`` accounts are left as they are.

    Parameters
    ----------
    clusters : pandas.DataFrame
        ``account_id, cluster`` from :func:`leiden_clusters` on ``edges``.
    edges : pandas.DataFrame
        The edges that were clustered (``account_a, account_b`` and ``weight``).
    max_size : int
        Clusters with more accounts are split; ``0`` returns ``clusters`` unchanged.
    seed, resolution, weight
        As in :func:`leiden_clusters`.

    Returns
    -------
    pandas.DataFrame
        ``account_id, cluster``, renumbered as :func:`leiden_clusters` numbers them.

    Examples
    --------
    >>> e = pd.DataFrame({"account_a": ["a", "a", "b", "x", "x", "y", "c"],
    ...                   "account_b": ["b", "c", "c", "y", "z", "z", "x"], "weight": [1.0] * 7})
    >>> one = pd.DataFrame({"account_id": list("abcxyz"), "cluster": [0] * 6})
    >>> split_large_clusters(one, e, max_size=3).groupby("cluster")["account_id"].apply(
    ...     list).tolist()
    [['a', 'b', 'c'], ['x', 'y', 'z']]
    """
    if max_size <= 0 or clusters.empty:
        return clusters
    sizes = clusters["cluster"].value_counts()
    big = set(sizes.index[sizes > max_size])
    if not big:
        return clusters
    group = pair_groups(edges, clusters.set_index("account_id")["cluster"])
    label = pd.Series(-1, index=clusters["account_id"].to_numpy(), dtype=np.int64)
    for offset, cluster in enumerate(sorted(big)):
        inner = edges[group == cluster]
        parts = leiden_clusters(inner, seed=seed, resolution=resolution, weight=weight)
        label[parts["account_id"].to_numpy()] = (offset + 1) * len(clusters) + parts[
            "cluster"].to_numpy()
    keep = label.to_numpy() < 0  # small clusters (and members without an internal edge)
    label[keep] = clusters["cluster"].to_numpy()[keep]
    out = pd.DataFrame({"account_id": clusters["account_id"].to_numpy(),
                        "raw": label.to_numpy()})
    return out.assign(cluster=_ranked(out))[["account_id", "cluster"]]
