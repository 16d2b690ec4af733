"""Account context: supporting cohort evidence with baselines."""

from __future__ import annotations

import pandas as pd
import pytest

from graphs.account_context import account_context, burst_share, default_looking


def test_default_looking_handles():
    handles = pd.Series(["anna84213907", "Ben_2020123", "kofi1990", "12345678", "lena"])
    assert default_looking(handles).tolist() == [True, True, False, False, False]
    assert default_looking(handles, min_digits=4).tolist() == [True, True, True, False, False]


def test_burst_share():
    t = pd.Series(pd.to_datetime(["2026-01-01T00:00:00", "2026-01-01T12:00:00",
                                  "2026-01-05T00:00:00", "2027-01-01T00:00:00"], utc=True))
    assert burst_share(t, burst_days=1) == 0.5
    assert burst_share(t, burst_days=5) == 0.75
    assert pd.isna(burst_share(pd.Series([], dtype="datetime64[ns, UTC]")))


def test_context_per_cohort_with_baseline():
    created = pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-02", "2025-03-01",
                              "2024-07-01", "2023-02-01"], utc=True)
    accounts = pd.DataFrame({"account_id": ["x1", "x2", "x3", "o1", "o2", "o3"],
                             "handle": ["mia2837461", "mia9837462", "leo5512093", "olga", "pat",
                                        "q"], "created_at": created,
                             "profile_changes": [5, 7, 6, 0, 1, 0]})
    members = pd.DataFrame({"account_id": ["x1", "x2", "x3", "o1", "o2", "zz"],
                            "cohort_id": [0, 0, 0, 1, 1, 1]})
    out = account_context(members, accounts).set_index("cohort_id")
    assert out.loc[0, ["known_accounts", "creation_burst_share", "default_handle_share",
                       "mean_profile_changes"]].tolist() == [3, 1.0, 1.0, 6.0]
    assert out.loc[1, "known_accounts"] == 2 and out.loc[1, "default_handle_share"] == 0.0
    assert out.loc[0, "baseline_default_handle_share"] == 0.5
    assert out.loc[0, "baseline_creation_burst_share"] == 0.5


def test_context_without_optional_columns():
    out = account_context(pd.DataFrame({"account_id": ["a"], "cohort_id": [0]}),
                          pd.DataFrame({"account_id": ["a"]}))
    assert out["default_handle_share"].tolist() == [0.0]
    assert out[["creation_burst_share", "mean_profile_changes"]].isna().all().all()


def test_context_needs_account_id():
    with pytest.raises(ValueError, match="accounts: missing column 'account_id'"):
        account_context(pd.DataFrame({"account_id": [], "cohort_id": []}),
                        pd.DataFrame({"id": []}))


def test_members_features_are_the_merge_of_the_tables():
    """The lookup that replaced ``merge``: its rows, order, columns and dtypes (ids repeated in
    the accounts table, members without a row, accounts without a member)."""
    from graphs.account_context import _features, _members_features

    accounts = pd.DataFrame({"account_id": ["b", "a", "c", "b", "e"],
                             "created_at": pd.to_datetime([f"2026-01-0{d}" for d in
                                                           range(1, 6)], utc=True),
                             "profile_changes": [1, 2, 3, 4, 5]})
    members = pd.DataFrame({"account_id": ["c", "b", "z", "a"], "cohort_id": [7, 8, 9, 7]})
    features = _features(accounts, 6)
    expected = members.merge(features, on="account_id")
    pd.testing.assert_frame_equal(_members_features(members, features), expected)
    assert len(expected) == 4  # b twice, z never
