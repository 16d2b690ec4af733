"""The run's DuckDB connections under the run's memory limit, spilling to a directory of its own.

Outside a run DuckDB's defaults apply: a memory limit of 80% of the machine's RAM whatever
``--max-memory`` says, and spill files in ``./.tmp`` under the current directory. Within
:func:`duckdb_limits` every connection made by :func:`connect` (reading and validating the
logs, the side tables, the CSV writer) gets ``memory_limit`` = the run's ``max_memory_gb``
and ``temp_directory`` = a fresh directory under the system's temporary directory, removed
when the run ends. Beyond the limit DuckDB sorts, de-duplicates and stores its temporary
tables on disk there instead of failing or exceeding the budget.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb

_CONFIG: dict[str, str] = {}


def duckdb_config() -> dict[str, str]:
    """The settings :func:`connect` applies now (empty outside :func:`duckdb_limits`)."""
    return dict(_CONFIG)


def connect() -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB connection with :func:`duckdb_config`.

    >>> con = connect()
    >>> con.sql("SELECT 1").fetchall()
    [(1,)]
    """
    return duckdb.connect(config=duckdb_config())


@contextlib.contextmanager
def duckdb_limits(max_memory_gb: float) -> Iterator[Path]:
    """Within the block, :func:`connect` gives connections limited to ``max_memory_gb`` GiB
    that spill to a fresh directory (yielded; removed with its files when the block ends).

    >>> with duckdb_limits(0.5) as spill:
    ...     connect().execute("SELECT current_setting('memory_limit')").fetchall()
    [('512.0 MiB',)]
    """
    if max_memory_gb <= 0:
        raise ValueError(f"max_memory_gb must be positive, got {max_memory_gb}")
    previous = dict(_CONFIG)
    with tempfile.TemporaryDirectory(prefix="cohortscan-spill-") as spill:
        _CONFIG.clear()
        _CONFIG.update(memory_limit=f"{max(int(max_memory_gb * 1024), 1)}MiB",
                       temp_directory=spill)
        try:
            yield Path(spill)
        finally:
            _CONFIG.clear()
            _CONFIG.update(previous)
