"""The slow pass end to end: a farm delivering each order over a day, hours between likes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.config import load_config
from pipelines.ingest import InputError
from pipelines.run import run
from pipelines.set_aside import Aside
from tests.worlds import write_world

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
FARM = [f"farm{i:02d}" for i in range(24)]


def evasive_world(tmp_path: Path) -> tuple[Path, Path]:
    """24 farm accounts deliver 10 orders (10 random accounts each, 3 h apart: no two likes
    of an order within an hour) for 10 customers; 300 organic accounts like 5 posts each,
    picked by popularity, at random times over a week."""
    rng = np.random.default_rng(7)
    rows = []
    for k in range(10):
        start = T0 + dt.timedelta(hours=float(rng.uniform(0, 120)))
        for n, acc in enumerate(rng.choice(FARM, size=10, replace=False)):
            rows.append((acc, f"order{k}", "like", start + dt.timedelta(hours=3 * n)))
    popularity = 1.0 / np.arange(1, 61)
    for i in range(300):
        for post in rng.choice(60, size=5, replace=False, p=popularity / popularity.sum()):
            rows.append((f"user{i}", f"post{post}", "like",
                         T0 + dt.timedelta(hours=float(rng.uniform(0, 168)))))
    posts = [(f"order{k}", f"customer{k}") for k in range(10)]
    posts += [(f"post{k}", f"creator{k % 30}") for k in range(60)]
    return write_world(rows, posts, tmp_path)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[Path, Path, Path]:
    tmp = tmp_path_factory.mktemp("evasive")
    return (*evasive_world(tmp), tmp)


def _run(world, name: str, **options):
    log, posts, tmp = world
    return run(load_config(None, inputs=[str(log)], posts=posts, out=tmp / name, **options))


def test_the_slow_pass_finds_the_farm_the_hour_window_cannot_see(world):
    result = _run(world, "default")
    flagged = pd.read_csv(result.out / "flagged_accounts.csv")
    cohorts = pd.read_csv(result.out / "cohorts.csv")
    assert set(flagged["account_id"]) <= set(FARM)
    assert len(flagged) >= 20
    slow = cohorts[cohorts["flagged"]]
    assert slow["pass"].tolist() == ["slow"]
    assert "slow pass: engagements up to 7 d apart" in slow["explanation"].iloc[0]
    edges = pd.read_parquet(result.out / "edges.parquet")
    tied = edges[edges["account_a"].isin(flagged["account_id"])
                 & edges["account_b"].isin(flagged["account_id"])]
    assert len(tied) > 0 and tied["layers"].eq('["slow"]').all()
    evidence = pd.read_parquet(result.out / "edge_evidence.parquet")
    inside = evidence["account_a"].isin(flagged["account_id"])
    assert set(evidence.loc[inside, "layer"]) == {"slow"}
    assert set(evidence.loc[~inside, "layer"]) == {"engage"}  # organic ties of the 1 h pass
    stats = result.manifest["projection"]["slow_pass"]
    assert stats["enabled"] and stats["cohorts_flagged"] == 1
    assert stats["accounts_flagged"] == len(flagged)
    assert stats["window_s"] == 7 * 86400 and stats["max_crowd"] == 100
    assert 0 < stats["edges_clustered"] <= stats["edges_kept"]
    assert stats["accounts_clustered"] >= len(flagged)
    assert stats["leiden_resolution"] == 1.0


def test_each_pass_waits_on_disk_while_the_other_is_clustered_and_scored(world, monkeypatch):
    import pipelines.run as run_module
    import pipelines.set_aside as set_aside_module
    import pipelines.slow_pass as slow_module
    from pipelines.mapped_columns import FileColumns, mapped_column

    paths, seen = [], []

    class Recorded(Aside):
        def __init__(self, obj, path):
            super().__init__(obj, path)
            paths.append(path)

    mapped = []  # (column, directory) of each column read from a file as a memory map

    def mapping(column, directory):
        mapped.append((column.name, directory))
        return mapped_column(column, directory)

    class Files(FileColumns):  # the projections'
        def column(self, name, dtype):
            mapped.append((name, self.directory))
            return super().column(name, dtype)

        def array(self, name, n, dtype):
            mapped.append((name, self.directory))
            return super().array(name, n, dtype)

    def noted(step, fn):
        def call(*args, **kwargs):
            seen.append((step, {p.name for p in paths if p.exists()},
                         tuple(n for n, _ in mapped)))
            return fn(*args, **kwargs)
        return call

    monkeypatch.setattr(set_aside_module, "mapped_column", mapping)  # mapped_aside's
    monkeypatch.setattr(slow_module, "mapped_column", mapping)  # the splice's
    monkeypatch.setattr(run_module, "FileColumns", Files)
    monkeypatch.setattr(run_module, "Aside", Recorded)
    monkeypatch.setattr(set_aside_module, "Aside", Recorded)  # frames_aside's
    monkeypatch.setattr(run_module, "leiden_clusters",
                        noted("fast clustering", run_module.leiden_clusters))
    monkeypatch.setattr(slow_module, "leiden_clusters",
                        noted("slow clustering", slow_module.leiden_clusters))
    monkeypatch.setattr(slow_module, "scored_cohorts",
                        noted("scoring", slow_module.scored_cohorts))
    result = _run(world, "aside")
    assert [p.name for p in paths] == ["slow_pass.pickle", "fast_pass.pickle"]
    # every column written into a file by the projections as they make it (the slow pass's
    # evidence and edges, then the 1 h pass's, with its targets' offsets and bytes), and the
    # 1 h pass's new columns once fused: the edges' (weight is the layer's times its weight)
    # and the evidence's layer (the codes of this small world's ids are pandas' int16 copies
    # of the int32 ones the projection wrote, so they are written again)
    projected = (*(f"evidence.{c}" for c in ("account_a", "account_b", "target_id", "time_a",
                                             "time_b", "action_a", "action_b", "dt_s")),
                 *(f"edges.{c}" for c in ("account_a", "account_b", "shared_targets",
                                          "weight", "median_dt_s", "expected_ties",
                                          "p_value", "q_value")))
    made = (*projected, *projected, "edges.targets.offsets", "edges.targets.data",
            "account_a", "account_b", "weight", "layers", "weight:engage", "account_a",
            "account_b", "target_id", "action_a", "action_b", "layer")
    assert seen == [("fast clustering", {"slow_pass.pickle"}, made),
                    ("scoring", {"slow_pass.pickle"}, made),  # 1 h pass
                    ("slow clustering", {"fast_pass.pickle"}, made),
                    ("scoring", {"fast_pass.pickle"}, made)]  # slow pass
    assert not any(p.exists() for p in paths)
    # spliced: again, every column of the evidence, then of the edges, and q_value once
    # more as recomputed over every edge
    assert [n for n, _ in mapped] == [
        *made, "account_a", "account_b", "target_id", "time_a", "time_b", "action_a",
        "action_b", "dt_s", "layer", "account_a", "account_b", "shared_targets", "weight",
        "median_dt_s", "targets", "expected_ties", "p_value", "q_value", "layers",
        "ties:engage", "ties:slow", "weight:engage", "weight:slow", "q_value"]
    flagged = pd.read_csv(result.out / "flagged_accounts.csv")
    assert set(flagged["account_id"]) <= set(FARM) and len(flagged) >= 20
    edges = pd.read_parquet(result.out / "edges.parquet")  # the targets back in their place
    assert list(edges.columns[4:6]) == ["median_dt_s", "targets"]
    assert edges["targets"].str.startswith('["').all()
    evidence = pd.read_parquet(result.out / "edge_evidence.parquet")  # and the times
    assert list(evidence.columns[2:5]) == ["target_id", "time_a", "time_b"]
    assert (evidence["time_b"] - evidence["time_a"]).dt.total_seconds().abs().eq(
        evidence["dt_s"]).all()


def test_the_slow_pass_is_dropped_once_scored(world, monkeypatch):
    import gc
    import weakref

    import pipelines.run as run_module
    import pipelines.slow_pass as slow_module

    slow_evidence, alive = [], []

    def kept(slow, memberships):
        slow_evidence.append(weakref.ref(slow.projection.evidence))
        return slow_module.slow_kept(slow, memberships)

    def is_alive(when):
        gc.collect()
        if slow_evidence:
            alive.append((when, slow_evidence[0]() is not None))

    def score(*args, **kwargs):
        is_alive("scoring")
        return real_score(*args, **kwargs)

    def noted(real):
        def aside(frames, name, path):
            put_back = real(frames, name, path)

            def back():
                is_alive(name)
                put_back()
            return back
        return aside

    def two_passes(clusters, cluster_slow, *, score_fast, score_slow, slow_note):
        """As two_pass_cohorts, and the 1 h pass's cohorts always scored again after the
        slow pass's (this world's slow cohort is in no 1 h cluster)."""
        out = real_two(clusters, cluster_slow, score_fast=score_fast, score_slow=score_slow,
                       slow_note=slow_note)
        score_fast(clusters)
        return out

    real_score, real_two = slow_module.scored_cohorts, slow_module.two_pass_cohorts
    monkeypatch.setattr(run_module, "slow_kept", kept)
    monkeypatch.setattr(slow_module, "scored_cohorts", score)
    monkeypatch.setattr(slow_module, "two_pass_cohorts", two_passes)
    monkeypatch.setattr(run_module, "mapped_aside", noted(run_module.mapped_aside))
    result = _run(world, "dropped")
    # the 1 h pass's cohorts scored again without it, then its columns back
    assert alive == [("scoring", False), ("time_b", False), ("time_a", False)]
    evidence = pd.read_parquet(result.out / "edge_evidence.parquet")
    assert evidence["layer"].eq("slow").sum() > 0  # its cohort's ties still spliced in


def test_the_1h_pass_codes_come_back_unchanged_to_score_its_cohorts_again(world, monkeypatch):
    import pipelines.slow_pass as slow_module

    codes, real_score, real_two = [], slow_module.scored_cohorts, slow_module.two_pass_cohorts

    def score(*args, **kwargs):
        codes.append(kwargs["codes"])
        return real_score(*args, **kwargs)

    def two_passes(clusters, cluster_slow, *, score_fast, score_slow, slow_note):
        first = score_fast(clusters)
        cluster_slow(set())  # sets the codes aside
        again = score_fast(clusters)  # takes them back
        pd.testing.assert_frame_equal(again.cohorts, first.cohorts)
        return real_two(clusters, None, score_fast=lambda c: first, score_slow=score_slow)

    monkeypatch.setattr(slow_module, "scored_cohorts", score)
    monkeypatch.setattr(slow_module, "two_pass_cohorts", two_passes)
    _run(world, "codes back")
    before, after = codes
    assert before is not after
    assert after.edges is before.edges and after.evidence is before.evidence
    for field in ("edge_a", "edge_b", "evidence_a", "evidence_b", "target", "action_a",
                  "ties"):
        np.testing.assert_array_equal(getattr(after, field), getattr(before, field))
    assert after.accounts.equals(before.accounts) and after.targets.equals(before.targets)
    pd.testing.assert_frame_equal(after.activity, before.activity)
    pd.testing.assert_frame_equal(after.authors, before.authors)
    assert after.background_dt_s == before.background_dt_s


def test_the_slow_cohort_page_states_the_slow_window(world):
    result = _run(world, "page")
    page = (result.out / "cohorts").glob("*.html")
    html = [p.read_text(encoding="utf-8") for p in page if "Slow pass:" in p.read_text(
        encoding="utf-8")]
    assert len(html) == 1
    assert "Co-engagement window 604800 s" in html[0]
    assert "within 604800 seconds of each other" in html[0]
    assert "need a lift of at least 4.5 and a second sign of a farm" in html[0]
    assert "Co-engagement window 3600 s" not in html[0]


def test_without_the_slow_pass_nothing_is_flagged(world):
    result = _run(world, "off", slow_window="off")
    assert result.manifest["cohorts"]["n_flagged"] == 0
    assert result.manifest["projection"]["slow_pass"] == {"enabled": False,
                                                          "reason": "slow_window = off"}
    manifest = json.loads((result.out / "manifest.json").read_text())
    assert manifest["parameters"]["slow_window_s"] == 0


def test_without_posts_or_farm_signs_the_slow_pass_does_not_run(world):
    log, _, tmp = world  # every engagement is a like: bundles tell nothing, no accounts table
    result = run(load_config(None, inputs=[str(log)], out=tmp / "no-posts"))
    assert result.manifest["cohorts"]["n_flagged"] == 0
    reason = result.manifest["projection"]["slow_pass"]["reason"]
    assert reason.startswith("no posts table, no accounts table with min_creation_burst, and "
                             "bundles tell nothing (two engagements are the same action with "
                             "chance 1.00 >= min_same_action_share)")


def _accounts(tmp: Path, name: str, farm_days: list[float]) -> Path:
    """Accounts table: organic accounts created one per 5 days; the farm on ``farm_days``."""
    users = [(f"user{i}", T0 - dt.timedelta(days=5.0 * i + 30)) for i in range(300)]
    farm = [(acc, T0 - dt.timedelta(days=d)) for acc, d in zip(FARM, farm_days, strict=True)]
    path = tmp / f"{name}.csv"
    pd.DataFrame(users + farm, columns=["account_id", "created_at"]).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("farm_days", "flagged"), [
    ([40 + 0.1 * i for i in range(len(FARM))], True),   # made in one batch: a sign-up burst
    ([100.0 * i + 7 for i in range(len(FARM))], False),  # created years apart: could be fans
])
def test_without_posts_a_sign_up_burst_stands_in_for_the_authors(world, farm_days, flagged):
    log, _, tmp = world
    accounts = _accounts(tmp, f"accounts-{flagged}", farm_days)
    result = run(load_config(None, inputs=[str(log)], accounts=accounts,  # bundles off: all
                             out=tmp / f"no-posts-{flagged}", min_same_action_share=0.0))  # likes
    assert result.manifest["projection"]["slow_pass"]["enabled"]
    cohorts = pd.read_csv(result.out / "cohorts.csv")
    farm = cohorts[cohorts["pass"].eq("slow")]  # the slow pass keeps its flagged cohorts
    assert len(farm) == int(flagged) and result.manifest["cohorts"]["n_flagged"] == len(farm)
    if flagged:
        assert farm["creation_burst_share"].iat[0] == 1.0
        assert set(pd.read_csv(result.out / "flagged_accounts.csv")["account_id"]) <= set(FARM)
        page = (result.out / "cohorts" / f"cohort_{farm['cohort_id'].iat[0]}.html").read_text()
        assert "the sign-up burst counted for the flag" in page
        assert "the cohort also shows a sign-up burst (≥ 0.25 of its members created" in page


def test_slow_window_is_parsed_and_checked():
    assert load_config(None, inputs=["x"], out="o", slow_window="2d").slow_window_s == 172800
    with pytest.raises(InputError, match="window: expected a duration like 90s"):
        load_config(None, inputs=["x"], out="o", slow_window="soon")


def test_same_action_chance_is_per_target():
    from graphs.multiplex import Layer
    from pipelines.slow_pass import same_action_chance

    rows = pd.DataFrame({"target_id": ["t1", "t1", "t1", "t2"],
                         "action": ["like", "like", "comment", "share"]})
    assert same_action_chance(Layer(rows, 3600)) == (2**2 + 1 + 1) / (3**2 + 1)
    one_action_per_target = rows.assign(action=["like", "like", "like", "share"])
    assert same_action_chance(Layer(one_action_per_target, 3600)) == 1.0


def test_slow_cohorts_need_slow_min_size_accounts(world):
    result = _run(world, "min-size", slow_min_size=len(FARM) + 1)
    assert result.manifest["cohorts"]["n_flagged"] == 0
    assert result.manifest["projection"]["slow_pass"]["min_size"] == len(FARM) + 1


def test_edge_targets_are_spelled_again_from_their_evidence():
    from graphs.edge_targets import targets_json
    from graphs.multiplex import Layer, layer_projections
    from graphs.pass_codes import pass_codes

    rng = np.random.default_rng(3)
    t0 = pd.Timestamp("2026-11-01", tz="UTC")
    likes = pd.DataFrame({"account_id": [f"u{i}" for i in rng.integers(0, 40, 900)],
                          "target_id": [f"p{i}é" if i % 2 else f"P{i}" for i in
                                        rng.integers(0, 25, 900)], "action": "like",
                          "timestamp": [t0 + pd.Timedelta(minutes=int(m))
                                        for m in rng.integers(0, 600, 900)]})
    found = layer_projections({"engage": Layer(likes, 86400)})["engage"]
    assert len(found.edges) > 50
    codes = pass_codes(found.edges, found.evidence, found.activity)  # as the slow pass does
    assert list(targets_json(codes.targets, codes.target,
                             found.edges["shared_targets"].to_numpy())) == (
        found.edges["targets"].tolist())
