"""Per-cluster medians and shares over a pass's evidence rows, without pandas' grouping.

``groupby("cluster")[column].median()`` over the 1 h pass's evidence factorizes the cluster
of every row, sorts the rows by it and copies the values in that order (three arrays of
every row: at 100M rows ≈ 2.4 GB), twice per scoring (the flag rules' ``median_dt_s`` and
the cohort features' ``dt_vs_background``; the scoring now asks once). The gaps are whole
seconds, so each row here becomes one integer key (its cluster, then its value; 4 bytes
when they fit, else 8) sorted in place; shares are counted a block of rows at a time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from graphs.bipartite import BLOCK


def cluster_medians(cluster: np.ndarray, values: np.ndarray) -> pd.Series:
    """Per cluster (``cluster >= 0``), the median of its rows' ``values``: what
    ``pd.Series(values).groupby(cluster).median()`` gives for those clusters (NaN values
    left out, a cluster of NaN only: NaN), indexed ``cluster``.

    Whole numbers whose span times the clusters fits an integer key are sorted as keys;
    other values go through pandas.

    >>> cluster_medians(np.array([1, 1, 0, -1, 1, 1]),
    ...                 np.array([4.0, 1.0, 9.0, 5.0, 2.0, 8.0])).to_dict()
    {0: 9.0, 1: 3.0}
    """
    n_clusters = int(cluster.max()) + 1 if cluster.size else 0
    bounds = _whole_bounds(values)
    if bounds is None or n_clusters == 0 or (bounds[1] - bounds[0] + 1) * n_clusters >= 2**62:
        inside = cluster >= 0
        found = pd.Series(values[inside]).groupby(cluster[inside]).median()
        return found.rename_axis("cluster").rename(None)
    lo, span = bounds[0], bounds[1] - bounds[0] + 1
    kind = np.uint32 if span * n_clusters < 2**32 else np.int64  # half the bytes, faster
    rows = np.zeros(n_clusters, np.int64)
    key = np.empty(cluster.size, dtype=kind)  # pages only as far as written
    at = 0
    for start in range(0, cluster.size, BLOCK):
        c, v = cluster[start:start + BLOCK], values[start:start + BLOCK]
        inside = c >= 0
        rows += np.bincount(c[inside], minlength=n_clusters)
        kept = inside & _known(v)
        block = c[kept].astype(kind)
        block *= span
        block += (v[kept] - lo).astype(kind)
        key[at:at + block.size] = block
        at += block.size
    key = key[:at]
    key.sort()
    present = np.flatnonzero(rows)
    first = np.searchsorted(key, present.astype(kind) * kind(span))  # each cluster's keys
    n = np.searchsorted(key, (present + 1).astype(kind) * kind(span)) - first
    low, high = first + (n - 1) // 2, first + n // 2
    median = np.full(present.size, np.nan)
    some = n > 0
    median[some] = (key[low[some]] % span + key[high[some]] % span) / 2 + lo
    return pd.Series(median, index=pd.Index(present, name="cluster"))


def _known(values: np.ndarray) -> np.ndarray:
    """Which of ``values`` are not NaN."""
    return ~np.isnan(values) if values.dtype.kind == "f" else np.ones(values.size, bool)


def _whole_bounds(values: np.ndarray) -> tuple[int, int] | None:
    """The least and largest of ``values`` (NaN left out) when they are whole numbers below
    2^52 in magnitude, read a block at a time; ``(0, 0)`` when all are NaN; else ``None``."""
    if values.dtype.kind not in "fiu":
        return None
    lo, hi = np.inf, -np.inf
    for start in range(0, values.size, BLOCK):
        v = values[start:start + BLOCK]
        v = v[_known(v)]
        if v.size == 0:
            continue
        if v.dtype.kind == "f" and (np.floor(v) != v).any():
            return None
        lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
    if lo > hi:
        return 0, 0
    if max(-lo, hi) >= 2**52:
        return None
    return int(lo), int(hi)


def cluster_shares(cluster: np.ndarray, flag: np.ndarray) -> pd.Series:
    """Per cluster (``cluster >= 0``), the share of its rows where ``flag`` is true: what
    ``pd.Series(flag).groupby(cluster).mean()`` gives for those clusters, counted a block of
    rows at a time.

    >>> cluster_shares(np.array([0, 0, 2, -1]), np.array([True, False, True, True])).to_dict()
    {0: 0.5, 2: 1.0}
    """
    n_clusters = int(cluster.max()) + 1 if cluster.size else 0
    rows, hits = np.zeros(n_clusters, np.int64), np.zeros(n_clusters, np.int64)
    for start in range(0, cluster.size, BLOCK):
        c, f = cluster[start:start + BLOCK], flag[start:start + BLOCK]
        kept = c >= 0
        rows += np.bincount(c[kept], minlength=n_clusters)
        hits += np.bincount(c[kept & f], minlength=n_clusters)
    present = np.flatnonzero(rows)
    return pd.Series(hits[present] / rows[present], index=pd.Index(present, name="cluster"))
