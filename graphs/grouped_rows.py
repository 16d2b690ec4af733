"""Row positions ordered by integer codes, by counting and by sorting short runs only.

A sort of selected rows by (group, a, b, key) needs one code array per key and the
argsort's positions; when the rows already come in (a, b) order, as a projection's evidence
does, the same order is each (a, b) run sorted by ``key`` (most are already) and then a
stable grouping by counting (at 30M rows, 22M of 31M evidence rows: +0.85 GiB for the
four-key sort).
"""

from __future__ import annotations

import numpy as np
from numba import njit


def grouped_rows(rows: np.ndarray, group: np.ndarray, n_groups: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` stably ordered by ``group`` (codes ``0..n_groups-1``), and each group's size.

    The stable argsort by counting: the rows of group 0 first, in their order, then those
    of group 1, ...

    Examples
    --------
    >>> rows, sizes = grouped_rows(np.array([10, 11, 12, 13]), np.array([1, 0, 1, 0]), 3)
    >>> rows.tolist(), sizes.tolist()
    ([11, 13, 10, 12], [2, 2, 0])
    """
    if len(rows) != len(group):
        raise ValueError(f"grouped_rows: {len(rows)} rows but {len(group)} group codes")
    sizes = np.bincount(group, minlength=n_groups).astype(np.int64)
    if len(sizes) > n_groups:
        raise ValueError(f"grouped_rows: a group code is {len(sizes) - 1}, "
                         f"expected below {n_groups}")
    out = np.empty_like(rows)
    _place(rows, group, np.concatenate(([0], np.cumsum(sizes)[:-1])), out)
    return out, sizes


@njit(cache=True)
def _place(rows, group, at, out):
    for k in range(rows.size):
        out[at[group[k]]] = rows[k]
        at[group[k]] += 1


@njit(cache=True)
def pairs_in_order(rows: np.ndarray, a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``(a[row], b[row])`` never decreases along ``rows``.

    >>> a, b = np.array([0, 0, 1]), np.array([2, 1, 0])
    >>> pairs_in_order(np.array([1, 0, 2]), a, b), pairs_in_order(np.array([0, 1, 2]), a, b)
    (True, False)
    """
    for k in range(1, rows.size):
        p, q = rows[k - 1], rows[k]
        if a[q] < a[p] or (a[q] == a[p] and b[q] < b[p]):
            return False
    return True


@njit(cache=True)
def sort_runs(rows: np.ndarray, a: np.ndarray, b: np.ndarray, key: np.ndarray) -> int:
    """Sort each run of ``rows`` with equal ``(a[row], b[row])`` stably by ``key[row]``, in
    place; the runs stay where they are. Returns how many runs were out of order.

    >>> rows = np.array([0, 1, 2])
    >>> sort_runs(rows, np.zeros(3, np.int64), np.zeros(3, np.int64), np.array([5, 3, 4]))
    1
    >>> rows.tolist()
    [1, 2, 0]
    """
    n, start, unsorted = rows.size, 0, 0
    while start < n:
        stop, ordered = start + 1, True
        while stop < n and a[rows[stop]] == a[rows[start]] and b[rows[stop]] == b[rows[start]]:
            if key[rows[stop]] < key[rows[stop - 1]]:
                ordered = False
            stop += 1
        if not ordered:
            run = rows[start:stop].copy()
            rows[start:stop] = run[np.argsort(key[run], kind="mergesort")]
            unsorted += 1
        start = stop
    return unsorted
