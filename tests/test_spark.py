"""The Spark engine gives the same edges as the DuckDB engine (Spark local[2], one session)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from graphs.bipartite import bipartite_incidence
from graphs.interactions import validated_interactions
from graphs.synthetic import synthetic_logs
from pipelines.ingest import InputError, read_interactions
from pipelines.synthetic_io import write_synthetic

pyspark = pytest.importorskip("pyspark")
pytestmark = [pytest.mark.slow, pytest.mark.spark]

from pipelines.spark_engine import (  # noqa: E402
    spark_co_engagement,
    spark_interactions,
    spark_session,
)

KEY = ["account_a", "account_b"]


@pytest.fixture(scope="session")
def spark():
    session = spark_session("local[2]", app_name="cohortscan-tests")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def logs_dir(tmp_path_factory):
    logs = synthetic_logs(n_organic=400, n_farms=1, farm_size=15, n_fandoms=1, n_viral=2,
                          viral_size=(60, 120), days=2.0, seed=3)
    out = tmp_path_factory.mktemp("spark_logs")
    write_synthetic(logs, out)
    return out


def _duckdb_edges(files, **kw):
    from graphs.projection import co_engagement

    raw = read_interactions(files, {})
    return co_engagement(bipartite_incidence(validated_interactions(raw.raw).interactions), **kw)


def test_spark_edges_equal_duckdb_edges(spark, logs_dir):
    files = [logs_dir / "interactions.csv.gz"]
    kw = {"window_s": 3600, "max_crowd": 40, "min_shared_targets": 2}
    ours = _duckdb_edges(files, **kw)
    theirs = spark_co_engagement(spark_interactions(spark, files, {}), **kw)
    assert len(ours.edges) > 20 and ours.stats["hub_actions_skipped"] > 0
    left, right = ours.edges.set_index(KEY), theirs.edges.set_index(KEY)
    assert left.index.equals(right.index)
    assert (left["shared_targets"] == right["shared_targets"]).all()
    assert (left["targets"] == right["targets"]).all()
    np.testing.assert_allclose(right["weight"], left["weight"], rtol=1e-6)
    np.testing.assert_allclose(right["median_dt_s"], left["median_dt_s"])
    np.testing.assert_allclose(right["p_value"], left["p_value"], rtol=1e-6)
    np.testing.assert_allclose(right["q_value"], left["q_value"], rtol=1e-6)
    cols = [*KEY, "target_id", "dt_s", "action_a", "action_b"]
    spelled = ours.evidence[cols].astype({c: "str" for c in (*KEY, "target_id", "action_a",
                                                              "action_b")})  # ours: codes
    pd.testing.assert_frame_equal(spelled, theirs.evidence[cols], check_dtype=False)
    for key in ("n_actions", "action_pairs_enumerated", "account_target_pairs",
                "candidate_pairs", "hub_actions_skipped", "hub_targets", "edges_kept"):
        assert theirs.stats[key] == ours.stats[key], key


def test_spark_types_epochs_and_drops_bad_rows(spark, tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("account_id,target_id,action,timestamp\n"
                   " a ,p,LIKE,1700000000\nb,p,like,1700000060000\n"
                   "c,p,like,2023-11-14T22:14:20Z\nd,p,like,not a time\n,p,like,1700000000\n"
                   " a ,p,LIKE,1700000000\n")
    rows = spark_interactions(spark, [log], {}).orderBy("account_id").collect()
    assert [(r.account_id, r.action, r.time) for r in rows] == [
        ("a", "like", 1700000000), ("b", "like", 1700000060), ("c", "like", 1700000060)]


def test_spark_reads_parquet_with_mapped_columns(spark, tmp_path):
    import pyarrow.parquet as pq

    path = tmp_path / "log.parquet"
    pq.write_table(pa.table({"user": ["a", "b"], "target_id": ["p", "p"], "action": ["like"] * 2,
                             "timestamp": ["2026-11-01T00:00:00Z", "2026-11-01T00:01:00Z"]}), path)
    result = spark_co_engagement(spark_interactions(spark, [path], {"account_id": "user"}),
                                 window_s=600, min_shared_targets=1)
    assert result.edges[["account_a", "account_b", "shared_targets"]].values.tolist() == [
        ["a", "b", 1]]
    assert result.evidence["dt_s"].tolist() == [60.0]


def test_spark_rejects_unknown_format(spark, tmp_path):
    with pytest.raises(InputError, match="unknown input format"):
        spark_interactions(spark, [tmp_path / "log.xlsx"], {})
