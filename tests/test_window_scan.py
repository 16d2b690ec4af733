from __future__ import annotations

import pandas as pd
import pytest

from graphs.window_scan import chosen_window, cohort_ari


def _flagged(groups: list[list[str]]) -> pd.DataFrame:
    rows = [(acc, k) for k, group in enumerate(groups) for acc in group]
    return pd.DataFrame(rows, columns=["account_id", "cohort_id"])


def test_ari_is_one_for_identical_cohorts_and_drops_when_split():
    farm = _flagged([["a", "b", "c", "d"], ["e", "f", "g", "h"]])
    split = _flagged([["a", "b"], ["c", "d"], ["e", "f", "g", "h"]])
    assert cohort_ari(farm, farm) == 1.0
    assert 0 < cohort_ari(farm, split) < 1.0


def test_unstable_window_is_not_chosen_even_with_more_accounts():
    farm = _flagged([["a", "b", "c", "d"], ["e", "f", "g", "h"]])
    noisy = _flagged([["a", "e", "x", "y", "z"], ["b", "f", "c", "g", "d", "h", "w"]])
    choice = chosen_window({600: farm, 3600: farm, 86400: noisy})
    assert choice.window_s == 600  # 600 and 3600 agree; the tie goes to the shorter window
    assert choice.scan["n_flagged"].tolist() == [8, 8, 12]
    assert "most flagged accounts (8)" in choice.reason and "2 of 3" in choice.reason


def test_no_window_is_an_error():
    with pytest.raises(ValueError, match="flagged_by_window: expected at least one window"):
        chosen_window({})
