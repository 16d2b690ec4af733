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

import numba
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


@njit(cache=True)
def grouped_order(codes: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Positions of ``codes`` grouped by code, in order within a code: the stable argsort,
    by counting (``starts`` are the cumulated counts of each code, plus the end)."""
    at = starts[:-1].copy()
    order = np.empty(codes.size, dtype=np.int64)
    for k in range(codes.size):
        order[at[codes[k]]] = k
        at[codes[k]] += 1
    return order


@njit(cache=True)
def regrouped_order(order: np.ndarray, codes: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``order`` stably grouped by ``codes[order]``, by counting (``starts`` as in
    :func:`grouped_order`): ``order[grouped_order(codes[order], starts)]`` without its two
    intermediate arrays."""
    at = starts[:-1].copy()
    out = np.empty(order.size, dtype=np.int64)
    for k in range(order.size):
        code = codes[order[k]]
        out[at[code]] = order[k]
        at[code] += 1
    return out


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
def _slot(keys, b, mask):
    """Slot of account ``b`` in an open-addressing table (linear probing; -1 = empty)."""
    h = (b * 2654435761) & mask
    while keys[h] != b and keys[h] != -1:
        h = (h + 1) & mask
    return h


@njit(cache=True)
def _count_ties(a, starts, order, partner, target, back, ahead, table, mask, touched, slots,
                pairs):
    """Pass 1: per account ``b > a``, its distinct shared targets and action pairs.

    ``table`` columns: 0 the b of each slot (-1 empty), 1 distinct shared targets, 2 action
    pairs, 3 the last target counted (+1), 4 keep flag; ``touched`` gets the used slots.
    ``a``'s entries on one target are consecutive (entries are sorted by (target, time)),
    so remembering the last target is enough to count each (b, target) once. Each action
    pair counted is recorded for pass 2: its slot in ``slots``, its entries in ``pairs``.
    Returns (action pairs, distinct b's).
    """
    n, n_touched = 0, 0
    for r in range(starts[a], starts[a + 1]):
        i = order[r]
        if partner[i] < 0:
            continue
        tag = target[i] + 1
        for j in range(i - back[i], i + ahead[i] + 1):
            b = partner[j]
            if b <= a:  # hub entries are -1
                continue
            h = _slot(table[:, 0], b, mask)
            slots[n], pairs[n, 0], pairs[n, 1] = h, i, j
            n += 1
            if table[h, 0] == -1:
                table[h, 0] = b
                touched[n_touched] = h
                n_touched += 1
            table[h, 2] += 1
            if table[h, 3] != tag:
                table[h, 3] = tag
                table[h, 1] += 1
    return n, n_touched


@njit(cache=True)
def _collect(n_pairs, slots, pairs, partner, target, time, back, ahead, n_targets, table,
             key, dt, w, ia, ib):
    """Pass 2: fill the buffers with the action pairs :func:`_count_ties` recorded whose
    account ``b``'s slot is kept."""
    n = 0
    for v in range(n_pairs):
        if table[slots[v], 4] == 0:
            continue
        i, j = pairs[v, 0], pairs[v, 1]
        key[n] = np.int64(partner[j]) * n_targets + target[i]
        dt[n] = abs(time[j] - time[i])
        w[n] = 1.0 / np.log2(max(back[i] + ahead[i] + 1, back[j] + ahead[j] + 1, 2))
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
def _median(values, scratch):
    """Median of ``values`` (int64) as a float, sorted in ``scratch`` (no allocation for the
    short runs of one pair's shared targets)."""
    c = values.size
    if c > scratch.size:
        v = np.sort(values)
    else:
        v = scratch[:c]
        for k in range(c):  # insertion sort: a pair shares a few targets
            x, q = values[k], k
            while q > 0 and v[q - 1] > x:
                v[q] = v[q - 1]
                q -= 1
            v[q] = x
    return 0.5 * (np.float64(v[(c - 1) // 2]) + np.float64(v[c // 2]))


@njit(parallel=True, cache=True)
def chunk_ties(first, last, offsets, starts, order, partner, target, time, back, ahead,
               min_shared, n_targets, out_e, out_ef, out_v, counts, tables, cursor, where):
    """Ties of accounts ``first..last-1``, written densely into each thread's output arrays.

    ``partner`` is each entry's account code, -1 for hub entries (crowd above
    ``max_crowd``: never paired); ``back, ahead`` are :func:`window_bounds`.
    ``offsets`` (relative to the chunk) bound each account's ties (the sizes of its work
    arrays; their total bounds what one thread can write).
    ``out_e`` (threads × rows × (b, shared)) and ``out_ef`` (threads × rows × (weight, median
    dt)) get one row per kept pair, ``out_v`` (threads × rows × (b, target, dt, ia, ib)) one
    row per shared target of a kept pair, each thread's rows one account after another from
    ``cursor`` (threads × (edges, evidence) written, zeros on entry); ``where`` (accounts ×
    (thread, first edge row, first evidence row)) says where each account's rows are, and
    ``counts`` (edges, evidence, action pairs, (pair, target) ties, candidate pairs) how many.
    Pages are touched only where rows are written (:func:`graphs.projection.sparse_empty`).
    ``tables`` (threads × 2^k × 5, int32; column 0 all -1, the rest 0; left so) are each
    thread's hash tables of b's (see :func:`_count_ties`); an account with more possible
    b's than fit gets its own table. Pass 1 counts every b's shared targets without storing
    ties; pass 2 collects and sorts only the ties of the b's sharing ``min_shared`` targets.
    """
    for a in prange(first, last):
        size = offsets[a - first + 1] - offsets[a - first]
        cap = 16
        while cap < 2 * min(size, starts.size - 1):  # at most one slot per other account
            cap *= 2
        thread = numba.get_thread_id()
        shared_table = tables[thread]
        if cap > shared_table.shape[0]:
            own = np.zeros((cap, 5), np.int32)
            own[:, 0] = -1
            _account_ties(a, first, size, starts, order, partner, target, time, back, ahead,
                          min_shared, n_targets, own, thread, cursor, out_e[thread],
                          out_ef[thread], out_v[thread], counts, where)
        else:
            _account_ties(a, first, size, starts, order, partner, target, time, back, ahead,
                          min_shared, n_targets, shared_table[:cap], thread, cursor,
                          out_e[thread], out_ef[thread], out_v[thread], counts, where)


@njit(cache=True)
def _account_ties(a, first, size, starts, order, partner, target, time, back, ahead,
                  min_shared, n_targets, table, thread, cursor, out_e, out_ef, out_v, counts,
                  where):
    """One account of :func:`chunk_ties` (at most ``size`` ties), with a clean hash table
    (left clean) of 2^k slots; its rows go to ``thread``'s arrays at its ``cursor``."""
    mask = table.shape[0] - 1
    touched, slots, pairs = np.empty(size, np.int64), np.empty(size, np.int32), np.empty(
        (size, 2), np.int64)
    n, n_touched = _count_ties(a, starts, order, partner, target, back, ahead, table, mask,
                               touched, slots, pairs)
    m, kept_pairs = 0, 0
    for q in range(n_touched):
        h = touched[q]
        m += table[h, 1]
        if table[h, 1] >= min_shared:
            table[h, 4] = 1
            kept_pairs += table[h, 2]
    key, dt = np.empty(kept_pairs, np.int64), np.empty(kept_pairs, np.int64)
    w = np.empty(kept_pairs, np.float64)
    ia, ib = np.empty(kept_pairs, np.int64), np.empty(kept_pairs, np.int64)
    found = _collect(n, slots, pairs, partner, target, time, back, ahead, n_targets, table,
                     key, dt, w, ia, ib)
    base_e, base_v = cursor[thread, 0], cursor[thread, 1]
    n_edges, n_evidence = _emit(base_e, base_v, _per_target(found, key, dt, w, ia, ib),
                                min_shared, n_targets, key, dt, w, ia, ib, out_e, out_ef, out_v)
    cursor[thread, 0], cursor[thread, 1] = base_e + n_edges, base_v + n_evidence
    for q in range(n_touched):
        h = touched[q]
        table[h, 0] = -1
        table[h, 1], table[h, 2], table[h, 3], table[h, 4] = 0, 0, 0, 0
    row = a - first
    where[row, 0], where[row, 1], where[row, 2] = thread, base_e, base_v
    counts[row, 0], counts[row, 1], counts[row, 2] = n_edges, n_evidence, n
    counts[row, 3], counts[row, 4] = m, n_touched


@njit(cache=True)
def _emit(base_e, base_v, m, min_shared, n_targets, key, dt, w, ia, ib, out_e, out_ef, out_v):
    """Write the pairs of the first ``m`` reduced ties (sorted by key) from rows ``base_e``
    (edges) and ``base_v`` (evidence)."""
    n_edges, n_evidence, r = 0, 0, 0
    scratch = np.empty(64, np.int64)
    while r < m:
        b = key[r] // n_targets
        end = r
        while end < m and key[end] // n_targets == b:
            end += 1
        if end - r >= min_shared:
            e = base_e + n_edges
            out_e[e, 0], out_e[e, 1] = b, end - r
            out_ef[e, 0], out_ef[e, 1] = w[r:end].sum(), _median(dt[r:end], scratch)
            for q in range(r, end):
                v = base_v + n_evidence
                out_v[v, 0], out_v[v, 1], out_v[v, 2] = b, key[q] % n_targets, dt[q]
                out_v[v, 3], out_v[v, 4] = ia[q], ib[q]
                n_evidence += 1
            n_edges += 1
        r = end
    return n_edges, n_evidence


@njit(cache=True)
def gather_into(thread, start, lengths, values, out):
    """Write the concatenation of ``values[thread[k], start[k] : start[k] + lengths[k]]`` over
    k (the rows of each account of :func:`chunk_ties`, in account order) into ``out``."""
    pos = 0
    for k in range(lengths.size):
        out[pos:pos + lengths[k]] = values[thread[k], start[k]:start[k] + lengths[k]]
        pos += lengths[k]
