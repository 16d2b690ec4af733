from __future__ import annotations

import pandas as pd

from graphs.clustering import leiden_clusters


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
