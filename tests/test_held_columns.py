"""graphs/held_columns.py: the projection's column store in memory."""

from __future__ import annotations

import numpy as np

from graphs.held_columns import HeldColumns


def test_chunks_come_back_as_one_column_once():
    store = HeldColumns()
    store.append("x", np.array([1, 2], np.int32))
    store.append("y", np.array([0.5]))
    store.append("x", np.arange(10, 16, 2, dtype=np.int32))
    x = store.column("x", np.dtype(np.int32))
    assert x.tolist() == [1, 2, 10, 12, 14] and x.dtype == np.int32
    assert store.column("x", np.dtype(np.int32)).size == 0  # starts afresh
    assert store.column("y", np.dtype(float)).tolist() == [0.5]
    assert store.column("never", np.dtype(np.int64)).shape == (0,)


def test_a_strided_view_is_kept_as_its_values_and_arrays_are_new():
    store = HeldColumns()
    rows = np.arange(12).reshape(4, 3)
    store.append("b", rows[:, 1])
    rows[:] = -1  # the caller's buffer changes after: the store kept a contiguous copy
    assert store.column("b", np.dtype(rows.dtype)).tolist() == [1, 4, 7, 10]
    made = store.array("z", 3, np.dtype(np.uint8))
    assert made.shape == (3,) and made.dtype == np.uint8
    assert store.release() is None
