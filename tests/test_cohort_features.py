"""graphs/cohort_features.py: lockstep coverage, timing against the background, exclusivity."""

from __future__ import annotations

import pandas as pd
import pytest

from graphs.cohort_features import cohort_features
from graphs.pass_codes import account_codes, inner_rows, pass_codes


def _pairs(rows):
    return pd.DataFrame(rows, columns=["account_a", "account_b", "target_id", "dt_s"]).assign(
        action_a="like")


def _features(clusters, edges, evidence):
    ids = sorted(set(edges["account_a"]) | set(edges["account_b"]))
    activity = pd.DataFrame({"account_id": ids, "n_actions": 1.0, "crowd_sum": 1.0})
    codes = pass_codes(edges, evidence, activity)
    members = account_codes(codes, clusters["account_id"])
    inner = inner_rows(codes, members, clusters["cluster"].to_numpy())
    return cohort_features(clusters, members, inner, codes)


def test_a_lockstep_farm_and_a_loose_group():
    # cluster 0: a, b, c all tied on p and q (full lockstep); cluster 1: d, e, f tied on
    # one target each by one pair only; f is also tied to an outsider z on two targets.
    clusters = pd.DataFrame({"account_id": list("abcdef"), "cluster": [0, 0, 0, 1, 1, 1]})
    evidence = _pairs([("a", "b", "p", 5.0), ("a", "c", "p", 5.0), ("b", "c", "p", 5.0),
                       ("a", "b", "q", 5.0), ("a", "c", "q", 5.0), ("b", "c", "q", 5.0),
                       ("d", "e", "r", 100.0), ("e", "f", "s", 100.0),
                       ("f", "z", "t", 50.0), ("f", "z", "u", 50.0)])
    edges = (evidence.groupby(["account_a", "account_b"]).size()
             .rename("shared_targets").reset_index())
    out = _features(clusters, edges, evidence)
    assert out.loc[0, "lockstep_coverage"] == 1.0
    assert out.loc[1, "lockstep_coverage"] == pytest.approx(2 / 3)
    assert out.loc[0, "dt_vs_background"] == pytest.approx(5.0 / 5.0)  # background median 5
    assert out.loc[1, "dt_vs_background"] == pytest.approx(100.0 / 5.0)
    assert out.loc[0, "inside_share"] == 1.0
    # d: 1/1, e: 2/2, f: 1 inside of 3 ties -> median 1.0
    assert out.loc[1, "inside_share"] == 1.0


def test_members_without_inside_ties_lower_the_inside_share():
    clusters = pd.DataFrame({"account_id": list("abc"), "cluster": [0, 0, 0]})
    evidence = _pairs([("a", "b", "p", 1.0), ("a", "z", "q", 1.0), ("b", "z", "q", 1.0),
                       ("c", "z", "q", 1.0)])
    edges = evidence.assign(shared_targets=1)
    out = _features(clusters, edges, evidence)
    assert out.loc[0, "inside_share"] == 0.5  # a 1/2, b 1/2, c 0/1


def test_a_member_without_any_tie_has_no_inside_share():
    clusters = pd.DataFrame({"account_id": list("abcq"), "cluster": [0, 0, 0, 0]})
    evidence = _pairs([("a", "b", "p", 1.0), ("a", "c", "p", 1.0), ("b", "c", "p", 1.0)])
    edges = evidence.assign(shared_targets=1)
    out = _features(clusters, edges, evidence)  # q: in no edge, not in the codes at all
    assert out.loc[0, "inside_share"] == 1.0 and out.loc[0, "lockstep_coverage"] == 0.75


def test_blocks_of_evidence_give_the_same_features(monkeypatch):
    """The tied members found a block of rows at a time (2 rows here, members repeated
    across blocks) give the features the whole table gives."""
    import graphs.cohort_features as cohort_features_module

    clusters = pd.DataFrame({"account_id": list("abcdef"), "cluster": [0, 0, 0, 1, 1, 1]})
    evidence = _pairs([("a", "b", "p", 5.0), ("a", "c", "p", 5.0), ("b", "c", "p", 9.0),
                       ("a", "b", "q", 5.0), ("a", "c", "q", 7.0), ("d", "e", "q", 5.0),
                       ("d", "e", "r", 100.0), ("e", "f", "s", 100.0), ("d", "f", "s", 1.0)])
    edges = (evidence.groupby(["account_a", "account_b"]).size()
             .rename("shared_targets").reset_index())
    whole = _features(clusters, edges, evidence)
    monkeypatch.setattr(cohort_features_module, "BLOCK", 2)
    pd.testing.assert_frame_equal(_features(clusters, edges, evidence), whole)
    assert whole["lockstep_coverage"].tolist() == [1.0, pytest.approx(7 / 9)]


def test_a_given_median_gap_is_the_one_computed():
    """scored_cohorts passes flag_features' median_dt_s on: the same dt_vs_background as
    computed here (a cluster without evidence inside: NaN either way)."""
    from graphs.flag_features import flag_features

    clusters = pd.DataFrame({"account_id": list("abcxy"), "cluster": [0, 0, 0, 1, 1]})
    evidence = _pairs([("a", "b", "p", 5.0), ("a", "c", "p", 7.0), ("b", "c", "q", 20.0),
                       ("x", "z", "p", 9.0)])
    edges = (evidence.groupby(["account_a", "account_b"]).size()
             .rename("shared_targets").reset_index()).assign(weight=1.0)
    ids = sorted(set(edges["account_a"]) | set(edges["account_b"]) | {"y"})
    codes = pass_codes(edges, evidence, pd.DataFrame({"account_id": ids, "n_actions": 1.0,
                                                      "crowd_sum": 1.0}))
    members = account_codes(codes, clusters["account_id"])
    inner = inner_rows(codes, members, clusters["cluster"].to_numpy())
    given = flag_features(clusters, inner, codes)["median_dt_s"]
    assert given.loc[0] == 7.0 and pd.isna(given.loc[1])
    computed = cohort_features(clusters, members, inner, codes)
    passed = cohort_features(clusters, members, inner, codes, median_dt_s=given)
    pd.testing.assert_frame_equal(passed, computed)
