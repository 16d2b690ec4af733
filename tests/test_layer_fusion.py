"""graphs/layer_fusion.py: the splice's rows inserted in place (the whole fusion against
fusing anew is tested in tests/test_multiplex.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from graphs.layer_fusion import _moved, _spliced_rows


def _frame(rng, n: int, ids: pd.CategoricalDtype) -> pd.DataFrame:
    return pd.DataFrame({
        "account_a": pd.Categorical.from_codes(rng.integers(0, len(ids.categories), n),
                                               dtype=ids),
        "layer": pd.Categorical(["engage"] * n),
        "time_a": pd.to_datetime(rng.integers(0, 10**6, n), unit="s", utc=True),
        "dt_s": rng.uniform(0, 99, n), "n": rng.integers(0, 9, n),
        "text": pd.Series([f"t{k}" for k in rng.integers(0, 5, n)], dtype="str")})


@pytest.mark.parametrize("seed", range(5))
def test_rows_spliced_in_place_equal_rows_stacked_and_taken(seed):
    """Categoricals whose categories hold the added ids or not (a new layer, a new id: their
    union), UTC times, floats, ints of another dtype and text: the frame stacking every
    column and taking the rows in order gives."""
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
    expected = _moved(table.copy(), added, order, list(table.columns))
    found = _spliced_rows(table, added, at)
    pd.testing.assert_frame_equal(found, expected)
    assert table.columns.empty  # each column moved
    assert (found["account_a"].dtype == ids) == (seed % 3 != 0)
