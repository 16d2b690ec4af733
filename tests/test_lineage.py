"""Lineage: carrying cohort ids across runs and classifying every change."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from graphs.lineage import LINEAGE_COLUMNS, cohort_lineage


def members(groups: dict[int, str]) -> pd.DataFrame:
    """``{cohort_id: "abc"}`` → one row per (account letter, cohort)."""
    rows = [(a, c) for c, accounts in groups.items() for a in accounts]
    return pd.DataFrame(rows, columns=["account_id", "cohort_id"])


def statuses(lineage: pd.DataFrame) -> dict[int, tuple[str, list[int]]]:
    return {int(r.cohort_id): (r.status, json.loads(r.previous_cohort_ids))
            for r in lineage.itertuples()}


def test_persisting_grown_shrunk_new_dissolved():
    before = members({10: "abcdef", 11: "ghij", 12: "klmnopqr", 13: "stuv"})
    today = members({0: "abcdeg", 1: "ghijwxyz", 2: "klmn", 3: "1234"})
    lineage = cohort_lineage(today, before, next_id=20)
    assert list(lineage.columns) == LINEAGE_COLUMNS
    assert statuses(lineage) == {10: ("persisting", [10]), 11: ("grown", [11]),
                                 12: ("shrunk", [12]), 20: ("new", []), 13: ("dissolved", [13])}
    row = lineage.set_index("cohort_id").loc[10]
    assert row["run_cohort_id"] == 0 and row["overlap"] == pytest.approx(5 / 7)
    assert pd.isna(lineage.set_index("cohort_id").loc[13, "run_cohort_id"])


def test_merge_carries_the_id_with_most_shared_accounts():
    before = members({4: "abcd", 5: "efghij"})
    today = members({0: "abcdefghij"})
    lineage = cohort_lineage(today, before, next_id=6)
    assert statuses(lineage) == {5: ("merged", [4, 5])}
    assert lineage["overlap"].iloc[0] == 1.0


def test_split_keeps_the_id_on_the_largest_piece():
    before = members({7: "abcdefghij"})
    today = members({0: "abcdef", 1: "ghij"})
    assert statuses(cohort_lineage(today, before, next_id=8)) == {
        7: ("split", [7]), 8: ("split", [7])}


def test_link_thresholds():
    before = members({1: "abcdefgh"})
    today = members({0: "abxyz"})  # 2 shared of min(5, 8): overlap 0.4 < 0.5
    assert statuses(cohort_lineage(today, before, next_id=2)) == {
        2: ("new", []), 1: ("dissolved", [1])}
    assert statuses(cohort_lineage(today, before, next_id=2, min_overlap=0.4))[1][0] == "shrunk"
    one = members({0: "a"})
    assert statuses(cohort_lineage(one, before, next_id=2))[2] == ("new", [])


def test_first_run_numbers_from_next_id_in_run_order():
    today = members({0: "abc", 1: "def"})
    empty = pd.DataFrame({"account_id": [], "cohort_id": []})
    lineage = cohort_lineage(today, empty, next_id=0)
    assert lineage["cohort_id"].tolist() == [0, 1] and set(lineage["status"]) == {"new"}


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="previous: missing column 'cohort_id'"):
        cohort_lineage(members({0: "a"}), pd.DataFrame({"account_id": ["a"]}), next_id=0)
    with pytest.raises(ValueError, match="min_overlap in"):
        cohort_lineage(members({0: "a"}), members({0: "a"}), next_id=0, min_overlap=0)
