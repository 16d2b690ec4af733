"""Faults: a killed, full or unwritable run never damages the previous outputs, and a run
that stops early never leaves a directory that looks like a complete report."""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from graphs.bipartite import bipartite_incidence
from graphs.projection import pairs_bound
from pipelines.cli import app
from pipelines.config import load_config
from pipelines.ingest import InputError
from pipelines.limits import check_projection_memory
from pipelines.run import run

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def first_run(world_files, tmp_path, monkeypatch):
    """A completed run in tmp/out (report rendering skipped for speed)."""
    monkeypatch.setattr("pipelines.run.report_tasks", lambda out, **tables: [])
    log, posts = world_files
    out = tmp_path / "out"
    run(load_config(None, inputs=[str(log)], posts=posts, out=out))
    return log, posts, out, (out / "manifest.json").read_bytes()


def killed_run(log: Path, out: Path, patch: str) -> subprocess.CompletedProcess:
    """Run the pipeline in a subprocess where ``patch`` makes a function call os._exit(1);
    its temporary directory (where its spill directory is left) is :func:`killed_temp`."""
    code = (
        "import os, pipelines.run as r, pipelines.outputs as o\n"
        "r.report_tasks = lambda out, **t: []\n"
        f"{patch}\n"
        "from pipelines.config import load_config\n"
        f"r.run(load_config(None, inputs=[{str(log)!r}], out=__import__('pathlib').Path("
        f"{str(out)!r})))\n"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120,
                          env={**os.environ, "TMPDIR": str(killed_temp(out))})


def killed_temp(out: Path) -> Path:
    """The temporary directory of :func:`killed_run` (beside ``out``)."""
    temp = out.parent / "killed-temp"
    temp.mkdir(exist_ok=True)
    return temp


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


@pytest.mark.parametrize("patch", [
    # between steps: dies when clustering starts
    "r.leiden_clusters = lambda *a, **k: os._exit(1)",
    # mid-write: dies after some files of the new report were written
    "r.graph_tasks = lambda *a, **k: os._exit(1)",
    # at the rename itself
    "o.os.replace = lambda *a, **k: os._exit(1)",
])
def test_killed_run_leaves_previous_outputs_intact(first_run, patch):
    log, _, out, manifest = first_run
    proc = killed_run(log, out, patch)
    assert proc.returncode == 1, proc.stderr
    assert (out / "manifest.json").read_bytes() == manifest
    partial = [p for p in out.parent.glob(f".{out.name}.partial-*")]
    assert all(not (p / "manifest.json").exists() for p in partial)  # never looks complete


def test_rerun_after_a_kill_removes_stale_partial_directories(first_run, monkeypatch):
    log, _, out, _ = first_run
    killed_run(log, out, "r.graph_tasks = lambda *a, **k: os._exit(1)")
    assert any(n.startswith(f".{out.name}.partial-") for n in leftovers(out))
    temp = killed_temp(out)  # the killed run's spill directory, its interactions set aside
    assert list(temp.glob("cohortscan-spill-*/interactions.arrow"))
    monkeypatch.setattr("tempfile.tempdir", str(temp))
    run(load_config(None, inputs=[str(log)], out=out))
    assert leftovers(out) == [] and list(temp.iterdir()) == []


def test_kill_between_the_two_renames_is_repaired_by_the_rerun(first_run):
    log, _, out, manifest = first_run
    patch = ("real = o.os.replace\n"
             "def die_before_new(a, b):\n"
             "    if '.partial-' in str(a) and '.' not in __import__('pathlib').Path(b).name:\n"
             "        os._exit(1)\n"
             "    real(a, b)\n"
             "o.os.replace = die_before_new")
    assert killed_run(log, out, patch).returncode == 1
    assert not out.exists()  # the previous report waits in .out.old-<pid>
    old = [p for p in out.parent.glob(f".{out.name}.old-*")]
    assert len(old) == 1 and (old[0] / "manifest.json").read_bytes() == manifest
    from pipelines.outputs import remove_stale_partials

    remove_stale_partials(out)
    assert (out / "manifest.json").read_bytes() == manifest
    assert leftovers(out) == []


def test_disk_full_is_one_clear_error_and_keeps_previous_outputs(first_run, monkeypatch):
    log, _, out, manifest = first_run

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("pipelines.run.write_parquet", full)  # raised in a worker
    result = CliRunner().invoke(app, ["run", str(log), "--out", str(out)])
    assert result.exit_code == 1
    assert "error: [Errno 28] No space left on device" in result.stderr
    assert (out / "manifest.json").read_bytes() == manifest
    assert leftovers(out) == []


def test_unwritable_output_location_is_one_clear_error(first_run):
    # Tests run as root, so chmod cannot stop a write: put the output under a regular file.
    log, _, _, _ = first_run
    blocker = log.parent / "a_file"
    blocker.write_text("x")
    result = CliRunner().invoke(app, ["run", str(log), "--out", str(blocker / "out")])
    assert result.exit_code == 1
    assert f"error: [Errno 17] File exists: '{blocker}'" in result.stderr


def test_too_many_rejects_exits_1_through_the_cli(tmp_path):
    log = tmp_path / "a.csv"
    log.write_text("account_id,target_id,action,timestamp\nu,p,like,1793527200\n"
                   "v,p,like,soon\nw,p,like,later\n")
    result = CliRunner().invoke(app, ["run", str(log), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "error: 2 of 3 rows rejected (67% > max_rejected_share 50%)" in result.stderr
    assert not (tmp_path / "out").exists()


def hot_target(n: int, spacing_s: float):
    """One target engaged by ``n`` distinct accounts, one every ``spacing_s`` seconds."""
    ts = (1793527200 + np.arange(n) * spacing_s).astype("int64") * 1_000_000
    return bipartite_incidence(pa.table({
        "account_id": [f"a{i}" for i in range(n)], "target_id": ["hot"] * n,
        "action": ["like"] * n, "timestamp": pa.array(ts, pa.timestamp("us", tz="UTC"))}))


def test_pair_bound_is_exact_on_a_crowd_below_max_crowd():
    from graphs.projection import windowed_pairs

    inc = hot_target(3000, 7.3)  # crowd ≈ 986 ≤ 1000: every action is paired
    bound = pairs_bound(inc, window_s=3600, max_crowd=1000)
    assert bound == windowed_pairs(inc, window_s=3600, max_crowd=1000).num_rows > 1_000_000


def test_memory_guard_refuses_an_adversarial_target_before_enumerating():
    inc = hot_target(40_000, 7.3)  # ≈ 2e7 pairs ≈ 0.037 GB at 2 bytes per pair
    with pytest.raises(InputError, match=r"^the projection would enumerate up to 19,598,229 "
                       r"action pairs \(≈ 0\.037 GB\), more than max_memory_gb = 0\.03; lower "
                       r"max_crowd \(now 1000\) or the window \(now 3600 s\), or raise "
                       r"--max-memory$"):
        check_projection_memory(inc, window_s=3600, max_crowd=1000, max_memory_gb=0.03)


def test_a_million_accounts_on_one_target_are_skipped_as_hub_actions():
    inc = hot_target(1_000_000, 0.001)  # all within one window: crowd 10⁶ > max_crowd
    assert pairs_bound(inc, window_s=3600, max_crowd=1000) == 0


def test_max_memory_flag_stops_the_run_with_exit_1(tmp_path):
    log = tmp_path / "a.csv"
    log.write_text("account_id,target_id,action,timestamp\n" + "".join(
        f"a{i},hot,like,{1793527200 + 8 * i}\n" for i in range(4000)))  # crowd 901
    result = CliRunner().invoke(app, ["run", str(log), "--out", str(tmp_path / "out"),
                                      "--max-memory", "0.002"])  # ≈ 1.8M pairs ≈ 0.007 GB
    assert result.exit_code == 1
    assert "error: the projection would enumerate up to" in result.stderr
    assert "more than max_memory_gb = 0.002" in result.stderr
    assert not (tmp_path / "out").exists()


def test_memory_limit_is_checked_during_the_projection_too(tmp_path):
    """A log whose pair bound fits the limit: the resident memory, checked after each chunk
    of the projection, stops the run there (this process alone is above 0.05 GB)."""
    log = tmp_path / "a.csv"
    log.write_text("account_id,target_id,action,timestamp\n" + "".join(
        f"a{i % 5},t{i // 5},like,{1793527200 + i}\n" for i in range(40)))
    result = CliRunner().invoke(app, ["run", str(log), "--out", str(tmp_path / "out"),
                                      "--max-memory", "0.05"])
    assert result.exit_code == 1, result.output
    assert re.search(r"error: memory use [0-9.]+ GB after step 'projection \((slow pass )?"
                     r"engage, 100% of its pairs\)' exceeds max_memory_gb = 0\.05",
                     result.stderr), result.stderr
    assert not (tmp_path / "out").exists()
