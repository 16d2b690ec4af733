"""Write generated synthetic logs as the raw files cohortscan reads."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from graphs.synthetic import SyntheticLogs

__all__ = ["write_synthetic"]

logger = logging.getLogger(__name__)

_ISO_Z = "%Y-%m-%dT%H:%M:%SZ"


def write_synthetic(logs: SyntheticLogs, out_dir: Path) -> list[Path]:
    """Write ``interactions.csv.gz``, ``posts.csv``, ``accounts.csv`` and ``labels.csv``.

    Times are written as ISO-8601 UTC with a ``Z`` (``2026-11-01T14:05:00Z``, whole
    seconds, as the generator makes them). The gzip header carries no timestamp, so the same
    logs give byte-identical files. ``out_dir`` is created if missing; files are overwritten.
    Organic accounts have an empty ``group`` in ``labels.csv``: read it back with
    ``keep_default_na=False`` to get ``""`` rather than NaN.

    Parameters
    ----------
    logs : SyntheticLogs
        Tables from :func:`graphs.synthetic.synthetic_logs`.
    out_dir : pathlib.Path
        Directory to write into.

    Returns
    -------
    list of pathlib.Path
        The four paths written, in the order above.

    Examples
    --------
    >>> import tempfile
    >>> from graphs.synthetic import synthetic_logs
    >>> logs = synthetic_logs(n_organic=200, n_farms=1, farm_size=8, n_fandoms=0, n_viral=1)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     [path.name for path in write_synthetic(logs, Path(tmp) / "raw")]
    ['interactions.csv.gz', 'posts.csv', 'accounts.csv', 'labels.csv']
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {
        "interactions.csv.gz": _iso_times(logs.interactions, "timestamp"),
        "posts.csv": _iso_times(logs.posts, "posted_at"),
        "accounts.csv": _iso_times(logs.accounts, "created_at"),
        "labels.csv": logs.labels,
    }
    paths = []
    for name, table in tables.items():
        path = out_dir / name
        compression = {"method": "gzip", "mtime": 0} if name.endswith(".gz") else None
        table.to_csv(path, index=False, encoding="utf-8", compression=compression)
        logger.info("wrote %s (%d rows)", path, len(table))
        paths.append(path)
    return paths


def _iso_times(table: pd.DataFrame, column: str) -> pd.DataFrame:
    return table.assign(**{column: table[column].dt.tz_convert("UTC").dt.strftime(_ISO_Z)})
