"""graphs/pass_codes.py: one pass's ids as integer codes, shared by its scorings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from graphs.flag_features import flag_features
from graphs.lookup import pair_groups
from graphs.pass_codes import (
    account_codes,
    coded_evidence,
    inner_rows,
    pass_codes,
    spelled_evidence,
)
from graphs.scoring import scored_cohorts

IDS = ["a", "B", "é", "Z", "ß", "z9", "😀", "a b", "ü", "Ab", "b", "0"]


def _tables(seed: int, n_evidence: int = 400, mostly_one: bool = False):
    """Random evidence over unsorted non-ASCII ids (several rows per pair and target),
    its edges, activity (with one account only there) and posts (one target twice);
    ``mostly_one``: most accounts in one cluster (most rows inside), else three clusters
    (a third of the rows inside)."""
    rng = np.random.default_rng(seed)
    a, b = rng.choice(IDS, size=(2, n_evidence))
    keep = a != b
    pair = np.where(a < b, a, b)[keep], np.where(a < b, b, a)[keep]
    targets = [f"t{k}ü" if k % 3 else f"T{k}" for k in range(30)]
    evidence = pd.DataFrame({
        "account_a": pair[0], "account_b": pair[1],
        "target_id": rng.choice(targets, size=int(keep.sum())),
        "action_a": rng.choice(["like", "comment", "follow"], size=int(keep.sum())),
        "action_b": rng.choice(["like", "comment"], size=int(keep.sum())),
        "dt_s": rng.uniform(0, 3600, size=int(keep.sum())).round(1)}).astype(
        {c: "str" for c in ("account_a", "account_b", "target_id", "action_a", "action_b")})
    edges = evidence.groupby(["account_a", "account_b"], as_index=False).agg(
        shared_targets=("target_id", "nunique"), weight=("dt_s", lambda s: 1 / (1 + s.size)))
    activity = pd.DataFrame({"account_id": [*IDS, "only-active"],
                             "n_actions": rng.integers(1, 9, len(IDS) + 1).astype(float),
                             "crowd_sum": rng.uniform(1, 50, len(IDS) + 1)})
    posts = pd.DataFrame({"target_id": [*targets, targets[4]],
                          "author_id": [f"au{k % 7}é" for k in range(31)]})
    cluster = rng.integers(0, 3, len(IDS) + 1)
    if mostly_one:  # all but two accounts (and "q")
        cluster[2:] = 0
        cluster[:2] = [1, 2]
    clusters = pd.DataFrame({"account_id": IDS[::-1] + ["q"], "cluster": cluster})
    return clusters, edges, evidence, activity, posts


def _coded(seed: int, mostly_one: bool = False):
    """:func:`_tables`, their codes and the rows inside the clusters."""
    tables = _tables(seed, mostly_one=mostly_one)
    clusters, edges, evidence, activity, posts = tables
    codes = pass_codes(edges, evidence, activity, posts)
    inner = inner_rows(codes, account_codes(codes, clusters["account_id"]),
                       clusters["cluster"].to_numpy())
    return tables, codes, inner


@pytest.mark.parametrize("mostly_one", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_inner_rows_are_the_rows_with_both_accounts_in_one_cluster(seed, mostly_one):
    """A third of the rows inside: those rows; most: every row, cluster -1 outside."""
    (clusters, edges, evidence, activity, posts), codes, inner = _coded(seed, mostly_one)
    cluster_of = clusters.set_index("account_id")["cluster"]
    assert (len(inner.evidence) == len(evidence)) == mostly_one
    assert (inner.evidence["cluster"] < 0).any() == mostly_one
    inside = inner.evidence[inner.evidence["cluster"] >= 0]
    for table, rows in ((edges, inner.edges), (evidence, inside)):
        group = pair_groups(table, cluster_of)
        assert rows["cluster"].tolist() == group[group >= 0].tolist()
        ids = np.array(codes.accounts.to_pylist(), dtype=object)
        assert ids[rows["account_a"]].tolist() == table.loc[group >= 0, "account_a"].tolist()
    assert "only-active" in codes.accounts.to_pylist()
    assert account_codes(codes, pd.Series(["q"])).tolist() == [-1]


@pytest.mark.parametrize("mostly_one", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_features_by_code_equal_features_by_id(seed, mostly_one):
    """The sums behind effective numbers run in the order of the sorted ids: same floats
    (from the rows inside, or from every row with those outside left out)."""
    (clusters, edges, evidence, activity, posts), codes, inner = _coded(seed, mostly_one)
    got = flag_features(clusters, inner, codes)
    cluster_of = clusters.set_index("account_id")["cluster"]
    group = pair_groups(evidence, cluster_of)
    rows = evidence[group >= 0].assign(cluster=group[group >= 0])
    authored = rows.merge(posts, on="target_id")
    for column, ties in (("effective_targets", rows), ("effective_authors", authored)):
        key = column.replace("effective_", "")[:-1] + "_id"
        counts = ties.groupby(["cluster", key]).size()
        share = counts / counts.groupby(level="cluster").transform("sum")
        expected = (1.0 / (share**2).groupby(level="cluster").sum()).round(6)
        found = got[column].dropna()
        assert found[found.index.isin(expected.index)].to_dict() == expected.to_dict()
        if column == "effective_targets":  # a cluster without rows inside: 0
            assert (found[~found.index.isin(expected.index)] == 0).all()
    modes = rows.groupby("cluster")["action_a"].agg(lambda s: s.mode().iloc[0])
    assert got["action"].dropna().to_dict() == modes.to_dict()
    same = (rows["action_a"] == rows["action_b"]).groupby(rows["cluster"]).mean()
    assert got["same_action_share"].dropna().to_dict() == same.to_dict()


def test_scoring_with_shared_codes_equals_scoring_alone():
    clusters, edges, evidence, activity, posts = _tables(5, n_evidence=2000)
    rules = dict(min_size=2, min_shared_targets=2, min_member_lift=0.0)
    alone = scored_cohorts(clusters, edges, evidence, activity, n_actions=500, posts=posts,
                           **rules)
    codes = pass_codes(edges, evidence, activity, posts)
    for part in (clusters, clusters.iloc[:8]):  # one coding, two scorings
        shared = scored_cohorts(part, edges, evidence, activity, n_actions=500, posts=posts,
                                codes=codes, **rules)
        again = scored_cohorts(part, edges, evidence, activity, n_actions=500, posts=posts,
                               **rules)
        pd.testing.assert_frame_equal(shared.cohorts, again.cohorts)
    pd.testing.assert_frame_equal(alone.cohorts, scored_cohorts(
        clusters, edges, evidence, activity, n_actions=500, posts=posts, codes=codes,
        **rules).cohorts)
    with pytest.raises(ValueError, match="codes: built from other edges"):
        scored_cohorts(clusters, edges, evidence.copy(), activity, n_actions=500, posts=posts,
                       codes=codes)
    with pytest.raises(ValueError, match="codes: built from other edges"):
        scored_cohorts(clusters, edges, evidence, activity, n_actions=500, codes=codes)


def test_activity_and_ties_per_code():
    _, edges, evidence, activity, _ = _tables(4)
    codes = pass_codes(edges, evidence, activity.assign(
        crowd_sum=activity["crowd_sum"].where(activity["account_id"] != "a")))
    ids = codes.accounts.to_pylist()
    crowd = codes.activity["crowd_sum"].to_numpy()
    assert crowd[ids.index("a")] == 0.0 and crowd[-1] == 0.0  # NaN as 0; the -1 slot
    ties = pd.concat([edges.groupby("account_a")["shared_targets"].sum(),
                      edges.groupby("account_b")["shared_targets"].sum()]).groupby(level=0).sum()
    assert {i: int(codes.ties[k]) for k, i in enumerate(ids) if i in ties} == ties.to_dict()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_coded_evidence_spells_the_rows_inside_clusters_as_they_were(seed):
    from graphs.pass_codes import coded_evidence, inside_rows, spelled_evidence

    (clusters, edges, evidence, activity, posts), codes, _ = _coded(seed)
    coded = coded_evidence(codes)
    assert coded.evidence["account_a"].dtype == "int32"
    edge_rows, evidence_rows = inside_rows(coded, account_codes(coded, clusters["account_id"]),
                                           clusters["cluster"].to_numpy())
    cluster_of = clusters.set_index("account_id")["cluster"]
    for table, rows in ((edges, edge_rows), (evidence, evidence_rows)):
        assert rows.tolist() == np.flatnonzero(pair_groups(table, cluster_of) >= 0).tolist()
    pd.testing.assert_frame_equal(spelled_evidence(coded, evidence_rows),
                                  evidence.iloc[evidence_rows].reset_index(drop=True))


def test_coded_evidence_holds_whole_second_times_as_int32_and_spells_them_back():
    t = pd.Series(pd.to_datetime([1_800_000_000, 1_800_000_030, 1_700_000_000], unit="s",
                                 utc=True)).astype("datetime64[us, UTC]")
    evidence = pd.DataFrame({"account_a": ["b", "b", "c"], "account_b": ["c", "c", "d"],
                             "target_id": ["t", "u", "t"], "time_a": t, "time_b": t,
                             "action_a": ["like"] * 3, "dt_s": [5.0, 6.0, 7.0]})
    edges = pd.DataFrame({"account_a": ["b", "c"], "account_b": ["c", "d"],
                          "shared_targets": [2, 1]})
    activity = pd.DataFrame({"account_id": ["b", "c", "d"], "n_actions": 1.0,
                             "crowd_sum": 1.0})
    coded = coded_evidence(pass_codes(edges, evidence, activity))
    assert coded.evidence["time_a"].dtype == np.int32
    assert coded.evidence["time_a"].tolist() == [100_000_000, 100_000_030, 0]
    pd.testing.assert_frame_equal(spelled_evidence(coded, np.array([2, 0])),
                                  evidence.iloc[[2, 0]].reset_index(drop=True))
    fractions = evidence.assign(time_b=t + pd.Timedelta("1ms"))  # kept as they are
    coded = coded_evidence(pass_codes(edges, fractions, activity))
    assert coded.evidence["time_b"].dtype == fractions["time_b"].dtype
    pd.testing.assert_frame_equal(spelled_evidence(coded, np.arange(3)), fractions)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_seconds_after_converts_block_by_block_as_whole(monkeypatch, unit):
    import graphs.pass_codes as pass_codes_module

    monkeypatch.setattr(pass_codes_module, "BLOCK", 3)  # 10 rows: four blocks
    seconds = np.array([5, -40, 0, 7, 86_400, 3, -40, 12, 1, 9], dtype="int64")
    times = pd.Series(pd.to_datetime(seconds, unit="s", utc=True)).astype(
        f"datetime64[{unit}, UTC]")  # before and after 1970
    blocks = []
    got, origin = pass_codes_module._seconds_after(times, lambda: blocks.append(1))
    assert origin == -40 and got.dtype == np.int32
    assert got.tolist() == (seconds + 40).tolist()
    assert len(blocks) == 8  # each block read twice: the span, then the conversion
    missing = times.copy()
    missing.iloc[8] = pd.NaT  # in the last block but one
    assert pass_codes_module._seconds_after(missing) is None
    late = times.copy()
    if unit != "s":  # a fraction of a second in the last block only: kept as they are
        late.iloc[9] += pd.Timedelta(1, unit=unit)
        assert pass_codes_module._seconds_after(late) is None
    wide = pd.Series(pd.to_datetime([0, 2**31], unit="s", utc=True)).astype(
        f"datetime64[{unit}, UTC]")
    assert pass_codes_module._seconds_after(wide) is None
    assert pass_codes_module._seconds_after(wide.iloc[:1])[0].tolist() == [0]


def test_action_codes_from_categoricals_equal_those_from_text():
    text = pd.DataFrame({"account_a": ["a", "a", "b"], "account_b": ["b", "c", "c"],
                         "target_id": ["t", "u", "t"], "action_a": ["like", "share", None],
                         "action_b": ["comment", "like", "like"], "dt_s": [1.0, 2.0, 3.0]})
    shared = pd.CategoricalDtype(["comment", "like", "never", "share"])  # one dtype: codes
    coded = text.astype({"action_a": shared, "action_b": shared})
    edges = pd.DataFrame({"account_a": ["a"], "account_b": ["b"], "shared_targets": [1]})
    activity = pd.DataFrame({"account_id": list("abc"), "n_actions": 1.0, "crowd_sum": 1.0})
    by_text, by_codes = (pass_codes(edges, e, activity) for e in (text, coded))
    assert by_codes.actions.to_pylist() == by_text.actions.to_pylist() == [
        "comment", "like", "share"]
    assert by_codes.action_a.tolist() == by_text.action_a.tolist() == [1, 2, -1]
    assert by_codes.action_b.tolist() == by_text.action_b.tolist() == [0, 1, 1]


def test_inside_in_blocks_finds_the_rows_the_whole_arrays_do(monkeypatch):
    import graphs.pass_codes as pass_codes_module

    rng = np.random.default_rng(3)
    cluster_of = np.append(rng.integers(-1, 4, size=30), -1)  # last slot: code -1
    a, b = (rng.integers(-1, 30, size=1001).astype(np.int32) for _ in range(2))
    whole = cluster_of[a]
    expected = np.flatnonzero((whole == cluster_of[b]) & (whole >= 0))
    for block in (7, 1000, 1 << 22):  # a short last block, one row over, one block
        monkeypatch.setattr(pass_codes_module, "BLOCK", block)
        rows, cluster = pass_codes_module._inside(cluster_of, a, b)
        np.testing.assert_array_equal(rows, expected)
        np.testing.assert_array_equal(cluster, whole[expected])
        assert cluster.dtype == cluster_of.dtype


def _as_categoricals(tables, categories: list[str]):
    """:func:`_tables` with the id columns of edges and evidence as categoricals of one dtype
    over ``categories`` (as a projection's tables hold them)."""
    clusters, edges, evidence, activity, posts = tables
    ids = pd.CategoricalDtype(categories)
    targets = pd.CategoricalDtype(sorted(set(evidence["target_id"])) + ["zz-unused"])
    edges = edges.astype({"account_a": ids, "account_b": ids})
    evidence = evidence.astype({"account_a": ids, "account_b": ids, "target_id": targets})
    return clusters, edges, evidence, activity, posts


@pytest.mark.parametrize("order", ["code points", "reversed", "activity outside"])
def test_codes_of_categoricals_are_their_own_codes_and_score_as_text(order):
    text = _tables(4)
    clusters, edges, evidence, activity, posts = text
    padding = [f"pad{k:05d}" for k in range(40_000)]  # int32 codes, as at scale
    names = sorted({*IDS, "only-active", *padding})
    if order == "reversed":
        names = names[::-1]
    if order == "activity outside":
        names.remove("only-active")
    coded = _as_categoricals(text, names)
    codes = pass_codes(*coded[1:])
    own = order == "code points"
    for field, frame, column in (("edge_a", coded[1], "account_a"),
                                 ("evidence_b", coded[2], "account_b")):
        assert np.shares_memory(getattr(codes, field),
                                frame[column].array.codes) == own
    assert len(codes.accounts) == (len(names) if own else len(IDS) + 1)
    assert codes.targets.to_pylist()[-1] == "zz-unused"  # its own categories, in order
    by_text = scored_cohorts(clusters, *text[1:4], n_actions=500, posts=posts)
    by_codes = scored_cohorts(clusters, *coded[1:4], n_actions=500, posts=posts, codes=codes)
    for name in ("cohorts", "memberships", "flagged_accounts"):
        pd.testing.assert_frame_equal(getattr(by_codes, name), getattr(by_text, name))
    assert len(by_text.cohorts) >= 2


@pytest.mark.parametrize("seed", range(4))
def test_series_median_is_pandas_median_counted_or_not(monkeypatch, seed):
    """Whole gaps counted in blocks (of 7 rows here), fractions, NaN, a wide span and no rows:
    always what ``Series.median`` gives."""
    import graphs.pass_codes as pass_codes_module

    monkeypatch.setattr(pass_codes_module, "BLOCK", 7)
    rng = np.random.default_rng(seed)
    for n in (0, 1, 2, 5, 40, 41):
        for values in (rng.integers(0, 604_800, n).astype(float),
                       rng.integers(3, 6, n).astype(float), rng.uniform(0, 100, n),
                       np.where(rng.random(n) < 0.2, np.nan, rng.integers(0, 9, n) * 1.0),
                       rng.integers(0, 2**40, n).astype(float)):
            expected = pd.Series(values).median()
            found = pass_codes_module.series_median(pd.Series(values))
            assert found == expected or (np.isnan(found) and np.isnan(expected))


@pytest.mark.parametrize("n_categories", [5, 300])
def test_action_codes_of_categoricals_are_narrow_and_rank_as_text(n_categories):
    """Codes of a projection's action categoricals (unused categories, a missing action, a
    few or many categories): the ranks text gives, in the smallest integer type."""
    rng = np.random.default_rng(n_categories)
    names = sorted({"like", "share", "comment", *(f"a{k:03d}ü" for k in range(n_categories))})
    used = list(rng.choice(names, size=4, replace=False))
    text = pd.DataFrame({"action_a": [*used, None, used[0]], "action_b": used[::-1] * 1 + [
        used[1], used[2]], "dt_s": 1.0, "account_a": "a", "account_b": "b", "target_id": "t"})
    coded = text.astype({c: pd.CategoricalDtype(names) for c in ("action_a", "action_b")})
    edges = pd.DataFrame({"account_a": ["a"], "account_b": ["b"], "shared_targets": [1]})
    activity = pd.DataFrame({"account_id": ["a", "b"], "n_actions": 1.0, "crowd_sum": 1.0})
    by_text, by_codes = (pass_codes(edges, e, activity) for e in (text, coded))
    assert by_codes.actions.to_pylist() == by_text.actions.to_pylist() == sorted(used)
    for column in ("action_a", "action_b"):
        assert getattr(by_codes, column).tolist() == getattr(by_text, column).tolist()
        assert getattr(by_codes, column).dtype == np.int8


def test_actions_of_text_and_a_categorical_are_coded_as_text():
    """One action column text, the other categorical: no shortcut, the text's codes."""
    text = pd.DataFrame({"account_a": ["a", "a"], "account_b": ["b", "b"],
                         "target_id": ["t", "u"], "action_a": ["share", "like"],
                         "action_b": ["like", "like"], "dt_s": [1.0, 2.0]})
    mixed = text.astype({"action_b": pd.CategoricalDtype(["like", "share"])})
    edges = pd.DataFrame({"account_a": ["a"], "account_b": ["b"], "shared_targets": [2]})
    activity = pd.DataFrame({"account_id": ["a", "b"], "n_actions": 1.0, "crowd_sum": 1.0})
    by_text, by_mixed = (pass_codes(edges, e, activity) for e in (text, mixed))
    assert by_mixed.action_a.tolist() == by_text.action_a.tolist() == [1, 0]
    assert by_mixed.action_b.tolist() == by_text.action_b.tolist() == [0, 0]
