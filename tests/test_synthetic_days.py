"""The synthetic week: farm on days 2–5 (half pool, then whole), a fandom every day."""

from __future__ import annotations

import pandas as pd
import pytest

from graphs.synthetic_days import synthetic_week


@pytest.fixture(scope="module")
def week():
    return synthetic_week(seed=3, n_organic=200, farm_size=12, fandom_size=10)


def test_farm_schedule(week):
    labels = week.labels.set_index("account_id")
    half = set(labels.index[labels["farm_half"]])
    farm = set(labels.index[labels["label"] == "farm"])
    active = [set(p["account_id"]) & farm for p in week.partitions.values()]
    assert [len(a) for a in active][0] == 0 and active[5:] == [set(), set()]
    assert active[1] <= half and active[2] <= half and len(half) == 6
    assert active[3] - half and active[4] - half


def test_fandom_every_day_on_one_creator(week):
    fans = set(week.labels.query("label == 'fan'")["account_id"])
    posts = week.posts.set_index("target_id")["author_id"]
    creators = set()
    for day, part in week.partitions.items():
        fan_rows = part[part["account_id"].isin(fans) & part["target_id"].str.startswith("fandom")]
        assert fan_rows["target_id"].nunique() >= 2, day
        creators |= set(posts.loc[fan_rows["target_id"]])
    assert len(creators) == 1


def test_partitions_hold_their_own_day_and_repeat_with_the_seed(week):
    for day, part in week.partitions.items():
        assert (part["timestamp"].dt.strftime("%Y-%m-%d") == day).all()
    again = synthetic_week(seed=3, n_organic=200, farm_size=12, fandom_size=10)
    for day, part in week.partitions.items():
        pd.testing.assert_frame_equal(part, again.partitions[day])
    assert set(week.posts["target_id"]) >= set(pd.concat(week.partitions.values())["target_id"])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"days": 5}, "'days' must be at least 6"),
    ({"farm_size": 7}, "'farm_size' must be an even number"),
    ({"fandom_posts_per_day": 1}, "'fandom_posts_per_day' must be >= 2"),
    ({"fan_engagement": 0}, "'fan_engagement' must be in"),
])
def test_bad_parameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        synthetic_week(**kwargs)
