"""Typed layers, fusion with per-layer provenance, cohort_layers, and the comment farm."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from graphs.clustering import leiden_clusters
from graphs.multiplex import (
    Layer,
    cohort_layers,
    fused_co_engagement,
    layer_projections,
    rowless_layers,
    typed_layers,
)
from graphs.scoring import scored_cohorts
from graphs.synthetic_comments import comment_farm_logs

T0 = pd.Timestamp("2026-11-01", tz="UTC")


def _rows(accounts, targets, action, minutes):
    return pd.DataFrame({"account_id": accounts, "target_id": targets, "action": action,
                         "timestamp": [T0 + pd.Timedelta(minutes=m) for m in minutes]})


def test_fusion_sums_ties_and_keeps_provenance():
    likes = _rows(["a", "b", "a", "b", "b", "c", "b", "c"], list("ppqqrrss"), "like",
                  [0, 1, 0, 1, 0, 1, 0, 1])
    links = _rows(["a", "b", "a", "b"], ["u1", "u1", "u2", "u2"], "x", [0, 30, 0, 30])
    proj = layer_projections({"like": Layer(likes, 300), "url": Layer(links, 3600)})
    fused = fused_co_engagement(proj, {"url": 0.5})
    edges = fused.edges.set_index(["account_a", "account_b"])
    ab, bc = edges.loc[("a", "b")], edges.loc[("b", "c")]
    assert (ab["shared_targets"], ab["ties:like"], ab["ties:url"]) == (4, 2, 2)
    assert json.loads(ab["layers"]) == ["like", "url"] and json.loads(bc["layers"]) == ["like"]
    assert ab["weight"] == pytest.approx(proj["like"].edges["weight"].iloc[0]
                                         + 0.5 * proj["url"].edges["weight"].iloc[0])
    assert ab["expected_ties"] == pytest.approx(proj["like"].edges["expected_ties"].iloc[0]
                                                + proj["url"].edges["expected_ties"].iloc[0])
    assert json.loads(ab["targets"]) == ["p", "q", "u1", "u2"]
    assert set(fused.evidence["layer"]) == {"like", "url"}
    assert fused.stats["n_actions"] == 12 and set(fused.stats["layers"]) == {"like", "url"}
    assert fused.activity.set_index("account_id").loc["b", "n_actions"] == 6


def test_layer_windows_are_separate():
    links = _rows(["a", "b", "a", "b"], ["u1", "u1", "u2", "u2"], "x", [0, 30, 0, 30])
    assert layer_projections({"url": Layer(links, 600)})["url"].edges.empty  # 30 min apart
    assert len(layer_projections({"url": Layer(links, 3600)})["url"].edges) == 1


def test_layer_progress_names_each_layer():
    likes = _rows(["a", "b", "a", "b"], list("ppqq"), "like", [0, 1, 0, 1])
    links = _rows(["a", "b", "a", "b"], ["u1", "u1", "u2", "u2"], "x", [0, 30, 0, 30])
    calls = []
    layer_projections({"url": Layer(links, 3600), "like": Layer(likes, 300)},
                      on_progress=lambda *call: calls.append(call))
    assert [name for name, _, _ in calls] == ["like", "url"]  # layers in name order
    assert all(done == total > 0 for _, done, total in calls)


def test_layer_window_must_be_positive_and_some_layer_needed():
    with pytest.raises(ValueError, match="layer 'url': window must be positive"):
        layer_projections({"url": Layer(_rows(["a"], ["u"], "x", [0]), 0)})
    with pytest.raises(ValueError, match="no layer has any interaction"):
        fused_co_engagement({})


def test_typed_layers_routes_actions():
    rows = pd.concat([
        _rows(["a", "b"], ["p", "p"], "like", [0, 1]),
        _rows(["a", "b"], ["http://www.x.org/?utm_source=1", "x.org"], "share_url", [0, 1]),
        _rows(["a", "b"], ["Buy now at my page friends", "buy now at my page, friends!"],
              "post_text", [0, 1]),
        _rows(["a", "b"], ["p", "p"], "retweet", [0, 1]),
        pd.DataFrame({"account_id": ["a", "b"], "target_id": ["q", "q"],
                      "action": "like@order", "timestamp": pd.to_datetime([3, 4], unit="s",
                                                                          utc=True)}),
    ], ignore_index=True)
    layers = typed_layers(rows, layer_of={"retweet": "retweet", "like@order": "like@order"},
                          order_actions=frozenset({"like@order"}), windows={"text": 60},
                          weights={"url": 2.0})
    assert sorted(layers) == ["engage", "like@order", "retweet", "text", "url"]
    assert set(layers["url"].interactions["target_id"]) == {"url:x.org"}
    assert layers["text"].interactions["target_id"].nunique() == 1
    assert (layers["text"].window_s, layers["url"].weight, layers["like@order"].window_s) == (
        60, 2.0, 3)


def test_typed_layers_of_dictionary_encoded_rows_equal_those_of_text():
    """As ingest returns the rows (ids and actions dictionary-encoded, the chunks sharing
    each dictionary), and with a dictionary of their own per chunk: the same layers, the
    plain layers' ids still encoded, the text, URL and order layers' ids as text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from graphs.interactions import coded_column

    rows = pd.concat([
        _rows(["a", "b"], ["p", "p"], "like", [0, 1]),
        _rows(["a", "b"], ["http://www.x.org/?utm_source=1", "x.org"], "share_url", [0, 1]),
        _rows(["c", "a"], ["Buy now at my page friends", "buy now at my page, friends!"],
              "post_text", [0, 1]),
        _rows(["b", "c"], ["p", "q"], "retweet", [2, 3]),
        _rows(["a", "b"], ["q", "q"], "like@order", [3, 4]),
    ], ignore_index=True)
    text = pa.Table.from_pandas(rows, preserve_index=False)
    chunked = pa.Table.from_batches(text.to_batches(max_chunksize=4))

    def shared(name: str) -> pa.ChunkedArray:
        values = pa.array(sorted(set(rows[name])))
        return coded_column(pc.index_in(chunked[name], value_set=values), values)

    ids = ("account_id", "target_id", "action")
    coded = pa.table({c: shared(c) if c in ids else chunked[c] for c in chunked.column_names})
    own = pa.table({c: pa.chunked_array([k.dictionary_encode() for k in chunked[c].chunks])
                    if c in ids else chunked[c] for c in chunked.column_names})
    options = dict(layer_of={"retweet": "retweet", "like@order": "like@order"},
                   order_actions=frozenset({"like@order"}))
    expected = typed_layers(text, **options)
    for table in (coded, own):
        got = typed_layers(table, **options)
        assert sorted(got) == sorted(expected) == [
            "engage", "like@order", "retweet", "text", "url"]
        for name, layer in got.items():
            assert layer[1:] == expected[name][1:]
            frame, want = layer.interactions, expected[name].interactions
            if name in ("engage", "retweet"):  # Arrow-backed: the codes kept
                assert all(pa.types.is_dictionary(frame[c].dtype.pyarrow_dtype) for c in ids)
                frame = frame.astype(want.dtypes.to_dict())
            pd.testing.assert_frame_equal(frame, want, obj=name)


def test_typed_layers_rejects_mixed_clock_in_one_layer():
    rows = pd.concat([_rows(["a"], ["p"], "like", [0]), _rows(["b"], ["p"], "like@order", [0])])
    with pytest.raises(ValueError, match="layer 'likes': mixes timed and order-only actions"):
        typed_layers(rows, layer_of={"like": "likes", "like@order": "likes"},
                     order_actions=frozenset({"like@order"}))


def test_cohort_layers_empty_when_no_internal_edge():
    m = pd.DataFrame({"account_id": ["a", "b"], "cohort_id": [0, 1]})
    e = pd.DataFrame({"account_a": ["a"], "account_b": ["b"], "ties:like": [2],
                      "weight:like": [1.0]})
    assert cohort_layers(m, e).empty


def test_cohort_layers_counts_each_layers_internal_ties():
    m = pd.DataFrame({"account_id": ["a", "b", "c", "d", "x"], "cohort_id": [1, 1, 1, 0, 0]})
    e = pd.DataFrame({"account_a": ["a", "a", "b", "d", "a"],
                      "account_b": ["b", "c", "c", "x", "x"],
                      "ties:slow": [2, 0, 1, 0, 9], "ties:engage": [3, 4, 0, 1, 9],
                      "ties:text": [0, 0, 0, 0, 9],  # ties only across cohorts
                      "weight:slow": [0.5, 0.0, 0.25, 0.0, 9.0],
                      "weight:engage": [1.5, 2.0, 0.0, 0.75, 9.0],
                      "weight:text": [0.0, 0.0, 0.0, 0.0, 9.0]})
    out = cohort_layers(m, e)
    assert out.values.tolist() == [[0, "engage", 1, 1, 0.75, 1.0],
                                   [1, "engage", 2, 7, 3.5, 0.7],
                                   [1, "slow", 2, 3, 0.75, 0.3]]
    assert out.dtypes.astype(str).tolist()[2:] == ["int64", "int64", "float64", "float64"]


def test_cohort_layers_equals_grouping_by_cohort_and_layer_at_once():
    rng = np.random.default_rng(3)
    n, accounts = 4000, [f"u{i}" for i in range(300)]
    m = pd.DataFrame({"account_id": accounts, "cohort_id": rng.integers(-1, 12, len(accounts))})
    m = m[m["cohort_id"] >= 0]
    e = pd.DataFrame({"account_a": rng.choice(accounts, n), "account_b": rng.choice(accounts, n)})
    for name in ("engage", "slow", "url"):
        e[f"ties:{name}"] = rng.integers(0, 3, n) * rng.integers(0, 2, n)
        e[f"weight:{name}"] = e[f"ties:{name}"] * rng.random(n) / 7
    cohort = m.set_index("account_id")["cohort_id"]
    a, b = e["account_a"].map(cohort), e["account_b"].map(cohort)
    long = pd.concat([pd.DataFrame({"cohort_id": a, "layer": name, "ties": e[f"ties:{name}"],
                                    "weight": e[f"weight:{name}"]}
                                   )[(a == b) & (e[f"ties:{name}"] > 0)]
                      for name in ("engage", "slow", "url")])  # as before: both keys at once
    want = long.groupby(["cohort_id", "layer"], as_index=False).agg(
        edges=("ties", "size"), ties=("ties", "sum"), weight=("weight", "sum"))
    want["share"] = want["ties"] / want.groupby("cohort_id")["ties"].transform("sum")
    want = want.astype({"cohort_id": "int64"}).sort_values(
        ["cohort_id", "ties", "layer"], ascending=[True, False, True], ignore_index=True)
    got = cohort_layers(m, e)
    assert len(got) > 20
    pd.testing.assert_frame_equal(got, want[got.columns], check_exact=True)


def _chain(logs, interactions):
    layers = typed_layers(interactions)
    fused = fused_co_engagement(layer_projections(layers))
    clusters = leiden_clusters(fused.edges, seed=0)
    scored = scored_cohorts(clusters, fused.edges, fused.evidence, fused.activity,
                            n_actions=fused.stats["n_actions"], posts=logs.posts,
                            accounts=logs.accounts)
    return scored, cohort_layers(scored.memberships, fused.edges)


def test_comment_farm_is_found_only_through_the_text_layer():
    logs = comment_farm_logs(seed=0)
    farm = set(logs.labels.loc[logs.labels["group"] == "comment_farm", "account_id"])
    scored, layers = _chain(logs, logs.interactions)
    flagged = scored.flagged_accounts
    assert set(flagged["account_id"]) <= farm and len(set(flagged["account_id"])) >= 0.8 * len(farm)
    tied = layers[layers["cohort_id"].isin(flagged["cohort_id"])]
    assert set(tied["layer"]) == {"text"}
    without_text = logs.interactions[logs.interactions["action"] != "post_text"]
    blind, _ = _chain(logs, without_text)
    assert not set(blind.flagged_accounts["account_id"]) & farm


def _random_likes(n: int, seed: int) -> pd.DataFrame:
    import numpy as np

    rng = np.random.default_rng(seed)
    return _rows([f"u{i}" for i in rng.integers(0, 60, n)],
                 [f"p{i}" for i in rng.integers(0, 30, n)], "like",
                 rng.integers(0, 600, n).tolist())


@pytest.mark.parametrize(("n", "factor"), [(1500, 1.0), (1500, 0.3), (4, 1.0)])  # 4: no edge
def test_single_layer_fusion_equals_the_general_path(n, factor):
    from graphs.layer_fusion import fused_tables

    proj = layer_projections({"like": Layer(_random_likes(n, n), 3600)})
    fused = fused_co_engagement(proj, {"like": factor})
    edges, evidence = fused_tables(proj, {"like": factor}, ["like"])
    assert len(edges) > 10 or n == 4
    pd.testing.assert_frame_equal(fused.edges, edges, check_exact=True)
    pd.testing.assert_frame_equal(fused.evidence, evidence)


def _with_farm(likes: pd.DataFrame) -> pd.DataFrame:
    """Random likes plus 4 farm accounts liking 8 farm posts and 2 random posts together."""
    posts = [f"f{k}" for k in range(8)] + likes["target_id"].iloc[:2].tolist()
    farm = _rows([f"farm{i}" for i in range(4)] * 10, [p for p in posts for _ in range(4)],
                 "like", [k * 60 + j for k in range(10) for j in range(4)])
    return pd.concat([likes, farm], ignore_index=True)


def _inside(projection, accounts):
    """The projection's edges and evidence among ``accounts`` (as the slow pass keeps its
    ties inside its cohorts)."""
    def keep(t):
        return t[t["account_a"].isin(accounts) & t["account_b"].isin(accounts)]
    return projection._replace(edges=keep(projection.edges), evidence=keep(projection.evidence))


@pytest.mark.parametrize(("seed", "fast_layers"), [(1, ("engage",)), (2, ("engage",)),
                                                   (3, ("engage", "url")), (4, ("url", "text"))])
def test_splicing_a_layer_equals_fusing_it(seed, fast_layers):
    from graphs.layer_fusion import spliced_layer

    fast = layer_projections({n: Layer(_with_farm(_random_likes(1200, seed * 10 + i)), 1800)
                              for i, n in enumerate(fast_layers)})
    weights = {"url": 0.5, "slow": 1.7}
    whole = layer_projections({"s": Layer(_with_farm(_random_likes(900, seed)), 86400)})["s"]
    slow = _inside(whole, {f"u{i}" for i in range(0, 60, 3)} | {f"farm{i}" for i in range(4)})
    edges, evidence = spliced_layer(fused_co_engagement(fast, weights), fast, "slow", slow,
                                    weights)
    expected = fused_co_engagement({**fast, "slow": slow}, weights)
    pd.testing.assert_frame_equal(edges, expected.edges)
    pd.testing.assert_frame_equal(evidence, expected.evidence)
    both = expected.edges["ties:slow"].gt(0) & expected.edges["shared_targets"].gt(
        expected.edges["ties:slow"])
    assert both.sum() >= 3 and expected.edges["layers"].eq('["slow"]').sum() >= 3
    assert (edges["ties:slow"] == 0).sum() > 10  # edges the splice only copied
    assert expected.edges["q_value"].min() < 0.1  # q values the added layer's tests change


def test_a_splice_takes_its_rows_through_the_take_given_in_ascending_order():
    """``take`` (the run's takes ranges of rows from mapped columns) gets each table's rows
    ascending, and rows taken in pieces give the same splice."""
    from graphs.layer_fusion import layer_splice, spliced_tables

    fast = layer_projections({"engage": Layer(_with_farm(_random_likes(1200, 7)), 1800)})
    whole = layer_projections({"s": Layer(_with_farm(_random_likes(900, 7)), 86400)})["s"]
    slow = _inside(whole, {f"u{i}" for i in range(0, 60, 3)} | {f"farm{i}" for i in range(4)})
    asked = []

    def in_pieces(frame, rows):
        asked.append((len(frame), rows.copy()))
        return pd.concat([frame.take(rows[i:i + 3]) for i in range(0, len(rows), 3)]
                         or [frame.iloc[:0]])

    fused = fused_co_engagement(fast)
    tables = [spliced_tables(fused.edges.copy(deep=False), fused.evidence.copy(deep=False),
                             layer_splice(fused, fast, "slow", slow, take=take))
              for take in (None, in_pieces)]
    for got, expected in zip(tables[1], tables[0], strict=True):
        pd.testing.assert_frame_equal(got, expected)
    assert [n for n, _ in asked] == [len(fused.evidence), len(fast["engage"].edges),
                                     len(slow.edges)]  # each layer's edges of the pairs
    assert all(len(rows) > 3 and (np.diff(rows) > 0).all() for _, rows in asked)


def test_splicing_checks_the_layer_name():
    from graphs.layer_fusion import spliced_layer

    fast = layer_projections({"engage": Layer(_random_likes(300, 1), 1800)})
    with pytest.raises(ValueError, match="layer 'engage' is already fused"):
        spliced_layer(fused_co_engagement(fast), fast, "engage", fast["engage"])


def test_projections_from_built_incidences_equal_building_them():
    from graphs.multiplex import layer_incidences

    layers = {"engage": Layer(_with_farm(_random_likes(1500, 5)), 1800),
              "url": Layer(_random_likes(800, 6), 600)}
    incidences = layer_incidences(layers)
    for window_s in (1800, 86400):  # the slow pass reuses the 1 h pass's incidence
        layers["engage"] = layers["engage"]._replace(window_s=window_s)
        built = layer_projections(layers, max_crowd=100)
        reused = layer_projections(layers, max_crowd=100, incidences=incidences)
        rowless = layer_projections(rowless_layers(layers), max_crowd=100, incidences=incidences)
        assert sorted(rowless) == sorted(built) == sorted(layers)
        for name in layers:
            for got in (reused[name], rowless[name]):
                pd.testing.assert_frame_equal(got.edges, built[name].edges)
                pd.testing.assert_frame_equal(got.evidence, built[name].evidence)
                assert got.stats == built[name].stats and len(built[name].edges) > 10


def test_rowless_layers_hold_no_rows_and_are_skipped_without_an_incidence():
    likes = _random_likes(300, 1)
    arrow = pa.Table.from_pandas(likes, preserve_index=False).to_pandas(types_mapper=pd.ArrowDtype)
    bare = rowless_layers({"engage": Layer(arrow, 1800, 2.0), "url": Layer(likes, 60)})
    for name, source in (("engage", arrow), ("url", likes)):
        rows = bare[name].interactions
        assert len(rows) == 0 and rows.dtypes.to_dict() == source.dtypes.to_dict()
    def held(rows: pd.DataFrame) -> int:
        return sum(b.size for chunk in rows["account_id"].array._pa_array.chunks
                   for b in chunk.buffers() if b is not None)

    # an empty slice would hold the log's buffers; an empty array at most a padding's bytes
    assert held(arrow.iloc[:0]) == held(arrow) > 1000 and held(bare["engage"].interactions) <= 64
    assert (bare["engage"].window_s, bare["engage"].weight) == (1800, 2.0)
    assert layer_projections(bare) == {}  # no rows and no incidence: nothing to project


def test_stacked_layers_join_codes_only_when_their_categories_match():
    from graphs.layer_fusion import _stacked

    ids = pd.CategoricalDtype(pd.Index(["a", "b", "c"]))

    def edges(a, b, dtype):
        return pd.DataFrame({"account_a": pd.Categorical(a, dtype=dtype),
                             "account_b": pd.Categorical(b, dtype=dtype),
                             "weight": np.arange(1.0, len(a) + 1)})

    twin = pd.CategoricalDtype(pd.Index(["a", "b", "c"]))  # another object, same categories
    frames = [("like", edges(["a"], ["b"], ids)), ("share", edges(["a", "b"], ["c", "c"], twin))]
    joined = _stacked(frames, {"share": 0.5})
    expected = pd.concat([f.assign(layer=n, _w=f["weight"] * w)
                          for (n, f), w in zip(frames, (1.0, 0.5), strict=True)],
                         ignore_index=True)
    pd.testing.assert_frame_equal(joined, expected)
    assert joined["account_a"].dtype == ids
    own = pd.CategoricalDtype(pd.Index(["a", "c", "z"]))  # a layer with ids of its own
    other = [frames[0], ("share", edges(["a"], ["z"], own))]
    apart = _stacked(other, {})
    pd.testing.assert_frame_equal(apart, pd.concat(  # as pd.concat spells them: text
        [f.assign(layer=n, _w=f["weight"]) for n, f in other], ignore_index=True))
    assert not isinstance(apart["account_b"].dtype, pd.CategoricalDtype)
    assert apart["account_b"].tolist() == ["b", "z"]


def test_fused_edges_on_shared_codes_equal_the_text_path():
    from graphs.layer_fusion import _fused_edges

    ids = pd.CategoricalDtype(pd.Index(["a", "b", "c", "d"]))
    long = pd.DataFrame({
        "account_a": pd.Categorical(["a", "a", "b", "a"], dtype=ids),
        "account_b": pd.Categorical(["b", "c", "c", "b"], dtype=ids),
        "shared_targets": [2, 3, 2, 1], "weight": [2.0, 3.0, 2.0, 1.0],
        "_w": [2.0, 3.0, 2.0, 0.5], "median_dt_s": [10.0, 20.0, 30.0, 40.0],
        "targets": ['["x","y"]', '["x","y","z"]', '["y","z"]', '["w"]'],
        "expected_ties": [0.1, 0.2, 0.3, 0.1], "layer": ["like", "like", "like", "share"]})
    evidence = pd.DataFrame({
        "account_a": pd.Categorical(["a", "a", "a"], dtype=ids),
        "account_b": pd.Categorical(["b", "b", "b"], dtype=ids),
        "target_id": ["x", "y", "w"], "dt_s": [5.0, 15.0, 40.0],
        "layer": ["like", "like", "share"]})
    coded = _fused_edges(long, evidence, ["like", "share"], 10)
    text = _fused_edges(long.astype({"account_a": str, "account_b": str}),
                        evidence.astype({"account_a": str, "account_b": str}),
                        ["like", "share"], 10)
    assert coded["account_a"].dtype == ids
    pd.testing.assert_frame_equal(coded.astype({"account_a": str, "account_b": str}), text)
    assert coded.loc[0, "targets"] == '["w","x","y"]' and coded.loc[0, "median_dt_s"] == 15.0


def test_pair_bounds_on_codes_equal_the_binary_search_of_the_text():
    from graphs.layer_fusion import _pair_bounds, _pair_codes

    rng = np.random.default_rng(5)
    ids = pd.CategoricalDtype(pd.Index(sorted({f"u{i}" for i in range(40)} | {"A", "é"})))
    names = ids.categories.to_numpy()
    table = pd.DataFrame({"account_a": rng.choice(names, 300), "account_b": rng.choice(names, 300)}
                         ).sort_values(["account_a", "account_b"], ignore_index=True)
    pairs = pd.DataFrame({"account_a": rng.choice(names, 60), "account_b": rng.choice(names, 60)}
                         ).sort_values(["account_a", "account_b"], ignore_index=True)
    coded = [frame.astype({"account_a": ids, "account_b": ids}) for frame in (table, pairs)]
    assert _pair_codes(*coded) is not None and _pair_codes(table, pairs) is None
    on_codes, on_text = _pair_bounds(*coded), _pair_bounds(table, pairs)
    assert [x.tolist() for x in on_codes] == [x.tolist() for x in on_text]
    assert (on_codes[1] > on_codes[0]).any() and (on_codes[1] == on_codes[0]).any()
    unsorted = pd.CategoricalDtype(pd.Index(list(reversed(ids.categories))))
    assert _pair_codes(*[f.astype({"account_a": unsorted, "account_b": unsorted})
                         for f in (table, pairs)]) is None  # codes would not sort as the text
    shuffled = [c.iloc[rng.permutation(len(c))] if c is coded[1] else c for c in coded]
    found = _pair_bounds(*shuffled)  # pairs in any order: each pair's own rows
    order = shuffled[1].index.to_numpy()
    assert [x.tolist() for x in found] == [x[order].tolist() for x in on_text]
