"""Compiled kernels of the co-engagement projection (numba, integer codes only).

The projection runs *account by account* instead of target by target: for each account
``a`` it walks the in-window neighbours of each of ``a``'s actions on the same target
(entries sorted by (target, time)), keeps those by accounts ``b > a``, sorts this small
buffer by (b, target), reduces it to one tie per (b, target) — the closest pair of actions —
and emits only the pairs that share at least ``min_shared`` targets. Every action pair is
visited once (from its smaller account), no global pair table is ever built, and the work
memory of one account is at most ``its actions × max_crowd`` ties. Accounts are processed
in chunks whose summed bound stays below a budget, so memory is bounded by construction.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def segment_starts(target: np.ndarray) -> np.ndarray:
    """Start offsets of each run of equal ``target`` values, plus the end."""
    starts = [0]
    for k in range(1, target.size):
        if target[k] != target[k - 1]:
            starts.append(k)
    starts.append(target.size)
    return np.array(starts, dtype=np.int64)


@njit(parallel=True, cache=True)
def window_bounds(seg: np.ndarray, time: np.ndarray, window: int):
    """Per entry, how many entries of its target lie within ``window`` before and after it.

    Returns ``(back, ahead)`` (int32): entries ``k - back[k] .. k + ahead[k]`` are in window,
    so the crowd of ``k`` (itself included) is ``back[k] + ahead[k] + 1``.
    """
    back = np.empty(time.size, dtype=np.int32)
    ahead = np.empty(time.size, dtype=np.int32)
    for s in prange(seg.size - 1):
        lo, hi = seg[s], seg[s + 1]
        left, right = lo, lo
        for k in range(lo, hi):
            while time[k] - time[left] > window:
                left += 1
            while right < hi and time[right] - time[k] <= window:
                right += 1
            back[k] = k - left
            ahead[k] = right - k - 1
    return back, ahead


@njit(cache=True)
def account_bounds(starts, order, back, ahead, max_crowd):
    """Per account, an upper bound of its ties: summed neighbours of its non-hub actions."""
    n = starts.size - 1
    bound = np.zeros(n, dtype=np.int64)
    for a in range(n):
        total = 0
        for r in range(starts[a], starts[a + 1]):
            k = order[r]
            if back[k] + ahead[k] + 1 <= max_crowd:
                total += back[k] + ahead[k]
        bound[a] = total
    return bound


@njit(cache=True)
def _collect(a, starts, order, account, target, time, back, ahead, max_crowd, n_targets,
             key, dt, w, ia, ib):
    """Fill the buffers with a's ties to accounts b > a; return how many."""
    n = 0
    for r in range(starts[a], starts[a + 1]):
        i = order[r]
        crowd_i = back[i] + ahead[i] + 1
        if crowd_i > max_crowd:
            continue
        for j in range(i - back[i], i + ahead[i] + 1):
            crowd_j = back[j] + ahead[j] + 1
            if account[j] <= a or crowd_j > max_crowd:
                continue
            key[n] = np.int64(account[j]) * n_targets + target[i]
            dt[n] = abs(time[j] - time[i])
            w[n] = 1.0 / np.log2(max(crowd_i, crowd_j, 2))
            ia[n], ib[n] = i, j
            n += 1
    return n


@njit(cache=True)
def _per_target(n, key, dt, w, ia, ib):
    """Reduce the first ``n`` ties to one per (b, target), sorted by key; return the count.

    The kept tie of a (b, target) is the closest pair of actions (ties broken by entry
    order); its weight is the largest of the pair's discounted weights on that target.
    """
    order = np.argsort(key[:n])
    skey, sdt, sw, sia, sib = key[order], dt[order], w[order], ia[order], ib[order]
    m = -1
    for k in range(n):
        if m < 0 or skey[k] != key[m]:
            m += 1
            key[m], dt[m], w[m], ia[m], ib[m] = skey[k], sdt[k], sw[k], sia[k], sib[k]
            continue
        w[m] = max(w[m], sw[k])
        closer = sdt[k] < dt[m] or (sdt[k] == dt[m] and (sia[k] < ia[m] or (
            sia[k] == ia[m] and sib[k] < ib[m])))
        if closer:
            dt[m], ia[m], ib[m] = sdt[k], sia[k], sib[k]
    return m + 1


@njit(cache=True)
def _median(values):
    v = np.sort(values)
    return 0.5 * (v[(v.size - 1) // 2] + v[v.size // 2])


@njit(parallel=True, cache=True)
def chunk_ties(first, last, offsets, starts, order, account, target, time, back, ahead,
               max_crowd, min_shared, n_targets, out_e, out_ef, out_v, counts):
    """Ties of accounts ``first..last-1`` into per-account regions of the output arrays.

    ``offsets`` (relative to the chunk) start each account's region, sized by its bound.
    ``out_e`` (b, shared) and ``out_ef`` (weight, median dt) get one row per kept pair,
    ``out_v`` (b, target, dt, ia, ib) one row per shared target of a kept pair, and
    ``counts`` (edges, evidence, action pairs, (pair, target) ties, candidate pairs).
    """
    for a in prange(first, last):
        size = offsets[a - first + 1] - offsets[a - first]
        key = np.empty(size, np.int64)
        dt = np.empty(size, np.int64)
        w = np.empty(size, np.float64)
        ia = np.empty(size, np.int64)
        ib = np.empty(size, np.int64)
        n = _collect(a, starts, order, account, target, time, back, ahead, max_crowd,
                     n_targets, key, dt, w, ia, ib)
        m = _per_target(n, key, dt, w, ia, ib)
        base, n_edges, n_evidence, n_candidates, r = offsets[a - first], 0, 0, 0, 0
        while r < m:
            b = key[r] // n_targets
            end = r
            while end < m and key[end] // n_targets == b:
                end += 1
            n_candidates += 1
            if end - r >= min_shared:
                e = base + n_edges
                out_e[e, 0], out_e[e, 1] = b, end - r
                out_ef[e, 0], out_ef[e, 1] = w[r:end].sum(), _median(dt[r:end].astype(np.float64))
                for q in range(r, end):
                    v = base + n_evidence
                    out_v[v, 0], out_v[v, 1], out_v[v, 2] = b, key[q] % n_targets, dt[q]
                    out_v[v, 3], out_v[v, 4] = ia[q], ib[q]
                    n_evidence += 1
                n_edges += 1
            r = end
        row = a - first
        counts[row, 0], counts[row, 1], counts[row, 2] = n_edges, n_evidence, n
        counts[row, 3], counts[row, 4] = m, n_candidates


@njit(cache=True)
def compact(offsets, lengths, values):
    """Concatenate ``values[offsets[k] : offsets[k] + lengths[k]]`` over k (rows of 2-D)."""
    out = np.empty((lengths.sum(),) + values.shape[1:], values.dtype)
    pos = 0
    for k in range(lengths.size):
        out[pos:pos + lengths[k]] = values[offsets[k]:offsets[k] + lengths[k]]
        pos += lengths[k]
    return out
