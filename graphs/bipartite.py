"""Account–target incidence: the bipartite graph as integer-coded arrays.

Accounts and targets live in separate namespaces (an account and a target may share an id);
ids are kept in sorted lookup arrays and the computation runs on integer codes.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graphs.pair_kernel import regrouped_order

BLOCK = 1 << 22
"""Rows per block where a whole column's temporaries would otherwise be made: the sort key's
int64 terms here, and :mod:`graphs.pass_codes`' time conversion and inner-row test."""


class Incidence(NamedTuple):
    """Bipartite account–target incidence, one entry per interaction.

    Entries are sorted by (target, time, account); ``account[k]`` indexes ``account_ids``.
    """

    account_ids: pa.Array
    target_ids: pa.Array
    action_names: pa.Array
    account: np.ndarray
    target: np.ndarray
    action: np.ndarray
    time: np.ndarray
    """Seconds since the epoch (int64)."""


def bipartite_incidence(interactions: pa.Table) -> Incidence:
    """Encode interactions as a bipartite incidence sorted by (target, time).

    Parameters
    ----------
    interactions : pyarrow.Table
        Columns ``account_id, target_id, action, timestamp`` (UTC timestamps).

    Returns
    -------
    Incidence
        Sorted id arrays and integer-coded entries.

    Examples
    --------
    >>> import datetime as dt
    >>> t = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    >>> inc = bipartite_incidence(pa.table({
    ...     "account_id": ["b", "a", "a"], "target_id": ["x", "x", "a"],
    ...     "action": ["like"] * 3, "timestamp": [t, t, t]}))
    >>> inc.account_ids.to_pylist(), inc.target_ids.to_pylist(), inc.account.tolist()
    (['a', 'b'], ['a', 'x'], [0, 0, 1])
    """
    account_ids, account = _codes(interactions, "account_id")
    target_ids, target = _codes(interactions, "target_id")
    action_names, action = _codes(interactions, "action")
    action = action.astype(np.int16)
    time = _seconds(interactions["timestamp"])
    order = _entry_order(target, time, account, action)
    # each column sorted in turn: one unsorted copy at a time beside the sorted ones
    account = account[order]
    target = target[order]
    action = action[order]
    time = time[order]
    return Incidence(account_ids=account_ids, target_ids=target_ids,
                     action_names=action_names, account=account, target=target,
                     action=action, time=time)


def _entry_order(*keys: np.ndarray) -> np.ndarray:
    """Indices sorting the entries by ``keys`` (most significant first).

    One int64 composite key and a single argsort when the keys' ranges fit in 63 bits (at
    10M rows: ≈ 1 s against ≈ 5 s for ``np.lexsort``); entries with equal keys are equal in
    every column, so their order does not matter. When they do not fit (≈ 2M accounts and
    2M targets over two weeks, from ≈ 30M rows), the less significant keys are sorted first
    and that order is then grouped by the most significant one, stably. When that key's
    range is at most the entries' (the targets' codes), by counting
    (:func:`graphs.pair_kernel.regrouped_order`): two int64 arrays of the entries where a
    second argsort with each entry's rank as the tie-break held five (at 100M rows the
    incidence's peak 7.90 → 6.43 GiB and 40.9 → 25.2 s; 28M entries took 3.6 s that way
    against 16.6 s for ``np.lexsort``); else by that argsort, or ``np.lexsort`` when even a
    key and a rank do not fit in 63 bits.
    """
    if keys[0].size == 0:
        return np.zeros(0, dtype=np.int64)
    composite = _composite(keys)
    if composite is not None:
        return np.argsort(composite)
    if len(keys) == 1:
        return np.argsort(keys[0], kind="stable")
    rest = _entry_order(*keys[1:])
    low, high = int(keys[0].min()), int(keys[0].max())
    if high - low < rest.size:
        codes = keys[0] - low if low else keys[0]
        starts = np.zeros(high - low + 2, dtype=np.int64)
        np.cumsum(np.bincount(codes), out=starts[1:])
        return regrouped_order(rest, codes, starts)
    ranked = _composite((keys[0][rest], np.arange(rest.size)))
    if ranked is None:
        return np.lexsort(keys[::-1])
    return rest[np.argsort(ranked)]


def _composite(keys) -> np.ndarray | None:
    """One int64 key ordering the entries as ``keys`` do (most significant first), or None
    when the product of the keys' ranges reaches 2**62."""
    lows = [int(k.min()) for k in keys]
    spans = [int(k.max()) - low + 1 for k, low in zip(keys, lows, strict=True)]
    if np.prod([float(s) for s in spans]) >= 2.0**62:
        return None
    composite = np.zeros(keys[0].size, dtype=np.int64)
    for key, low, span in zip(keys, lows, spans, strict=True):
        composite *= span
        for start in range(0, key.size, BLOCK):  # int64 temporaries of a block, not a column
            part = slice(start, start + BLOCK)
            composite[part] += key[part].astype(np.int64) - low
    return composite


def _codes(interactions: pa.Table, name: str) -> tuple[pa.Array, np.ndarray]:
    """Distinct values of a text column in byte order, and each row's code (int32).

    Hash-encoded by Arrow, then the (few) distinct values are sorted: the same ids and
    codes as a dense rank over the sorted column, without sorting the whole column. A
    dictionary-encoded column (as ingest returns them) is not hashed again: its used values
    are sorted and its indices mapped to their ranks (10M rows' ids in 0.4 s against 2.5 s).
    """
    column = interactions[name]
    if column.null_count:
        raise ValueError(f"bipartite_incidence: column '{name}' has {column.null_count} nulls")
    if pa.types.is_dictionary(column.type):
        dictionary, indices = _used(column)
    else:
        dictionary, indices = _encoded(column.combine_chunks().cast(pa.string()))
    order = pc.sort_indices(dictionary).to_numpy()
    rank = np.empty(order.size, dtype=np.int32)
    rank[order] = np.arange(order.size, dtype=np.int32)
    return dictionary.take(pa.array(order)), rank[indices]


def _used(column: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """The values a dictionary-encoded column uses (as text, in dictionary order) and each
    row's index into them; chunks with different dictionaries are unified first."""
    if column.num_chunks == 0:
        return pa.array([], pa.string()), np.zeros(0, dtype=np.int64)
    chunks = column.chunks
    if not all(_same_values(c.dictionary, chunks[0].dictionary) for c in chunks[1:]):
        chunks = column.unify_dictionaries().chunks
    indices = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in chunks])
    dictionary = chunks[0].dictionary
    used = np.flatnonzero(np.bincount(indices, minlength=len(dictionary)))
    position = np.zeros(len(dictionary), dtype=np.int32)
    position[used] = np.arange(used.size, dtype=np.int32)
    return dictionary.take(pa.array(used)).cast(pa.string()), position[indices]


PARALLEL_ENCODE_ROWS = 1_000_000
"""Columns from this many rows are hash-encoded in slices, one thread per CPU (up to 4)."""


def _encoded(array: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Arrow's ``dictionary_encode`` of ``array``: its distinct values (in an order of Arrow's)
    and each row's index into them.

    From :data:`PARALLEL_ENCODE_ROWS` rows, slices are encoded by threads (Arrow releases the
    GIL) and their dictionaries unified: the 10M account ids of the benchmark log in 1.07 s
    instead of 1.78 s on 2 cores. The caller sorts the values, so the codes are the same.
    """
    workers = min(os.cpu_count() or 1, 4)
    if len(array) < PARALLEL_ENCODE_ROWS or workers < 2:
        encoded = array.dictionary_encode()
        return encoded.dictionary, encoded.indices.to_numpy()
    bounds = np.linspace(0, len(array), workers + 1).astype(int)
    slices = [array.slice(lo, hi - lo) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(pa.Array.dictionary_encode, slices))
    unified = pa.chunked_array(parts).unify_dictionaries()
    return (unified.chunk(0).dictionary,
            np.concatenate([c.indices.to_numpy() for c in unified.chunks]))


def _same_values(one: pa.Array, other: pa.Array) -> bool:
    """Whether two dictionaries are the same memory (chunks of one column usually share it),
    without comparing their values."""
    return (len(one) == len(other) and one.offset == other.offset
            and [b and b.address for b in one.buffers()]
            == [b and b.address for b in other.buffers()])


def _seconds(stamps: pa.ChunkedArray) -> np.ndarray:
    """Whole seconds since the epoch (floored), from timestamps of any unit; naive is UTC."""
    if not pa.types.is_timestamp(stamps.type):
        raise ValueError(f"bipartite_incidence: column 'timestamp' must hold timestamps, "
                         f"got {stamps.type}")
    if stamps.null_count:
        raise ValueError(f"bipartite_incidence: column 'timestamp' has {stamps.null_count} nulls")
    per_second = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[stamps.type.unit]
    seconds = np.empty(len(stamps), dtype=np.int64)
    start = 0
    for chunk in stamps.chunks:  # each chunk's ticks read in place
        ticks = chunk.view(pa.int64()).to_numpy()
        np.floor_divide(ticks, per_second, out=seconds[start:start + ticks.size])
        start += ticks.size
    return seconds
