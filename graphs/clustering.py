"""Leiden clustering of the co-engagement graph into candidate cohorts."""

from __future__ import annotations

import igraph as ig
import leidenalg
import numpy as np
import pandas as pd

LEIDEN_ITERATIONS = 2
"""Leiden passes (leidenalg's default). Iterating until nothing moves (``-1``) took 203 s
instead of 40 s on the 3.5M edges of the 10M benchmark for a 0.003% higher quality."""


def leiden_clusters(
    edges: pd.DataFrame, *, seed: int = 0, resolution: float = 1.0, weight: str = "weight"
) -> pd.DataFrame:
    """Partition the accounts of a weighted edge list with Leiden.

    Account ids are sorted before the graph is built, so the same edges and the same seed
    give the same clusters whatever the row order.

    Parameters
    ----------
    edges : pandas.DataFrame
        Columns ``account_a, account_b`` and the ``weight`` column.
    seed : int
        Seed of leidenalg's random number generator.
    resolution : float
        Resolution of the RB-configuration (modularity) quality; higher gives smaller clusters.
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
    ids = np.unique(np.concatenate([edges["account_a"].to_numpy(), edges["account_b"].to_numpy()]))
    a = np.searchsorted(ids, edges["account_a"].to_numpy())
    b = np.searchsorted(ids, edges["account_b"].to_numpy())
    order = np.lexsort((b, a))
    graph = ig.Graph(n=len(ids), edges=np.column_stack([a[order], b[order]]))
    partition = leidenalg.find_partition(
        graph, leidenalg.RBConfigurationVertexPartition,
        weights=edges[weight].to_numpy(dtype=float)[order].tolist(),
        resolution_parameter=resolution, seed=seed, n_iterations=LEIDEN_ITERATIONS,
    )
    raw = pd.DataFrame({"account_id": ids, "raw": partition.membership})
    return raw.assign(cluster=_ranked(raw))[["account_id", "cluster"]]


def _ranked(raw: pd.DataFrame) -> np.ndarray:
    """Renumber clusters by size (descending), then by smallest member id."""
    key = raw.groupby("raw")["account_id"].agg(["size", "min"])
    order = key.sort_values(["size", "min"], ascending=[False, True]).index
    rank = pd.Series(np.arange(len(order)), index=order)
    return rank.loc[raw["raw"]].to_numpy()
