"""Degree and weighted degree of accounts from an edge list's two ends, by counting.

The weights are summed with Kahan's compensated summation, over the ``a`` ends in edge
order, then the ``b`` ends: the order and the method of pandas' groupby sum of the stacked
ends (``concat([a ends, b ends]).groupby(account)["weight"].sum()``), without the stacked
ends and the grouping's codes (at 30M rows, 9.3M edges: +0.58 GiB in the ``accounts.csv``
output task). On the 10M and 30M benchmark runs every account's sum is pandas' to the last
bit (the files are identical); not always elsewhere: with weights of 5e5 and 1 in one sum,
pandas' last bit can differ (tests/test_degrees.py).
"""

from __future__ import annotations

import numpy as np
from numba import njit


def account_degrees(a: np.ndarray, b: np.ndarray, weight: np.ndarray, n: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Per account position ``0..n-1``: its number of edge ends and their summed weight.

    Parameters
    ----------
    a, b : numpy.ndarray
        Integer position of each edge's two accounts; ``-1`` for an end not counted.
    weight : numpy.ndarray
        float64, one per edge.
    n : int
        Number of positions.

    Returns
    -------
    tuple of numpy.ndarray
        ``degree`` (int64) and ``weighted_degree`` (float64), ``n`` each.

    Examples
    --------
    >>> d, w = account_degrees(np.array([0, 0]), np.array([1, -1]), np.array([0.5, 0.25]), 3)
    >>> d.tolist(), w.tolist()
    ([2, 1, 0], [0.75, 0.5, 0.0])
    """
    if not (len(a) == len(b) == len(weight)):
        raise ValueError(f"account_degrees: {len(a)} a ends, {len(b)} b ends and "
                         f"{len(weight)} weights; expected one of each per edge")
    degree, total = np.zeros(n, np.int64), np.zeros(n)
    compensation, weight = np.zeros(n), np.asarray(weight, dtype=np.float64)
    for ends in (a, b):  # the a ends first, as stacked
        _add(ends, weight, degree, total, compensation)
    return degree, total


@njit(cache=True)
def _add(ends, weight, degree, total, compensation):
    """Kahan-add ``weight[i]`` to ``total[ends[i]]`` in row order."""
    for i in range(ends.size):
        k = ends[i]
        if k < 0:
            continue
        degree[k] += 1
        if weight[i] != weight[i]:  # NaN: not summed, as pandas skips it
            continue
        y = weight[i] - compensation[k]
        t = total[k] + y
        compensation[k] = t - total[k] - y
        if compensation[k] != compensation[k]:  # an infinite value: no compensation
            compensation[k] = 0.0
        total[k] = t
