from __future__ import annotations

import itertools

import pandas as pd
import pytest

from graphs.clustering import effective_resolution, leiden_clusters, split_large_clusters


def _two_triangles_and_a_bridge() -> pd.DataFrame:
    return pd.DataFrame({
        "account_a": ["a", "a", "b", "x", "x", "y", "c"],
        "account_b": ["b", "c", "c", "y", "z", "z", "x"],
        "weight": [3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 0.1],
    })


def test_triangles_are_separate_clusters():
    clusters = leiden_clusters(_two_triangles_and_a_bridge(), seed=0)
    groups = clusters.groupby("cluster")["account_id"].apply(sorted).tolist()
    assert groups == [["a", "b", "c"], ["x", "y", "z"]]


def test_row_order_does_not_change_clusters():
    edges = _two_triangles_and_a_bridge()
    shuffled = edges.sample(frac=1.0, random_state=5).reset_index(drop=True)
    pd.testing.assert_frame_equal(leiden_clusters(edges, seed=1), leiden_clusters(shuffled, seed=1))


def test_no_edges_gives_no_clusters():
    empty = pd.DataFrame({"account_a": [], "account_b": [], "weight": []})
    assert leiden_clusters(empty).empty


def test_split_large_clusters_splits_only_the_large_ones():
    edges = pd.concat([_two_triangles_and_a_bridge(), pd.DataFrame(
        {"account_a": ["p"], "account_b": ["q"], "weight": [1.0]})], ignore_index=True)
    merged = pd.DataFrame({"account_id": list("abcxyzpq"), "cluster": [0] * 6 + [1] * 2})
    split = split_large_clusters(merged, edges, max_size=5, seed=0)
    groups = split.groupby("cluster")["account_id"].apply(sorted).tolist()
    assert groups == [["a", "b", "c"], ["x", "y", "z"], ["p", "q"]]
    assert split_large_clusters(merged, edges, max_size=6).equals(merged)  # none above 6
    assert split_large_clusters(merged, edges, max_size=0).equals(merged)  # off
    shuffled = edges.sample(frac=1.0, random_state=3).reset_index(drop=True)
    pd.testing.assert_frame_equal(split, split_large_clusters(merged, shuffled, max_size=5))


def test_split_keeps_members_without_an_internal_edge_together():
    edges = _two_triangles_and_a_bridge()
    merged = pd.DataFrame({"account_id": list("abcxyz") + ["lone"], "cluster": [0] * 7})
    split = split_large_clusters(merged, edges, max_size=5, seed=0)
    assert split.set_index("account_id")["cluster"].nunique() == 3
    assert sorted(split["account_id"]) == sorted(merged["account_id"])


def test_ids_are_ordered_by_code_point_whatever_the_script():
    ids = ["é1", "z1", "a1", "😀1", "Ω1", "b1"]
    edges = pd.DataFrame({"account_a": ids[:3], "account_b": ids[3:], "weight": [1.0] * 3})
    clusters = leiden_clusters(edges, seed=0)
    assert clusters["account_id"].tolist() == sorted(ids)


def _cliques(names: list[str], size: int = 5) -> pd.DataFrame:
    """Disjoint cliques of ``size`` accounts (weight 1), one per name."""
    pairs = [(f"{n}{i}", f"{n}{j}") for n in names
             for i, j in itertools.combinations(range(size), 2)]
    return pd.DataFrame({"account_a": [a for a, _ in pairs], "account_b": [b for _, b in pairs],
                         "weight": 1.0})


def _groups_of(clusters: pd.DataFrame, *names: str) -> int:
    """How many clusters hold the members of the cliques ``names``."""
    return clusters.loc[clusters["account_id"].str[0].isin(names), "cluster"].nunique()


def test_a_long_log_merges_two_groups_unless_the_resolution_grows_with_it():
    """Two 5-cliques tied by one edge: alone they stay apart; beside 60 unrelated cliques
    modularity merges them (its threshold falls as the graph's total weight m grows);
    scaled beyond a reference weight, it does not."""
    bridge = pd.DataFrame({"account_a": ["A0"], "account_b": ["B0"], "weight": [1.0]})
    pair = pd.concat([_cliques(["A", "B"]), bridge], ignore_index=True)
    assert _groups_of(leiden_clusters(pair), "A", "B") == 2
    rest = _cliques([f"r{k:02d}_" for k in range(60)])
    long_log = pd.concat([pair, rest], ignore_index=True)
    assert _groups_of(leiden_clusters(long_log), "A", "B") == 1  # the resolution limit
    scaled = leiden_clusters(long_log, resolution=effective_resolution(
        float(long_log["weight"].sum()), reference_weight=float(pair["weight"].sum())))
    assert _groups_of(scaled, "A", "B") == 2
    assert scaled.groupby("cluster").size().eq(5).all()  # no clique split by the higher value


@pytest.mark.parametrize(("total", "reference", "expected"), [
    (10.0, 0.0, 1.5), (10.0, 20.0, 1.5), (20.0, 20.0, 1.5), (60.0, 20.0, 4.5)])
def test_effective_resolution_grows_only_beyond_the_reference(total, reference, expected):
    assert effective_resolution(total, resolution=1.5, reference_weight=reference) == expected
