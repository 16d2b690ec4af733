"""Row orders by counting and by sorting short runs (graphs.grouped_rows)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphs.grouped_rows import grouped_rows, pairs_in_order, sort_runs

codes = st.lists(st.integers(0, 4), min_size=0, max_size=60)


@settings(max_examples=60, deadline=None)
@given(codes)
def test_grouped_rows_is_the_stable_argsort(group) -> None:
    group = np.array(group, dtype=np.int32)
    rows = np.arange(100, 100 + len(group), dtype=np.int32)
    found, sizes = grouped_rows(rows, group, 5)
    np.testing.assert_array_equal(found, rows[np.argsort(group, kind="stable")])
    np.testing.assert_array_equal(sizes, np.bincount(group, minlength=5))
    assert found.dtype == np.int32 and sizes.dtype == np.int64


def test_grouped_rows_refuses_codes_beyond_its_groups() -> None:
    with pytest.raises(ValueError, match="a group code is 3, expected below 2"):
        grouped_rows(np.arange(2), np.array([0, 3]), 2)
    with pytest.raises(ValueError, match="2 rows but 1 group codes"):
        grouped_rows(np.arange(2), np.array([0]), 2)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 5)),
                max_size=50))
def test_sorted_runs_are_the_sort_by_pair_then_key(entries) -> None:
    a, b, key = (np.array([e[i] for e in entries], dtype=np.int64) for i in range(3))
    by_pair = np.lexsort((b, a)) if entries else np.arange(0)  # rows in (a, b) order
    assert pairs_in_order(by_pair, a, b)
    rows = by_pair.copy()
    out_of_order = sort_runs(rows, a, b, key)
    np.testing.assert_array_equal(rows, np.lexsort((key, b, a)) if entries else rows)
    runs = {(x, y) for x, y in zip(a.tolist(), b.tolist(), strict=True)}
    assert 0 <= out_of_order <= len(runs)


def test_pairs_out_of_order_are_seen() -> None:
    a, b = np.array([0, 1, 1]), np.array([5, 0, 1])
    assert pairs_in_order(np.array([0, 1, 2]), a, b)
    assert not pairs_in_order(np.array([1, 0, 2]), a, b)  # a decreases
    assert not pairs_in_order(np.array([0, 2, 1]), a, b)  # b decreases within a
    assert pairs_in_order(np.array([], dtype=np.int64), a, b)
