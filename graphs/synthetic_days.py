"""A synthetic week of daily log partitions with a farm that comes and goes and a steady fandom.

Built on :func:`graphs.synthetic.synthetic_logs`: one week of organic users, viral posts,
one fandom and one click farm, then reshaped day by day so that nightly runs have a known
story to tell (days are numbered from 1):

- the farm is absent on day 1, delivers orders with half of its pool on days 2–3, with its
  whole pool on days 4–5 (it *grows*), and is gone from day 6 on;
- the fandom is active every day: the generator's fandom creator posts about once a day at
  this size, so :func:`synthetic_week` adds ``fandom_posts_per_day`` posts of that creator
  each day, engaged by each fan with probability ``fan_engagement`` within about an hour.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from graphs.synthetic import synthetic_logs

__all__ = ["FARM_DAYS", "SyntheticWeek", "synthetic_week"]

FARM_DAYS = {2: "half", 3: "half", 4: "full", 5: "full"}
"""Day number → which part of the farm pool delivers orders that day."""


class SyntheticWeek(NamedTuple):
    """``partitions`` maps an ISO date to that day's interactions; the rest covers the week."""

    partitions: dict[str, pd.DataFrame]
    posts: pd.DataFrame
    accounts: pd.DataFrame
    labels: pd.DataFrame
    """``account_id, label, group`` plus ``farm_half`` (True for the pool's first half)."""


def synthetic_week(*, seed: int = 0, start: str = "2026-11-01", days: int = 7,
                   n_organic: int = 300, farm_size: int = 24, fandom_size: int = 30,
                   fandom_posts_per_day: int = 3, fan_engagement: float = 0.85,
                   orders_per_day: int = 10) -> SyntheticWeek:
    """Return daily partitions of a week with a farm (days 2–5, grown on day 4) and a fandom.

    Parameters
    ----------
    seed : int
        Seed for the generator and for the fandom's extra posts; same seed, same tables.
    start : str
        ISO date of day 1 (UTC).
    days : int
        Number of daily partitions (at least 6, so that the farm's whole story fits).
    n_organic, farm_size, fandom_size : int
        Organic users, farm pool size (even), fans.
    fandom_posts_per_day : int
        Posts added each day for the fandom's creator.
    fan_engagement : float
        Probability that a fan engages one of those posts.
    orders_per_day : int
        Farm orders per day of the week (only those on the farm's days are kept).

    Returns
    -------
    SyntheticWeek
        A ``ValueError`` names a parameter out of range.

    Examples
    --------
    >>> week = synthetic_week(n_organic=200, farm_size=10, fandom_size=8)
    >>> list(week.partitions)[:2]
    ['2026-11-01', '2026-11-02']
    >>> farm = set(week.labels.query("label == 'farm'")["account_id"])
    >>> [bool(week.partitions[d]["account_id"].isin(farm).any()) for d in week.partitions]
    [False, True, True, True, True, False, False]
    """
    _check(days, farm_size, fandom_size, fandom_posts_per_day, fan_engagement)
    logs = synthetic_logs(scenario="easy", seed=seed, start=start, days=float(days),
                          n_organic=n_organic, n_fandoms=1, fandom_size=fandom_size,
                          n_farms=1, farm_size=farm_size, orders_per_farm=orders_per_day * days,
                          n_authors=n_organic // 2, n_viral=3, viral_size=(40, 120))
    rng = np.random.default_rng([seed, 7])
    labels = _labels_with_half(logs.labels, rng)
    extra_events, extra_posts = _fandom_days(rng, logs, labels, days, fandom_posts_per_day,
                                             fan_engagement)
    events = pd.concat([logs.interactions, extra_events], ignore_index=True)
    events = _farm_schedule(events, labels, pd.Timestamp(start, tz="UTC"))
    posts = pd.concat([logs.posts, extra_posts], ignore_index=True).sort_values(
        "target_id", ignore_index=True)
    day = events["timestamp"].dt.strftime("%Y-%m-%d")
    dates = pd.date_range(start, periods=days, freq="D").strftime("%Y-%m-%d")
    partitions = {d: events[day == d].sort_values(
        ["timestamp", "account_id", "target_id", "action"], ignore_index=True) for d in dates}
    return SyntheticWeek(partitions, posts, logs.accounts, labels)


def _check(days: int, farm_size: int, fandom_size: int, per_day: int, engagement: float) -> None:
    if days < 6:
        raise ValueError(f"parameter 'days' must be at least 6, got {days}")
    if farm_size < 2 or farm_size % 2:
        raise ValueError(f"parameter 'farm_size' must be an even number >= 2, got {farm_size}")
    if fandom_size < 2 or per_day < 2:
        raise ValueError("parameters 'fandom_size' and 'fandom_posts_per_day' must be >= 2")
    if not 0 < engagement <= 1:
        raise ValueError(f"parameter 'fan_engagement' must be in (0, 1], got {engagement}")


def _labels_with_half(labels: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    farm = labels.loc[labels["label"] == "farm", "account_id"].to_numpy()
    half = set(rng.permutation(farm)[: len(farm) // 2])
    return labels.assign(farm_half=labels["account_id"].isin(half))


def _fandom_days(rng: np.random.Generator, logs, labels: pd.DataFrame, days: int,
                 per_day: int, engagement: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Daily posts by the fandom's creator and the fans' engagement with them."""
    fans = np.sort(labels.loc[labels["label"] == "fan", "account_id"].to_numpy())
    engaged = logs.interactions[logs.interactions["account_id"].isin(fans)]
    authors = engaged.merge(logs.posts, on="target_id")["author_id"]
    creator = authors.value_counts().sort_index().idxmax()
    start = pd.Timestamp(logs.posts["posted_at"].min()).normalize()
    posted = [start + pd.Timedelta(days=d, hours=h)
              for d in range(days) for h in np.sort(rng.uniform(8, 18, per_day))]
    posts = pd.DataFrame({"target_id": [f"fandom{k:04d}" for k in range(len(posted))],
                          "author_id": creator, "posted_at": pd.DatetimeIndex(posted)})
    hit = rng.random((len(posts), len(fans))) < engagement
    post_i, fan_i = np.nonzero(hit)
    delay = pd.to_timedelta(np.floor(rng.lognormal(np.log(20 * 60), 0.8, len(post_i))), unit="s")
    when = posts["posted_at"].iloc[post_i].reset_index(drop=True) + delay
    events = pd.DataFrame({"account_id": fans[fan_i],
                           "target_id": posts["target_id"].to_numpy()[post_i],
                           "action": "like", "timestamp": when.dt.as_unit("ns")})
    return events, posts


def _farm_schedule(events: pd.DataFrame, labels: pd.DataFrame,
                   start: pd.Timestamp) -> pd.DataFrame:
    """Keep farm actions only on the days of :data:`FARM_DAYS`, by the part of the pool named."""
    farm = labels[labels["label"] == "farm"].set_index("account_id")["farm_half"]
    is_farm = events["account_id"].isin(farm.index)
    day = (events["timestamp"] - start).dt.days + 1
    part = day.map(FARM_DAYS)
    in_half = events["account_id"].map(farm).fillna(False).astype(bool)
    keep = ~is_farm | (part == "full") | ((part == "half") & in_half)
    return events[keep]
