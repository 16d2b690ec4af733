"""Report pages: content, links, offline-ness and escaping of hostile ids."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pipelines.report import parallel_map, report_tasks, run_tasks, script_json, write_report
from pipelines.report_evidence import (
    cohort_actions,
    cohort_rows,
    methodology,
    top_shared_targets,
    within_cohort,
)
from pipelines.report_network import account_stats, cohort_network
from pipelines.report_overview import cohort_overview

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(1)</script>",
    "\"'><svg onload=alert(1)>",
]
FARM = [*HOSTILE, "farm_d"]
FANS = ["fan_a", "fan_b", "fan_c"]
T0 = pd.Timestamp("2024-05-01 12:00:00", tz="UTC")


def tables() -> dict[str, pd.DataFrame]:
    """Two cohorts: 0 = a 4-account farm with hostile ids (flagged), 1 = 3 fans (not)."""
    farm_pairs = [(a, b) for i, a in enumerate(sorted(FARM)) for b in sorted(FARM)[i + 1 :]]
    fan_pairs = [("fan_a", "fan_b"), ("fan_b", "fan_c")]
    targets = ["<b>post</b>&1", "post_2"]
    edges = pd.DataFrame(
        [(a, b, 2, 2.0, 5.0, '["<b>post</b>&1","post_2"]') for a, b in farm_pairs]
        + [(a, b, 1, 0.5, 600.0, '["creator_post"]') for a, b in fan_pairs],
        columns=["account_a", "account_b", "shared_targets", "weight", "median_dt_s", "targets"],
    )
    evidence = pd.DataFrame(
        [(a, b, t, T0, T0 + pd.Timedelta(seconds=5), 5.0) for a, b in farm_pairs for t in targets]
        + [(a, b, "creator_post", T0, T0 + pd.Timedelta(minutes=10), 600.0) for a, b in fan_pairs],
        columns=["account_a", "account_b", "target_id", "time_a", "time_b", "dt_s"],
    )
    memberships = pd.DataFrame(
        [(a, 0) for a in FARM] + [(a, 1) for a in FANS], columns=["account_id", "cohort_id"]
    )
    cohorts = pd.DataFrame(
        {
            "cohort_id": [1, 0],  # deliberately unranked
            "size": [3, 4],
            "n_edges": [2, 6],
            "density": [2 / 3, 1.0],
            "total_weight": [1.0, 12.0],
            "mean_weight": [0.5, 2.0],
            "shared_targets": [1, 2],
            "median_dt_s": [600.0, 5.0],
            "n_authors": pd.array([1, pd.NA], dtype="Int64"),
            "creation_spread_days": [float("nan"), 0.5],
            "score": [0.1, 0.9],
            "flagged": [False, True],
            "explanation": ["fans of one creator", "4 accounts <script>alert(1)</script> in 5 s"],
        }
    )
    return {"cohorts": cohorts, "memberships": memberships, "edges": edges, "evidence": evidence}


ACCOUNTS = pd.DataFrame(
    {"account_id": [*FARM, *FANS], "created_at": pd.to_datetime(
        ["2024-04-01"] * 4 + ["2020-01-01", "2021-01-01", "2022-01-01"], utc=True)}
)
MANIFEST = {
    "parameters": {"window_s": 3600, "seed": 42, "min_lift": 3.0, "max_cohort_p": 1e-6},
    "inputs": [{"path": "data/<evil>.csv", "sha256": "ab" * 32, "rows": 123}],
    "rows": {"rows_read": 130, "rows_accepted": 123, "rows_rejected": 5, "duplicates_collapsed": 2},
    "timings_s": {"ingest": 0.12, "projection": 1.5},
    "versions": {"cohortscan": "0.1.0"},
    "created_at": "2024-05-02T00:00:00Z",
}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp_path = tmp_path_factory.mktemp("report")
    paths = write_report(tmp_path / "out", manifest=MANIFEST, accounts=ACCOUNTS, **tables())
    assert paths == [tmp_path / "out" / "index.html", tmp_path / "out/cohorts/cohort_0.html"]
    figures = sorted(p.name for p in (tmp_path / "out" / "figures").iterdir())
    assert figures == [f"cohort_0_{k}.{x}" for k in ("network", "raster") for x in ("png", "svg")]
    assert not list((tmp_path / "out").rglob("*.tmp")), "temporary files left behind"
    return {p.name: p.read_text(encoding="utf-8") for p in paths}


def test_index_lists_all_cohorts_and_links_only_flagged(report: dict[str, str]) -> None:
    index = report["index.html"]
    assert re.findall(r'href="([^"]+)"', index) == ["data:,", "cohorts/cohort_0.html"]
    assert 'id="overview"' in index and "vis.Network" in index
    rows = re.findall(r"<tr( class=\"flagged\")?>\s*<td", index)
    assert rows.count(' class="flagged"') == 1
    assert index.index("4 accounts") < index.index("fans of one creator")  # flagged first
    for text in ["rows_rejected", "window_s", "3600", "projection", "data/&lt;evil&gt;.csv"]:
        assert text in index
    assert 'id="filter"' in index and "sortBy" in index


def test_cohort_page_is_self_contained(report: dict[str, str]) -> None:
    page = report["cohort_0.html"]
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "vis.Network" in page and len(page) > 400_000
    assert "vis-network" in page  # the bundled library, inlined
    refs = re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]+)""", page, flags=re.IGNORECASE)
    assert not [r for r in refs if re.match(r"(?i)\s*(https?:)?//", r)]
    assert not re.search(r"<(script|link)[^>]*\s(src|href)\s*=\s*[\"']?\s*(https?:)?//", page, re.I)
    assert "Showing 4 of 4 accounts and 6 of 6 edges" in page


def test_hostile_ids_never_appear_unescaped(report: dict[str, str]) -> None:
    for name, html in report.items():
        for bad in [*HOSTILE, "<script>alert(1)</script>", "<svg onload", "<img src=x", "<b>post"]:
            assert bad not in html, (name, bad)
        # only our own two script blocks (vis-network + page script), each closed once
        if name.startswith("cohort"):
            assert html.count("</script>") == 2
            assert "&lt;img src=x onerror=alert(1)&gt;" in html  # shown as text in tables
            assert "\\u003cimg src=x onerror=alert(1)\\u003e" in html  # inside the JSON


def test_script_json_escapes_breakout_characters() -> None:
    text = str(script_json({"id": "</script>&\u2028\u2029<!--"}))
    assert not set("<>&") & set(text)
    assert "\u2028" not in text and "\u2029" not in text
    assert text == '{"id": "\\u003c/script\\u003e\\u0026\\u2028\\u2029\\u003c!--"}'


def test_network_is_capped_deterministic_and_weighted() -> None:
    t = tables()
    farm_edges = t["edges"][t["edges"]["account_a"].isin(FARM)]
    farm_ev = t["evidence"][t["evidence"]["account_a"].isin(FARM)]
    stats = account_stats(FARM, farm_edges, farm_ev)
    assert stats["degree"].tolist() == [3, 3, 3, 3] and stats["targets"].tolist() == [2] * 4
    full = cohort_network(stats, farm_edges, farm_ev)
    again = cohort_network(stats, farm_edges.iloc[::-1], farm_ev)
    assert full.data == again.data
    capped = cohort_network(stats, farm_edges, farm_ev, max_nodes=3, max_edges=2)
    assert (capped.shown_accounts, capped.n_accounts, capped.shown_edges) == (3, 4, 2)
    assert full.data["options"]["physics"]["enabled"] is False
    edge = full.data["edges"][0]
    assert edge["ev"][0] == ["<b>post</b>&1", "2024-05-01 12:00:00Z", "2024-05-01 12:00:05Z", 5.0]
    assert (edge["shared"], edge["weight"], len(edge["ev"])) == (2, 2.0, 2)
    node = full.data["nodes"][0]
    assert {"x", "y", "size", "label", "account"} <= node.keys() and node["degree"] == 3


def test_top_shared_targets_counts_accounts_and_gaps() -> None:
    t = tables()
    table = top_shared_targets(t["evidence"])
    assert table.to_dict("records")[0] == {
        "target_id": "<b>post</b>&1",
        "n_accounts": 4,
        "min_dt_s": 5.0,
        "median_dt_s": 5.0,
    }
    assert table.set_index("target_id").loc["creator_post", "n_accounts"] == 3


def test_no_flagged_cohorts_writes_only_index(tmp_path: Path) -> None:
    t = tables()
    t["cohorts"]["flagged"] = False
    paths = write_report(tmp_path, manifest={}, **t)
    assert paths == [tmp_path / "index.html"]
    assert 'href="cohorts/cohort_' not in paths[0].read_text(encoding="utf-8")


def test_only_the_highest_ranked_flagged_cohorts_get_pages(tmp_path: Path) -> None:
    t = tables()
    t["cohorts"]["flagged"] = True  # two flagged cohorts, cohort 0 ranked first
    paths = write_report(tmp_path, manifest=MANIFEST, figures=False, max_cohorts=1, **t)
    assert paths == [tmp_path / "index.html", tmp_path / "cohorts" / "cohort_0.html"]
    index = paths[0].read_text(encoding="utf-8")
    assert re.findall(r'href="(cohorts/cohort_\d+\.html)"', index) == ["cohorts/cohort_0.html"]
    assert ("Pages, figures and evidence bundles were written for the 1 highest ranked of the "
            "2 flagged cohorts") in index
    overview = json.loads(re.search(r"var overview = (.*?);\n", index).group(1))
    assert {n["cohort_id"]: n["page"] for n in overview["nodes"]} == {0: True, 1: False}
    full = write_report(tmp_path / "all", manifest=MANIFEST, figures=False, **t)
    assert len(full) == 3 and "paged-note" not in full[0].read_text(encoding="utf-8")


def test_cohort_page_has_evidence_panels_and_methodology(report: dict[str, str]) -> None:
    page = report["cohort_0.html"]
    images = re.findall(r'<img src="(data:image/png;base64,[A-Za-z0-9+/=]+)" alt="([^"]+)"', page)
    assert [alt for _, alt in images] == [
        "Lockstep raster", "Account × target heatmap", "Δt against the background",
        "Account creation dates",
    ]
    assert "Data: &lt;evil&gt;.csv. Co-engagement window 3600 s." in page
    assert "at least 3.0× the expected co-engagement with group p ≤ 1e-06" in page
    assert "2024-04-01 00:00:00Z" in page  # creation date in the accounts table
    assert 'id="panel"' in page and 'network.on("click"' in page


def test_cohort_actions_from_interactions_or_evidence() -> None:
    t = tables()
    farm_ev = t["evidence"][t["evidence"]["account_a"].isin(FARM)]
    from_evidence = cohort_actions(FARM, farm_ev)
    # first/last account (sorted) appear on one side only (2 rows), the middle two on both (4)
    assert len(from_evidence) == 2 + 4 + 4 + 2
    interactions = pa.table({
        "account_id": ["farm_d", "farm_d", "fan_a", "farm_d"],
        "target_id": ["post_2", "post_2", "post_2", "elsewhere"],
        "action": ["like"] * 4,
        "timestamp": pa.array([T0, T0 + pd.Timedelta(hours=3), T0, T0], pa.timestamp("us", "UTC")),
    })
    actions = cohort_actions(FARM, farm_ev, interactions)
    assert actions.columns.tolist() == ["account_id", "target_id", "timestamp"]
    assert actions["account_id"].tolist() == ["farm_d", "farm_d"]  # no fan, no other target
    assert actions["timestamp"].tolist() == [T0, T0 + pd.Timedelta(hours=3)]


def test_overview_sums_cross_cohort_weight() -> None:
    t = tables()
    edges = pd.concat([t["edges"], pd.DataFrame(
        [("farm_d", "fan_a", 1, 0.25, 1.0, "[]"), ("fan_b", "farm_d", 1, 0.5, 1.0, "[]")],
        columns=t["edges"].columns)])
    ranked = t["cohorts"].sort_values("cohort_id")
    view = cohort_overview(ranked, t["memberships"], edges)
    assert [(n["cohort_id"], n["members"], n["flagged"]) for n in view["nodes"]] == [
        (0, 4, True), (1, 3, False)]
    links = [(e["from"], e["to"], e["weight"], e["ties"]) for e in view["edges"]]
    assert links == [(0, 1, 0.75, 2)]
    capped = cohort_overview(ranked, t["memberships"], edges, max_cohorts=0)
    assert capped["shown"] == 1 and capped["left_out"]["ranked_lower"] == 1  # flagged stays
    small = cohort_overview(ranked, t["memberships"], edges, min_size=4)
    assert [n["cohort_id"] for n in small["nodes"]] == [0]
    assert small["left_out"] == {"small": 1, "ranked_lower": 0, "min_size": 4, "max_cohorts": 50}


def test_methodology_states_thresholds_and_verdict() -> None:
    row = tables()["cohorts"].iloc[1]
    text = " ".join(methodology(row, {"window_s": 600, "min_authors": 7}))
    assert "within 600 seconds" in text and "≥ 7 authors" in text
    assert "This cohort: flagged. 4 accounts" in text and "density 1" in text


def test_pages_rendered_in_worker_processes_are_identical(tmp_path: Path) -> None:
    t = tables()
    t["cohorts"]["flagged"] = True  # two cohort pages
    out = {}
    for workers in (1, 2):
        paths = write_report(tmp_path / str(workers), manifest=MANIFEST, accounts=ACCOUNTS,
                             workers=workers, **t)
        assert [p.relative_to(tmp_path / str(workers)) for p in paths] == [
            Path("index.html"), Path("cohorts/cohort_0.html"), Path("cohorts/cohort_1.html")]
        out[workers] = {p.relative_to(tmp_path / str(workers)): p.read_bytes()
                        for p in (tmp_path / str(workers)).rglob("*") if p.is_file()}
    assert len(out[1]) == 11 and out[1] == out[2]


def test_parallel_map_keeps_order_and_raises() -> None:
    assert parallel_map(lambda i: Path(str(i * i)), [3, 1, 2], workers=2) == [
        Path("9"), Path("1"), Path("4")]

    def broken(i: int) -> Path:
        raise ValueError(f"cohort {i} failed")

    with pytest.raises(ValueError, match="cohort 1 failed"):
        parallel_map(broken, [1, 2], workers=2)


def test_run_tasks_mixes_writers_in_one_pool(tmp_path: Path) -> None:
    """A run's output pool: the report's tasks next to another writer's, in forked workers,
    give the same files as ``write_report`` alone, results in task order."""
    write_report(tmp_path / "alone", manifest=MANIFEST, **tables())
    other = tmp_path / "mixed" / "other.txt"
    other.parent.mkdir()
    pages = report_tasks(tmp_path / "mixed", manifest=MANIFEST, **tables())
    written = run_tasks([lambda: Path(other.write_text("x") and other), *pages], workers=2)
    assert written[0] == other and written[1] == tmp_path / "mixed" / "index.html"
    assert len(written) == len(pages) + 1
    alone = {p.relative_to(tmp_path / "alone"): p.read_bytes()
             for p in (tmp_path / "alone").rglob("*") if p.is_file()}
    mixed = {p.relative_to(tmp_path / "mixed"): p.read_bytes()
             for p in (tmp_path / "mixed").rglob("*") if p.is_file() and p != other}
    assert mixed == alone


def test_pages_from_rows_split_once_are_identical(tmp_path: Path) -> None:
    t = tables()
    split = cohort_rows([0], memberships=t["memberships"], edges=t["edges"],
                        evidence=t["evidence"])
    for name, given in (("own", None), ("shared", split)):
        run_tasks(report_tasks(tmp_path / name, manifest=MANIFEST, split=given, **t), workers=1)
    pages = {name: {p.relative_to(tmp_path / name): p.read_bytes()
                    for p in (tmp_path / name).rglob("*") if p.is_file()}
             for name in ("own", "shared")}
    assert len(pages["own"]) > 3 and pages["own"] == pages["shared"]


def test_raster_panel_is_the_publication_raster(tmp_path: Path) -> None:
    import base64

    for name, figures in (("fig", True), ("nofig", False)):
        write_report(tmp_path / name, manifest=MANIFEST, figures=figures, **tables())
    found = {name: re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" '
                              r'alt="Lockstep raster"', (tmp_path / name / "cohorts" /
                                                         "cohort_0.html").read_text("utf-8"))
             for name in ("fig", "nofig")}
    published = (tmp_path / "fig" / "figures" / "cohort_0_raster.png").read_bytes()
    assert [base64.b64decode(u) for u in found["fig"]] == [published]  # drawn once
    drawn = base64.b64decode(found["nofig"][0])  # without figures the page draws its own
    assert drawn[:8] == b"\x89PNG\r\n\x1a\n" and drawn != published


def test_parallel_map_raises_when_a_worker_dies() -> None:
    from concurrent.futures.process import BrokenProcessPool

    def killed(i: int) -> Path:
        if i == 2:
            os._exit(1)  # as a kill or the OOM killer would
        return Path(str(i))

    with pytest.raises(BrokenProcessPool):
        parallel_map(killed, [1, 2, 3], workers=2)


def test_pages_tables_of_coded_ids_are_the_text_tables():
    ids = pd.CategoricalDtype(["a", "b", "c", "d", "unused"])
    coded = pd.DataFrame({"account_a": pd.Categorical(["a", "a", "c", "b"], dtype=ids),
                          "account_b": pd.Categorical(["b", "c", "d", "d"], dtype=ids),
                          "dt_s": [1.0, 2.0, 3.0, 4.0]})
    members = pd.DataFrame({"account_id": ["a", "b", "c", "d"], "cohort_id": [7, 7, 8, 8]})
    text = coded.astype({"account_a": "str", "account_b": "str"})
    got, want = within_cohort(coded, members), within_cohort(text, members)
    assert list(got) == list(want) == [7, 8]
    for cid in got:
        pd.testing.assert_frame_equal(got[cid], want[cid])


@pytest.mark.parametrize("block", [1, 4, 1 << 22])
def test_the_fast_gap_background_counted_in_blocks_is_the_whole_count(monkeypatch, block):
    import pipelines.report as report_module
    from pipelines.figures import dt_histogram

    monkeypatch.setattr(report_module, "DT_BLOCK", block)
    rng = np.random.default_rng(block)
    gaps = np.concatenate([rng.uniform(0, 3600, 30), [0.0, 3600.0, 1800.0]])
    layer = pd.Categorical(rng.choice(["engage", "slow", "text"], len(gaps)))
    evidence = pd.DataFrame({"dt_s": gaps, "layer": layer})
    found = report_module.fast_dt_histogram(evidence, 3600)
    whole = dt_histogram(gaps[layer != "slow"], 3600)
    assert found.n == whole.n and found.counts.tolist() == whole.counts.tolist()
    assert np.array_equal(found.edges, whole.edges)
    without = report_module.fast_dt_histogram(evidence[["dt_s"]], 3600)  # one layer: all
    assert without.counts.tolist() == dt_histogram(gaps, 3600).counts.tolist()
