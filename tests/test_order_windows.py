"""Order-only likes: the rank clock and rank-distance windows."""

from __future__ import annotations

import pandas as pd
import pytest

from graphs.multiplex import Layer, layer_projections
from graphs.order_windows import EPOCH, rank_clock


def test_rank_clock_keeps_positions():
    likes = pd.DataFrame({"account_id": list("abcde"), "target_id": ["p", "p", "p", "q", "q"],
                          "action": "like", "rank": [5, 9, 5, 100, -3]})
    out = rank_clock(likes)
    seconds = (out["timestamp"] - EPOCH).dt.total_seconds().astype(int)
    assert list(zip(out["target_id"], out["account_id"], seconds, strict=True)) == [
        ("p", "a", 5), ("p", "c", 5), ("p", "b", 9), ("q", "e", -3), ("q", "d", 100)]


def test_rank_window_ties_close_likers_only():
    ranked = pd.DataFrame({"account_id": ["a", "b", "c", "a", "b", "c"],
                           "target_id": ["p"] * 3 + ["q"] * 3, "action": "like",
                           "rank": [1, 2, 9, 1, 2, 9]})
    fused = layer_projections({"order": Layer(rank_clock(ranked), 1)})["order"]
    assert fused.edges[["account_a", "account_b", "shared_targets"]].values.tolist() == [
        ["a", "b", 2]]


@pytest.mark.parametrize("bad", ["x", "1.5", ""])
def test_rank_must_be_integer(bad):
    likes = pd.DataFrame({"account_id": ["a"], "target_id": ["p"], "action": ["like"],
                          "rank": [bad]})
    with pytest.raises(ValueError, match="row 0: column 'rank' must be an integer"):
        rank_clock(likes)


def test_missing_rank_column():
    with pytest.raises(ValueError, match="missing column 'rank'"):
        rank_clock(pd.DataFrame({"account_id": [], "target_id": [], "action": []}))
