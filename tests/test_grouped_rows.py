"""Row orders by counting and by sorting short runs (graphs.grouped_rows)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphs.grouped_rows import grouped_rows, pairs_in_order, sort_runs

codes = st.lists(st.integers(0, 4), min_size=0, max_size=60)


@settings(max_examples=60, deadline=None)
@given(codes, st.integers(1, 7))
def test_grouped_rows_is_the_stable_argsort(group, block) -> None:
    group = np.array(group, dtype=np.int32)
    rows = np.arange(100, 100 + len(group), dtype=np.int32)
    blocks = [(rows[k:k + block], group[k:k + block]) for k in range(0, len(rows), block)]
    found = grouped_rows(blocks, np.bincount(group, minlength=5))
    np.testing.assert_array_equal(found, rows[np.argsort(group, kind="stable")])
    assert found.dtype == (np.int32 if len(group) else np.int64)


def test_grouped_rows_refuses_blocks_that_do_not_fit_the_sizes() -> None:
    rows = np.arange(2)
    with pytest.raises(ValueError, match="group codes 0..3, expected 0..1"):
        grouped_rows([(rows, np.array([0, 3]))], np.array([1, 1]))
    with pytest.raises(ValueError, match="2 rows but 1 group codes"):
        grouped_rows([(rows, np.array([0]))], np.array([1, 1]))
    with pytest.raises(ValueError, match="more rows of a group than its size"):
        grouped_rows([(rows, np.array([0, 0]))], np.array([1, 1]))
    with pytest.raises(ValueError, match="2 rows in the blocks, 3 in sizes"):
        grouped_rows([(rows, np.array([0, 1]))], np.array([1, 2]))
    assert grouped_rows([(rows[:0], rows[:0])], np.zeros(0, np.int64)).tolist() == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 5)),
                max_size=50))
def test_sorted_runs_are_the_sort_by_pair_then_key(entries) -> None:
    a, b, key = (np.array([e[i] for e in entries], dtype=np.int64) for i in range(3))
    by_pair = np.lexsort((b, a)) if entries else np.arange(0)  # rows in (a, b) order
    assert pairs_in_order(a[by_pair], b[by_pair])
    rows = by_pair.copy()
    out_of_order = sort_runs(rows, a, b, key)
    np.testing.assert_array_equal(rows, np.lexsort((key, b, a)) if entries else rows)
    runs = {(x, y) for x, y in zip(a.tolist(), b.tolist(), strict=True)}
    assert 0 <= out_of_order <= len(runs)


def test_pairs_out_of_order_are_seen() -> None:
    assert pairs_in_order(np.array([0, 1, 1]), np.array([5, 0, 1]))
    assert not pairs_in_order(np.array([1, 0, 1]), np.array([0, 5, 1]))  # a decreases
    assert not pairs_in_order(np.array([0, 1, 1]), np.array([5, 1, 0]))  # b, within an a
    assert pairs_in_order(np.array([], dtype=np.int64), np.array([], dtype=np.int64))
