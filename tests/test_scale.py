"""The bounded projection equals the exact reference on a log with a viral hub."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from graphs.bipartite import bipartite_incidence
from graphs.projection import co_engagement, windowed_pairs
from graphs.synthetic import synthetic_logs


def _reference_edges(inc, *, window_s, max_crowd, min_shared):
    """Aggregate every materialised pair with pandas: the definition, without the kernel."""
    pairs = windowed_pairs(inc, window_s=window_s, max_crowd=max_crowd).to_pandas()
    per_target = pairs.groupby(["a", "b", "target"], as_index=False).agg(dt=("dt", "min"),
                                                                       w=("w", "max"))
    per_pair = per_target.groupby(["a", "b"], as_index=False).agg(
        shared=("target", "size"), weight=("w", "sum"), median=("dt", "median"))
    kept = per_pair[per_pair["shared"] >= min_shared]
    ids = inc.account_ids.to_numpy(zero_copy_only=False)
    return (kept.assign(a=ids[kept["a"]], b=ids[kept["b"]]).sort_values(["a", "b"])
            .reset_index(drop=True), per_target)


def test_bounded_projection_equals_reference_with_a_viral_hub():
    logs = synthetic_logs(n_organic=500, n_farms=1, farm_size=20, n_fandoms=1, n_viral=2,
                          viral_size=(300, 400), days=2.0, seed=11)
    table = pa.Table.from_pandas(logs.interactions, preserve_index=False)
    inc = bipartite_incidence(table)
    result = co_engagement(inc, window_s=3600, max_crowd=100, min_shared_targets=2,
                           chunk_ties=5000)
    expected, per_target = _reference_edges(inc, window_s=3600, max_crowd=100, min_shared=2)
    edges = result.edges
    assert result.stats["hub_actions_skipped"] > 0 and result.stats["projection_chunks"] > 3
    assert result.stats["account_target_pairs"] == len(per_target)
    assert edges["account_a"].tolist() == expected["a"].tolist()
    assert edges["account_b"].tolist() == expected["b"].tolist()
    assert edges["shared_targets"].tolist() == expected["shared"].tolist()
    np.testing.assert_allclose(edges["weight"], expected["weight"], rtol=1e-9)
    np.testing.assert_allclose(edges["median_dt_s"], expected["median"])
    assert len(result.evidence) == int(expected["shared"].sum())
