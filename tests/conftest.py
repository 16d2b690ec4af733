"""Shared tiny, exact fixtures: a planted farm among fans and organic users."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
FARM = [f"f{i}" for i in range(6)]
FANS = [f"a{i}" for i in range(6)]
ORGANIC = [f"o{i:02d}" for i in range(40)]


def tiny_world() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Six farm accounts like one post of each of six customers within five minutes;
    six fans like each of one creator's six posts within ten minutes; forty organic
    accounts like scattered posts hours apart. Returns (interactions, posts)."""
    rows, posts = [], []
    for k in range(6):
        post, start = f"t{k}", T0 + dt.timedelta(hours=5 * k)
        posts.append((post, f"customer{k}"))
        rows += [(acc, post, "like", start + dt.timedelta(minutes=i)) for i, acc in enumerate(FARM)]
        fan_post, fan_start = f"c{k}", T0 + dt.timedelta(hours=5 * k + 2)
        posts.append((fan_post, "creator"))
        rows += [(acc, fan_post, "like", fan_start + dt.timedelta(minutes=2 * i))
                 for i, acc in enumerate(FANS)]
    rng = np.random.default_rng(7)
    for i, acc in enumerate(ORGANIC):
        for _ in range(5):
            post = f"x{rng.integers(0, 60):02d}"
            rows.append((acc, post, "like", T0 + dt.timedelta(hours=int(rng.integers(0, 300)),
                                                             minutes=i)))
    posts += [(f"x{k:02d}", f"author{k % 20}") for k in range(60)]
    interactions = pd.DataFrame(rows, columns=["account_id", "target_id", "action", "timestamp"])
    return interactions, pd.DataFrame(posts, columns=["target_id", "author_id"])


@pytest.fixture()
def world() -> tuple[pd.DataFrame, pd.DataFrame]:
    return tiny_world()


@pytest.fixture()
def world_files(tmp_path, world):
    """The tiny world written as a CSV log and a posts CSV; returns (log, posts)."""
    interactions, posts = world
    log = tmp_path / "logs.csv"
    interactions.assign(
        timestamp=interactions["timestamp"].map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ"))
    ).to_csv(log, index=False)
    posts_path = tmp_path / "posts.csv"
    posts.to_csv(posts_path, index=False)
    return log, posts_path
