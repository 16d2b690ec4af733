"""Time-windowed co-engagement projection of the bipartite graph onto accounts.

Two accounts are tied by a target when both engaged it within ``window_s`` seconds of each
other (an exact sliding window over actions sorted by time, not fixed bins). Each tie is
discounted by the target's *crowd* — how many actions on that target fall inside the
window around the two actions — so a viral post cannot make millions of strong pairs.
Actions whose crowd exceeds ``max_crowd`` are not paired at all: every remaining action
pairs with fewer than ``max_crowd`` others, so enumeration is bounded by
``len(actions) * max_crowd`` by construction, whatever the degree distribution.
"""

from __future__ import annotations

import json
from typing import NamedTuple

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from numba import njit, prange

from graphs.bipartite import Incidence
from graphs.significance import bh_q_values, expected_ties, tie_p_values


class CoEngagement(NamedTuple):
    """Result of :func:`co_engagement`."""

    edges: pd.DataFrame
    """``co_engagement_edges`` (see docs/tables.md)."""
    evidence: pd.DataFrame
    """``edge_evidence``: one row per (kept edge, shared target), the closest actions."""
    activity: pd.DataFrame
    """``account_id, n_actions, crowd_sum`` of the accounts in kept edges (for the null)."""
    stats: dict[str, int]
    """Counts for the manifest: actions, pairs enumerated, hub actions and targets skipped..."""


@njit(cache=True)
def _segments(target: np.ndarray) -> np.ndarray:
    starts = [0]
    for k in range(1, target.size):
        if target[k] != target[k - 1]:
            starts.append(k)
    starts.append(target.size)
    return np.array(starts, dtype=np.int64)


@njit(parallel=True, cache=True)
def _crowds(seg: np.ndarray, time: np.ndarray, window: int) -> np.ndarray:
    """Number of actions on the same target within ``window`` of each action (itself included)."""
    crowd = np.empty(time.size, dtype=np.int64)
    for s in prange(seg.size - 1):
        lo, hi = seg[s], seg[s + 1]
        left, right = lo, lo
        for k in range(lo, hi):
            while time[k] - time[left] > window:
                left += 1
            while right < hi and time[right] - time[k] <= window:
                right += 1
            crowd[k] = right - left
    return crowd


@njit(parallel=True, cache=True)
def _pair_counts(seg, time, account, crowd, window, max_crowd):
    counts = np.zeros(seg.size - 1, dtype=np.int64)
    for s in prange(seg.size - 1):
        n = 0
        for i in range(seg[s], seg[s + 1]):
            if crowd[i] > max_crowd:
                continue
            j = i + 1
            while j < seg[s + 1] and time[j] - time[i] <= window:
                if crowd[j] <= max_crowd and account[j] != account[i]:
                    n += 1
                j += 1
        counts[s] = n
    return counts


@njit(parallel=True, cache=True)
def _pairs(seg, time, account, crowd, window, max_crowd, offsets, first, second):
    for s in prange(seg.size - 1):
        out = offsets[s]
        for i in range(seg[s], seg[s + 1]):
            if crowd[i] > max_crowd:
                continue
            j = i + 1
            while j < seg[s + 1] and time[j] - time[i] <= window:
                if crowd[j] <= max_crowd and account[j] != account[i]:
                    if account[i] < account[j]:
                        first[out], second[out] = i, j
                    else:
                        first[out], second[out] = j, i
                    out += 1
                j += 1


def windowed_pairs(inc: Incidence, *, window_s: int, max_crowd: int) -> pa.Table:
    """Every in-window pair of actions on the same target by two different accounts.

    Returns a table with ``a, b`` (account codes, a < b), ``target``, ``dt`` (seconds),
    ``w`` (1 / log2(crowd)), ``ia, ib`` (entry indices of a's and b's actions).

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
    seg = _segments(inc.target) if inc.target.size else np.zeros(1, dtype=np.int64)
    crowd = _crowds(seg, inc.time, window_s)
    counts = _pair_counts(seg, inc.time, inc.account, crowd, window_s, max_crowd)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    first = np.empty(offsets[-1], dtype=np.int64)
    second = np.empty(offsets[-1], dtype=np.int64)
    _pairs(seg, inc.time, inc.account, crowd, window_s, max_crowd, offsets, first, second)
    worst = np.maximum(crowd[first], crowd[second]).clip(min=2)
    return pa.table({
        "a": inc.account[first], "b": inc.account[second], "target": inc.target[first],
        "dt": np.abs(inc.time[second] - inc.time[first]),
        "w": (1.0 / np.log2(worst)).astype(np.float32), "ia": first, "ib": second,
    })


_PER_TARGET_SQL = """
CREATE TEMP TABLE per_target AS
SELECT a, b, target, min(dt) AS dt, arg_min(ia, dt) AS ia, arg_min(ib, dt) AS ib, max(w) AS w
FROM pairs GROUP BY a, b, target
"""
_PER_PAIR_SQL = """
CREATE TEMP TABLE kept AS
SELECT a, b, count(*) AS shared_targets, sum(w) AS weight, median(dt) AS median_dt_s
FROM per_target GROUP BY a, b HAVING count(*) >= ?
"""
_EVIDENCE_SQL = """
SELECT p.a, p.b, p.target, p.dt, p.ia, p.ib FROM per_target p SEMI JOIN kept USING (a, b)
ORDER BY p.a, p.b, p.target
"""


def co_engagement(
    inc: Incidence, *, window_s: int = 3600, max_crowd: int = 1000, min_shared_targets: int = 2
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

    Returns
    -------
    CoEngagement
        Kept edges (ids, ``shared_targets``, hub-discounted ``weight``, ``median_dt_s``,
        ``targets``), their evidence rows and enumeration counts.

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
    pairs = windowed_pairs(inc, window_s=window_s, max_crowd=max_crowd)
    con = duckdb.connect()
    con.register("pairs", pairs)
    con.execute(_PER_TARGET_SQL)
    con.execute(_PER_PAIR_SQL, [min_shared_targets])
    kept = con.sql("SELECT * FROM kept ORDER BY a, b").fetchnumpy()
    found = con.sql(_EVIDENCE_SQL).fetchnumpy()
    n_per_target, n_candidates = con.execute(
        "SELECT count(*), count(DISTINCT (a, b)) FROM per_target").fetchall()[0]
    con.close()
    seg = _segments(inc.target) if inc.target.size else np.zeros(1, dtype=np.int64)
    crowd = _crowds(seg, inc.time, window_s)
    evidence = _evidence_frame(inc, found)
    actions, crowds = _activity(inc, crowd)
    edges = _with_significance(_edges_frame(inc, kept, evidence), kept, actions, crowds,
                               inc.account.size, n_candidates)
    hub = crowd > max_crowd
    stats = {
        "n_actions": int(inc.account.size),
        "action_pairs_enumerated": int(pairs.num_rows),
        "account_target_pairs": int(n_per_target),
        "candidate_pairs": int(n_candidates),
        "edges_kept": int(len(edges)),
        "hub_actions_skipped": int(hub.sum()),
        "hub_targets": int(np.unique(inc.target[hub]).size),
    }
    in_edges = np.unique(np.concatenate([kept["a"], kept["b"]])).astype(np.int64)
    activity = pd.DataFrame({"account_id": _ids(inc.account_ids, in_edges),
                             "n_actions": actions[in_edges], "crowd_sum": crowds[in_edges]})
    return CoEngagement(edges=edges, evidence=evidence, activity=activity, stats=stats)


def _activity(inc: Incidence, crowd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per account code: number of actions and summed crowds (minus the action itself)."""
    n_accounts = len(inc.account_ids)
    actions = np.bincount(inc.account, minlength=n_accounts).astype(float)
    return actions, np.bincount(inc.account, weights=crowd - 1.0, minlength=n_accounts)


def _with_significance(edges: pd.DataFrame, kept: dict[str, np.ndarray], actions: np.ndarray,
                       crowds: np.ndarray, n_actions: int, n_candidates: int) -> pd.DataFrame:
    """Add ``expected_ties``, ``p_value`` and ``q_value`` (see graphs.significance)."""
    a, b = kept["a"].astype(np.int64), kept["b"].astype(np.int64)
    expected = expected_ties(actions[a], actions[b], crowds[a], crowds[b], n_actions)
    p_values = tie_p_values(edges["shared_targets"].to_numpy(), expected)
    return edges.assign(expected_ties=expected, p_value=p_values,
                        q_value=bh_q_values(p_values, n_tests=n_candidates))


def _ids(ids: pa.Array, codes: np.ndarray) -> np.ndarray:
    return ids.take(pa.array(codes)).to_numpy(zero_copy_only=False)


def _times(inc: Incidence, entries: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(inc.time[entries], unit="s", utc=True))


def _evidence_frame(inc: Incidence, found: dict[str, np.ndarray]) -> pd.DataFrame:
    ia, ib = found["ia"].astype(np.int64), found["ib"].astype(np.int64)
    return pd.DataFrame({
        "account_a": _ids(inc.account_ids, found["a"]),
        "account_b": _ids(inc.account_ids, found["b"]),
        "target_id": _ids(inc.target_ids, found["target"]),
        "time_a": _times(inc, ia),
        "time_b": _times(inc, ib),
        "action_a": _ids(inc.action_names, inc.action[ia]),
        "action_b": _ids(inc.action_names, inc.action[ib]),
        "dt_s": found["dt"].astype(float),
    })


def _edges_frame(inc: Incidence, kept: dict[str, np.ndarray], evidence: pd.DataFrame):
    edges = pd.DataFrame({
        "account_a": _ids(inc.account_ids, kept["a"]),
        "account_b": _ids(inc.account_ids, kept["b"]),
        "shared_targets": kept["shared_targets"].astype(np.int64),
        "weight": kept["weight"].astype(float),
        "median_dt_s": kept["median_dt_s"].astype(float),
    })
    targets = evidence.groupby(["account_a", "account_b"], sort=False)["target_id"].agg(
        lambda s: json.dumps(sorted(s), separators=(",", ":"), ensure_ascii=False)
    )
    return edges.join(targets.rename("targets"), on=["account_a", "account_b"])
