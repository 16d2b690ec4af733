"""The run's DuckDB connections under the run's memory limit, spilling to a directory of its own.

Outside a run DuckDB's defaults apply: a memory limit of 80% of the machine's RAM whatever
``--max-memory`` says, and spill files in ``./.tmp`` under the current directory. Within
:func:`duckdb_limits` every connection made by :func:`connect` (reading and validating the
logs, the side tables, the CSV writer) gets ``memory_limit`` = the limit given (a run gives
half its ``max_memory_gb``, :data:`pipelines.limits.DUCKDB_SHARE`: DuckDB's results come back
beside it) and ``temp_directory`` = a fresh directory under the system's temporary directory,
removed when the run ends. Beyond the limit DuckDB sorts, de-duplicates and stores its temporary
tables on disk there instead of failing or exceeding the budget.

The directory is named ``cohortscan-spill-<pid>-*``: a run that is killed (out of memory, a
signal) cannot remove it, so each run first removes those of processes that no longer run
(:func:`remove_stale_spills`); a killed 10M-row run leaves ≈ 0.1 GB there (the interactions
set aside for the report), ≈ 0.9 GB if killed while the passes wait there too
(:mod:`pipelines.set_aside`), besides DuckDB's own temporary files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb

_CONFIG: dict[str, str] = {}
SPILL_PREFIX = "cohortscan-spill-"
MIN_MEMORY_MIB = 32
"""DuckDB's least memory limit: its operators hold a few blocks each whatever they spill (the
ingest's join of the ids to their codes fails below ≈ 16 MiB, even on a few rows)."""


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
    The limit is at least :data:`MIN_MEMORY_MIB`.

    >>> with duckdb_limits(0.5) as spill:
    ...     connect().execute("SELECT current_setting('memory_limit')").fetchall()
    [('512.0 MiB',)]
    """
    if max_memory_gb <= 0:
        raise ValueError(f"max_memory_gb must be positive, got {max_memory_gb}")
    previous = dict(_CONFIG)
    remove_stale_spills()
    with tempfile.TemporaryDirectory(prefix=f"{SPILL_PREFIX}{os.getpid()}-") as spill:
        _CONFIG.clear()
        _CONFIG.update(memory_limit=f"{max(int(max_memory_gb * 1024), MIN_MEMORY_MIB)}MiB",
                       temp_directory=spill)
        try:
            yield Path(spill)
        finally:
            _CONFIG.clear()
            _CONFIG.update(previous)


def remove_stale_spills(parent: Path | None = None) -> list[Path]:
    """Remove the spill directories of runs that were killed; return those removed.

    ``cohortscan-spill-<pid>-*`` under ``parent`` (default: the system's temporary
    directory) whose process no longer runs. Directories of running processes (concurrent
    runs) and names without a pid are left alone.

    >>> remove_stale_spills(Path(tempfile.mkdtemp()))
    []
    """
    removed = []
    for path in sorted(Path(parent or tempfile.gettempdir()).glob(f"{SPILL_PREFIX}*-*")):
        pid = path.name[len(SPILL_PREFIX):].split("-")[0]
        if path.is_dir() and pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a process of another user counts as running).

    >>> process_alive(os.getpid())
    True
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
