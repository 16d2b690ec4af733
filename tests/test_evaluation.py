"""Tests of detection scores on hand-made six-account fixtures with known answers."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from graphs.evaluation import detection_scores
from graphs.synthetic import synthetic_logs

# a, b: farm_0; c: farm_1; d, e: fans of one creator; f: organic
LABELS = pd.DataFrame({
    "account_id": ["a", "b", "c", "d", "e", "f"],
    "label": ["farm", "farm", "farm", "fan", "fan", "organic"],
    "group": ["farm_0", "farm_0", "farm_1", "fandom_0", "fandom_0", ""],
})


def memberships(**cohort: int) -> pd.DataFrame:
    return pd.DataFrame({"account_id": list(cohort), "cohort_id": list(cohort.values())})


def flagged(table: pd.DataFrame, *cohort_ids: int) -> pd.DataFrame:
    rows = table[table["cohort_id"].isin(cohort_ids)]
    return rows.assign(cohort_score=1.0 - rows["cohort_id"] / 10)


def test_scores_of_a_run_that_flags_one_fan_too_many():
    clusters = memberships(a=0, b=0, c=1, d=1, e=2)  # f is in no cohort
    scores = detection_scores(flagged(clusters, 0, 1), clusters, LABELS)
    assert scores == {
        "precision": 0.75, "recall": 1.0, "f1": pytest.approx(6 / 7),
        "fans_flagged": 0.5, "organic_flagged": 0.0, "n_flagged": 4.0, "n_farm": 3.0,
        "n_unlabelled_flagged": 0.0, "ari": 1.0,
    }


def test_ari_is_computed_over_farm_accounts_only():
    # truth over a, b, c: [farm_0, farm_0, farm_1]; cohorts: [0, 1, 1] -> ARI = -1/2
    clusters = memberships(a=0, b=1, c=1, d=0, e=0, f=0)
    scores = detection_scores(flagged(clusters, 1), clusters, LABELS)
    assert scores["ari"] == pytest.approx(-0.5)
    assert (scores["precision"], scores["recall"]) == (1.0, pytest.approx(2 / 3))


def test_unclustered_farm_accounts_count_as_singleton_cohorts():
    assert detection_scores(flagged(memberships(a=0, b=0), 0), memberships(a=0, b=0),
                            LABELS)["ari"] == 1.0
    # b, c together and a alone is the ARI = -1/2 partition again
    assert detection_scores(flagged(memberships(b=4, c=4), 4), memberships(b=4, c=4),
                            LABELS)["ari"] == pytest.approx(-0.5)


def test_four_farm_accounts_give_igraphs_textbook_value():
    labels = pd.DataFrame({"account_id": list("abcd"), "label": ["farm"] * 4,
                           "group": ["farm_0", "farm_0", "farm_1", "farm_1"]})
    clusters = memberships(a=0, b=0, c=1)  # d alone
    assert detection_scores(flagged(clusters), clusters, labels)["ari"] == pytest.approx(4 / 7)


@pytest.mark.parametrize("no_flags", [
    pd.DataFrame(columns=["account_id", "cohort_id", "cohort_score"]), pd.DataFrame()])
def test_nothing_flagged_scores_zero_without_crashing(no_flags):
    scores = detection_scores(no_flags, memberships(a=0, b=0, c=1), LABELS)
    assert (scores["precision"], scores["recall"], scores["f1"]) == (0.0, 0.0, 0.0)
    assert (scores["n_flagged"], scores["fans_flagged"], scores["ari"]) == (0.0, 0.0, 1.0)


def test_without_farm_labels_recall_is_zero_and_ari_undefined():
    labels = LABELS[LABELS["label"] != "farm"]
    scores = detection_scores(flagged(memberships(d=0, e=0), 0), memberships(d=0, e=0), labels)
    assert (scores["precision"], scores["recall"], scores["n_farm"]) == (0.0, 0.0, 0.0)
    assert scores["fans_flagged"] == 1.0 and math.isnan(scores["ari"])
    assert math.isnan(detection_scores(pd.DataFrame(), pd.DataFrame(), pd.DataFrame())["ari"])


def test_unlabelled_and_repeated_flags_are_counted_once_and_apart():
    clusters = memberships(a=0, b=0, zz=0)
    rows = pd.concat([flagged(clusters, 0), flagged(clusters, 0)])
    scores = detection_scores(rows, clusters, LABELS)
    assert (scores["n_flagged"], scores["n_unlabelled_flagged"]) == (2.0, 1.0)
    assert (scores["precision"], scores["recall"]) == (1.0, pytest.approx(2 / 3))


@pytest.mark.parametrize(("tables", "message"), [
    ({"flagged_accounts": pd.DataFrame({"id": ["a"]})},
     r"flagged_accounts has no column 'account_id'; columns are \['id'\]"),
    ({"memberships": pd.DataFrame({"account_id": ["a"]})},
     r"memberships has no column 'cohort_id'"),
    ({"labels": LABELS.drop(columns="label")}, r"labels has no column 'label'"),
    ({"labels": pd.concat([LABELS, LABELS.iloc[[2]]])},
     r"labels lists account_id 'c' more than once"),
])
def test_malformed_tables_are_rejected_by_name(tables, message):
    clusters = memberships(a=0, b=0)
    arguments = {"flagged_accounts": flagged(clusters, 0), "memberships": clusters,
                 "labels": LABELS} | tables
    with pytest.raises(ValueError, match=message):
        detection_scores(**arguments)


def test_true_groups_as_cohorts_score_perfectly_on_generated_logs():
    logs = synthetic_logs(n_organic=300, n_farms=2, farm_size=10, n_fandoms=1, seed=5)
    truth = logs.labels[logs.labels["label"] != "organic"]
    clusters = truth.assign(cohort_id=pd.factorize(truth["group"])[0])[["account_id", "cohort_id"]]
    farms = clusters[truth["label"] == "farm"].assign(cohort_score=1.0)
    scores = detection_scores(farms, clusters, logs.labels)
    assert (scores["precision"], scores["recall"], scores["ari"]) == (1.0, 1.0, 1.0)
    assert (scores["fans_flagged"], scores["organic_flagged"], scores["n_farm"]) == (0.0, 0.0, 20.0)
