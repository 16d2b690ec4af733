import numpy as np
import pandas as pd
import pytest

from graphs.utc_times import utc_times


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_values_and_dtype_are_tz_localize_s_and_the_ticks_are_shared(unit):
    ticks = np.array([0, 1_700_000_000, -5, 2**40], dtype=np.int64)
    column = utc_times(ticks, unit)
    expected = pd.Series(ticks.view(f"M8[{unit}]")).dt.tz_localize("UTC")
    pd.testing.assert_series_equal(column, expected)
    assert str(column.dtype) == f"datetime64[{unit}, UTC]"
    assert np.shares_memory(column.array.asi8, ticks)


def test_without_the_private_constructor_the_copying_way_gives_the_same(monkeypatch):
    ticks = np.array([1_700_000_000 * 10**6, 0], dtype=np.int64)
    shared = utc_times(ticks)

    class Without:  # a pandas whose DatetimeArray lacks the constructor
        pass

    monkeypatch.setattr("graphs.utc_times.DatetimeArray", Without)
    copied = utc_times(ticks)
    pd.testing.assert_series_equal(copied, shared)
    assert not np.shares_memory(copied.array.asi8, ticks)


def test_empty_ticks_give_an_empty_utc_column():
    column = utc_times(np.zeros(0, dtype=np.int64))
    assert len(column) == 0 and str(column.dtype) == "datetime64[us, UTC]"
