"""Tests of the synthetic click-farm world and of writing it to raw files."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from graphs.synthetic import SCENARIOS, synthetic_logs
from pipelines.synthetic_io import write_synthetic

TINY = {"n_organic": 300, "n_farms": 2, "farm_size": 15, "n_fandoms": 2, "fandom_size": 20,
        "n_viral": 1, "viral_size": (100, 150)}
ID_STYLES = {"u_digits": r"u\d+", "user_digits": r"user\d+", "name_year": r"[a-z]+_[a-z]+\d{4}"}


@pytest.fixture(scope="module")
def tiny():
    return synthetic_logs(seed=3, **TINY)


@pytest.fixture(scope="module")
def medium():
    return synthetic_logs(scenario="medium", seed=0)


@pytest.fixture(scope="module")
def hard():
    return synthetic_logs(scenario="hard", seed=0)


def with_labels(logs) -> pd.DataFrame:
    return (logs.interactions.merge(logs.labels, on="account_id")
            .merge(logs.posts, on="target_id"))


def pairs_within(rows: pd.DataFrame, window_s: float) -> pd.Series:
    """Shared targets (both acted within ``window_s``) per account pair, over all pairs."""
    both = rows.merge(rows, on="target_id")
    gap = (both["timestamp_x"] - both["timestamp_y"]).abs().dt.total_seconds()
    both = both[(both["account_id_x"] < both["account_id_y"]) & (gap <= window_s)]
    counts = both.drop_duplicates(["account_id_x", "account_id_y", "target_id"]).groupby(
        ["account_id_x", "account_id_y"]).size()
    n = rows["account_id"].nunique()
    return pd.concat([counts, pd.Series(0, index=range(n * (n - 1) // 2 - len(counts)))])


def co_engaged_authors(logs, group: str, min_share: float = 0.25) -> pd.Series:
    """Authors of targets reached by ``min_share`` of a group, 5 times its reach overall."""
    members = logs.labels.loc[logs.labels["group"] == group, "account_id"]
    rows = logs.interactions.drop_duplicates(["account_id", "target_id"])
    inside = rows[rows["account_id"].isin(members)]
    reach = inside.groupby("target_id").size() / len(members)
    overall = rows.groupby("target_id").size()[reach.index] / len(logs.labels)
    targets = reach[(reach >= min_share) & (reach >= 5 * overall)].index
    return logs.posts.set_index("target_id").loc[targets, "author_id"]


def test_tables_have_the_contract_columns_and_dtypes(tiny):
    assert list(tiny.interactions.columns) == ["account_id", "target_id", "action", "timestamp"]
    assert list(tiny.posts.columns) == ["target_id", "author_id", "posted_at"]
    assert list(tiny.accounts.columns) == ["account_id", "created_at"]
    assert list(tiny.labels.columns) == ["account_id", "label", "group"]
    for table, column in [(tiny.interactions, "timestamp"), (tiny.posts, "posted_at"),
                          (tiny.accounts, "created_at")]:
        assert str(table[column].dtype) == "datetime64[ns, UTC]"
    assert set(tiny.interactions["action"]) <= {"like", "share", "comment", "follow"}
    assert tiny.posts["target_id"].str.fullmatch(r"p\d{6}").all()


def test_rows_are_sorted_consistent_and_inside_the_period(tiny):
    rows = tiny.interactions
    assert rows.equals(rows.sort_values(["timestamp", "account_id"], kind="stable",
                                        ignore_index=True))
    start = pd.Timestamp("2026-11-01T00:00Z")
    assert rows["timestamp"].min() >= start
    assert rows["timestamp"].max() < start + pd.Timedelta(days=7)
    assert not rows.duplicated(["account_id", "target_id", "action"]).any()
    assert set(rows["account_id"]) <= set(tiny.accounts["account_id"])
    assert tiny.accounts["account_id"].is_unique
    assert tiny.labels["account_id"].tolist() == tiny.accounts["account_id"].tolist()
    joined = rows.merge(tiny.posts, on="target_id", validate="many_to_one")
    assert len(joined) == len(rows) and (joined["timestamp"] >= joined["posted_at"]).all()
    assert (tiny.accounts["created_at"] < start).all()


def test_labels_count_every_planted_group(tiny):
    counts = tiny.labels.groupby(["label", "group"]).size().to_dict()
    assert counts == {("farm", "farm_0"): 15, ("farm", "farm_1"): 15, ("fan", "fandom_0"): 20,
                      ("fan", "fandom_1"): 20, ("organic", ""): 300}


def test_same_seed_gives_identical_tables_and_another_seed_does_not():
    first, again = synthetic_logs(seed=7, **TINY), synthetic_logs(seed=7, **TINY)
    for a, b in zip(first, again, strict=True):
        pd.testing.assert_frame_equal(a, b)
    other = synthetic_logs(seed=8, **TINY)
    assert not first.interactions.equals(other.interactions)
    assert set(first.accounts["account_id"]) != set(other.accounts["account_id"])


def test_start_and_days_overrides_move_the_period():
    logs = synthetic_logs(seed=1, start="2027-01-15", days=2, **TINY)
    start = pd.Timestamp("2027-01-15T00:00Z")
    assert logs.interactions["timestamp"].min() >= start
    assert logs.interactions["timestamp"].max() < start + pd.Timedelta(days=2)
    assert logs.posts["posted_at"].max() < start + pd.Timedelta(days=2)


def test_scenarios_differ_only_in_how_farms_deliver():
    assert set(SCENARIOS) == {"easy", "medium", "hard"}
    easy, hard = (synthetic_logs(scenario=name, seed=2, **TINY) for name in ("easy", "hard"))
    assert easy.labels.equals(hard.labels) and easy.posts.equals(hard.posts)
    assert not easy.interactions.equals(hard.interactions)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"scenario": "extreme"}, r"unknown scenario 'extreme'; expected one of \['easy', 'hard'"),
    ({"n_bots": 3}, r"unknown parameter 'n_bots'; expected one of \['start', 'days'"),
    ({"n_organic": 0}, r"parameter 'n_organic' must be positive, got 0"),
    ({"days": -1}, r"parameter 'days' must be positive"),
    ({"n_farms": -1}, r"parameter 'n_farms' must be >= 0, got -1"),
    ({"n_organic": 20, "n_authors": 30}, r"n_authors \(30\) must not exceed n_organic \(20\)"),
    ({"farm_size": (50, 10)}, r"parameter 'farm_size' must be a size or \(min, max\)"),
    ({"fandom_size": 0}, r"parameter 'fandom_size' must be a size"),
    ({"order_share": (0.5, 1.5)}, r"parameter 'order_share' .* 0 < min <= max <= 1"),
    ({"start": "next tuesday"}, r"parameter 'start' must be an ISO date, got 'next tuesday'"),
    ({"start": None}, r"parameter 'start' must be an ISO date, got None"),
])
def test_bad_parameters_are_rejected_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        synthetic_logs(**kwargs)


def test_zero_farms_fandoms_and_viral_posts_give_an_organic_world():
    logs = synthetic_logs(n_organic=200, n_farms=0, n_fandoms=0, n_viral=0, seed=1)
    assert set(logs.labels["label"]) == {"organic"} and len(logs.interactions) > 0


def test_medium_preset_has_the_intended_size(medium):
    assert 40_000 <= len(medium.interactions) <= 80_000
    per_account = len(medium.interactions) / medium.interactions["account_id"].nunique()
    assert 9 <= per_account <= 14


def test_ids_do_not_reveal_labels(medium):
    for label in ("farm", "organic"):
        ids = medium.labels.loc[medium.labels["label"] == label, "account_id"]
        shares = {name: ids.str.fullmatch(rx).mean() for name, rx in ID_STYLES.items()}
        assert sum(shares.values()) == pytest.approx(1.0)
        assert all(0.2 < share < 0.45 for share in shares.values()), (label, shares)


def test_farms_co_engage_many_authors_and_fans_one(medium):
    rows = with_labels(medium)
    top_author = rows.groupby("account_id")["author_id"].agg(lambda s: s.mode().iloc[0])
    organic_top = top_author[rows.groupby("account_id")["label"].first() == "organic"]
    for group in ("farm_0", "farm_1", "farm_2"):
        authors = co_engaged_authors(medium, group)
        assert len(authors) >= 15 and authors.value_counts().iloc[0] <= 3, group
    for group, fans in rows[rows["label"] == "fan"].groupby("group"):
        authors = co_engaged_authors(medium, group)
        assert authors.nunique() == 1 and len(authors) >= 3, group
        fan_top = top_author[top_author.index.isin(fans["account_id"])]
        assert (fan_top == authors.iloc[0]).mean() >= 0.5, group
        assert (organic_top == authors.iloc[0]).mean() < 0.02, group


def test_viral_posts_draw_hundreds_within_an_hour(medium):
    rows = medium.interactions.merge(medium.posts, on="target_id")
    early = rows[rows["timestamp"] - rows["posted_at"] <= pd.Timedelta(hours=1)]
    crowds = early.groupby("target_id")["account_id"].nunique()
    assert (crowds >= 200).sum() >= 3


def test_farm_accounts_are_young_and_humans_act_by_day(medium):
    age = pd.Timestamp("2026-11-01T00:00Z") - medium.accounts["created_at"]
    by_label = age.dt.days.groupby(medium.labels["label"].to_numpy()).median()
    assert by_label["farm"] < 180 < 365 < by_label["organic"]
    hours = medium.interactions["timestamp"].dt.hour.value_counts()
    assert hours[range(2, 6)].sum() * 3 < hours[range(14, 18)].sum()


def test_medium_farm_pairs_share_targets_within_an_hour_and_hard_ones_rarely(medium, hard):
    def farm_pairs(logs) -> pd.Series:
        rows = with_labels(logs)
        farm = rows[rows["group"] == "farm_0"]
        return pairs_within(farm[["account_id", "target_id", "timestamp"]], 3600)

    medium_pairs, hard_pairs = farm_pairs(medium), farm_pairs(hard)
    assert (medium_pairs >= 3).mean() > 0.3
    assert hard_pairs.mean() < 1.0 and (hard_pairs >= 3).mean() < 0.05


def test_write_synthetic_round_trips(tiny, tmp_path):
    paths = write_synthetic(tiny, tmp_path / "raw")
    assert [p.name for p in paths] == ["interactions.csv.gz", "posts.csv", "accounts.csv",
                                       "labels.csv"]
    with gzip.open(paths[0], "rt", encoding="utf-8") as handle:
        assert handle.readline() == "account_id,target_id,action,timestamp\n"
        assert handle.readline().rstrip().endswith("Z")
    back = pd.read_csv(paths[0])
    back["timestamp"] = pd.to_datetime(back["timestamp"], utc=True).astype("datetime64[ns, UTC]")
    pd.testing.assert_frame_equal(back, tiny.interactions, check_dtype=False)
    labels = pd.read_csv(paths[3], keep_default_na=False)
    pd.testing.assert_frame_equal(labels, tiny.labels, check_dtype=False)
    first = [p.read_bytes() for p in paths]
    assert [p.read_bytes() for p in write_synthetic(tiny, tmp_path / "raw")] == first
    assert np.all([p.stat().st_size > 0 for p in paths])
