"""Per-layer projections fused into one edge table, and one more layer spliced into it.

:func:`fused_tables` is the general path of :func:`graphs.multiplex.fused_co_engagement`:
every layer's edges stacked, grouped by pair and pivoted per layer; the evidence stacked and
sorted by ``account_a, account_b, layer, target_id``. :func:`spliced_layer` gives the same
two tables when a layer with few edges (the slow pass's ties inside its cohorts) is added to
an already fused result: only that layer's pairs are recomputed, the other rows are copied
in place (at 10M rows re-fusing 3.5M edges and 10.9M evidence rows took ≈ 22 s). It runs in
two steps so that a caller can drop the per-layer projections in between:
:func:`layer_splice` reads them, :func:`spliced_tables` moves the fused tables' columns.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

from graphs.lookup import in_code_point_order, same_categories, stacked, stacked_column
from graphs.projection import CoEngagement
from graphs.significance import bh_q_values, tie_p_values
from graphs.utc_times import utc_times

KEY = ["account_a", "account_b"]
EVIDENCE_ORDER = ["account_a", "account_b", "layer", "target_id"]


def fused_tables(projections: dict[str, CoEngagement], weights: dict[str, float],
                 names: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fused edges and evidence of the layers ``names`` (the general path)."""
    long = _stacked([(n, projections[n].edges) for n in names], weights)
    evidence = stacked([labelled(projections[n].evidence, n) for n in names]
                       ).sort_values(EVIDENCE_ORDER, ignore_index=True)
    return _fused_edges(long, evidence, names, _n_tests(projections)), evidence


class Splice(NamedTuple):
    """Result of :func:`layer_splice`: what one added layer changes in fused tables."""

    edges: pd.DataFrame
    """Fused edges of the added layer's pairs, sorted by pair (when ``at`` is ``None``: all
    the fused edges)."""
    evidence: pd.DataFrame
    """The added layer's evidence rows with ``layer`` (``at`` ``None``: all the evidence)."""
    at: np.ndarray | None
    """Row of the fused evidence before which each added row goes; ``None`` when the tables
    above replace the fused ones (nothing to keep or nothing to add: fused anew)."""
    n_tests: int
    """Candidate pairs of all layers (the tests of ``q_value``)."""
    layer_stats: dict[str, dict]
    """Every layer's projection counts, by name (``stats["layers"]`` of the fusion)."""


def spliced_layer(fused: CoEngagement, projections: dict[str, CoEngagement], name: str,
                  layer: CoEngagement, weights: dict[str, float] | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The edges and evidence of ``fused_co_engagement({**projections, name: layer})``:
    :func:`layer_splice` then :func:`spliced_tables` (on shallow copies: ``fused`` is kept).

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
    splice = layer_splice(fused, projections, name, layer, weights)
    return spliced_tables(fused.edges.copy(deep=False), fused.evidence.copy(deep=False), splice)


def layer_splice(fused: CoEngagement, projections: dict[str, CoEngagement], name: str,
                 layer: CoEngagement, weights: dict[str, float] | None = None, *,
                 take: Callable[[pd.DataFrame, np.ndarray], pd.DataFrame] | None = None,
                 ) -> Splice:
    """What adding the layer ``name`` to ``fused`` changes: only its pairs are fused anew.

    Parameters
    ----------
    fused : CoEngagement
        ``fused_co_engagement(projections, weights)``.
    projections : dict of str to CoEngagement
        The fused layers' own projections (only their rows of the added pairs are read).
    name : str
        The added layer's name (not one of ``projections``).
    layer : CoEngagement
        The added layer's projection (edges sorted by pair, evidence by pair and target).
    weights : dict of str to float, optional
        Multiplier of each layer's edge weights (default 1).
    take : callable, optional
        ``take(frame, rows)`` gives ``frame``'s rows at the ascending positions ``rows``
        (default ``frame.take(rows)``): the rows of the added pairs in the fused evidence
        and the layers' edges (the run takes them a range at a time from columns read from
        files, :func:`pipelines.mapped_columns.taken_rows`).

    Returns
    -------
    Splice
        For :func:`spliced_tables`, which needs neither ``projections`` nor ``layer``.
    """
    weights = weights or {}
    if name in projections:
        raise ValueError(f"spliced_layer: layer '{name}' is already fused")
    every = {**projections, name: layer}
    names = sorted(every)
    stats = {n: dict(every[n].stats) for n in names}
    if fused.edges.empty or layer.edges.empty:  # nothing to keep, or nothing to add
        return Splice(*fused_tables(every, weights, names), None, _n_tests(every), stats)
    take = take or _taken
    added = labelled(layer.evidence, name)
    near = take(fused.evidence, _ranges(*_pair_bounds(fused.evidence, layer.edges[KEY])))
    pair_evidence = _spliced_rows(near, added, _insert_at(near, added))
    changed = _pairs_fused(every, layer.edges[KEY], pair_evidence, weights, names, take)
    return Splice(changed, added, _insert_at(fused.evidence, added), _n_tests(every), stats)


def spliced_tables(edges: pd.DataFrame, evidence: pd.DataFrame, splice: Splice, *,
                   after_column: Callable[[], None] | None = None,
                   placed: Callable[[str, pd.Series], pd.Series] | None = None,
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The fused ``edges`` and ``evidence`` with ``splice`` applied: equal (values, dtypes,
    order) to fusing every layer anew; the added pairs' edges replace or join the others,
    which get ``ties:<name>`` 0, ``weight:<name>`` 0 and their ``q_value`` over all edges.

    The tables are built column by column and each column is removed from ``edges`` and
    ``evidence`` once its spliced copy is built (they end empty): with no other holder of
    them, one column is copied at a time instead of both tables (at 10M rows 3.5M edges and
    10.9M evidence rows, ≈ 1.9 GiB), Arrow-backed text (the edges' ``targets``) included.
    ``placed(name, column)``, when given, is what a column of either table becomes once
    placed, ``q_value`` once recomputed (the run moves every column but the ids themselves
    to files there, before the next column is placed); ``after_column()``, when given, is
    called after each column.
    """
    if splice.at is None:
        return splice.edges, splice.evidence
    evidence = _spliced_rows(evidence, splice.evidence, splice.at, after_column, placed)
    edges = _spliced_edges(edges, splice.edges, after_column, placed)
    q_values = pd.Series(bh_q_values(edges["p_value"].to_numpy(),
                                     n_tests=max(splice.n_tests, 1)), copy=False)
    edges["q_value"] = q_values if placed is None else placed("q_value", q_values)
    return edges, evidence


def _taken(frame: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    return frame.take(rows)


def _pairs_fused(projections: dict[str, CoEngagement], pairs: pd.DataFrame,
                 evidence: pd.DataFrame, weights: dict[str, float], names: list[str],
                 take: Callable[[pd.DataFrame, np.ndarray], pd.DataFrame],
                 ) -> pd.DataFrame:
    """The fused edges of ``pairs`` only (sorted), from their spliced ``evidence`` rows: the
    same rows and per-pair sums as the general path, whose per-pair values depend on that
    pair's rows alone (``q_value`` excepted, recomputed over all edges by the caller)."""
    frames = []
    for n in names:
        lo, hi = _pair_bounds(projections[n].edges, pairs)
        frames.append((n, take(projections[n].edges, lo[hi > lo])))
    return _fused_edges(_stacked(frames, weights), evidence, names, 1)


def _spliced_edges(fused: pd.DataFrame, changed: pd.DataFrame,
                   after_column: Callable[[], None] | None = None,
                   placed: Callable[[str, pd.Series], pd.Series] | None = None,
                   ) -> pd.DataFrame:
    """``fused`` with the rows of ``changed`` replacing those of the same pair or inserted
    in (account_a, account_b) order, and its new per-layer columns (zero elsewhere); the
    columns of ``fused`` are moved one at a time (:func:`_placed_columns`)."""
    new = [c for c in changed.columns if c not in fused.columns]
    if len(new) != len(changed.columns) - len(fused.columns):
        raise ValueError("spliced_layer: the fused edges have columns the splice lacks")
    lo, hi = _pair_bounds(fused, changed[KEY])
    present = hi > lo
    for c in new:
        fused[c] = 0 if c.startswith("ties:") else 0.0
    placement = _placement(len(fused), lo[~present], np.flatnonzero(~present),
                           replaced=lo[present], replacing=np.flatnonzero(present))
    return _placed_columns(fused, changed, placement, list(changed.columns), after_column,
                           placed)


def _insert_at(fused: pd.DataFrame, added: pd.DataFrame) -> np.ndarray:
    """Row of ``fused`` (sorted by EVIDENCE_ORDER) before which each row of ``added`` (one
    layer, sorted by pair and target) goes: where a sort would put it."""
    first = np.flatnonzero(~added.duplicated(KEY).to_numpy())
    lo, hi = _pair_bounds(fused, added.iloc[first])
    layers, name = _Column(fused["layer"]), added["layer"].iloc[0]
    at = [bisect_left(layers, name, int(a), int(b)) for a, b in zip(lo, hi, strict=True)]
    return np.repeat(np.asarray(at, dtype=np.int64), np.diff([*first, len(added)]))


def _spliced_rows(table: pd.DataFrame, added: pd.DataFrame, at: np.ndarray,
                  after_column: Callable[[], None] | None = None,
                  placed: Callable[[str, pd.Series], pd.Series] | None = None) -> pd.DataFrame:
    """``table`` with each row of ``added`` inserted before its row ``at`` (sorted), each
    column popped from ``table`` as its spliced copy is built (:func:`_placed_columns`)."""
    placement = _placement(len(table), np.asarray(at, dtype=np.int64), np.arange(len(added)))
    return _placed_columns(table, added, placement, list(table.columns), after_column, placed)


class _Placement(NamedTuple):
    """Where a splice puts each row: the old table's rows keep their order (``kept``: their
    places), the added rows ``inserted`` go to the places ``is_added``, and the added rows
    ``replacing`` overwrite the old rows' places ``replaced``. Applied to a column, it gives
    what stacking old and added rows and taking them in :meth:`order` gives."""

    kept: np.ndarray
    is_added: np.ndarray
    inserted: np.ndarray
    replaced: np.ndarray
    replacing: np.ndarray

    def order(self) -> np.ndarray:
        """The rows of old and added stacked (added after the ``kept.sum()`` old rows), in
        the spliced order."""
        n = int(self.kept.sum())
        order = np.empty(self.kept.size, dtype=np.int64)
        order[self.kept] = np.arange(n)
        order[self.replaced] = n + self.replacing
        order[self.is_added] = n + self.inserted
        return order

    def runs(self) -> tuple[np.ndarray, np.ndarray]:
        """The runs of :meth:`order`, each of consecutive rows of old or of added: their
        starts and first rows (as in ``order``), found from the added and replaced places
        alone (``order`` and its differences were five arrays of every row, made while the
        edges' ``targets`` were placed: at 30M rows the splice +0.57 GiB then, +0.43 GiB
        now)."""
        total, n = self.kept.size, self.kept.size - self.inserted.size
        if not total:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        added = np.flatnonzero(self.is_added)
        special = np.concatenate([added, self.replaced])
        value = n + np.concatenate([self.inserted, self.replacing])
        by_place = np.argsort(special, kind="stable")
        special, value = special[by_place], value[by_place]
        starts = np.unique(np.concatenate([[0], special, special + 1]))
        starts = starts[starts < total]
        firsts = starts - np.searchsorted(added, starts)  # old rows: less the added before
        hit = np.isin(starts, special)  # the places are distinct: one added row each
        firsts[hit] = value[np.searchsorted(special, starts[hit])]
        lengths = np.diff(np.append(starts, total))
        goes_on = ((firsts[1:] == firsts[:-1] + lengths[:-1])
                   & ((firsts[1:] >= n) == (firsts[:-1] >= n)))
        keep = np.concatenate([[True], ~goes_on])
        return starts[keep], firsts[keep]


def _placement(n: int, at: np.ndarray, inserted: np.ndarray, *,
               replaced: np.ndarray | None = None,
               replacing: np.ndarray | None = None) -> _Placement:
    """The rows ``inserted`` of an added table go before the old rows ``at`` (sorted, as
    ``np.insert`` places them), its rows ``replacing`` over the old rows ``replaced``."""
    is_added = np.zeros(n + len(at), dtype=bool)
    is_added[at + np.arange(len(at))] = True
    replaced = np.zeros(0, np.int64) if replaced is None else np.asarray(replaced, np.int64)
    replacing = np.zeros(0, np.int64) if replacing is None else np.asarray(replacing, np.int64)
    places = replaced + np.searchsorted(at, replaced, side="right")  # old row r's new place
    return _Placement(~is_added, is_added, np.asarray(inserted, np.int64), places, replacing)


def _placed_columns(table: pd.DataFrame, added: pd.DataFrame, placement: _Placement,
                    columns: list[str], after_column: Callable[[], None] | None,
                    placed: Callable[[str, pd.Series], pd.Series] | None = None,
                    ) -> pd.DataFrame:
    """``columns`` of ``table`` and ``added`` placed by ``placement``, each popped from
    ``table`` as its spliced copy is built (the old one is freed then, when nothing else
    holds it) and passed through ``placed(name, column)`` when given (Arrow-backed text then
    comes as slices of the old and the added, for ``placed`` to join: the run writes them
    into a file), ``after_column()`` called after each (the run gives the freed pages back
    there: glibc keeps them, and the next columns did not fit in them)."""
    out = {}
    for c in columns:
        out[c] = _placed(table.pop(c), added[c], placement, joined=placed is None)
        if placed is not None:
            out[c] = placed(c, out[c])
        if after_column is not None:
            after_column()
    return pd.DataFrame(out, copy=False)


def _placed(old: pd.Series, new: pd.Series, placement: _Placement, *,
            joined: bool = True) -> pd.Series:
    """``old`` and ``new`` placed by ``placement``: what stacking the two
    (:func:`graphs.lookup.stacked_column`) and taking the rows in ``placement.order()``
    gives, built as one new array: columns of one NumPy or UTC time dtype and categoricals
    written into place; Arrow-backed text joined once from slices of ``old``'s chunks and
    ``new``'s (stacking then taking held three copies of it; left as slices, every later
    ``take`` of the column joined them all again: 0.7 s and a copy per take at 5M rows;
    ``joined=False``: left as slices, for the caller to join). Other columns are stacked and
    taken."""
    if isinstance(old.dtype, pd.CategoricalDtype):
        # the stacked dtype (old's, or the sorted union of both's categories), as stacking
        # all of old would give: its choice depends on old's categories, not on its rows
        recoded = stacked_column([old.iloc[:0], new])
        dtype = recoded.dtype
        codes = old.array.codes
        if not same_categories(dtype, old.dtype):  # old's codes in the union's, as narrow
            where = np.append(dtype.categories.get_indexer(old.dtype.categories), -1)
            codes = where.astype(np.min_scalar_type(-max(len(dtype.categories), 1)))[codes]
        codes = _placed_values(codes, recoded.array.codes, placement)
        return pd.Series(pd.Categorical.from_codes(codes, dtype=dtype, validate=False))
    if isinstance(old.dtype, np.dtype) and old.dtype == new.dtype:
        return pd.Series(_placed_values(old.to_numpy(), new.to_numpy(), placement), copy=False)
    if (isinstance(old.dtype, pd.DatetimeTZDtype) and old.dtype == new.dtype
            and str(old.dtype.tz) == "UTC"):
        ticks = _placed_values(old.array.asi8, new.array.asi8, placement)
        return utc_times(ticks, old.dtype.unit)
    if isinstance(old.array, pd.arrays.ArrowStringArray) and old.dtype == new.dtype:
        text = _placed_text(old.array._pa_array, new.array._pa_array, placement)
        if joined:
            text = pa.chunked_array([text.combine_chunks()])
        return pd.Series(type(old.array)(text, dtype=old.dtype), copy=False)
    return stacked_column([old, new]).take(placement.order()).reset_index(drop=True)


def _placed_values(old: np.ndarray, new: np.ndarray, placement: _Placement) -> np.ndarray:
    values = np.empty(placement.kept.size, dtype=old.dtype)
    values[placement.kept] = old
    values[placement.is_added] = new[placement.inserted]
    values[placement.replaced] = new[placement.replacing]
    return values


def _placed_text(old: pa.ChunkedArray, new: pa.ChunkedArray, placement: _Placement
                 ) -> pa.ChunkedArray:
    """The rows of ``old`` then ``new`` in ``placement.order()``, as slices of their chunks:
    each run (:meth:`_Placement.runs`) is one slice (a splice adds few rows: few slices)."""
    n, total = len(old), placement.kept.size
    starts, firsts = placement.runs()
    if not len(starts):
        return old.slice(0, 0)
    ends = np.append(starts[1:], total)
    chunks = []
    for start, end, first in zip(starts.tolist(), ends.tolist(), firsts.tolist(), strict=True):
        source, first = (old, first) if first < n else (new, first - n)
        chunks.extend(source.slice(first, end - start).chunks)
    return pa.chunked_array(chunks, type=old.type)


def labelled(evidence: pd.DataFrame, name: str) -> pd.DataFrame:
    """``evidence`` with a ``layer`` column ``name`` (a categorical: one byte per row).

    >>> labelled(pd.DataFrame({"dt_s": [1.0, 2.0]}), "like")["layer"].tolist()
    ['like', 'like']
    """
    return evidence.assign(layer=one_value(name, len(evidence)))


def one_value(value: str, n: int) -> pd.Categorical:
    """``n`` times ``value``, as a categorical of that one category."""
    return pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=[value])


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
    those columns first); ``lo == hi`` is where an absent pair would go. On the ids' integer
    codes when they are codes of one sorted vocabulary (:func:`_pair_codes`), else by a
    binary search of the text per pair: ≈ 50 Arrow reads per pair, whatever the table's
    length (at 30M rows 2.8 s for the slow pass's splice, against 0.1 s on the codes)."""
    codes = _pair_codes(table, pairs)
    if codes is not None:
        (col_a, col_b), (a, b) = codes
        lo, hi = np.searchsorted(col_a, a, side="left"), np.searchsorted(col_a, a, side="right")
        firsts = np.flatnonzero(np.diff(a, prepend=a[:1] - 1) != 0)  # each run of pairs of one a
        for first, last in zip(firsts.tolist(), [*firsts[1:].tolist(), len(a)], strict=True):
            start, stop = int(lo[first]), int(hi[first])  # that a's rows: b sorted in them
            within = col_b[start:stop]
            lo[first:last] = start + np.searchsorted(within, b[first:last], side="left")
            hi[first:last] = start + np.searchsorted(within, b[first:last], side="right")
        return lo, hi
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


def _pair_codes(table: pd.DataFrame, pairs: pd.DataFrame
                ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None:
    """The ``account_a, account_b`` codes of ``table`` (its categoricals' own arrays: no
    copy, where keys ``a × n + b`` of every row held 32 bytes per row at once) and of
    ``pairs``, when all four columns are categoricals of the same categories in code point
    order (the codes then sort as the text) and none is missing; else ``None``."""
    dtype = _shared_key_dtype(table, pairs)
    if dtype is None or not in_code_point_order(pa.array(dtype.categories, pa.large_string())):
        return None
    found = [tuple(frame[c].array.codes for c in KEY) for frame in (table, pairs)]
    if any(len(c) and c.min() < 0 for pair in found for c in pair):
        return None
    return found[0], found[1]


def _ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The row numbers of all ranges ``[lo, hi)``, concatenated."""
    sizes = hi - lo
    return np.repeat(lo - np.cumsum(sizes) + sizes, sizes) + np.arange(int(sizes.sum()))


def _n_tests(projections: dict[str, CoEngagement]) -> int:
    return sum(p.stats["candidate_pairs"] for p in projections.values())


def _stacked(frames: list[tuple[str, pd.DataFrame]], weights: dict[str, float]) -> pd.DataFrame:
    """Layers' edges stacked in the given order, with ``layer`` and ``_w`` (weighted).

    When every categorical column has the same categories in every layer (the layers' ids
    coded over one vocabulary), the columns are joined as codes (:func:`stacked`):
    ``pd.concat`` hashed the 0.8M account ids of each layer's dtype at 10M rows. Otherwise
    ``pd.concat``, whose text columns keep multi-layer runs' tables (and Parquet types) as
    they are.
    """
    parts = [edges.assign(layer=n, _w=edges["weight"] * float(weights.get(n, 1.0)))
             for n, edges in frames]
    return stacked(parts) if _coded_alike(parts) else pd.concat(parts, ignore_index=True)


def _coded_alike(frames: list[pd.DataFrame]) -> bool:
    """Whether each column is categorical of one set of categories in all ``frames``, or
    categorical in none (and the frames have the same columns)."""
    if any(not f.columns.equals(frames[0].columns) for f in frames):
        return False
    for column in frames[0].columns:
        dtypes = [f[column].dtype for f in frames]
        first = dtypes[0]
        if isinstance(first, pd.CategoricalDtype):
            if not all(same_categories(d, first) for d in dtypes):
                return False
        elif any(isinstance(d, pd.CategoricalDtype) for d in dtypes):
            return False
    return True


def _fused_edges(long: pd.DataFrame, evidence: pd.DataFrame, names: list[str],
                 n_tests: int) -> pd.DataFrame:
    """Per pair of ``long`` (the layers' edges stacked), the fused edge; when the pair
    columns of ``long`` and ``evidence`` are categoricals of the same ids, the grouping,
    merges and joins run on their integer codes and the result gets that dtype back.

    pandas compares categoricals by hashing their categories, once per dtype object, and its
    merges and groupbys make new dtype objects: the slow pass's splice at 10M rows hashed the
    same 785,369 account ids 16 times (1.6 s of its 3.3 s).
    """
    dtype = _shared_key_dtype(long, evidence)
    if dtype is None:
        return _fused_rows(long, evidence, names, n_tests)
    codes = {c: long[c].cat.codes for c in KEY}
    edges = _fused_rows(long.assign(**codes), evidence.assign(
        **{c: evidence[c].cat.codes for c in KEY}), names, n_tests)
    for c in KEY:
        edges[c] = pd.Categorical.from_codes(edges[c].to_numpy(), dtype=dtype)
    return edges


def _shared_key_dtype(one: pd.DataFrame, other: pd.DataFrame) -> pd.CategoricalDtype | None:
    """The dtype of the pair columns of both tables when all four are categoricals of the
    same categories (in the same order), else ``None``."""
    dtypes = [frame[c].dtype for frame in (one, other) for c in KEY]
    first = dtypes[0]
    return first if all(same_categories(d, first) for d in dtypes) else None


def _fused_rows(long: pd.DataFrame, evidence: pd.DataFrame, names: list[str],
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
    categories = sorted(set(spelled.values()))
    where = {bits: categories.index(text) for bits, text in spelled.items()}
    edges["layers"] = pd.Categorical.from_codes([where[bits] for bits in pattern.tolist()],
                                                categories=categories)
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
