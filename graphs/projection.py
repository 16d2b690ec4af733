"""Time-windowed co-engagement projection of the bipartite graph onto accounts.

Two accounts are tied by a target when both engaged it within ``window_s`` seconds of each
other (an exact sliding window over actions sorted by time, not fixed bins). Each tie is
discounted by the target's *crowd* — how many actions on that target fall inside the
window around the two actions — so a viral post cannot make millions of strong pairs.
Actions whose crowd exceeds ``max_crowd`` are not paired at all: every remaining action
pairs with fewer than ``max_crowd`` others, so enumeration is bounded by
``len(actions) * max_crowd`` by construction, whatever the degree distribution.

The pairs are never materialised: :mod:`graphs.pair_kernel` walks account by account,
reduces each account's ties in a small buffer and emits only the kept edges and their
evidence, in chunks of accounts whose work memory stays below ``chunk_ties`` ties.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable
from typing import NamedTuple

import numba
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graphs.bipartite import BLOCK, Incidence, bipartite_incidence
from graphs.edge_targets import targets_json
from graphs.held_columns import ColumnStore, HeldColumns
from graphs.lookup import same_categories, text_array
from graphs.pair_kernel import (
    account_bounds,
    gather_into,
    grouped_order,
    regrouped_order,
    segment_starts,
    window_bounds,
)
from graphs.pair_kernel import chunk_ties as chunk_ties_kernel
from graphs.significance import bh_q_values, expected_ties, tie_p_values
from graphs.utc_times import utc_times


class CoEngagement(NamedTuple):
    """Result of :func:`co_engagement`."""

    edges: pd.DataFrame
    """``co_engagement_edges`` (see docs/tables.md); ``account_a, account_b`` are
    categoricals of the evidence's account dtype."""
    evidence: pd.DataFrame
    """``edge_evidence``: one row per (kept edge, shared target), the closest actions; ids and
    actions are categoricals over the incidence's sorted ids (codes, one dictionary)."""
    activity: pd.DataFrame
    """``account_id, n_actions, crowd_sum`` of the accounts in kept edges (for the null)."""
    stats: dict[str, int]
    """Counts for the manifest: actions, pairs enumerated, hub actions and targets skipped..."""


CHUNK_TIES = 1 << 22
TABLE_SLOTS = 1 << 18  # per thread, 5 MiB; accounts with more possible partners get their own


def _bounds(inc: Incidence, window_s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``back, ahead`` window extents per entry and the crowd (int64) of each entry, summed a
    block at a time into its array (whole, its int64 temporaries were two more arrays of
    every entry: at 100M rows +1.5 GiB in the guard's count and in each projection)."""
    back, ahead = _extents(inc, window_s)
    crowd = np.empty(back.size, dtype=np.int64)
    for start in range(0, back.size, BLOCK):
        at = slice(start, start + BLOCK)
        crowd[at] = _block_crowd(back, ahead, at)
    return back, ahead, crowd


def _block_crowd(back: np.ndarray, ahead: np.ndarray, at: slice) -> np.ndarray:
    """The crowd (int64) of the entries ``at``: the entries of their target within the
    window, themselves included (``back + ahead + 1``)."""
    crowd = back[at].astype(np.int64)
    crowd += ahead[at]
    crowd += 1
    return crowd


def _extents(inc: Incidence, window_s: int) -> tuple[np.ndarray, np.ndarray]:
    """``back, ahead`` (int32): the entries of each entry's target within the window before
    and after it (:func:`graphs.pair_kernel.window_bounds`)."""
    seg = segment_starts(inc.target) if inc.target.size else np.zeros(1, dtype=np.int64)
    return window_bounds(seg, inc.time, window_s)


def pairs_bound(inc: Incidence, *, window_s: int, max_crowd: int) -> int:
    """Upper bound of the action pairs :func:`co_engagement` enumerates, without enumerating:
    per action whose crowd is at most ``max_crowd``, the later actions on its target within
    the window (same-account pairs and pairs with a hub action counted too).

    Examples
    --------
    >>> import datetime as dt
    >>> from graphs.bipartite import bipartite_incidence
    >>> t = [dt.datetime(2026, 11, 1, 0, m, tzinfo=dt.timezone.utc) for m in (0, 5, 50)]
    >>> inc = bipartite_incidence(pa.table({"account_id": ["a", "b", "c"],
    ...     "target_id": ["x"] * 3, "action": ["like"] * 3, "timestamp": t}))
    >>> pairs_bound(inc, window_s=600, max_crowd=100)
    1
    """
    back, ahead = _extents(inc, window_s)
    total = 0
    for start in range(0, back.size, BLOCK):  # no array of every entry's crowd
        at = slice(start, start + BLOCK)
        kept = _block_crowd(back, ahead, at) <= max_crowd
        total += int(ahead[at][kept].sum(dtype=np.int64))
    return total


def compile_kernels() -> int:
    """Run :func:`co_engagement` and :func:`pairs_bound` on a tiny incidence, so that numba
    compiles (or loads from its cache) every kernel with the dtypes of a real run; return the
    edges found (1).

    >>> compile_kernels()
    1
    """
    stamp = pa.array([0, 60, 0, 60], pa.int64()).cast(pa.timestamp("s", tz="UTC"))
    inc = bipartite_incidence(pa.table({
        "account_id": ["a", "b", "a", "b"], "target_id": ["x", "x", "y", "y"],
        "action": ["like"] * 4, "timestamp": stamp}))
    pairs_bound(inc, window_s=600, max_crowd=10)
    regrouped_order(np.arange(2), inc.target, np.arange(3))  # long logs' incidences sort so
    return len(co_engagement(inc, window_s=600, max_crowd=10).edges)


def windowed_pairs(inc: Incidence, *, window_s: int, max_crowd: int) -> pa.Table:
    """Every in-window pair of actions on the same target by two different accounts.

    A reference enumeration (it materialises every pair; :func:`co_engagement` does not).
    Returns ``a, b`` (account codes, a < b), ``target``, ``dt`` (seconds), ``w``
    (1 / log2(crowd)), ``ia, ib`` (entry indices of a's and b's actions).

    Examples
    --------
    >>> import datetime as dt
    >>> from graphs.bipartite import bipartite_incidence
    >>> t = [dt.datetime(2026, 11, 1, 0, m, tzinfo=dt.timezone.utc) for m in (0, 5, 50)]
    >>> inc = bipartite_incidence(pa.table({"account_id": ["a", "b", "c"],
    ...     "target_id": ["x"] * 3, "action": ["like"] * 3, "timestamp": t}))
    >>> windowed_pairs(inc, window_s=600, max_crowd=100).to_pydict()["dt"]
    [300]
    """
    _, ahead, crowd = _bounds(inc, window_s)
    later = np.where(crowd <= max_crowd, ahead, 0).astype(np.int64)
    i = np.repeat(np.arange(later.size), later)
    j = i + np.arange(i.size) - np.repeat(np.cumsum(later) - later, later) + 1
    ok = (crowd[j] <= max_crowd) & (inc.account[i] != inc.account[j])
    i, j = i[ok], j[ok]
    swap = inc.account[i] > inc.account[j]
    first, second = np.where(swap, j, i), np.where(swap, i, j)
    worst = np.maximum(crowd[i], crowd[j]).clip(min=2)
    return pa.table({
        "a": inc.account[first], "b": inc.account[second], "target": inc.target[first],
        "dt": np.abs(inc.time[second] - inc.time[first]),
        "w": 1.0 / np.log2(worst), "ia": first, "ib": second,
    })


class _Ties(NamedTuple):
    code: np.dtype  # of the account and target codes (evidence_dtype)
    counts: np.ndarray  # action pairs, (pair, target) ties, candidate pairs, chunks


def _kept_ties(inc: Incidence, back, ahead, crowd, columns: ColumnStore, *, max_crowd: int,
               min_shared: int, chunk_ties: int,
               on_progress: Callable[[int, int], None] | None = None) -> _Ties:
    """Run the account-by-account kernel over chunks of accounts of bounded work memory;
    each chunk's edges and evidence rows are appended to ``columns`` as soon as it is done
    (:func:`_chunk_appended`), so that only the kernel's work memory is held here."""
    n_accounts, n_targets = len(inc.account_ids), max(len(inc.target_ids), 1)
    starts = np.zeros(n_accounts + 1, dtype=np.int64)
    starts[1:] = np.cumsum(np.bincount(inc.account, minlength=n_accounts))
    order = grouped_order(inc.account, starts)
    partner = np.where(crowd <= max_crowd, inc.account, -1).astype(
        np.int32, copy=False)  # hub entries -1: one load per neighbour instead of three
    cum = np.zeros(n_accounts + 1, dtype=np.int64)
    cum[1:] = np.cumsum(account_bounds(starts, order, back, ahead, max_crowd))
    totals, first = np.zeros(4, dtype=np.int64), 0
    threads = numba.get_num_threads()
    tables = np.zeros((threads, TABLE_SLOTS, 5), dtype=np.int32)
    tables[:, :, 0] = -1  # empty slots of the per-thread hash tables (graphs.pair_kernel)
    code = np.dtype(evidence_dtype(inc))
    buffers = (np.empty((threads, 0, 2), np.int64), np.empty((threads, 0, 2)),
               np.empty((threads, 0, 5), code))
    while first < n_accounts:
        last = int(np.searchsorted(cum, cum[first] + chunk_ties, side="right")) - 1
        last = min(max(last, first + 1), n_accounts)
        offsets = cum[first:last + 1] - cum[first]
        if buffers[0].shape[1] < offsets[-1]:  # each thread's, reused by the next chunks
            buffers = tuple(sparse_empty((threads, int(offsets[-1]), b.shape[2]), b.dtype)
                            for b in buffers)
        out_e, out_ef, out_v = buffers
        counts = np.empty((last - first, 5), np.int64)
        where = np.empty((last - first, 3), np.int64)
        chunk_ties_kernel(first, last, offsets, starts, order, partner, inc.target, inc.time,
                          back, ahead, min_shared, n_targets, out_e, out_ef, out_v,
                          counts, tables, np.zeros((threads, 2), np.int64), where)
        _chunk_appended(inc, columns, np.arange(first, last, dtype=code), counts, where,
                        buffers)
        totals[:3] += counts[:, 2:].sum(axis=0)
        totals[3] += 1
        first = last
        if on_progress is not None:
            on_progress(int(cum[last]), int(cum[-1]))
    return _Ties(code, totals)


def _chunk_appended(inc: Incidence, columns: ColumnStore, accounts: np.ndarray,
                    counts: np.ndarray, where: np.ndarray,
                    buffers: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Append one chunk's edges and evidence rows to ``columns`` (``edges.<column>``,
    ``evidence.<column>``): the rows of each of its ``accounts`` gathered from the threads'
    ``buffers`` (:func:`_gathered_pages`), then spelled as the frames' columns (codes, gaps,
    times in microseconds, action codes), each a new array handed over to the store."""
    out_e, out_ef, out_v = buffers
    edges = _gathered_pages(where[:, 0], where[:, 1], counts[:, 0], out_e)
    columns.append("edges.account_a", np.repeat(accounts, counts[:, 0]))
    columns.append("edges.account_b", edges[:, 0].astype(accounts.dtype))
    columns.append("edges.shared_targets", edges[:, 1].copy())
    del edges
    values = _gathered_pages(where[:, 0], where[:, 1], counts[:, 0], out_ef)
    columns.append("edges.weight", values[:, 0].copy())
    columns.append("edges.median_dt_s", values[:, 1].copy())
    del values
    rows = _gathered_pages(where[:, 0], where[:, 2], counts[:, 1], out_v)
    columns.append("evidence.account_a", np.repeat(accounts, counts[:, 1]))
    columns.append("evidence.account_b", rows[:, 0].copy())
    columns.append("evidence.target_id", rows[:, 1].copy())
    columns.append("evidence.dt_s", rows[:, 2].astype(float))
    for side, k in (("a", 3), ("b", 4)):
        times = inc.time[rows[:, k]]
        times *= 10**6  # microseconds, as pandas reads seconds
        columns.append(f"evidence.time_{side}", times)
        columns.append(f"evidence.action_{side}", inc.action[rows[:, k]])


def _gathered_pages(thread: np.ndarray, start: np.ndarray, lengths: np.ndarray,
                    values: np.ndarray) -> np.ndarray:
    """The chunk's rows of each account (:func:`graphs.pair_kernel.gather_into`) on pages of
    their own (:func:`sparse_empty`), which go back to the system as soon as the array is
    freed (a chunk's ties from the C heap stayed resident after they were freed, beside the
    columns filled after them: at 100M rows +6.89 GiB in the evidence frame, when the chunks
    were held until the kernel's end)."""
    out = sparse_empty((int(lengths.sum()),) + values.shape[2:], values.dtype)
    gather_into(thread, start, lengths, values, out)
    return out


def sparse_empty(shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """An uninitialised array of ``shape`` on an anonymous mapping of small pages.

    The kernel's output buffers give each thread room for its chunk's bound on ties, but a
    thread writes only the ties it keeps, from the start, so most of their pages are never
    touched (when each account wrote at the start of a region of its own bound, most pages
    were touched for a few rows each: 71k page faults in the 288k hub log's projection
    against 35k now). NumPy asks the kernel for transparent huge pages for arrays of 4 MiB
    and more (``MADV_HUGEPAGE``), and a huge page is zeroed 2 MiB at a time however little
    of it is written: on the ~250k-row log with viral hubs, a fresh process's first call took
    0.63-1.01 s (0.38-0.77 s of it system time), on small pages 0.39-0.48 s. Pages of this
    mapping cost only where written.

    >>> a = sparse_empty((3, 2), np.int32); a[:] = 7; a.sum(), a.flags.writeable
    (np.int64(42), True)
    """
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if size == 0:
        return np.empty(shape, dtype)
    pages = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):  # Linux: also where huge pages are the default
        pages.madvise(mmap.MADV_NOHUGEPAGE)
    return np.frombuffer(pages, dtype=dtype).reshape(shape)


def evidence_dtype(inc: Incidence) -> type:
    """``np.int32`` when every evidence value (codes, entry indices, dt) is below 2^31 — at
    10M rows the 12M evidence ties take 0.3 GB instead of 0.6 GB — else ``np.int64``."""
    span = int(inc.time.max() - inc.time.min()) if inc.time.size else 0
    largest = max(inc.account.size, span, len(inc.account_ids), len(inc.target_ids))
    return np.int32 if largest < 2**31 else np.int64


def co_engagement(
    inc: Incidence, *, window_s: int = 3600, max_crowd: int = 1000, min_shared_targets: int = 2,
    chunk_ties: int = CHUNK_TIES, on_progress: Callable[[int, int], None] | None = None,
    targets: bool = True, columns: ColumnStore | None = None,
) -> CoEngagement:
    """Project the incidence onto accounts: weighted co-engagement edges with evidence.

    Parameters
    ----------
    inc : Incidence
        From :func:`graphs.bipartite.bipartite_incidence`.
    window_s : int
        Two actions tie their accounts when at most this many seconds apart.
    max_crowd : int
        Actions with more than this many actions on the same target within the window
        (viral moments) are not paired; recorded in ``stats``.
    min_shared_targets : int
        Keep pairs that share at least this many distinct targets.
    chunk_ties : int
        Work-memory budget: accounts are processed in chunks whose bound on ties (the sum
        of their non-hub actions' crowds) stays below this, about 100 bytes per tie.
    on_progress : callable, optional
        Called after each chunk with (done, total): the ties bound of the accounts done and
        of all accounts (the kernel's work, for a progress bar).
    targets : bool
        Whether the edges get their ``targets`` (each a JSON list, ≈ 40 bytes; the slow
        pass spells them again for its cohorts' edges only).
    columns : ColumnStore, optional
        Where the edges' and the evidence's columns live (:mod:`graphs.held_columns`; in
        memory without one): each chunk's rows are appended as the kernel finds them, the
        significance and ``targets`` are written a block of edges at a time. The run's
        store keeps them in files read as memory maps, so that a pass's edges and evidence
        (at 100M rows ≈ 5 GB for the 1 h pass) are never in its heap.

    Returns
    -------
    CoEngagement
        Kept edges (ids, ``shared_targets``, hub-discounted ``weight``, ``median_dt_s``,
        ``targets`` unless not asked for), their evidence rows and enumeration counts.

    Examples
    --------
    >>> import datetime as dt
    >>> from graphs.bipartite import bipartite_incidence
    >>> t0 = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    >>> t = [t0, t0 + dt.timedelta(minutes=2)] * 2
    >>> inc = bipartite_incidence(pa.table({"account_id": ["a", "b"] * 2,
    ...     "target_id": ["x", "x", "y", "y"], "action": ["like"] * 4, "timestamp": t}))
    >>> co_engagement(inc, window_s=600).edges[["account_a", "account_b", "shared_targets"]]
      account_a account_b  shared_targets
    0         a         b               2
    """
    if min_shared_targets < 1 or max_crowd < 1 or chunk_ties < 1:
        raise ValueError("co_engagement: min_shared_targets, max_crowd and chunk_ties must be "
                         f">= 1, got {min_shared_targets}, {max_crowd}, {chunk_ties}")
    columns = HeldColumns() if columns is None else columns
    back, ahead, crowd = _bounds(inc, window_s)
    ties = _kept_ties(inc, back, ahead, crowd, columns, max_crowd=max_crowd,
                      min_shared=min_shared_targets, chunk_ties=chunk_ties,
                      on_progress=on_progress)
    del back, ahead  # each array is freed as soon as it is used up (10M rows: ≈ 0.1 GB each)
    hub = crowd > max_crowd
    actions, crowds = _activity(inc, crowd, paired=~hub)
    del crowd
    n_paired = int(inc.account.size - hub.sum())
    evidence = _evidence_frame(inc, columns, ties.code)
    kept = {name: columns.column(f"edges.{name}", dtype) for name, dtype in (
        ("account_a", ties.code), ("account_b", ties.code), ("shared_targets", np.int64),
        ("weight", np.float64), ("median_dt_s", np.float64))}
    in_edges = _present_ends(kept["account_a"], kept["account_b"], len(inc.account_ids),
                             columns)
    significance = _significance(kept, actions, crowds, n_paired, int(ties.counts[2]),
                                 columns)
    accounts = evidence["account_a"].dtype
    edges = pd.DataFrame({
        "account_a": coded_ids(accounts, kept.pop("account_a")),
        "account_b": coded_ids(accounts, kept.pop("account_b")), **kept,
        **({"targets": targets_json(inc.target_ids, evidence["target_id"].array.codes,
                                    kept["shared_targets"], columns=columns)}
           if targets else {}),
        **significance}, copy=False)
    stats = {
        "n_actions": n_paired,
        "n_actions_total": int(inc.account.size),
        "action_pairs_enumerated": int(ties.counts[0]),
        "account_target_pairs": int(ties.counts[1]),
        "candidate_pairs": int(ties.counts[2]),
        "edges_kept": int(len(edges)),
        "hub_actions_skipped": int(hub.sum()),
        "hub_targets": int(np.count_nonzero(np.bincount(inc.target[hub],
                                                        minlength=len(inc.target_ids)))),
        "projection_chunks": int(ties.counts[3]),
    }
    activity = pd.DataFrame({"account_id": _ids(inc.account_ids, in_edges),
                             "n_actions": actions[in_edges], "crowd_sum": crowds[in_edges]})
    return CoEngagement(edges=edges, evidence=evidence, activity=activity, stats=stats)


def _activity(inc: Incidence, crowd: np.ndarray, *, paired: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Per account code: number of paired actions and their summed crowds (minus the action).

    Hub actions (never paired) are left out: counting them would inflate the null's
    expected ties of every account that also acted on a viral target.
    """
    n_accounts = len(inc.account_ids)
    actions, crowds = np.zeros(n_accounts), np.zeros(n_accounts)
    for start in range(0, inc.account.size, BLOCK):  # whole numbers: the same sums blockwise
        at = slice(start, start + BLOCK)
        account, kept = inc.account[at], paired[at]
        actions += np.bincount(account, weights=kept.astype(float), minlength=n_accounts)
        crowds += np.bincount(account, weights=np.where(kept, crowd[at] - 1.0, 0.0),
                              minlength=n_accounts)
    return actions, crowds


def _significance(kept: dict[str, np.ndarray], actions: np.ndarray, crowds: np.ndarray,
                  n_actions: int, n_candidates: int, columns: ColumnStore
                  ) -> dict[str, np.ndarray]:
    """``expected_ties``, ``p_value`` and ``q_value`` of the ``kept`` edges (see
    graphs.significance) in arrays of ``columns``, the first two a block of edges at a time
    (their operands were arrays of every edge: at 30M rows, the 1 h projection's peak)."""
    a, b, shared = kept["account_a"], kept["account_b"], kept["shared_targets"]
    out = {name: columns.array(f"edges.{name}", len(a), np.dtype(np.float64))
           for name in ("expected_ties", "p_value", "q_value")}
    expected, p_values = out["expected_ties"], out["p_value"]
    for start in range(0, len(a), BLOCK):
        at = slice(start, start + BLOCK)
        ends = a[at], b[at]
        expected[at] = expected_ties(actions[ends[0]], actions[ends[1]], crowds[ends[0]],
                                     crowds[ends[1]], n_actions)
        p_values[at] = tie_p_values(shared[at], expected[at])
        columns.release()
    bh_q_values(p_values, n_tests=n_candidates, out=out["q_value"])
    columns.release()
    return out


def _present_ends(a: np.ndarray, b: np.ndarray, n: int, columns: ColumnStore) -> np.ndarray:
    """The distinct codes (integers in ``0..n-1``) of ``a`` and ``b``, sorted: ``np.unique``
    by marking instead of sorting (10M values: 1.3 s of argsort), a block at a time."""
    seen = np.zeros(n, dtype=bool)
    for start in range(0, len(a), BLOCK):
        seen[a[start:start + BLOCK]] = True
        seen[b[start:start + BLOCK]] = True
        columns.release()
    return np.flatnonzero(seen)


def _ids(ids: pa.Array, codes: np.ndarray) -> pd.Series:
    """Ids of ``codes`` as an Arrow-backed pandas column (no Python string per row); an
    empty object column when there are none (pandas cannot group empty Arrow chunks)."""
    if len(codes) == 0:
        return pd.Series([], dtype=object)
    return ids.take(pa.array(codes)).to_pandas()


def _evidence_frame(inc: Incidence, columns: ColumnStore, code: np.dtype) -> pd.DataFrame:
    """The evidence rows from ``columns``; ids as categoricals over the incidence's sorted ids
    (integer codes and one dictionary: at 10M rows 0.45 GB instead of 1.0 GB of text, and
    sorted the same), the times the columns' own ticks (no copy: graphs.utc_times)."""
    def column(name: str, dtype: np.dtype) -> np.ndarray:
        return columns.column(f"evidence.{name}", np.dtype(dtype))

    accounts, actions = id_categories(inc.account_ids), id_categories(inc.action_names)
    frame = {"account_a": coded_ids(accounts, column("account_a", code)),
             "account_b": coded_ids(accounts, column("account_b", code)),
             "target_id": coded_ids(id_categories(inc.target_ids), column("target_id", code))}
    for side in ("a", "b"):
        frame[f"time_{side}"] = utc_times(column(f"time_{side}", np.int64))
    for side in ("a", "b"):
        frame[f"action_{side}"] = coded_ids(actions, column(f"action_{side}", inc.action.dtype))
    frame["dt_s"] = column("dt_s", float)
    return pd.DataFrame(frame, copy=False)


def id_categories(ids: pa.Array) -> pd.CategoricalDtype:
    """A categorical dtype whose categories are ``ids`` (distinct, in their order), without
    the hash table of them pandas made to check that (built again only if a lookup needs it).

    >>> id_categories(pa.array(["a", "b"])).categories.tolist()
    ['a', 'b']
    """
    dtype = pd.CategoricalDtype(pd.Index(ids.to_pandas(), copy=False))
    # pandas checked that the ids are distinct with a hash table of them (a Python str per
    # id), which the categories' Index keeps for later lookups: 0.34 GB for 5M ids, held as
    # long as the dtype, i.e. the whole run. Dropped; pandas builds it again if asked.
    getattr(dtype.categories, "_cache", {}).clear()
    return dtype


def coded_ids(dtype: pd.CategoricalDtype, codes: np.ndarray) -> pd.Series:
    """A categorical column of ``dtype`` from integer ``codes`` (no text per row).

    >>> coded_ids(id_categories(pa.array(["a", "b"])), np.array([1, 1, 0])).tolist()
    ['b', 'b', 'a']
    """
    return pd.Series(pd.Categorical.from_codes(codes, dtype=dtype, validate=False), copy=False)


def clustered_edges(edges: pd.DataFrame, *, max_edge_p: float = 1.0) -> pd.DataFrame:
    """The edges Leiden clusters: those among accounts with at least one significant tie.

    An account is kept when one of its edges has ``p_value <= max_edge_p``; every edge
    between two kept accounts is kept (weak ties inside a group are the group's evidence).
    ``max_edge_p = 1`` keeps every edge.

    Examples
    --------
    >>> e = pd.DataFrame({"account_a": ["a", "a", "c"], "account_b": ["b", "c", "d"],
    ...                   "p_value": [1e-5, 0.5, 0.5]})
    >>> clustered_edges(e, max_edge_p=1e-3)[["account_a", "account_b"]].values.tolist()
    [['a', 'b']]
    """
    if not 0 < max_edge_p <= 1:
        raise ValueError(f"max_edge_p must be in (0, 1], got {max_edge_p}")
    if max_edge_p >= 1:
        return edges
    significant = edges["p_value"].to_numpy() <= max_edge_p
    coded = _inside_by_codes(edges["account_a"], edges["account_b"], significant)
    if coded is not None:
        return edges[coded]
    significant = pa.array(significant)
    a, b = text_array(edges["account_a"]), text_array(edges["account_b"])
    accounts = pc.unique(pa.chunked_array(a.filter(significant).chunks
                                          + b.filter(significant).chunks, pa.large_string()))
    inside = pc.and_(pc.is_in(a, value_set=accounts), pc.is_in(b, value_set=accounts))
    return edges[inside.to_numpy(zero_copy_only=False)]


def _inside_by_codes(a: pd.Series, b: pd.Series, significant: np.ndarray) -> np.ndarray | None:
    """:func:`clustered_edges`' rows on the ids' codes, when both ends are categoricals of
    one dtype without missing values (as the projection makes them; no text per row:
    :func:`clustered_edges` on 18.6M edges took 1.1 s instead of 13.4 s); ``None``
    otherwise."""
    if not (isinstance(a.dtype, pd.CategoricalDtype) and same_categories(b.dtype, a.dtype)):
        return None
    codes_a, codes_b = a.cat.codes.to_numpy(), b.cat.codes.to_numpy()
    if len(codes_a) and min(codes_a.min(), codes_b.min()) < 0:
        return None
    kept = np.zeros(len(a.cat.categories), dtype=bool)
    kept[codes_a[significant]] = True
    kept[codes_b[significant]] = True
    return kept[codes_a] & kept[codes_b]
