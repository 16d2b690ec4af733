from __future__ import annotations

import os
import threading
import time

import numpy as np
import pyarrow as pa
import pytest

from graphs.interactions import validated_interactions
from pipelines.duckdb_limits import (
    MIN_MEMORY_MIB,
    connect,
    duckdb_config,
    duckdb_limits,
    remove_stale_spills,
)


def settings() -> tuple[str, str]:
    return connect().execute("SELECT current_setting('memory_limit'), "
                             "current_setting('temp_directory')").fetchall()[0]


def test_connections_follow_the_run_limits_and_the_spill_directory_goes_away():
    outside = settings()
    with duckdb_limits(1.5) as spill:
        assert spill.is_dir() and spill.name.startswith(f"cohortscan-spill-{os.getpid()}-")
        assert settings() == ("1.5 GiB", str(spill))
        assert duckdb_config() == {"memory_limit": "1536MiB", "temp_directory": str(spill)}
    assert not spill.exists()
    assert settings() == outside and duckdb_config() == {}


def test_limits_nest_and_are_restored_after_an_error():
    with duckdb_limits(2) as outer:
        with pytest.raises(RuntimeError), duckdb_limits(1):
            raise RuntimeError("step failed")
        assert duckdb_config()["temp_directory"] == str(outer)
    assert duckdb_config() == {}


def test_spill_directories_of_killed_runs_are_removed_and_others_kept(tmp_path, monkeypatch):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f"cohortscan-spill-{dead}-k1ll3d"
    (stale / "duckdb_temp").mkdir(parents=True)
    (stale / "interactions.arrow").write_bytes(b"x" * 100)
    running = tmp_path / f"cohortscan-spill-{os.getpid()}-n0w"  # a concurrent run
    unnamed = tmp_path / "cohortscan-spill-abcdef"  # no pid in its name: not ours to judge
    running.mkdir()
    unnamed.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with duckdb_limits(1) as spill:  # a run starts: it clears the killed run's directory
        assert spill.parent == tmp_path
        assert not stale.exists() and running.is_dir() and unnamed.is_dir()
    assert remove_stale_spills(tmp_path) == []


def test_limit_must_be_positive():
    with pytest.raises(ValueError, match="max_memory_gb must be positive, got 0"), \
            duckdb_limits(0):
        pass


def raw_rows(n: int) -> pa.Table:
    rng = np.random.default_rng(0)
    return pa.table({
        "source": ["x.csv"] * n, "line": np.arange(n) + 2,
        "account_id": [f"acc{i:07d}" for i in rng.integers(0, 200_000, n)],
        "target_id": [f"post{i:07d}" for i in rng.integers(0, 50_000, n)],
        "action": ["like"] * n,
        "timestamp": [str(1_793_527_200 + int(i)) for i in rng.integers(0, 10**6, n)]})


def test_validation_beyond_the_limit_spills_to_the_run_directory(tmp_path, monkeypatch):
    """1M rows typed under a 60 MiB limit: DuckDB writes its temporary blocks to the run's
    directory (not ./.tmp) and the result is the unlimited one."""
    monkeypatch.chdir(tmp_path)
    raw = raw_rows(1_000_000)
    seen: set[str] = set()
    done = threading.Event()
    with duckdb_limits(60 / 1024) as spill:
        def watch() -> None:
            while not done.is_set():
                seen.update(os.listdir(spill))
                time.sleep(0.005)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            limited = validated_interactions(raw, duckdb_config=duckdb_config())
        finally:
            done.set()
            watcher.join()
    assert any(name.startswith("duckdb_temp") for name in seen)
    assert list(tmp_path.iterdir()) == []  # nothing in the current directory
    assert limited.interactions.equals(validated_interactions(raw).interactions)


def test_the_limit_has_a_floor_duckdb_can_work_in():
    with duckdb_limits(0.001):
        assert duckdb_config()["memory_limit"] == f"{MIN_MEMORY_MIB}MiB"
