"""graphs/layer_fusion.py: the splice's rows inserted in place (the whole fusion against
fusing anew is tested in tests/test_multiplex.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphs.layer_fusion import _placed_text, _placement, _spliced_edges, _spliced_rows
from graphs.lookup import stacked_column


def _frame(rng, n: int, ids: pd.CategoricalDtype) -> pd.DataFrame:
    return pd.DataFrame({
        "account_a": pd.Categorical.from_codes(rng.integers(0, len(ids.categories), n),
                                               dtype=ids),
        "layer": pd.Categorical(["engage"] * n),
        "time_a": pd.to_datetime(rng.integers(0, 10**6, n), unit="s", utc=True),
        "time_b": pd.to_datetime(rng.integers(0, 10**6, n), unit="s", utc=True).tz_convert(
            "Europe/Berlin"),
        "dt_s": rng.uniform(0, 99, n), "n": rng.integers(0, 9, n),
        "text": pd.Series([f"t{k}" for k in rng.integers(0, 5, n)], dtype="str")})


@pytest.mark.parametrize("seed", range(5))
def test_rows_spliced_in_place_equal_rows_stacked_and_taken(seed):
    """Categoricals whose categories hold the added ids or not (a new layer, a new id: their
    union), UTC times and times of another zone (placed as ticks, these were shifted by
    ``tz_localize``), floats, ints of another dtype and text: the frame stacking every column
    and taking the rows in order gives."""
    rng = np.random.default_rng(seed)
    ids = pd.CategoricalDtype([f"id{k}" for k in range(30)])
    table = _frame(rng, int(rng.integers(0, 40)), ids)
    added = _frame(rng, int(rng.integers(1, 9)), ids).astype({"account_a": "str"})
    added["layer"] = pd.Categorical(["slow"] * len(added))
    if seed % 2:
        added["n"] = added["n"].astype(float)  # another dtype: stacked
    if seed % 3 == 0:  # an id the table's categories lack: their union, sorted
        added.loc[0, "account_a"] = "id0-new"
    at = np.sort(rng.integers(0, len(table) + 1, len(added)))
    order = np.insert(np.arange(len(table)), at, len(table) + np.arange(len(added)))
    expected = _stacked_and_taken(table, added, order)
    found = _spliced_rows(table, added, at)
    pd.testing.assert_frame_equal(found, expected)
    assert table.columns.empty  # each column moved
    assert (found["account_a"].dtype == ids) == (seed % 3 != 0)


def _stacked_and_taken(table: pd.DataFrame, added: pd.DataFrame,
                       order: np.ndarray) -> pd.DataFrame:
    """The reference: each column stacked with the added rows, then taken in ``order``."""
    return pd.DataFrame({c: stacked_column([table[c], added[c]]).take(order)
                         .reset_index(drop=True) for c in added.columns})


def _edges(rng, pairs: list[tuple[int, int]], ids: pd.CategoricalDtype) -> pd.DataFrame:
    a, b = zip(*pairs, strict=True) if pairs else ((), ())
    return pd.DataFrame({
        "account_a": pd.Categorical.from_codes(np.array(a, int), dtype=ids),
        "account_b": pd.Categorical.from_codes(np.array(b, int), dtype=ids),
        "shared_targets": rng.integers(2, 9, len(pairs)),
        "weight": rng.uniform(0, 5, len(pairs)),
        "targets": pd.Series([f'["t{k}"]' for k in rng.integers(0, 50, len(pairs))],
                             dtype="str"),
        "layers": pd.Categorical(['["engage"]'] * len(pairs))})


@pytest.mark.parametrize("seed", range(6))
def test_edges_spliced_in_place_equal_edges_stacked_and_taken(seed):
    """The added layer's pairs replace the fused rows of the same pair or are inserted in
    pair order (several at one place too); its new per-layer columns are zero elsewhere:
    what stacking both tables and taking the rows in that order gives, the text column one
    contiguous chunk, ``after_column`` called once per column."""
    rng = np.random.default_rng(seed)
    ids = pd.CategoricalDtype([f"id{k:02d}" for k in range(12)])
    every = [(a, b) for a in range(12) for b in range(a + 1, 12)]
    chosen = np.sort(rng.choice(len(every), int(rng.integers(0, 40)), replace=False))
    fused = _edges(rng, [every[i] for i in chosen], ids)
    picked = np.sort(rng.choice(len(every), int(rng.integers(1, 12)), replace=False))
    changed = _edges(rng, [every[i] for i in picked], ids)
    changed["layers"] = pd.Categorical(['["engage","slow"]'] * len(changed))
    changed["ties:slow"] = rng.integers(1, 5, len(changed))
    changed["weight:slow"] = rng.uniform(0, 1, len(changed))

    keys = [a * 12 + b for a, b in (every[i] for i in chosen)]
    wanted = [a * 12 + b for a, b in (every[i] for i in picked)]
    lo = np.searchsorted(keys, wanted, side="left")
    present = lo < np.searchsorted(keys, wanted, side="right")
    n = len(fused)
    order = np.arange(n)
    order[lo[present]] = n + np.flatnonzero(present)
    order = np.insert(order, lo[~present], n + np.flatnonzero(~present))
    reference = fused.assign(**{"ties:slow": 0, "weight:slow": 0.0})
    expected = _stacked_and_taken(reference, changed, order)

    calls = []
    found = _spliced_edges(fused, changed, lambda: calls.append(1))
    pd.testing.assert_frame_equal(found, expected)
    assert fused.columns.empty and len(calls) == len(changed.columns)
    assert found["targets"].array._pa_array.num_chunks == 1


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 12), st.data())
def test_placed_text_runs_give_the_order(n, data) -> None:
    """Text placed from the runs of the added and replaced places alone is the stacked rows
    taken in ``order()``, and the runs spell that order."""
    at = np.sort(np.array(data.draw(st.lists(st.integers(0, n), max_size=6)), dtype=np.int64))
    replaced = np.array(sorted(data.draw(st.sets(st.integers(0, max(n - 1, 0)), max_size=3)))
                        if n else [], dtype=np.int64)
    m = len(at) + len(replaced)
    added = np.array(data.draw(st.permutations(range(m))), dtype=np.int64)
    placement = _placement(n, at, added[:len(at)], replaced=replaced,
                           replacing=added[len(at):])
    old = pa.chunked_array([pa.array([f"o{i}" for i in range(n)], pa.large_string())])
    new = pa.chunked_array([pa.array([f"n{i}" for i in range(m)], pa.large_string())])
    order = placement.order()
    starts, firsts = placement.runs()
    spelled = np.concatenate([np.arange(f, f + e - s) for s, e, f in zip(
        starts, np.append(starts[1:], len(order)), firsts, strict=True)]) if len(starts) else []
    np.testing.assert_array_equal(spelled, order)
    expected = pa.concat_arrays([old.combine_chunks(), new.combine_chunks()]).take(order)
    assert _placed_text(old, new, placement).to_pylist() == expected.to_pylist()
