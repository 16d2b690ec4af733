"""Nightly runs over a synthetic week: lineage, byte-identical reruns, crashes, the lock, CLI."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from graphs.lineage import LINEAGE_COLUMNS
from graphs.synthetic_days import synthetic_week
from pipelines import history
from pipelines.cli import app
from pipelines.ingest import InputError
from pipelines.nightly import load_nightly, nightly

DETERMINISTIC = ("cohorts.csv", "memberships.csv", "flagged_accounts.csv", "lineage.csv")
DAYS = [dt.date(2026, 11, d) for d in range(1, 8)]


def _write_week(root):
    week = synthetic_week(seed=0)
    for day, part in week.partitions.items():
        folder = root / "logs" / f"date={day}"
        folder.mkdir(parents=True)
        part.assign(timestamp=part["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(
            folder / "part-0.csv", index=False)
    week.posts.to_csv(root / "posts.csv", index=False)
    return week


def _config(root, **extra):
    return load_nightly(None, input=str(root / "logs" / "date={date}" / "*.csv"),
                        store=root / "history.duckdb", reports=root / "reports",
                        posts=root / "posts.csv", **extra)


@pytest.fixture(scope="module")
def week_run(tmp_path_factory):
    """The whole week run night after night (lookback 1 day); returns (root, week, results)."""
    root = tmp_path_factory.mktemp("nightly")
    week = _write_week(root)
    cfg = _config(root)
    return root, week, {day: nightly(cfg, day) for day in DAYS}


def _group_rows(result, members: set[str]) -> pd.DataFrame:
    """Lineage rows of the cohorts mostly made of ``members`` (or that were, if dissolved)."""
    today = pd.read_csv(result.out / "memberships.csv")
    share = today.assign(hit=today["account_id"].isin(members)).groupby("cohort_id")["hit"].mean()
    mine = set(share[share > 0.5].index)
    lineage = result.lineage
    return lineage[lineage["run_cohort_id"].isin(mine)]


def test_lineage_tells_the_week(week_run):
    _, week, results = week_run
    farm = set(week.labels.query("label == 'farm'")["account_id"])
    fans = set(week.labels.query("label == 'fan'")["account_id"])
    farm_status = []
    for day in DAYS:
        rows = _group_rows(results[day], farm)
        farm_status.append(rows["status"].tolist())
    assert farm_status == [[], ["new"], ["persisting"], ["grown"], ["persisting"], [], []]
    farm_ids = {int(_group_rows(results[d], farm)["cohort_id"].iloc[0]) for d in DAYS[1:5]}
    assert len(farm_ids) == 1
    (farm_id,) = farm_ids
    gone = results[DAYS[5]].lineage.query("status == 'dissolved'")
    assert farm_id in set(gone["cohort_id"])
    assert farm_id not in set(results[DAYS[6]].lineage["cohort_id"])
    fandom = [_group_rows(results[d], fans) for d in DAYS]
    assert [r["status"].tolist() for r in fandom] == [["new"]] + [["persisting"]] * 6
    assert len({int(r["cohort_id"].iloc[0]) for r in fandom}) == 1


def test_lineage_csv_and_history_agree(week_run):
    root, _, results = week_run
    day = DAYS[3]
    on_disk = pd.read_csv(results[day].out / "lineage.csv")
    assert list(on_disk.columns) == LINEAGE_COLUMNS
    con = history.connect(root / "history.duckdb", read_only=True)
    stored = con.sql("SELECT cohort_id, status FROM lineage WHERE run_date = ? "
                     "ORDER BY cohort_id", params=[day]).df()
    runs = con.sql("SELECT status FROM runs ORDER BY run_id").df()
    con.close()
    assert stored.values.tolist() == on_disk.sort_values("cohort_id")[
        ["cohort_id", "status"]].values.tolist()
    assert runs["status"].tolist()[:7] == ["ok"] * 7
    manifest = json.loads((results[day].out / "manifest.json").read_text())
    assert manifest["nightly"]["previous_run"] == "2026-11-03"
    assert "recomputed" in manifest["nightly"]
    index = (results[day].out / "index.html").read_text()
    assert "What changed since the last run" in index and 'href="../2026-11-03/index.html"' in index


def _history_rows(store, day):
    con = history.connect(store, read_only=True)
    rows = {t: con.sql(f"SELECT * EXCLUDE (run_date) FROM {t} WHERE run_date = ? ORDER BY ALL",
                       params=[day]).df() for t in ("cohorts", "memberships", "lineage")}
    con.close()
    return rows


def test_rerun_of_a_day_is_byte_identical(week_run):
    root, _, results = week_run
    day = DAYS[3]
    before = {name: (results[day].out / name).read_bytes() for name in DETERMINISTIC}
    rows_before = _history_rows(root / "history.duckdb", day)
    fresh = nightly(_config(root), day)  # the cache moved on with the window: read again
    cached = nightly(_config(root), day)  # the same partition now comes from the cache
    for again in (fresh, cached):
        for name in DETERMINISTIC:
            assert (again.out / name).read_bytes() == before[name], name
        rows_after = _history_rows(root / "history.duckdb", day)
        for table, frame in rows_before.items():
            pd.testing.assert_frame_equal(rows_after[table], frame, obj=table)
    assert fresh.manifest["nightly"]["reused"] == []
    reused = cached.manifest["nightly"]["reused"]
    assert [r["path"].endswith("date=2026-11-04/part-0.csv") for r in reused] == [True]


@pytest.fixture()
def copied(week_run, tmp_path):
    root, _, _ = week_run
    for name in ("logs", "reports"):
        shutil.copytree(root / name, tmp_path / name)
    shutil.copy(root / "posts.csv", tmp_path / "posts.csv")
    shutil.copy(root / "history.duckdb", tmp_path / "history.duckdb")
    return tmp_path


@pytest.mark.parametrize("target", ["pipelines.run.leiden_clusters",
                                    "pipelines.nightly.write_nightly_index"])
def test_crash_leaves_store_consistent_and_records_failure(copied, monkeypatch, target):
    day = DAYS[4]
    out = copied / "reports" / day.isoformat()
    files_before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    rows_before = _history_rows(copied / "history.duckdb", day)

    def boom(*args, **kwargs):
        raise RuntimeError("injected crash")

    monkeypatch.setattr(target, boom)
    with pytest.raises(RuntimeError, match="injected crash"):
        nightly(_config(copied), day)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == files_before
    assert not list(out.parent.glob(".2026-11-05.partial-*"))
    for table, frame in _history_rows(copied / "history.duckdb", day).items():
        pd.testing.assert_frame_equal(frame, rows_before[table], obj=table)
    con = history.connect(copied / "history.duckdb", read_only=True)
    last = con.sql("SELECT status, error FROM runs ORDER BY run_id DESC LIMIT 1").fetchall()
    con.close()
    assert last == [("failed", "RuntimeError: injected crash")]


def test_held_lock_stops_a_second_run(copied):
    with history.store_lock(copied / "history.duckdb"):
        with pytest.raises(history.StoreLocked, match="locked by another run"):
            nightly(_config(copied), DAYS[5])


def test_cli_partial_run_names_missing_partitions(copied):
    shutil.rmtree(copied / "logs" / "date=2026-11-06")
    args = ["nightly", "--input", str(copied / "logs" / "date={date}" / "*.csv"),
            "--lookback-days", "2", "--store", str(copied / "history.duckdb"),
            "--reports", str(copied / "reports"), "--posts", str(copied / "posts.csv"),
            "--date", "2026-11-07", "--json-logs"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["status"] == "partial" and summary["missing_partitions"] == ["2026-11-06"]
    dry = CliRunner().invoke(app, [*args[:-1], "--dry-run"])
    assert dry.exit_code == 3 and "2026-11-06: MISSING" in dry.stdout
    listed = CliRunner().invoke(app, ["runs", "list", "--store", str(copied / "history.duckdb"),
                                      "--json"])
    assert listed.exit_code == 0
    assert json.loads(listed.stdout.splitlines()[0])["status"] == "partial"


def test_cli_errors_exit_1(tmp_path):
    result = CliRunner().invoke(app, ["nightly", "--input", str(tmp_path / "none-{date}.csv"),
                                      "--store", str(tmp_path / "h.duckdb"),
                                      "--date", "2026-11-04"])
    assert result.exit_code == 1 and "no partition found" in result.stderr
    bad = CliRunner().invoke(app, ["nightly", "--input", "x-{date}.csv", "--set", "min_sise=3"])
    assert bad.exit_code == 1 and "min_size" in bad.stderr
    brackets = CliRunner().invoke(app, ["nightly", "--input", "x-{date}.csv", "--set", "[b]"])
    assert brackets.exit_code == 1
    assert "expected KEY=VALUE, got '[b]'" in brackets.stderr  # shown as text, not markup
    missing = CliRunner().invoke(app, ["runs", "list", "--store", str(tmp_path / "no.duckdb")])
    assert missing.exit_code == 1 and "no such file" in missing.stderr


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(InputError, match="'input' is required"):
        load_nightly(None)
    with pytest.raises(InputError, match="must contain \\{date\\}"):
        nightly(load_nightly(None, input="logs/*.csv", store=tmp_path / "h"), DAYS[0])
    with pytest.raises(InputError, match="'out' is set per date"):
        load_nightly(None, input="x{date}", out="y")
    toml = tmp_path / "n.toml"
    toml.write_text('input = "x/{date}.csv"\nlookback_days = "seven"\n')
    with pytest.raises(InputError, match="'lookback_days' must be a number"):
        load_nightly(toml)
