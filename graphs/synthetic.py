"""Synthetic interaction logs with planted click farms, organic fandoms and viral posts.

Creators post; organic users engage popular posts at human times; viral posts draw crowds
within the hour; fans engage most posts of one creator; click farms (young accounts made in
batches) deliver orders for many unrelated customers and add camouflage likes. Everything is
integer-coded inside (accounts, posts, seconds since ``start``); ids and times at the end.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

__all__ = ["SCENARIOS", "SyntheticLogs", "synthetic_logs"]

DAY = 86_400.0
ACTIONS = np.array(["like", "share", "comment", "follow"])
_FIRST = "anna ben carla dmitri emma felix giulia hana ivan jade kofi lena mateo nina omar".split()
_LAST = "smith garcia muller rossi kim novak silva ito dubois khan jensen moreau costa sato".split()
_NONE = {"account": np.array([], int), "post": np.array([], int),
         "action": np.array([], int), "t": np.array([], float)}


class SyntheticLogs(NamedTuple):
    """Generated tables: ``interactions``, ``posts``, ``accounts`` and ground-truth ``labels``."""

    interactions: pd.DataFrame
    posts: pd.DataFrame
    accounts: pd.DataFrame
    labels: pd.DataFrame


@dataclass(frozen=True)
class _Params:
    start: str = "2026-11-01"
    days: float = 7.0
    n_organic: int = 4000
    n_authors: int | None = None  # None: n_organic // 10
    mean_actions: float = 11.0
    n_viral: int = 5
    viral_size: tuple[int, int] = (200, 1500)
    n_fandoms: int = 4
    fandom_size: int | tuple[int, int] = (20, 80)
    n_farms: int = 3
    farm_size: int | tuple[int, int] = (40, 150)
    orders_per_farm: int = 25
    order_share: tuple[float, float] = (0.3, 0.6)
    delivery_hours: tuple[float, float] = (1.0, 6.0)
    camouflage: float = 5.0  # mean camouflage likes per farm account


SCENARIOS: dict[str, dict[str, Any]] = {
    "easy": {"order_share": (0.6, 0.9), "delivery_hours": (0.1, 1.0),
             "camouflage": 1.0, "orders_per_farm": 15},
    "medium": {"order_share": (0.3, 0.6), "delivery_hours": (1.0, 6.0),
               "camouflage": 5.0, "orders_per_farm": 25},
    "hard": {"order_share": (0.15, 0.4), "delivery_hours": (24.0, 72.0),
             "camouflage": 12.0, "orders_per_farm": 18},
}


def synthetic_logs(*, scenario: str = "medium", seed: int = 0, **overrides: Any) -> SyntheticLogs:
    """Return synthetic interaction logs with planted farms and their ground truth.

    Parameters
    ----------
    scenario : str
        A key of ``SCENARIOS``: ``"easy"``, ``"medium"`` (default) or ``"hard"``.
    seed : int
        Seed for ``numpy.random.default_rng``; the same seed gives identical tables.
    **overrides
        Any preset parameter: ``start`` (ISO date), ``days``, ``n_organic``, ``n_authors``,
        ``mean_actions``, ``n_viral``, ``viral_size``, ``n_fandoms``, ``fandom_size``,
        ``n_farms``, ``farm_size``, ``orders_per_farm``, ``order_share``, ``delivery_hours``,
        ``camouflage``. Sizes are an int or a ``(min, max)`` tuple.

    Returns
    -------
    SyntheticLogs
        ``interactions`` (sorted by timestamp, account_id), ``posts``, ``accounts``, ``labels``;
        a ``ValueError`` names an unknown scenario or parameter, or an impossible value.

    Examples
    --------
    >>> logs = synthetic_logs(n_organic=300, n_farms=1, farm_size=12, n_fandoms=1, seed=1)
    >>> list(logs.interactions.columns)
    ['account_id', 'target_id', 'action', 'timestamp']
    >>> logs.labels.groupby("label").size().to_dict()["farm"]
    12
    """
    p = _params(scenario, overrides)
    rng = np.random.default_rng(seed)
    start = _start(p.start)
    fandoms = _pools(rng, p.n_organic, p.fandom_size, p.n_fandoms)
    humans = np.arange(p.n_organic + sum(map(len, fandoms)))
    farms = _pools(rng, len(humans), p.farm_size, p.n_farms)
    ids = _account_ids(rng, len(humans) + sum(map(len, farms)))
    created = _created_at(rng, len(humans), farms)
    posts = _posts(rng, p, start)
    events = pd.concat([  # farms last: the scenarios share everything else for a seed
        _organic_events(rng, p, humans, posts, start),
        _viral_events(rng, p, humans, posts),
        _fandom_events(rng, p, fandoms, posts, start),
        _farm_events(rng, p, farms, posts, start),
    ])
    return _tables(p, start, ids, created, posts, events, fandoms, farms)


def _params(scenario: str, overrides: dict[str, Any]) -> _Params:
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; expected one of {sorted(SCENARIOS)}")
    valid = [f.name for f in fields(_Params)]
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise ValueError(f"unknown parameter {unknown[0]!r}; expected one of {valid}")
    values = asdict(_Params()) | SCENARIOS[scenario] | overrides
    if values["n_authors"] is None:
        values["n_authors"] = max(1, values["n_organic"] // 10)
    return _checked(_Params(**values))


def _checked(p: _Params) -> _Params:
    for name in ("days", "n_organic", "n_authors", "mean_actions", "orders_per_farm"):
        if not getattr(p, name) > 0:
            raise ValueError(f"parameter {name!r} must be positive, got {getattr(p, name)!r}")
    for name in ("n_viral", "n_fandoms", "n_farms", "camouflage"):
        if not getattr(p, name) >= 0:
            raise ValueError(f"parameter {name!r} must be >= 0, got {getattr(p, name)!r}")
    if p.n_authors > p.n_organic:
        raise ValueError(f"n_authors ({p.n_authors}) must not exceed n_organic ({p.n_organic})")
    for name in ("viral_size", "fandom_size", "farm_size", "order_share", "delivery_hours"):
        low, high = _bounds(getattr(p, name))
        if not 0 < low <= high or (name == "order_share" and high > 1):
            raise ValueError(f"parameter {name!r} must be a size or (min, max) with "
                             f"0 < min <= max{' <= 1' if name == 'order_share' else ''}")
    return p


def _bounds(value: float | tuple[float, float]) -> tuple[float, float]:
    return (value, value) if np.isscalar(value) else (value[0], value[1])


def _start(start: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(start)
    except ValueError:
        ts = pd.NaT
    if ts is pd.NaT:
        raise ValueError(f"parameter 'start' must be an ISO date, got {start!r}")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _pools(rng: np.random.Generator, first: int, size: int | tuple[int, int],
           n: int) -> list[np.ndarray]:
    """``n`` consecutive blocks of account indices from ``first``, sizes drawn from ``size``."""
    low, high = _bounds(size)
    sizes = rng.integers(int(low), int(high) + 1, size=n)
    ends = first + np.cumsum(sizes)
    return [np.arange(end - size, end) for size, end in zip(sizes, ends, strict=True)]


def _account_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unique handles in three styles, the same mix for every kind of account."""
    m = 2 * n + 10
    style = rng.integers(0, 3, size=m)
    first, last = rng.choice(_FIRST, size=m), rng.choice(_LAST, size=m)
    year, digits = rng.integers(1960, 2010, size=m), rng.integers(10**7, 10**8, size=m)
    handles = np.where(style == 0, np.char.add("u", digits.astype(str)),
                       np.where(style == 1, np.char.add("user", (digits * 3 + 7).astype(str)),
                                np.char.add(np.char.add(np.char.add(first, "_"), last),
                                            year.astype(str))))
    handles = rng.permutation(pd.unique(handles))
    if len(handles) < n:
        raise ValueError(f"cannot make {n} distinct account ids; lower the account counts")
    return handles[:n].astype(str)


def _created_at(rng: np.random.Generator, n_humans: int, farms: list[np.ndarray]) -> np.ndarray:
    """Seconds before ``start``: humans over years (with sign-up campaigns), farms in batches."""
    human = -rng.uniform(DAY, 8 * 365 * DAY, size=n_humans)
    campaign = rng.random(n_humans) < 0.1
    burst = -rng.uniform(30 * DAY, 3 * 365 * DAY, size=3)
    human[campaign] = rng.choice(burst, campaign.sum()) + rng.uniform(0, 3 * DAY, campaign.sum())
    parts = [human]
    for pool in farms:
        batch = -rng.uniform(3 * DAY, 180 * DAY, size=rng.integers(2, 5))
        parts.append(rng.choice(batch, size=len(pool)) + rng.uniform(0, 2 * DAY, len(pool)))
    return np.concatenate(parts)


def _diurnal_pick(rng: np.random.Generator, t: np.ndarray, start: pd.Timestamp) -> np.ndarray:
    """Per row of candidate times, the first one accepted by a day/night activity curve."""
    hour = (start.hour + start.minute / 60 + t / 3600) % 24
    accept = rng.random(t.shape) < 0.55 - 0.45 * np.cos(2 * np.pi * (hour - 4) / 24)
    return t[np.arange(len(t)), accept.argmax(axis=1)]


def _human_times(rng: np.random.Generator, base: np.ndarray, median_s: float, sigma: float,
                 start: pd.Timestamp) -> np.ndarray:
    delay = rng.lognormal(np.log(median_s), sigma, size=(len(base), 4))
    return _diurnal_pick(rng, base[:, None] + delay, start)


def _events(account: np.ndarray, post: np.ndarray, action: np.ndarray,
            t: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"account": account, "post": post, "action": action, "t": t})


def _posts(rng: np.random.Generator, p: _Params, start: pd.Timestamp) -> pd.DataFrame:
    """Posts (author, t, popularity) sorted by time; author popularity is Pareto-tailed."""
    author_pop = rng.pareto(1.5, size=p.n_authors) + 1
    rate = 0.4 * p.days * rng.lognormal(-0.5, 1.0, size=p.n_authors)
    author = np.repeat(np.arange(p.n_authors), 1 + rng.poisson(rate))
    t = _diurnal_pick(rng, rng.uniform(0, p.days * DAY, size=(len(author), 4)), start)
    pop = author_pop[author] * rng.lognormal(0, 0.7, size=len(author))
    order = np.argsort(t, kind="stable")
    return pd.DataFrame({"author": author[order], "t": t[order], "pop": pop[order]})


def _organic_events(rng: np.random.Generator, p: _Params, humans: np.ndarray,
                    posts: pd.DataFrame, start: pd.Timestamp) -> pd.DataFrame:
    """Heavy-tailed activity; posts picked by popularity; delays of minutes to days."""
    sigma = 1.1
    mean = rng.lognormal(np.log(p.mean_actions) - sigma**2 / 2, sigma, size=len(humans))
    account = np.repeat(humans, 1 + rng.poisson(mean))
    post = rng.choice(len(posts), size=len(account), p=posts["pop"] / posts["pop"].sum())
    t = _human_times(rng, posts["t"].to_numpy()[post], 3 * 3600, 1.5, start)
    return _events(account, post, rng.choice(4, len(account), p=[0.8, 0.08, 0.08, 0.04]), t)


def _viral_events(rng: np.random.Generator, p: _Params, humans: np.ndarray,
                  posts: pd.DataFrame) -> pd.DataFrame:
    """A few posts each reached by hundreds to thousands of users within about an hour."""
    early = np.flatnonzero(posts["t"].to_numpy() < p.days * DAY - 6 * 3600)
    chosen = rng.choice(early, size=min(p.n_viral, len(early)), replace=False)
    low, high = _bounds(p.viral_size)
    parts = [pd.DataFrame(_NONE)]
    for post in chosen:
        size = min(len(humans), int(np.exp(rng.uniform(np.log(low), np.log(high)))))
        account = rng.choice(humans, size=size, replace=False)
        t = posts["t"].iat[post] + rng.lognormal(np.log(25 * 60), 0.8, size=size)
        action = rng.choice(4, size, p=[0.75, 0.2, 0.05, 0.0])
        parts.append(_events(account, np.full(size, post), action, t))
    return pd.concat(parts)


def _fandom_events(rng: np.random.Generator, p: _Params, fandoms: list[np.ndarray],
                   posts: pd.DataFrame, start: pd.Timestamp) -> pd.DataFrame:
    """Fans of one creator engage most of that creator's posts minutes to hours after posting."""
    counts = np.bincount(posts["author"], minlength=p.n_authors)
    ranked = np.argsort(-counts, kind="stable")
    candidates = ranked[counts[ranked] >= 5]
    if len(candidates) < len(fandoms):
        candidates = ranked[: len(fandoms)]
    creators = rng.choice(candidates, size=len(fandoms), replace=len(candidates) < len(fandoms))
    parts = [pd.DataFrame(_NONE)]
    for fans, creator in zip(fandoms, creators, strict=True):
        own = np.flatnonzero(posts["author"].to_numpy() == creator)
        engage = rng.random((len(fans), len(own))) < rng.uniform(0.5, 0.95, size=(len(fans), 1))
        fan, k = np.nonzero(engage)
        t = _human_times(rng, posts["t"].to_numpy()[own[k]], 40 * 60, 1.2, start)
        parts.append(_events(fans[fan], own[k], rng.choice(4, len(k), p=[0.75, 0.05, 0.2, 0]), t))
    return pd.concat(parts)


def _farm_events(rng: np.random.Generator, p: _Params, farms: list[np.ndarray],
                 posts: pd.DataFrame, start: pd.Timestamp) -> pd.DataFrame:
    """Orders for random customers (part of the pool, spread over a window) plus camouflage."""
    author, t0 = posts["author"].to_numpy(), posts["t"].to_numpy()
    weight = 1.0 / np.bincount(author)[author]  # uniform customer, then one of their posts
    weight[t0 >= p.days * DAY - _bounds(p.delivery_hours)[0] * 3600] = 0
    weight = weight / weight.sum() if weight.sum() > 0 else np.full(len(t0), 1 / len(t0))
    share, hours = _bounds(p.order_share), _bounds(p.delivery_hours)
    parts = [pd.DataFrame(_NONE)]
    for pool in farms:
        for post in rng.choice(len(t0), size=p.orders_per_farm, p=weight):
            size = max(1, round(rng.uniform(*share) * len(pool)))
            account = rng.choice(pool, size=size, replace=False)
            begin = t0[post] + rng.lognormal(np.log(20 * 60), 1.0)
            t = begin + rng.uniform(0, rng.uniform(*hours) * 3600, size=size)
            action = np.full(size, rng.choice(4, p=[0.75, 0.1, 0.0, 0.15]))
            parts.append(_events(account, np.full(size, post), action, t))
        account = np.repeat(pool, rng.poisson(p.camouflage, size=len(pool)))
        post = rng.choice(len(t0), size=len(account), p=posts["pop"] / posts["pop"].sum())
        t = _human_times(rng, t0[post], 3 * 3600, 1.5, start)
        parts.append(_events(account, post, np.zeros(len(account), dtype=int), t))
    return pd.concat(parts)


def _utc(start: pd.Timestamp, seconds: np.ndarray) -> pd.DatetimeIndex:
    return (start + pd.to_timedelta(np.floor(seconds).astype("int64"), unit="s")).as_unit("ns")


def _tables(p: _Params, start: pd.Timestamp, ids: np.ndarray, created: np.ndarray,
            posts: pd.DataFrame, events: pd.DataFrame, fandoms: list[np.ndarray],
            farms: list[np.ndarray]) -> SyntheticLogs:
    events = events[events["t"] < p.days * DAY].sort_values(["t", "account", "post", "action"])
    events = events.drop_duplicates(["account", "post", "action"])
    target_ids = np.char.add("p", np.char.zfill(np.arange(len(posts)).astype(str), 6))
    interactions = pd.DataFrame({
        "account_id": ids[events["account"]], "target_id": target_ids[events["post"]],
        "action": ACTIONS[events["action"]], "timestamp": _utc(start, events["t"].to_numpy()),
    }).sort_values(["timestamp", "account_id", "target_id", "action"], ignore_index=True)
    post_table = pd.DataFrame({"target_id": target_ids, "author_id": ids[posts["author"]],
                               "posted_at": _utc(start, posts["t"].to_numpy())})
    accounts = pd.DataFrame({"account_id": ids, "created_at": _utc(start, created)})
    label, group = np.full(len(ids), "organic", dtype=object), np.full(len(ids), "", dtype=object)
    for kind, name, pools in (("fan", "fandom", fandoms), ("farm", "farm", farms)):
        for k, pool in enumerate(pools):
            label[pool], group[pool] = kind, f"{name}_{k}"
    labels = pd.DataFrame({"account_id": ids, "label": label, "group": group}).astype(str)
    return SyntheticLogs(interactions, post_table,
                         accounts.sort_values("account_id", ignore_index=True),
                         labels.sort_values("account_id", ignore_index=True))
