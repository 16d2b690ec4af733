"""Integer codes of one pass's tables, built once and shared by every scoring of that pass.

Scoring asks, for each of millions of edges and evidence rows, whether both accounts are in
one cluster, and groups the rows inside by target and author. On text ids every scoring
hashes the same strings again (three scorings per run, at 10M rows 3.5M edges and 10.9M
evidence rows each). Here accounts, targets, actions and authors get integer codes once per
pass, ranked like their sorted ids, so that grouping by code orders groups (and so sums
floats) as grouping by id does; each scoring then works on numpy arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

from graphs.bipartite import BLOCK  # rows per block of _seconds_after and _inside
from graphs.lookup import (
    category_codes,
    category_ranks,
    lookup_codes,
    one_array,
    run_codes,
    same_categories,
    sorted_codes,
    stacked_column,
    text_array,
)

EVIDENCE_TEXT = ("account_a", "account_b", "target_id", "action_a")


class PassCodes(NamedTuple):
    """Result of :func:`pass_codes`: one pass's edges, evidence, activity and posts as codes."""

    edges: pd.DataFrame
    """The pass's ``co_engagement_edges`` (the table itself, for its numeric columns)."""
    evidence: pd.DataFrame
    """The pass's ``edge_evidence`` (the table itself)."""
    accounts: pa.Array
    """Distinct account ids, sorted; an account's code is its position. The ids of the
    tables (and of ``activity``), or all categories of a projection's categorical id columns
    (their codes used as they are: :func:`graphs.lookup.category_codes`)."""
    edge_a: np.ndarray
    edge_b: np.ndarray
    evidence_a: np.ndarray
    evidence_b: np.ndarray
    targets: pa.Array
    """Distinct targets of the evidence (or all categories of its categorical column, as for
    ``accounts``), sorted; a target's code is its position."""
    target: np.ndarray
    """Code of each evidence row's target."""
    actions: pa.Array
    """Distinct actions of ``action_a``/``action_b``, sorted."""
    action_a: np.ndarray
    action_b: np.ndarray | None
    """``None`` when the evidence has one action column."""
    activity: pd.DataFrame
    """``n_actions, crowd_sum`` per account code (0 for accounts without activity), and a
    last row of zeros that code ``-1`` (no such account) reads."""
    ties: np.ndarray
    """Shared targets summed over all edges of each account code (last slot: 0, for -1)."""
    authors: pd.DataFrame | None
    """``target, author`` codes of the posts of evidence targets (authors ranked like their
    sorted ids), one row per post row; ``None`` without posts."""
    background_dt_s: float
    """Median ``dt_s`` of all evidence rows (NaN without evidence)."""
    time_origin: dict[str, tuple[int, object]] | None = None
    """Of a :func:`coded_evidence` pass: per time column held as int32 seconds after an
    origin, that origin (seconds since the epoch) and the column's dtype."""


def pass_codes(edges: pd.DataFrame, evidence: pd.DataFrame | None, activity: pd.DataFrame,
               posts: pd.DataFrame | None = None) -> PassCodes:
    """Codes of one pass's tables for :func:`graphs.scoring.scored_cohorts`.

    Parameters
    ----------
    edges, evidence, activity : pandas.DataFrame
        ``co_engagement_edges`` (``account_a, account_b, shared_targets``), ``edge_evidence``
        (``account_a, account_b, target_id, action_a[, action_b], dt_s``) and ``account_id,
        n_actions, crowd_sum``; ``evidence`` ``None`` when only the edges are scored
        (:func:`graphs.scoring.pruned_members`).
    posts : pandas.DataFrame, optional
        ``target_id, author_id``.

    Returns
    -------
    PassCodes

    Examples
    --------
    >>> edges = pd.DataFrame({"account_a": ["b"], "account_b": ["c"], "shared_targets": [1]})
    >>> evidence = pd.DataFrame({"account_a": ["b"], "account_b": ["c"], "target_id": ["t"],
    ...                          "action_a": ["like"], "dt_s": [5.0]})
    >>> activity = pd.DataFrame({"account_id": ["a", "b", "c"], "n_actions": [1.0, 2.0, 3.0],
    ...                          "crowd_sum": [1.0, 2.0, 3.0]})
    >>> codes = pass_codes(edges, evidence, activity)
    >>> codes.accounts.to_pylist(), codes.edge_a.tolist(), codes.ties.tolist()
    (['a', 'b', 'c'], [1], [0, 1, 1, 0])
    """
    if evidence is None:
        evidence = pd.DataFrame({c: pd.Series(dtype="str") for c in EVIDENCE_TEXT} | {
            "dt_s": pd.Series(dtype=float)})
    id_columns = ([edges[c] for c in ("account_a", "account_b")]
                  + [evidence[c] for c in ("account_a", "account_b")])
    accounts, (edge_a, edge_b, evidence_a, evidence_b) = (
        _categorical_accounts(activity["account_id"], id_columns)
        or _account_codes(activity["account_id"], id_columns))
    targets, target = (category_codes(evidence["target_id"])
                       or sorted_codes(evidence["target_id"]))
    actions, action_a, action_b = _action_codes(evidence)
    n = len(accounts)
    shared = edges["shared_targets"].to_numpy(dtype="int64")
    ties = sum(np.bincount(np.where(c >= 0, c, n), shared, minlength=n + 1).astype("int64")
               for c in (edge_a, edge_b))
    ties[n] = 0  # edges with a null id (a groupby leaves them out)
    background = series_median(evidence["dt_s"])
    return PassCodes(edges=edges, evidence=evidence, accounts=accounts, edge_a=edge_a,
                     edge_b=edge_b, evidence_a=evidence_a, evidence_b=evidence_b, targets=targets,
                     target=target,
                     actions=actions, action_a=action_a, action_b=action_b,
                     activity=_activity(activity, accounts), ties=ties,
                     authors=None if posts is None else _authors(posts, targets),
                     background_dt_s=background)


def series_median(values: pd.Series) -> float:
    """``values.median()`` (NaN when empty); whole numbers below 2^52 over a span below 2^26
    (the evidence's gaps in seconds) are counted instead of sorted: the same value without a copy
    of the column (at 30M rows 0.34 GB for the slow pass's 42M gaps).

    >>> series_median(pd.Series([3.0, 1.0, 2.0, 10.0])), series_median(pd.Series([0.5, 2.0]))
    (2.5, 1.25)
    """
    v = values.to_numpy()
    if v.size == 0 or v.dtype.kind != "f":
        return float(values.median()) if v.size else np.nan
    lo, hi = v.min(), v.max()
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi - lo >= 2**26 or max(-lo, hi) >= 2**52:
        return float(values.median())  # (whole numbers past 2^52: not each one exact)
    counts = np.zeros(int(hi - lo) + 1, dtype=np.int64)
    for start in range(0, v.size, BLOCK):
        block = v[start:start + BLOCK] - lo
        whole = block.astype(np.int64)
        if (whole != block).any():
            return float(values.median())
        counts += np.bincount(whole, minlength=counts.size)
    ends = np.cumsum(counts)  # sorted value k is lo + the first slot whose end passes k

    def nth(k: int) -> float:
        return float(lo + np.searchsorted(ends, k, side="right"))

    n = v.size
    return nth(n // 2) if n % 2 else (nth(n // 2 - 1) + nth(n // 2)) / 2


def account_codes(codes: PassCodes, account_ids: pd.Series) -> np.ndarray:
    """Code of each account id (``-1`` for accounts of none of the pass's tables).

    >>> codes = pass_codes(pd.DataFrame(columns=["account_a", "account_b", "shared_targets"]),
    ...     None, pd.DataFrame({"account_id": ["x", "y"], "n_actions": 1.0, "crowd_sum": 1.0}))
    >>> account_codes(codes, pd.Series(["y", "z"])).tolist()
    [1, -1]
    """
    return lookup_codes(account_ids, pa.chunked_array([codes.accounts]),
                        np.arange(len(codes.accounts)), dtype="int32")


def coded_evidence(codes: PassCodes,
                   after_block: Callable[[], None] | None = None) -> PassCodes:
    """``codes`` with an ``evidence`` whose ids and actions are their codes (the arrays of
    ``codes``, not copies): the text columns are no longer held (at 10M rows the slow pass's
    12M evidence rows: ≈ 1.35 GB → 0.55 GB). :func:`spelled_evidence` spells rows back.

    >>> edges = pd.DataFrame({"account_a": ["b"], "account_b": ["c"], "shared_targets": [1]})
    >>> evidence = pd.DataFrame({"account_a": ["b"], "account_b": ["c"], "target_id": ["t"],
    ...                          "action_a": ["like"], "dt_s": [5.0]})
    >>> activity = pd.DataFrame({"account_id": ["b", "c"], "n_actions": 1.0, "crowd_sum": 1.0})
    >>> coded = coded_evidence(pass_codes(edges, evidence, activity))
    >>> coded.evidence[["account_a", "account_b", "target_id"]].values.tolist()
    [[0, 1, 0]]
    >>> spelled_evidence(coded, np.array([0])).equals(evidence)
    True
    """
    coded = {"account_a": codes.evidence_a, "account_b": codes.evidence_b,
             "target_id": codes.target, "action_a": codes.action_a, "action_b": codes.action_b}
    origins = {}
    for column in ("time_a", "time_b"):
        found = (_seconds_after(codes.evidence[column], after_block)
                 if column in codes.evidence else None)
        if found is not None:
            coded[column], origin = found
            origins[column] = (origin, codes.evidence[column].dtype)
    evidence = pd.DataFrame({c: coded[c] if c in coded else codes.evidence[c]
                             for c in codes.evidence.columns}, copy=False)
    return codes._replace(evidence=evidence, time_origin=origins)


def _seconds_after(times: pd.Series, after_block: Callable[[], None] | None = None
                   ) -> tuple[np.ndarray, int] | None:
    """Whole-second UTC times as int32 seconds after the first (half the bytes), and that
    origin; ``None`` when they are not such times or span more than 2^31 s.

    The times' int64 ticks are read in place, twice, a block of :data:`BLOCK` rows at a
    time (for the missing ones and the span, then converted), so only the int32 result is
    new (the slow pass's 42M evidence times at 30M rows took ≈ 1.3 GB of temporaries
    converted whole); ``after_block()``, when given, is called after each block read (the
    run's times are over files, whose pages it drops there).
    """
    if not isinstance(times.dtype, pd.DatetimeTZDtype) or len(times) == 0:
        return None
    ticks = times.array.asi8  # UTC ticks, the column's own memory (NaT: int64's least)
    per = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[times.dt.unit]
    low, high, missing = np.iinfo(np.int64).max, np.iinfo(np.int64).min, False
    for start in range(0, len(ticks), BLOCK):
        block = ticks[start:start + BLOCK]
        missing = missing or bool((block == np.iinfo(np.int64).min).any())
        low, high = min(low, int(block.min())), max(high, int(block.max()))
        if after_block is not None:
            after_block()
    origin = low // per
    if missing or high // per - origin >= 2**31:
        return None
    seconds = np.empty(len(ticks), dtype=np.int32)
    for start in range(0, len(ticks), BLOCK):
        whole, fraction = np.divmod(ticks[start:start + BLOCK], per)
        if after_block is not None:
            after_block()
        if fraction.any():
            return None
        seconds[start:start + BLOCK] = whole - origin
    return seconds, origin


def spelled_evidence(codes: PassCodes, rows: np.ndarray) -> pd.DataFrame:
    """Rows ``rows`` of a :func:`coded_evidence` pass's evidence, ids and actions as text
    (pandas ``str`` columns; stacking them onto the fused evidence recodes them into its
    categories, :func:`graphs.lookup.stacked_column`)."""
    names = {"account_a": codes.accounts, "account_b": codes.accounts,
             "target_id": codes.targets, "action_a": codes.actions, "action_b": codes.actions}
    out = {}
    for column in codes.evidence.columns:
        values = codes.evidence[column].iloc[rows].reset_index(drop=True)
        if column in names:
            found = values.to_numpy()
            values = names[column].take(pa.array(found, mask=found < 0)).to_pandas()
        elif column in (codes.time_origin or {}):
            origin, dtype = codes.time_origin[column]
            values = pd.Series(pd.to_datetime(values.to_numpy(dtype=np.int64) + origin,
                                              unit="s", utc=True)).astype(dtype)
        out[column] = values
    return pd.DataFrame(out, copy=False)


def _categorical_accounts(active: pd.Series, columns: list[pd.Series]
                          ) -> tuple[pa.Array, list[np.ndarray]] | None:
    """The accounts and codes of :func:`_account_codes` taken from the columns themselves
    when all are categoricals of one dtype that :func:`graphs.lookup.category_codes` takes
    and every ``active`` id is one of its categories (a projection's tables): its categories,
    and each column's own codes (not copies); ``None`` otherwise."""
    first = columns[0].dtype
    found = category_codes(columns[0]) if all(
        same_categories(c.dtype, first) for c in columns) else None
    if found is None:
        return None
    accounts = found[0]
    if (lookup_codes(active, pa.chunked_array([accounts]), np.arange(len(accounts))) < 0).any():
        return None  # the same categories: the other columns' codes are taken as they are
    return accounts, [found[1], *(c.array.codes.astype("int32", copy=False)
                                  for c in columns[1:])]


def _account_codes(active: pd.Series, columns: list[pd.Series]) -> tuple[pa.Array,
                                                                        list[np.ndarray]]:
    """Sorted distinct ids of ``active`` and ``columns``, and the codes of each column.

    The projection's activity lists every account of its edges, so its ids are taken first
    and the columns (sorted by pair: one lookup per run of an id) looked up in them; ids
    missing from it are added and the columns coded again.
    """
    accounts, _ = sorted_codes(active)
    accounts = accounts.drop_null() if accounts.null_count else accounts
    codes = [run_codes(c, accounts) for c in columns]
    missing = [one_array(text_array(c)).filter(pa.array((k < 0) & c.notna().to_numpy()))
               for c, k in zip(columns, codes, strict=True) if (k < 0).any()]
    if not any(len(m) for m in missing):
        return accounts, codes
    accounts, _ = sorted_codes(pa.chunked_array([accounts, *missing], type=pa.large_string()))
    return accounts, [run_codes(c, accounts) for c in columns]


def _action_codes(evidence: pd.DataFrame) -> tuple[pa.Array, np.ndarray, np.ndarray | None]:
    """Codes of ``action_a`` and ``action_b`` over their common sorted actions: the columns
    stacked (:func:`graphs.lookup.stacked_column`: the projection's categoricals of one dtype
    as their codes, 30M rows 2.3 -> 1.3 s against coding each column and mapping), coded once
    and split again."""
    columns = [evidence[c] for c in ("action_a", "action_b") if c in evidence]
    if isinstance(columns[0].dtype, pd.CategoricalDtype) and all(
            same_categories(c.dtype, columns[0].dtype) for c in columns):
        return _category_action_codes(columns)
    actions, codes = sorted_codes(stacked_column(columns))
    n = len(columns[0])
    return actions, codes[:n], (codes[n:] if len(columns) > 1 else None)


def _category_action_codes(columns: list[pd.Series]) -> tuple[pa.Array, np.ndarray,
                                                               np.ndarray | None]:
    """:func:`_action_codes` of categoricals of one dtype (the projection's): each column's
    codes mapped to the rank of its action among those either column uses, in the smallest
    integer type (one byte for a few actions: at 30M rows the slow pass's 42M rows took
    0.34 GB of int32 codes and as much again stacked)."""
    categories = columns[0].cat.categories
    used = np.zeros(len(categories), dtype=bool)
    for column in columns:
        codes = column.array.codes
        if len(categories) <= 64:  # a few actions: one comparison each, no sort
            used |= [bool((codes == k).any()) for k in range(len(categories))]
        else:
            used[np.unique(codes[codes >= 0])] = True
    actions, rank = category_ranks(categories, np.flatnonzero(used),
                                   np.min_scalar_type(-max(int(used.sum()), 1)))
    coded = [rank[column.array.codes] for column in columns]
    return actions, coded[0], coded[1] if len(coded) > 1 else None


def _activity(activity: pd.DataFrame, accounts: pa.Array) -> pd.DataFrame:
    """``n_actions, crowd_sum`` per account code and a last row for code ``-1``, NaN as 0
    (what a left merge on the ids and ``fillna(0)`` give)."""
    code = lookup_codes(activity["account_id"], pa.chunked_array([accounts]),
                        np.arange(len(accounts)))
    found = code >= 0
    out = {}
    for column in ("n_actions", "crowd_sum"):
        values = np.zeros(len(accounts) + 1)
        values[code[found]] = activity[column].to_numpy(dtype=float)[found]
        out[column] = np.nan_to_num(values, nan=0.0)
    return pd.DataFrame(out)


def _authors(posts: pd.DataFrame, targets: pa.Array) -> pd.DataFrame:
    """``target, author`` codes of the post rows whose target is an evidence target."""
    target = lookup_codes(posts["target_id"], pa.chunked_array([targets]),
                          np.arange(len(targets)))
    _, author = sorted_codes(posts["author_id"])
    keep = (target >= 0) & (author >= 0)
    return pd.DataFrame({"target": target[keep].astype("int32"), "author": author[keep]})


class InnerRows(NamedTuple):
    """Result of :func:`inner_rows`: the rows of a pass's tables inside one cluster, with
    account, target and action codes (:class:`PassCodes`)."""

    edges: pd.DataFrame
    """``cluster, account_a, account_b, shared_targets[, weight]``: the edges inside, in the
    edges' order."""
    evidence: pd.DataFrame
    """``cluster, account_a, account_b, target, dt_s, action_a[, action_b]`` of the evidence
    rows inside, in order; when most rows are inside (a pass's first scoring: 98% of the
    rows), every row of the pass, ``cluster`` -1 where its two accounts are not in one
    cluster, the other columns the codes' own arrays (a copy of the rows inside held ≈ 30
    bytes per row: 4.1 GB at 100M rows). Readers leave the rows of cluster -1 out."""
    cluster_of: np.ndarray
    """Cluster of each account code (``-1``: in none); its last slot is code ``-1``'s."""


def inner_rows(codes: PassCodes, members: np.ndarray, cluster: np.ndarray, *,
               evidence: bool = True) -> InnerRows:
    """Edges and evidence rows whose two accounts are in the same cluster.

    Parameters
    ----------
    codes : PassCodes
    members, cluster : numpy.ndarray
        Account code (:func:`account_codes`) and cluster of each clustered account.
    evidence : bool
        ``False``: the edges only (``evidence`` is then empty).

    Returns
    -------
    InnerRows

    Examples
    --------
    >>> edges = pd.DataFrame({"account_a": ["a", "a"], "account_b": ["b", "c"],
    ...                       "shared_targets": [2, 1]})
    >>> activity = pd.DataFrame({"account_id": list("abc"), "n_actions": 1.0,
    ...                          "crowd_sum": 1.0})
    >>> codes = pass_codes(edges, None, activity)
    >>> inner_rows(codes, np.array([0, 1, 2]), np.array([7, 7, 8])).edges.values.tolist()
    [[7, 0, 1, 2]]
    """
    of = _cluster_of(codes, members, cluster)
    rows, inside = _inside(of, codes.edge_a, codes.edge_b)
    table = codes.edges
    edges = {"cluster": inside, "account_a": codes.edge_a[rows],
             "account_b": codes.edge_b[rows],
             "shared_targets": table["shared_targets"].to_numpy()[rows]}
    if "weight" in table:
        edges["weight"] = table["weight"].to_numpy()[rows]
    same = _same(of, codes.evidence_a, codes.evidence_b) if evidence else np.zeros(0, bool)
    rows_of = {"account_a": codes.evidence_a, "account_b": codes.evidence_b,
               "target": codes.target, "dt_s": codes.evidence["dt_s"].to_numpy(dtype=float),
               "action_a": codes.action_a, "action_b": codes.action_b}
    if 2 * np.count_nonzero(same) >= max(same.size, 1):  # mostly inside: every row, as is
        cluster = of[codes.evidence_a]
        cluster[~same] = -1
        found = {"cluster": cluster} | {n: c for n, c in rows_of.items() if c is not None}
    else:  # the few rows inside, copied (the slow pass's, a rescoring's)
        rows = np.flatnonzero(same)
        found = {"cluster": of[codes.evidence_a[rows]]} | {
            n: c[rows] for n, c in rows_of.items() if c is not None}
    return InnerRows(edges=pd.DataFrame(edges, copy=False),  # the arrays are new: no copy
                     evidence=pd.DataFrame(found, copy=False), cluster_of=of)


def inside_rows(codes: PassCodes, members: np.ndarray,
                cluster: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows, in order, of the pass's edges and of its evidence whose two accounts are in one
    cluster (``members``, ``cluster`` as for :func:`inner_rows`)."""
    of = _cluster_of(codes, members, cluster)
    return (_inside(of, codes.edge_a, codes.edge_b)[0],
            _inside(of, codes.evidence_a, codes.evidence_b)[0])


def _cluster_of(codes: PassCodes, members: np.ndarray, cluster: np.ndarray) -> np.ndarray:
    """Cluster of each account code (``-1``: in none), and a last slot for code ``-1``."""
    of = np.full(len(codes.accounts) + 1, -1, dtype="int64")
    found = members >= 0
    of[members[found]] = cluster[found]
    return of


def _inside(cluster_of: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray,
                                                                            np.ndarray]:
    """Rows whose codes ``a`` and ``b`` are in the same cluster, and that cluster.

    The test is :func:`_same`'s."""
    rows = np.flatnonzero(_same(cluster_of, a, b))
    return rows, cluster_of[a[rows]]


def _same(cluster_of: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether codes ``a`` and ``b`` of each row are in the same cluster.

    The test runs in blocks of :data:`BLOCK` rows, so its temporaries are a block's, not two
    int64 clusters per row (at 30M rows ≈ 0.6 GB for the 1 h pass's 38M evidence rows)."""
    same = np.empty(a.size, dtype=bool)
    for start in range(0, a.size, BLOCK):
        cluster = cluster_of[a[start:start + BLOCK]]
        same[start:start + BLOCK] = (cluster == cluster_of[b[start:start + BLOCK]]) & (
            cluster >= 0)
    return same


def member_ties(inner_edges: pd.DataFrame, n_accounts: int) -> np.ndarray:
    """Shared targets summed over the ``account_a, account_b`` (codes) rows of each account
    code, and a last slot (0) for code ``-1``.

    >>> member_ties(pd.DataFrame({"account_a": [0, 0], "account_b": [1, 2],
    ...                           "shared_targets": [3, 1]}), 3).tolist()
    [4, 3, 1, 0]
    """
    shared = inner_edges["shared_targets"].to_numpy(dtype="int64")
    return sum(np.bincount(inner_edges[c].to_numpy(), shared, minlength=n_accounts + 1)
               .astype("int64") for c in ("account_a", "account_b"))


def edges_without(codes: PassCodes, accounts: set[str]) -> np.ndarray:
    """Mask of the pass's edges with neither account in ``accounts``.

    >>> edges = pd.DataFrame({"account_a": ["a", "a", "b"], "account_b": ["b", "c", "c"],
    ...                       "shared_targets": 1})
    >>> activity = pd.DataFrame({"account_id": list("abc"), "n_actions": 1.0, "crowd_sum": 1.0})
    >>> edges_without(pass_codes(edges, None, activity), {"a", "x"}).tolist()
    [False, False, True]
    """
    out = np.zeros(len(codes.accounts) + 1, dtype=bool)
    found = account_codes(codes, pd.Series(sorted(accounts), dtype="str"))
    out[found[found >= 0]] = True
    return ~(out[codes.edge_a] | out[codes.edge_b])
