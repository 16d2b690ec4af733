"""Per-layer projections fused into one edge table, and one more layer spliced into it.

:func:`fused_tables` is the general path of :func:`graphs.multiplex.fused_co_engagement`:
every layer's edges stacked, grouped by pair and pivoted per layer; the evidence stacked and
sorted by ``account_a, account_b, layer, target_id``. :func:`spliced_layer` gives the same
two tables when a layer with few edges (the slow pass's ties inside its cohorts) is added to
an already fused result: only that layer's pairs are recomputed, the other rows are copied
in place (at 10M rows re-fusing 3.5M edges and 10.9M evidence rows took ≈ 22 s).
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from graphs.projection import CoEngagement
from graphs.significance import bh_q_values, tie_p_values

KEY = ["account_a", "account_b"]
EVIDENCE_ORDER = ["account_a", "account_b", "layer", "target_id"]


def fused_tables(projections: dict[str, CoEngagement], weights: dict[str, float],
                 names: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fused edges and evidence of the layers ``names`` (the general path)."""
    long = _stacked([(n, projections[n].edges) for n in names], weights)
    evidence = pd.concat([projections[n].evidence.assign(layer=n) for n in names],
                         ignore_index=True).sort_values(EVIDENCE_ORDER, ignore_index=True)
    return _fused_edges(long, evidence, names, _n_tests(projections)), evidence


def spliced_layer(fused: CoEngagement, projections: dict[str, CoEngagement], name: str,
                  layer: CoEngagement, weights: dict[str, float] | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The edges and evidence of ``fused_co_engagement({**projections, name: layer})``.

    Parameters
    ----------
    fused : CoEngagement
        ``fused_co_engagement(projections, weights)``.
    projections : dict of str to CoEngagement
        The fused layers' own projections.
    name : str
        The added layer's name (not one of ``projections``).
    layer : CoEngagement
        The added layer's projection (edges sorted by pair, evidence by pair and target).
    weights : dict of str to float, optional
        Multiplier of each layer's edge weights (default 1).

    Returns
    -------
    tuple of pandas.DataFrame
        Edges and evidence, equal (values, dtypes, order) to the fusion's: the added layer's
        pairs are fused anew, every other edge gets ``ties:<name>`` 0, ``weight:<name>`` 0
        and its ``q_value`` over all edges; the layer's evidence rows are inserted in order.

    Examples
    --------
    >>> from graphs.multiplex import Layer, fused_co_engagement, layer_projections
    >>> t = pd.Timestamp("2026-11-01", tz="UTC")
    >>> rows = lambda accounts, targets: pd.DataFrame({"account_id": accounts,
    ...     "target_id": targets, "action": "x", "timestamp": [t] * len(targets)})
    >>> fast = layer_projections({"like": Layer(rows(["a", "b"] * 2, list("ppqq")), 60)})
    >>> slow = layer_projections({"s": Layer(rows(["a", "c"] * 2, list("ppqq")), 60)})["s"]
    >>> edges, evidence = spliced_layer(fused_co_engagement(fast), fast, "slow", slow)
    >>> edges[["account_b", "layers", "ties:like", "ties:slow"]].values.tolist()
    [['b', '["like"]', 2, 0], ['c', '["slow"]', 0, 2]]
    """
    weights = weights or {}
    if name in projections:
        raise ValueError(f"spliced_layer: layer '{name}' is already fused")
    every = {**projections, name: layer}
    names = sorted(every)
    if fused.edges.empty or layer.edges.empty:  # nothing to keep, or nothing to add
        return fused_tables(every, weights, names)
    evidence = _spliced_evidence(fused.evidence, layer.evidence.assign(layer=name))
    changed = _pairs_fused(every, layer.edges[KEY], evidence, weights, names)
    edges = _spliced_edges(fused.edges, changed)
    edges["q_value"] = bh_q_values(edges["p_value"].to_numpy(),
                                   n_tests=max(_n_tests(every), 1))
    return edges, evidence


def _pairs_fused(projections: dict[str, CoEngagement], pairs: pd.DataFrame,
                 evidence: pd.DataFrame, weights: dict[str, float],
                 names: list[str]) -> pd.DataFrame:
    """The fused edges of ``pairs`` only (sorted): the same rows and per-pair sums as the
    general path, whose per-pair values depend on that pair's rows alone (``q_value``
    excepted, recomputed over all edges by the caller)."""
    frames = []
    for n in names:
        lo, hi = _pair_bounds(projections[n].edges, pairs)
        frames.append((n, projections[n].edges.iloc[lo[hi > lo]]))
    lo, hi = _pair_bounds(evidence, pairs)
    return _fused_edges(_stacked(frames, weights), evidence.iloc[_ranges(lo, hi)], names, 1)


def _spliced_edges(fused: pd.DataFrame, changed: pd.DataFrame) -> pd.DataFrame:
    """``fused`` with the rows of ``changed`` replacing those of the same pair or inserted
    in (account_a, account_b) order, and its new per-layer columns (zero elsewhere)."""
    new = [c for c in changed.columns if c not in fused.columns]
    if len(new) != len(changed.columns) - len(fused.columns):
        raise ValueError("spliced_layer: the fused edges have columns the splice lacks")
    base = fused.assign(**{c: 0 if c.startswith("ties:") else 0.0 for c in new})
    lo, hi = _pair_bounds(fused, changed[KEY])
    present, n = hi > lo, len(fused)
    order = np.arange(n)
    order[lo[present]] = n + np.flatnonzero(present)
    order = np.insert(order, lo[~present], n + np.flatnonzero(~present))
    both = pd.concat([base[list(changed.columns)], changed], ignore_index=True)
    return both.take(order).reset_index(drop=True)


def _spliced_evidence(fused: pd.DataFrame, added: pd.DataFrame) -> pd.DataFrame:
    """``fused`` (sorted by EVIDENCE_ORDER) with the rows of ``added`` (one layer, sorted by
    pair and target) inserted where a sort would put them."""
    first = np.flatnonzero(~added.duplicated(KEY).to_numpy())
    lo, hi = _pair_bounds(fused, added.iloc[first])
    layers, name = _Column(fused["layer"]), added["layer"].iloc[0]
    at = [bisect_left(layers, name, int(a), int(b)) for a, b in zip(lo, hi, strict=True)]
    per_row = np.repeat(np.asarray(at, dtype=np.int64), np.diff([*first, len(added)]))
    order = np.insert(np.arange(len(fused)), per_row, len(fused) + np.arange(len(added)))
    both = pd.concat([fused, added[list(fused.columns)]], ignore_index=True)
    return both.take(order).reset_index(drop=True)


class _Column(Sequence):
    """A text column as a sequence of Python strings, read one value at a time from Arrow
    (for :func:`bisect.bisect_left` over millions of rows without converting them)."""

    def __init__(self, column: pd.Series) -> None:
        self.array = pa.chunked_array(pa.array(column))

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, i):  # an int index (what bisect asks for)
        return self.array[i].as_py()


def _pair_bounds(table: pd.DataFrame, pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``[lo, hi)`` of each ``account_a, account_b`` of ``pairs`` in ``table`` (sorted by
    those columns first); ``lo == hi`` is where an absent pair would go. Binary search:
    ≈ 50 Arrow reads per pair, whatever the table's length."""
    col_a, col_b = _Column(table["account_a"]), _Column(table["account_b"])
    lo, hi = np.zeros(len(pairs), np.int64), np.zeros(len(pairs), np.int64)
    current, start, stop = None, 0, 0
    for k, (a, b) in enumerate(zip(pairs["account_a"].tolist(), pairs["account_b"].tolist(),
                                   strict=True)):
        if a != current:
            current, start = a, bisect_left(col_a, a)
            stop = bisect_right(col_a, a, start)
        lo[k] = bisect_left(col_b, b, start, stop)
        hi[k] = bisect_right(col_b, b, int(lo[k]), stop)
    return lo, hi


def pair_rows(table: pd.DataFrame, pairs: pd.DataFrame) -> np.ndarray:
    """Row numbers, in order, of the rows of ``table`` (sorted by ``account_a, account_b``
    first, as projections' edges and evidence are) whose pair is one of ``pairs``: a binary
    search per pair instead of a lookup of every row.

    >>> t = pd.DataFrame({"account_a": list("aaab"), "account_b": list("bbcc")})
    >>> pair_rows(t, pd.DataFrame({"account_a": ["a", "b"], "account_b": ["b", "c"]}))
    array([0, 1, 3])
    """
    return _ranges(*_pair_bounds(table, pairs))


def _ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The row numbers of all ranges ``[lo, hi)``, concatenated."""
    sizes = hi - lo
    return np.repeat(lo - np.cumsum(sizes) + sizes, sizes) + np.arange(int(sizes.sum()))


def _n_tests(projections: dict[str, CoEngagement]) -> int:
    return sum(p.stats["candidate_pairs"] for p in projections.values())


def _stacked(frames: list[tuple[str, pd.DataFrame]], weights: dict[str, float]) -> pd.DataFrame:
    """Layers' edges stacked in the given order, with ``layer`` and ``_w`` (weighted)."""
    return pd.concat([edges.assign(layer=n, _w=edges["weight"] * float(weights.get(n, 1.0)))
                      for n, edges in frames], ignore_index=True)


def _fused_edges(long: pd.DataFrame, evidence: pd.DataFrame, names: list[str],
                 n_tests: int) -> pd.DataFrame:
    key = KEY
    edges = long.groupby(key, as_index=False).agg(
        shared_targets=("shared_targets", "sum"), weight=("_w", "sum"),
        expected_ties=("expected_ties", "sum"))
    edges = edges.join(_median_and_targets(long, evidence), on=key)
    edges["p_value"] = tie_p_values(edges["shared_targets"].to_numpy(),
                                    edges["expected_ties"].to_numpy())
    edges["q_value"] = bh_q_values(edges["p_value"].to_numpy(), n_tests=max(n_tests, 1))
    ties = long.pivot_table(index=key, columns="layer", values="shared_targets",
                            aggfunc="sum", fill_value=0).reindex(columns=names, fill_value=0)
    weight = long.pivot_table(index=key, columns="layer", values="_w", aggfunc="sum",
                              fill_value=0.0).reindex(columns=names, fill_value=0.0)
    present = ties.to_numpy() > 0
    pattern = present.astype(object) @ [1 << i for i in range(len(names))]  # layers as bits
    spelled = {int(bits): json.dumps([n for i, n in enumerate(names) if bits >> i & 1],
                                     separators=(",", ":")) for bits in set(pattern.tolist())}
    edges["layers"] = [spelled[bits] for bits in pattern.tolist()]
    edges = edges.join(ties.add_prefix("ties:").astype("int64"), on=key)
    edges = edges.join(weight.add_prefix("weight:").astype(float), on=key)
    first = ["account_a", "account_b", "shared_targets", "weight", "median_dt_s", "targets",
             "expected_ties", "p_value", "q_value", "layers"]
    return edges[first + [c for c in edges.columns if c not in first]]


def _median_and_targets(long: pd.DataFrame, evidence: pd.DataFrame) -> pd.DataFrame:
    """``median_dt_s`` and ``targets`` (JSON) per pair: a pair tied in one layer keeps its
    layer's values; pairs tied in several layers are recomputed from their evidence."""
    key = KEY
    layers_of_pair = long.groupby(key)["layer"].transform("size")
    parts = [long.loc[layers_of_pair == 1, [*key, "median_dt_s", "targets"]]]
    multi = long.loc[layers_of_pair > 1, key].drop_duplicates()
    if len(multi):
        by_pair = evidence.merge(multi, on=key).groupby(key)
        targets = by_pair["target_id"].agg(
            lambda s: json.dumps(sorted(set(s)), separators=(",", ":"), ensure_ascii=False))
        parts.append(pd.concat([by_pair["dt_s"].median().rename("median_dt_s"),
                                targets.rename("targets")], axis=1).reset_index())
    return pd.concat(parts, ignore_index=True).set_index(key)
