"""Memory guard: refuse a run with a clear error before it exhausts the machine.

Two checks, both against ``max_memory_gb`` (config key / ``--max-memory``; by default 80% of
the memory available when the run starts):

- before the projection, :func:`graphs.projection.pairs_bound` counts (without enumerating)
  an upper bound of the action pairs the sliding window would emit, and
  :func:`check_projection_memory`
  raises :class:`~pipelines.ingest.InputError` when those pairs would not fit;
- between steps and after every chunk of the projection, :func:`check_resident_memory`
  compares the process's resident set size with the limit, so a step that grew too much
  stops the run before the next one starts (or, in the projection, before the next chunk).

``BYTES_PER_PAIR`` was measured (docs/robustness.md). The projection no longer materialises
pairs (its work memory is bounded per chunk of accounts); what grows with the pairs is the
kept output, and since the twenty-fifth session (2026-12-06) the projections write it into
files as the kernel finds it (:class:`pipelines.mapped_columns.FileColumns`): what a run
holds per pair is now what grows with the kept edges after the projection (the clustering's
graph, the scoring's arrays). On the generator the runs peaked at ≈ 12 bytes per pair of the
1 h pass's bound at 10M rows (3.75 GiB) when the guard assumed 32, then 16 and 12; on
2026-12-06 at ≈ 4.3 (30M, 4.25 GiB for 1.07G pairs), ≈ 3.3 with the edges and evidence
moved to files after the projections (100M, 10.82 GiB for 3.57G pairs), and ≈ 2.15 once the
projections wrote them there (100M, 7.15 GiB, tables only, under ``--max-memory 8``;
measured with the guard lowered in a measurement script). 2 bytes is used (at 4 the 100M
log was refused under ``--max-memory 8``, where it now runs), about the rate of the largest
logs: a small log's peak is mostly the libraries' fixed part (10M rows: 1.7 GiB, ≈ 5.4 bytes
per pair), which the first check does not budget.
So the first check refuses a log that would not fit if it kept as large a share of its pairs
as the generator's logs do. A log whose pairs are nearly all kept holds more; the second
check is what stops it: the run checks its resident memory after every chunk of the
projection (:func:`check_resident_memory`, from the projection's progress callback in
:mod:`pipelines.run`), not only between steps.
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import gc
import platform

import numpy as np
import pandas as pd
import psutil
import pyarrow as pa

from graphs.bipartite import Incidence
from graphs.multiplex import Layer
from graphs.projection import pairs_bound
from pipelines.ingest import InputError
from pipelines.mapped_columns import dropped_pages

BYTES_PER_PAIR = 2
GB = 1 << 30
DUCKDB_SHARE = 0.5
"""Part of ``max_memory_gb`` given to DuckDB's ``memory_limit`` (it spills beyond it). Its
results come back into the Python process beside it: with the whole budget, the 100M-row
log's ingest under ``--max-memory 8`` peaked at 13.6 GiB (DuckDB at its limit and the 5.4 GiB
typed table it returned)."""
GC_THRESHOLDS = (100_000, 50, 100)


def batch_gc() -> None:
    """Let Python's cycle collector run less often in a batch process (``GC_THRESHOLDS``),
    and not at all over what is left when the process exits.

    Graph construction (igraph) and pandas create millions of short-lived tuples; with
    the default thresholds (700, 10, 10) every few hundred of them start a collection and
    the full ones walk the whole heap. Measured on a 1M-row run: 15-20 % of its CPU time,
    identical outputs. Garbage cycles are still collected, just in larger batches.

    At exit (an ``atexit`` call of :func:`gc.freeze`) the objects left are frozen, so the
    interpreter's final collections skip them: after a projection (numba's and pandas'
    objects) the exit took 0.22-0.27 s, frozen 0.04 s. Exit handlers still run, modules are
    still torn down, and the memory goes back to the system with the process either way.

    >>> batch_gc(); gc.get_threshold() == GC_THRESHOLDS
    True
    """
    gc.set_threshold(*GC_THRESHOLDS)
    atexit.unregister(gc.freeze)  # registered once however often this is called
    atexit.register(gc.freeze)


def release_freed() -> None:
    """Give the free pages of the C heap (glibc's ``malloc_trim``) and of Arrow's memory
    pool (``release_unused``) back to the system, and unmap the pages read of columns held
    in files (:func:`pipelines.mapped_columns.dropped_pages`).

    Tables freed between steps (the interactions after the projections, the incidences)
    stay in glibc's heap as free chunks, and the next step's large arrays are mapped anew
    beside them: at 10M rows 0.18 GB of the 0.33 GB freed after the projections stayed
    resident until trimmed. Arrow's pool (mimalloc) keeps what Arrow freed the same way:
    reading the 30M-row benchmark's posts and accounts (0.09 GB of tables) left 0.4 GB
    resident in it.

    >>> release_freed()
    """
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
    pa.default_memory_pool().release_unused()
    dropped_pages()  # and the pages read of columns read from files


@functools.cache
def _libc():
    if platform.system() != "Linux":
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def default_memory_gb() -> float:
    """80% of the memory available now, in GiB."""
    return 0.8 * psutil.virtual_memory().available / GB


def layer_pairs_bound(interactions: pd.DataFrame, *, window_s: int, max_crowd: int) -> int:
    """:func:`graphs.projection.pairs_bound` of a layer's interactions, without building the
    incidence (a run bounds from the incidence it builds anyway: a linear scan of its window
    bounds, 0.13 s at 10M rows for the 1 h pass against 1.40 s for these binary searches).

    Targets get hash codes (any grouping gives the same bound, so the ids are not sorted) and
    the entries are sorted by (target, second): at 10M rows ≈ 2 s against ≈ 14 s for
    :func:`graphs.bipartite.bipartite_incidence`.

    >>> t = pd.to_datetime(["2026-11-01 00:00", "2026-11-01 00:05", "2026-11-01 00:50"],
    ...                    utc=True)
    >>> rows = pd.DataFrame({"target_id": ["x"] * 3, "timestamp": t})
    >>> layer_pairs_bound(rows, window_s=600, max_crowd=100)
    1
    """
    if len(interactions) == 0:
        return 0
    table = pa.Table.from_pandas(interactions[["target_id", "timestamp"]], preserve_index=False)
    target = table["target_id"].combine_chunks().dictionary_encode().indices.to_numpy()
    stamps = table["timestamp"].combine_chunks()
    per_second = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[stamps.type.unit]
    time = np.floor_divide(stamps.cast(pa.int64()).to_numpy(), per_second)
    order = np.lexsort((time, target))
    return _sorted_pairs_bound(target[order], time[order], window_s=window_s,
                               max_crowd=max_crowd)


def _sorted_pairs_bound(target: np.ndarray, time: np.ndarray, *, window_s: int,
                        max_crowd: int) -> int:
    """The bound of entries sorted by (target, time); ties within a second in any order."""
    if time.size == 0:
        return 0
    time = time.astype(np.int64) - int(time.min())
    stride = int(time.max()) + 2 * int(window_s) + 1
    key = target.astype(np.int64) * stride + time
    right = np.searchsorted(key, key + window_s, side="right")
    left = np.searchsorted(key, key - window_s, side="left")
    paired = (right - left) <= max_crowd
    later = right - np.arange(key.size) - 1
    return int(later[paired].sum())


def check_projection_memory(inc: Incidence, *, window_s: int, max_crowd: int,
                            max_memory_gb: float) -> int:
    """Return the pair bound, or raise InputError when its memory exceeds ``max_memory_gb``."""
    pairs = pairs_bound(inc, window_s=window_s, max_crowd=max_crowd)
    _check_pairs(pairs, window_s=window_s, max_crowd=max_crowd, max_memory_gb=max_memory_gb)
    return pairs


def _check_pairs(pairs: int, *, window_s: int, max_crowd: int, max_memory_gb: float) -> None:
    need_gb = pairs * BYTES_PER_PAIR / GB
    if need_gb > max_memory_gb:
        raise InputError(
            f"the projection would enumerate up to {pairs:,} action pairs (≈ {need_gb:.2g} GB), "
            f"more than max_memory_gb = {max_memory_gb:g}; lower max_crowd (now {max_crowd}) "
            f"or the window (now {window_s} s), or raise --max-memory")


def check_resident_memory(step: str, max_memory_gb: float) -> float:
    """Return the resident memory in GiB, or raise InputError when above ``max_memory_gb``."""
    rss_gb = psutil.Process().memory_info().rss / GB
    if rss_gb > max_memory_gb:
        raise InputError(f"memory use {rss_gb:.1f} GB after step '{step}' exceeds "
                         f"max_memory_gb = {max_memory_gb:g}; raise --max-memory or split the "
                         "input")
    return rss_gb


def check_layers_memory(layers: dict[str, Layer], *, max_crowd: int, max_memory_gb: float,
                        incidences: dict[str, Incidence] | None = None) -> int:
    """:func:`check_projection_memory` over every layer's interactions; return the total bound.

    A layer whose incidence is in ``incidences`` (:func:`graphs.multiplex.layer_incidences`)
    is bounded from it (same bound, no second encoding and sort of its rows)."""
    total = 0
    for name in sorted(layers):
        layer, inc = layers[name], (incidences or {}).get(name)
        total += (layer_pairs_bound(layer.interactions, window_s=int(layer.window_s),
                                    max_crowd=max_crowd) if inc is None else
                  pairs_bound(inc, window_s=int(layer.window_s), max_crowd=max_crowd))
        _check_pairs(total, window_s=int(layer.window_s), max_crowd=max_crowd,
                     max_memory_gb=max_memory_gb)
    return total
