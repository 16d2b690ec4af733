"""Writing small hand-built worlds (interaction rows and posts) as the CSV files a user has."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

Row = tuple[str, str, str, dt.datetime]


def write_world(rows: list[Row], posts: list[tuple[str, str]],
                tmp_path: Path) -> tuple[Path, Path]:
    """``logs.csv`` (ISO timestamps) and ``posts.csv`` in ``tmp_path``; their paths."""
    log, posts_path = tmp_path / "logs.csv", tmp_path / "posts.csv"
    pd.DataFrame(rows, columns=["account_id", "target_id", "action", "timestamp"]).assign(
        timestamp=lambda f: f["timestamp"].map(lambda t: t.isoformat())).to_csv(log, index=False)
    pd.DataFrame(posts, columns=["target_id", "author_id"]).to_csv(posts_path, index=False)
    return log, posts_path
