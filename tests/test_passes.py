"""graphs/passes.py: combining the fast and the slow pass."""

from __future__ import annotations

import pandas as pd

from graphs.passes import two_pass_cohorts
from graphs.scoring import ScoredCohorts


def _score(flag: set[int], calls: list[list[str]]):
    """A scorer flagging the given cluster ids; score = cluster size; records its input."""
    def score(clusters: pd.DataFrame) -> ScoredCohorts:
        calls.append(sorted(clusters["account_id"]))
        c = clusters.groupby("cluster").size().rename("size").reset_index()
        c = c.assign(cohort_id=c["cluster"], score=c["size"] * 1.0,
                     flagged=c["cluster"].isin(flag), explanation="why")
        c = c[["cohort_id", "cluster", "size", "score", "flagged", "explanation"]]  # id first
        m = clusters.rename(columns={"cluster": "cohort_id"})
        f = m.merge(c[c["flagged"]], on="cohort_id")[["account_id", "cohort_id", "score"]]
        return ScoredCohorts(c.drop(columns="cluster"), m,
                             f.rename(columns={"score": "cohort_score"}))
    return score


FAST = pd.DataFrame({"account_id": list("abcdef"), "cluster": [0, 0, 1, 1, 1, 1]})


def test_without_slow_pass_the_fast_cohorts_come_back_with_the_pass_column():
    calls: list[list[str]] = []
    out = two_pass_cohorts(FAST, None, score_fast=_score({0}, calls),
                           score_slow=_score(set(), calls))
    assert out.cohorts["pass"].tolist() == ["fast", "fast"]
    assert calls == [list("abcdef")]


def test_slow_pass_sees_only_accounts_the_fast_pass_did_not_flag():
    calls: list[list[str]] = []
    slow = pd.DataFrame({"account_id": list("abgh"), "cluster": [3, 3, 4, 4]})
    out = two_pass_cohorts(FAST, lambda taken: slow, score_fast=_score({0}, calls),
                           score_slow=_score({4}, calls), slow_note=" (slow)")
    assert calls[1] == ["g", "h"]  # a and b were flagged by the fast pass
    assert out.cohorts[["cohort_id", "pass", "size", "flagged", "explanation"]].values.tolist() == [
        [0, "fast", 2, True, "why"], [1, "slow", 2, True, "why (slow)"],
        [2, "fast", 4, False, "why"]]
    assert out.flagged_accounts[["account_id", "cohort_id"]].values.tolist() == [
        ["a", 0], ["b", 0], ["g", 1], ["h", 1]]


def test_accounts_flagged_by_the_slow_pass_leave_their_fast_cluster_which_is_rescored():
    calls: list[list[str]] = []
    slow = pd.DataFrame({"account_id": list("cdeg"), "cluster": [7, 7, 7, 8]})
    out = two_pass_cohorts(FAST, lambda taken: slow, score_fast=_score({0}, calls),
                           score_slow=_score({7}, calls))
    assert calls == [list("abcdef"), list("cdeg"), ["f"]]  # only the touched cluster again
    assert out.memberships.values.tolist() == [["c", 0], ["d", 0], ["e", 0], ["a", 1],
                                               ["b", 1], ["f", 2]]
    assert out.memberships["account_id"].is_unique
    assert out.cohorts["pass"].tolist() == ["slow", "fast", "fast"]


def test_slow_clusters_of_only_fast_flagged_accounts_are_not_scored():
    calls: list[list[str]] = []
    slow = pd.DataFrame({"account_id": list("ab"), "cluster": [0, 0]})
    out = two_pass_cohorts(FAST, lambda taken: slow, score_fast=_score({0}, calls),
                           score_slow=_score({0}, calls))
    assert len(calls) == 1
    assert out.cohorts["pass"].tolist() == ["fast", "fast"]


def test_rescoring_only_the_touched_clusters_equals_rescoring_all():
    fast = pd.DataFrame({"account_id": list("abcdefghij"),
                         "cluster": [0, 0, 0, 1, 1, 1, 2, 2, 3, 3]})
    slow = pd.DataFrame({"account_id": list("dexy"), "cluster": [4, 4, 5, 5]})
    calls: list[list[str]] = []
    out = two_pass_cohorts(fast, lambda taken: slow, score_fast=_score({0}, calls),
                           score_slow=_score({4}, calls))
    full = two_pass_cohorts(fast[~fast["account_id"].isin(["d", "e"])], None,
                            score_fast=_score({0}, []), score_slow=_score(set(), []))
    fast_part = out.cohorts[out.cohorts["pass"].eq("fast")].drop(columns="cohort_id")
    assert sorted(map(tuple, fast_part.values.tolist())) == sorted(
        map(tuple, full.cohorts.drop(columns="cohort_id").values.tolist()))
    assert set(out.memberships["account_id"]) == set("abcdefghij")
    assert calls[2] == ["f"]
    assert out.cohorts["pass"].tolist() == ["fast", "slow", "fast", "fast", "fast"]


def test_the_slow_pass_is_clustered_without_the_accounts_the_fast_pass_flagged():
    seen: list[list[str]] = []

    def cluster_slow(taken: set[str]) -> pd.DataFrame:
        seen.append(sorted(taken))
        return pd.DataFrame({"account_id": list("gh"), "cluster": [0, 0]})

    two_pass_cohorts(FAST, cluster_slow, score_fast=_score({0}, []), score_slow=_score({0}, []))
    assert seen == [["a", "b"]]
