"""Degrees by counting: the ends counted, their weights summed closely, as pandas sums them
on a projection's weights (graphs.degrees)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphs.degrees import account_degrees

weights = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 6), st.integers(-1, 6), weights), max_size=80))
def test_degrees_count_the_ends_and_sum_their_weights(edges) -> None:
    a, b = (np.array([e[i] for e in edges], dtype=np.int32) for i in range(2))
    w = np.array([e[2] for e in edges], dtype=float)
    degree, weighted = account_degrees(a, b, w, 7)
    for k in range(7):
        mine = [z for x, y, z in zip(a, b, w, strict=True) for end in (x, y) if end == k]
        assert degree[k] == len(mine)
        exact = math.fsum(mine)  # compensated: within a few ulps of the exact sum
        assert abs(weighted[k] - exact) <= 4 * np.spacing(max(exact, 1.0))


def test_many_weights_of_one_account_keep_pandas_rounding() -> None:
    """The weights a projection gives (≤ 1 each, many per account): pandas' sums exactly."""
    rng = np.random.default_rng(3)
    w = 1 / np.log2(rng.integers(2, 5000, 20_000))
    a, b = rng.integers(0, 3, 20_000), rng.integers(0, 3, 20_000)
    ends = pd.concat([pd.DataFrame({"k": a, "w": w}), pd.DataFrame({"k": b, "w": w})])
    _, weighted = account_degrees(a, b, w, 3)
    assert weighted.tolist() == ends.groupby("k")["w"].sum().tolist()
    naive = np.bincount(a, w, 3) + np.bincount(b, w, 3)
    assert naive.tolist() != weighted.tolist()  # a plain sum rounds otherwise


def test_ends_and_weights_of_other_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="2 a ends, 1 b ends and 2 weights"):
        account_degrees(np.array([0, 1]), np.array([0]), np.array([1.0, 2.0]), 2)
