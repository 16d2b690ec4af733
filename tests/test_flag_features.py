"""graphs/flag_features.py: the cohort features the flag rules read."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from graphs.flag_features import pair_sizes


@pytest.mark.parametrize("seed", range(6))
def test_pair_sizes_are_the_group_sizes_pandas_gives(seed):
    """Sorted pairs, int64 counts and the index's dtypes as ``groupby([...]).size()``, with
    unknown codes and rows outside the clusters (-1) left out, for int32 and int64 codes,
    and for no rows."""
    rng = np.random.default_rng(seed)
    for n in (0, 1, 57, 400):
        n_codes = int(rng.integers(1, 40))
        evidence = pd.DataFrame({
            "cluster": rng.integers(-1, 15, n).astype(np.int64),
            "target": rng.integers(-1, n_codes, n).astype(np.int32 if seed % 2 else np.int64)})
        known = evidence[(evidence["target"] >= 0) & (evidence["cluster"] >= 0)]
        expected = known.groupby(["cluster", "target"]).size()
        pd.testing.assert_series_equal(pair_sizes(evidence, "target", n_codes), expected,
                                       check_index_type=True)
