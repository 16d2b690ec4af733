"""graphs/cluster_stats.py: per-cluster medians and shares equal pandas' grouping."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from graphs.cluster_stats import cluster_medians, cluster_shares

rows = st.lists(st.tuples(st.integers(-1, 5), st.one_of(
    st.integers(0, 40).map(float), st.just(np.nan), st.sampled_from([0.5, 2.25, 1e15]))),
    max_size=40)


def _pandas(cluster, values, how):
    inside = cluster >= 0
    return getattr(pd.Series(values[inside]).groupby(cluster[inside]), how)()


@settings(max_examples=200, deadline=None)
@given(rows)
def test_medians_are_pandas_groupby_median(found):
    cluster = np.array([c for c, _ in found], dtype=np.int64)
    values = np.array([v for _, v in found], dtype=float)
    expected, got = _pandas(cluster, values, "median"), cluster_medians(cluster, values)
    assert got.index.name == "cluster"
    assert got.index.tolist() == expected.index.tolist()
    np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())  # NaN where NaN


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 5), st.booleans()), max_size=40))
def test_shares_are_pandas_groupby_mean(found):
    cluster = np.array([c for c, _ in found], dtype=np.int64)
    flag = np.array([f for _, f in found], dtype=bool)
    expected, got = _pandas(cluster, flag, "mean"), cluster_shares(cluster, flag)
    assert got.index.tolist() == expected.index.tolist()
    assert got.tolist() == expected.tolist()


def test_blocks_and_a_wide_span_give_the_same_medians(monkeypatch):
    """A block of one row at a time; values whose span times the clusters passes int64 go
    through pandas."""
    import graphs.cluster_stats as module

    cluster = np.array([0, 1, 0, 1, 1, -1])
    values = np.array([3.0, 7.0, 5.0, 1.0, 9.0, 100.0])
    whole = cluster_medians(cluster, values)
    monkeypatch.setattr(module, "BLOCK", 1)
    assert cluster_medians(cluster, values).equals(whole) and whole.tolist() == [4.0, 7.0]
    wide = np.array([0.0, 2.0**51, 4.0, 2.0**51, 2.0, 0.0])
    assert cluster_medians(cluster, wide).tolist() == _pandas(cluster, wide, "median").tolist()
