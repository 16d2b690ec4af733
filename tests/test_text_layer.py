"""Near-duplicate text groups (datasketch MinHash LSH)."""

from __future__ import annotations

import pandas as pd
import pytest

from graphs.text_layer import near_duplicate_groups, normalized_text, shingles, text_posts

TEMPLATE = "wow this is the best shop ever check out my profile for free followers and likes"


def test_templated_variants_share_a_group_and_unrelated_texts_do_not():
    texts = pd.Series([
        TEMPLATE, TEMPLATE.replace("best", "greatest") + "!!", "WOW this is the best shop ever, "
        "check out my profile for free followers and likes :)",
        "the weather in lisbon was lovely this weekend", "I disagree with the referee call", ""])
    groups = near_duplicate_groups(texts)
    assert groups[0] == groups[1] == groups[2]
    assert len({groups[0], groups[3], groups[4], groups[5]}) == 4


def test_groups_are_deterministic_and_numbered_by_first_appearance():
    texts = pd.Series(["b b b b x", "a a a a y", "b b b b x"])
    assert near_duplicate_groups(texts).tolist() == [0, 1, 0]
    assert near_duplicate_groups(texts, seed=3).tolist() == [0, 1, 0]


def test_threshold_checked():
    with pytest.raises(ValueError, match=r"threshold: expected a number in \(0, 1\]"):
        near_duplicate_groups(pd.Series(["a"]), threshold=0)


def test_normalisation_and_shingles():
    assert normalized_text("Hi @bob, see https://x.org NOW!") == "hi see now"
    assert shingles("one", k=2) == {b"one"}


def test_text_posts_ids_are_stable_hashes():
    t = pd.Timestamp("2026-11-01", tz="UTC")
    frame = pd.DataFrame({"account_id": ["a", "b", "c"], "timestamp": [t] * 3,
                          "text": [TEMPLATE, TEMPLATE + "!", "something else entirely here"]})
    rows = text_posts(frame)
    assert rows["target_id"].iloc[0] == rows["target_id"].iloc[1] != rows["target_id"].iloc[2]
    assert rows["target_id"].iloc[0].startswith("text:") and len(rows["target_id"].iloc[0]) == 21
    assert text_posts(frame.iloc[::-1]).set_index("account_id").loc["c", "target_id"] == \
        rows.set_index("account_id").loc["c", "target_id"]


def test_text_posts_missing_column():
    with pytest.raises(ValueError, match="text table: missing column 'text'"):
        text_posts(pd.DataFrame({"account_id": [], "timestamp": []}))
