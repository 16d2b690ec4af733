"""GEXF / GraphML exports of flagged cohorts round-trip through networkx."""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from pipelines.exports import (
    accounts_table,
    flagged_evidence,
    flagged_evidence_rows,
    original_id,
    table_tasks,
    write_gexf,
    write_graphml,
    write_graphs,
    write_tables,
    xml_safe_id,
)
from pipelines.outputs import write_csv

NASTY = ["a<&>\"'b", "ctl\x00\x01\x1f\x7f", "tab\tnl\ncr\r", "back\\x00slash", "é\u2028😀\ufffe"]
FARM = [*NASTY, "farm_ok"]
FANS = ["fan_a", "fan_b"]


def tables() -> dict[str, pd.DataFrame]:
    """Two flagged cohorts (0 = NASTY, 1 = farm_ok alone) and one organic cohort (2)."""
    farm_pairs = [(a, b) for i, a in enumerate(sorted(FARM)) for b in sorted(FARM)[i + 1 :]]
    edges = pd.DataFrame(
        [(a, b, 3, 1.5, 4.0, "[]") for a, b in farm_pairs]
        + [
            ("fan_a", "fan_b", 1, 0.5, float("nan"), "[]"),
            ("fan_a", "farm_ok", 1, 0.25, 9.0, "[]"),
        ],
        columns=["account_a", "account_b", "shared_targets", "weight", "median_dt_s", "targets"],
    )
    memberships = pd.DataFrame(
        [(a, 0) for a in NASTY] + [("farm_ok", 1)] + [(a, 2) for a in FANS],
        columns=["account_id", "cohort_id"],
    )
    cohorts = pd.DataFrame(
        {"cohort_id": [0, 1, 2], "score": [0.9, 0.7, 0.1], "flagged": [True, True, False]}
    )
    return {"memberships": memberships, "edges": edges, "cohorts": cohorts}


@pytest.mark.parametrize(
    ("write", "read"), [(write_gexf, nx.read_gexf), (write_graphml, nx.read_graphml)]
)
def test_flagged_graph_round_trips(tmp_path: Path, write, read) -> None:
    path = write(tmp_path / "sub" / "cohorts.xml", **tables())
    assert path == tmp_path / "sub" / "cohorts.xml"
    assert [p.name for p in path.parent.iterdir()] == ["cohorts.xml"]
    graph = read(path)
    back = {original_id(n): attrs for n, attrs in graph.nodes(data=True)}
    assert set(back) == set(FARM)  # fans (unflagged) left out
    assert back["a<&>\"'b"]["cohort_id"] == 0 and back["farm_ok"]["cohort_id"] == 1
    assert math.isclose(back["farm_ok"]["cohort_score"], 0.7)
    n = len(FARM)
    assert graph.number_of_edges() == n * (n - 1) // 2  # fan_a–farm_ok dropped
    attrs = graph.edges[xml_safe_id("ctl\x00\x01\x1f\x7f"), xml_safe_id("farm_ok")]
    assert (float(attrs["weight"]), int(attrs["shared_targets"])) == (1.5, 3)
    assert float(attrs["median_dt_s"]) == 4.0


@pytest.mark.parametrize("account_id", [*NASTY, "", "\\", "\\\\x41", "\ud800"])
def test_xml_safe_id_is_reversible_and_printable(account_id: str) -> None:
    safe = xml_safe_id(account_id)
    assert original_id(safe) == account_id
    assert all(ch.isprintable() or ch in " \u2028" for ch in safe if ch not in "\\")


def test_empty_flag_set_writes_empty_graph(tmp_path: Path) -> None:
    t = tables()
    t["cohorts"]["flagged"] = False
    graph = nx.read_gexf(write_gexf(tmp_path / "none.gexf", **t))
    assert graph.number_of_nodes() == 0


def test_tables_cohorts_accounts_and_flagged_evidence(tmp_path: Path) -> None:
    t = tables()
    t["memberships"].loc[0, "account_id"] = "=HYPERLINK(1)"  # formula-looking id
    t["edges"] = t["edges"].replace(NASTY[0], "=HYPERLINK(1)")
    pairs = t["edges"][["account_a", "account_b"]]
    evidence = pairs.assign(target_id="+post", time_a=pd.Timestamp("2024-05-01", tz="UTC"),
                            time_b=pd.Timestamp("2024-05-01 00:00:05", tz="UTC"), dt_s=5.0)
    n_actions = pd.Series(range(len(t["memberships"])), index=t["memberships"].index)
    paths = write_tables(tmp_path, evidence=evidence, n_actions=n_actions, **t)
    assert [p.name for p in paths] == ["cohorts.parquet", "accounts.csv", "evidence.csv"]
    pd.testing.assert_frame_equal(pd.read_parquet(paths[0]), t["cohorts"])
    accounts = pd.read_csv(paths[1], keep_default_na=False)
    assert accounts.columns.tolist() == ["account_id", "cohort_id", "flagged", "degree",
                                         "weighted_degree", "n_actions"]
    fan_a = accounts.set_index("account_id").loc["fan_a"]
    assert (fan_a["cohort_id"], fan_a["flagged"], fan_a["degree"], fan_a["n_actions"]) == (
        2, False, 2, 6)
    assert fan_a["weighted_degree"] == pytest.approx(0.75)
    assert "'=HYPERLINK(1)" in accounts["account_id"].tolist()  # formula-safe
    ev = pd.read_csv(paths[2], keep_default_na=False)
    assert ev.columns[0] == "cohort_id" and set(ev["cohort_id"]) == {0}  # farm_ok is alone
    assert len(ev) == len(NASTY) * (len(NASTY) - 1) // 2  # ties inside flagged cohort 0 only
    assert set(ev["target_id"]) == {"'+post"}
    assert "n_actions" not in accounts_table(t["memberships"], t["edges"], t["cohorts"]).columns


def _reference_flagged_evidence(memberships, evidence, cohorts):
    """The former implementation: dict lookups and a full four-column sort."""
    flagged = set(cohorts.loc[cohorts["flagged"], "cohort_id"])
    cohort_of = dict(zip(memberships["account_id"], memberships["cohort_id"], strict=True))
    a = evidence["account_a"].map(cohort_of)
    inside = (a == evidence["account_b"].map(cohort_of)) & a.isin(flagged)
    out = evidence[inside.to_numpy()].copy()
    out.insert(0, "cohort_id", a[inside].astype("int64").to_numpy())
    return out.sort_values(["cohort_id", "account_a", "account_b", "target_id"],
                           kind="mergesort", ignore_index=True)


@pytest.mark.parametrize("layers", [["like"], ["like", "text"]])
@pytest.mark.parametrize("dtype", ["str", object])
def test_flagged_evidence_equals_the_full_sort(layers, dtype) -> None:
    rng = np.random.default_rng(len(layers))
    ids = [f"u{i}" for i in range(40)] + ["é", "=x", "a,b"]
    n = 3000
    evidence = pd.DataFrame({
        "account_a": [ids[i] for i in rng.integers(0, len(ids), n)],
        "account_b": [ids[i] for i in rng.integers(0, len(ids), n)],
        "target_id": [f"t{i}" for i in rng.integers(0, 9, n)],
        "dt_s": rng.integers(0, 100, n).astype(float),
        "layer": [layers[i] for i in rng.integers(0, len(layers), n)]}).astype(
        {"account_a": dtype, "account_b": dtype, "target_id": dtype})
    evidence = evidence.sort_values(["account_a", "account_b", "layer", "target_id"],
                                    ignore_index=True)  # as fusion hands it over
    memberships = pd.DataFrame({"account_id": ids[:-2], "cohort_id": rng.integers(0, 6, 41)})
    cohorts = pd.DataFrame({"cohort_id": range(6), "flagged": [True, False] * 3})
    got = flagged_evidence(memberships, evidence, cohorts)
    assert len(got) > 100
    pd.testing.assert_frame_equal(got, _reference_flagged_evidence(memberships, evidence, cohorts))
    shuffled = evidence.sample(frac=1, random_state=0)  # ties keep this order, not sorted
    pd.testing.assert_frame_equal(flagged_evidence(memberships, shuffled, cohorts),
                                  _reference_flagged_evidence(memberships, shuffled, cohorts))


def test_evidence_csv_is_the_flagged_evidence_written(tmp_path: Path, monkeypatch) -> None:
    import pipelines.outputs as outputs

    monkeypatch.setattr(outputs, "CSV_SLICE_ROWS", 64)  # the rows taken in slices
    monkeypatch.setattr(outputs, "CSV_DUCKDB_MIN_ROWS", 0)
    rng = np.random.default_rng(9)
    ids = pd.CategoricalDtype([f"u{i}" for i in range(30)] + ["=x"])
    n = 2000
    evidence = pd.DataFrame({
        "account_a": pd.Categorical.from_codes(rng.integers(0, 31, n), dtype=ids),
        "account_b": pd.Categorical.from_codes(rng.integers(0, 31, n), dtype=ids),
        "target_id": pd.Categorical([f"t{i}" for i in rng.integers(0, 9, n)]),
        "time_a": pd.to_datetime(1_793_527_200 + rng.integers(0, 10**5, n), unit="s", utc=True),
        "dt_s": rng.integers(0, 100, n).astype(float)})
    memberships = pd.DataFrame({"account_id": list(ids.categories),
                                "cohort_id": rng.integers(0, 4, 31)})
    cohorts = pd.DataFrame({"cohort_id": range(4), "flagged": [True, True, False, True]})
    tasks = table_tasks(tmp_path, cohorts=cohorts, memberships=memberships,
                        edges=pd.DataFrame(columns=["account_a", "account_b", "weight"]),
                        evidence=evidence)
    written = tasks[2]().read_bytes()
    expected = write_csv(flagged_evidence(memberships, evidence, cohorts), tmp_path / "x.csv")
    assert written == expected.read_bytes() and written.count(b"\n") > 200


def test_graph_exports_follow_the_report_cap(tmp_path: Path) -> None:
    gexf, graphml = write_graphs(tmp_path, **tables(), max_cohorts=1)  # cohort 0 ranks first
    for path, read in ((gexf, nx.read_gexf), (graphml, nx.read_graphml)):
        nodes = {original_id(n) for n in read(path).nodes}
        assert nodes == set(NASTY)  # farm_ok's cohort 1 has no page
    everything = nx.read_gexf(write_graphs(tmp_path / "all", **tables())[0])
    assert {original_id(n) for n in everything.nodes} == set(FARM)


def test_xml_safe_id_escapes_exactly_what_xml_cannot_hold() -> None:
    import unicodedata

    for code in range(0x110000):
        ch = chr(code)
        unsafe = (unicodedata.category(ch) == "Cc" or 0xD800 <= code <= 0xDFFF
                  or code in (0xFFFE, 0xFFFF))
        expected = "\\\\" if ch == "\\" else (
            (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}") if unsafe else ch)
        assert xml_safe_id(ch) == expected, hex(code)


@pytest.mark.parametrize("order", ["code points", "reversed"])
def test_flagged_evidence_rows_of_categoricals_are_those_of_their_text(order) -> None:
    """Ids as a projection holds them (categoricals, unused categories; in code point order
    their codes are the ranks, else they are ranked): the rows and cohorts of the text."""
    rng = np.random.default_rng(7)
    ids = [f"u{i}" for i in range(40)] + ["é", "=x", "a,b", "Z"]
    n = 2000
    text = pd.DataFrame({
        "account_a": [ids[i] for i in rng.integers(0, len(ids), n)],
        "account_b": [ids[i] for i in rng.integers(0, len(ids), n)],
        "target_id": [f"t{i}" for i in rng.integers(0, 9, n)]}).astype("str")
    names = sorted({*ids, "unused"})
    categories = pd.CategoricalDtype(names if order == "code points" else names[::-1])
    targets = pd.CategoricalDtype(sorted({f"t{i}" for i in range(12)}))
    coded = text.astype({"account_a": categories, "account_b": categories,
                         "target_id": targets})
    memberships = pd.DataFrame({"account_id": ids[:-2], "cohort_id": rng.integers(0, 6, 42)})
    cohorts = pd.DataFrame({"cohort_id": range(6), "flagged": [True, False] * 3})
    expected = flagged_evidence_rows(memberships, text, cohorts)
    found = flagged_evidence_rows(memberships, coded, cohorts)
    assert len(expected[0]) > 100
    for got, want in zip(found, expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert found[1].dtype == np.int32  # the cohorts' ids fit


@pytest.mark.parametrize("order", ["code points", "reversed"])
def test_flagged_rows_of_evidence_in_pair_order_are_the_full_sort(order, monkeypatch) -> None:
    """A projection's evidence (categoricals in code point order, rows in (account_a,
    account_b) order, targets not always in order within a pair) takes the counting path,
    and finds the rows and order of the four-key sort; other categories take the sort."""
    import pipelines.exports as exports

    rng = np.random.default_rng(11)
    ids = sorted([f"u{i}" for i in range(30)] + ["é", "=x", "unused"])
    n = 3000
    text = pd.DataFrame({
        "account_a": [ids[i] for i in rng.integers(0, 32, n)],
        "account_b": [ids[i] for i in rng.integers(0, 32, n)],
        "target_id": [f"t{i}" for i in rng.integers(0, 9, n)],
        "dt_s": rng.integers(0, 100, n).astype(float)}).astype({"target_id": "str"})
    text = text.sort_values(["account_a", "account_b"], kind="stable", ignore_index=True)
    categories = pd.CategoricalDtype(ids if order == "code points" else ids[::-1])
    coded = text.astype({"account_a": categories, "account_b": categories,
                         "target_id": pd.CategoricalDtype(sorted(set(text["target_id"])))})
    memberships = pd.DataFrame({"account_id": ids[:-1], "cohort_id": rng.integers(0, 6, 32)})
    cohorts = pd.DataFrame({"cohort_id": range(6), "flagged": [True, False] * 3})
    if order == "code points":  # the counting path: no ranks are taken for a sort
        monkeypatch.setattr(exports, "_text_ranks", lambda *a: pytest.fail("sorted"))
    got = flagged_evidence(memberships, coded, cohorts)
    assert len(got) > 100
    expected = _reference_flagged_evidence(memberships, text, cohorts)
    pd.testing.assert_frame_equal(got.astype({c: "str" for c in ("account_a", "account_b",
                                                                 "target_id")}), expected)
    rows = flagged_evidence_rows(memberships, coded, cohorts)
    assert rows[0].dtype == np.int32 and rows[1].dtype == np.int32


def test_flagged_rows_are_found_a_block_at_a_time(monkeypatch) -> None:
    import pipelines.exports as exports

    t = tables()
    evidence = t["edges"][["account_a", "account_b"]].assign(target_id="post")
    whole = flagged_evidence_rows(t["memberships"], evidence, t["cohorts"])
    monkeypatch.setattr(exports, "EVIDENCE_BLOCK", 2)
    for got, want in zip(flagged_evidence_rows(t["memberships"], evidence, t["cohorts"]),
                         whole, strict=True):
        np.testing.assert_array_equal(got, want)
    assert len(whole[0]) > 2


def test_flagged_rows_keep_cohort_ids_beyond_int32() -> None:
    t = tables()
    big = 2**40
    t["memberships"]["cohort_id"] += big
    t["cohorts"]["cohort_id"] += big
    evidence = t["edges"][["account_a", "account_b"]].assign(target_id="post")
    rows, cohort = flagged_evidence_rows(t["memberships"], evidence, t["cohorts"])
    assert cohort.dtype == np.int64 and set(cohort.tolist()) == {big}  # farm_ok is alone
    assert flagged_evidence(t["memberships"], evidence, t["cohorts"])["cohort_id"].dtype == "int64"
