"""graphs/lookup.py: Arrow hash lookups of text ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from graphs.lookup import lookup_codes


def test_lookup_accepts_object_string_and_arrow_columns_alike():
    keys = pd.Series(["<b>", "a", "ü"], dtype=object)
    codes = np.array([3, 1, 2])
    expected = [2, -1, 3, 1, -1]
    values = ["ü", "z", "<b>", "a", None]
    for column in (pd.Series(values, dtype=object), pd.Series(values, dtype="string[pyarrow]"),
                   pd.Series(pa.array(values, pa.string()), dtype=pd.ArrowDtype(pa.string()))):
        assert lookup_codes(column, keys, codes).tolist() == expected


def test_lookup_without_keys_gives_minus_one():
    assert lookup_codes(pd.Series(["a"]), pd.Series([], dtype=object),
                        np.array([], dtype="int64")).tolist() == [-1]
