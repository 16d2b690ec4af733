"""End-to-end: the batch chain on the tiny world and on the generator."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from graphs.evaluation import detection_scores
from graphs.synthetic import synthetic_logs
from pipelines.config import load_config
from pipelines.ingest import InputError
from pipelines.run import run
from pipelines.synthetic_io import write_synthetic
from tests.conftest import FANS, FARM


def _run(log, posts, out, **options):
    return run(load_config(None, inputs=[str(log)], out=out, posts=posts, **options))


def test_tiny_world_flags_exactly_the_farm(world_files, tmp_path):
    log, posts = world_files
    result = _run(log, posts, tmp_path / "out")
    flagged = pd.read_csv(tmp_path / "out" / "flagged_accounts.csv")
    assert sorted(flagged["account_id"]) == FARM
    cohorts = pd.read_csv(tmp_path / "out" / "cohorts.csv")
    fans = cohorts[cohorts["size"] == len(FANS)].query("not flagged")
    assert "one author's posts" in fans["explanation"].iloc[0]
    assert cohorts.loc[0, "explanation"].startswith("6 accounts co-liked 6 posts of 6 authors")
    assert result.manifest["rows"]["rows_read"] == 6 * 6 * 2 + 40 * 5


def test_outputs_follow_the_contract(world_files, tmp_path):
    log, posts = world_files
    _run(log, posts, tmp_path / "out")
    out = tmp_path / "out"
    for name in ("flagged_accounts.csv", "cohorts.csv", "edges.parquet", "graph.gexf",
                 "manifest.json", "index.html"):
        assert (out / name).is_file(), name
    assert list(pd.read_csv(out / "flagged_accounts.csv").columns) == [
        "account_id", "cohort_id", "cohort_score"]
    edges = pd.read_parquet(out / "edges.parquet")
    assert {"shared_targets", "weight", "targets", "p_value", "q_value"} <= set(edges.columns)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["inputs"][0]["sha256"] and manifest["seed"] == 0
    assert set(manifest["timings_s"]) >= {"ingest", "projection", "clustering", "scoring"}
    projection = manifest["projection"]  # what Leiden got: every kept edge, by default
    assert projection["clustered_because"] == "all kept edges"
    assert projection["edges_clustered"] == projection["edges_kept"] == len(edges)
    tied = set(edges["account_a"]) | set(edges["account_b"])
    assert projection["accounts_clustered"] == len(tied)
    assert projection["leiden_resolution"] == 1.0  # a small graph: the plain resolution
    # the memory guard's count of the pairs the window could make: at least those made
    assert projection["pairs_bound"] >= projection["action_pairs_enumerated"] > 0
    assert not list(tmp_path.glob(".out.partial-*"))


def test_the_manifest_records_a_resolution_grown_with_the_graph(world_files, tmp_path):
    log, posts = world_files
    small = _run(log, posts, tmp_path / "plain").manifest["projection"]
    edges = pd.read_parquet(tmp_path / "plain" / "edges.parquet")
    reference = float(edges["weight"].sum()) / 4  # the world's kept edges are all clustered
    grown = _run(log, posts, tmp_path / "grown", resolution_reference_weight=reference)
    assert small["leiden_resolution"] == 1.0
    assert grown.manifest["projection"]["leiden_resolution"] == pytest.approx(4.0)
    assert grown.manifest["parameters"]["resolution_reference_weight"] == reference


def test_bad_row_is_quarantined_and_run_succeeds(world_files, tmp_path):
    log, posts = world_files
    with open(log, "a") as fh:
        fh.write("f0,t0,like,not-a-time\n,t0,like,2026-11-01T00:00:00Z\n")
    result = _run(log, posts, tmp_path / "out")
    rejected = pd.read_csv(tmp_path / "out" / "rejected.csv")
    assert rejected["line"].tolist() == [6 * 6 * 2 + 40 * 5 + 2, 6 * 6 * 2 + 40 * 5 + 3]
    assert rejected["reason"].str.startswith("unparseable timestamp").iloc[0]
    assert rejected["reason"].iloc[1] == "missing account_id"
    rows = result.manifest["rows"]
    assert rows["rows_read"] == rows["rows_accepted"] + rows["rows_rejected"]
    assert rows["rows_rejected"] == 2


def test_side_table_rows_are_accounted_and_their_rejects_quarantined(world_files, tmp_path):
    log, posts = world_files
    with open(posts, "a") as fh:
        fh.write(",nobody\n")
    n_posts = sum(1 for _ in open(posts)) - 1
    result = _run(log, posts, tmp_path / "out")
    side = result.manifest["rows"]["side_tables"]
    assert side == {"posts": {"rows_read": n_posts, "rows_accepted": n_posts - 1,
                              "rows_rejected": 1}}
    rejected = pd.read_csv(tmp_path / "out" / "rejected.csv")
    assert rejected[["line", "reason"]].values.tolist() == [[n_posts + 1, "missing target_id"]]
    assert len(rejected) == result.manifest["rows"]["rows_rejected"] + 1


def test_too_many_rejects_is_an_error(world_files, tmp_path):
    log, posts = world_files
    with pytest.raises(InputError, match="rows rejected"):
        _run(log, posts, tmp_path / "out", max_rejected_share=0.0, window="1h",
             columns={"timestamp": "account_id"})


def test_same_seed_gives_byte_identical_cohorts(world_files, tmp_path):
    log, posts = world_files
    _run(log, posts, tmp_path / "a", seed=3)
    _run(log, posts, tmp_path / "b", seed=3)
    for name in ("cohorts.csv", "flagged_accounts.csv", "memberships.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_rerun_replaces_previous_outputs(world_files, tmp_path):
    log, posts = world_files
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    _run(log, posts, out)
    assert not (out / "stale.txt").exists() and (out / "index.html").exists()


def test_failed_run_leaves_previous_outputs(world_files, tmp_path):
    log, posts = world_files
    out = tmp_path / "out"
    _run(log, posts, out)
    before = (out / "cohorts.csv").read_bytes()
    with pytest.raises(InputError):
        _run(tmp_path / "missing.csv", posts, out)
    assert (out / "cohorts.csv").read_bytes() == before


@pytest.mark.slow
def test_generator_default_reaches_f1(tmp_path):
    logs = synthetic_logs(seed=0)
    write_synthetic(logs, tmp_path / "data")
    data = tmp_path / "data"
    run(load_config(None, inputs=[str(data / "interactions.csv.gz")], out=tmp_path / "out",
                    posts=data / "posts.csv", accounts=data / "accounts.csv"))
    flagged = pd.read_csv(tmp_path / "out" / "flagged_accounts.csv", dtype={"account_id": str})
    members = pd.read_csv(tmp_path / "out" / "memberships.csv", dtype={"account_id": str})
    scores = detection_scores(flagged, members, logs.labels)
    assert scores["f1"] >= 0.9
    assert scores["fans_flagged"] <= 0.05


def test_log_without_any_co_engagement_writes_empty_results(tmp_path):
    log = tmp_path / "two.csv"
    log.write_text("account_id,target_id,action,timestamp\n"
                   "u1,p1,like,2026-11-01T00:00:00Z\nu2,p2,like,2026-11-01T00:00:00Z\n")
    result = run(load_config(None, inputs=[str(log)], out=tmp_path / "out"))
    assert result.manifest["cohorts"]["n_cohorts"] == 0
    assert pd.read_csv(tmp_path / "out" / "flagged_accounts.csv").empty
    assert (tmp_path / "out" / "index.html").exists()


def test_duckdb_works_within_max_memory_and_spills_outside_the_working_directory(
        world_files, tmp_path, monkeypatch):
    import pipelines.ingest as ingest_module
    from pipelines.duckdb_limits import duckdb_config

    seen = []
    real = ingest_module.connect

    def spy():
        seen.append(duckdb_config())
        return real()

    monkeypatch.setattr(ingest_module, "connect", spy)  # the log's reading and typing
    monkeypatch.chdir(tmp_path)
    log, posts = world_files
    _run(log, posts, tmp_path / "out", max_memory_gb=3)
    assert seen[0]["memory_limit"] == "1536MiB"  # DUCKDB_SHARE: its results come back beside it
    spill = seen[0]["temp_directory"]
    assert "cohortscan-spill-" in spill and not spill.startswith(str(tmp_path))
    assert not os.path.exists(spill)  # removed when the run ends


def test_interactions_wait_on_disk_and_the_report_reads_its_members_rows(
        world_files, tmp_path, monkeypatch):
    import pipelines.run as run_module

    seen = []
    real = run_module.rows_of_accounts

    def spy(path, accounts):
        got = real(path, accounts)
        seen.append((path, set(accounts), got))
        return got

    monkeypatch.setattr(run_module, "rows_of_accounts", spy)
    log, posts = world_files
    _run(log, posts, tmp_path / "out")
    [(path, accounts, rows)] = seen
    assert path.name == "interactions.arrow" and "cohortscan-spill-" in str(path)
    assert not path.exists()  # the spill directory goes with the run
    assert accounts == set(FARM)  # the one flagged cohort's members, nobody else
    assert set(rows["account_id"].to_pylist()) == set(FARM)
    logged = pd.read_csv(log)
    assert rows.num_rows == logged["account_id"].isin(FARM).sum()
