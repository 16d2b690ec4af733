"""The Spark engine gives the same edges as the DuckDB engine (Spark local[2], one session)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from graphs.bipartite import bipartite_incidence
from graphs.interactions import decoded, validated_interactions
from graphs.synthetic import synthetic_logs
from pipelines.ingest import InputError, read_interactions
from pipelines.synthetic_io import write_synthetic

pyspark = pytest.importorskip("pyspark")
pytestmark = [pytest.mark.slow, pytest.mark.spark]

from pipelines.spark_engine import near_pairs, spark_co_engagement, spark_session  # noqa: E402
from pipelines.spark_log import SparkLog, spark_interactions  # noqa: E402

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
    cols = [*KEY, "target_id", "time_a", "time_b", "dt_s", "action_a", "action_b"]
    pd.testing.assert_frame_equal(theirs.evidence[cols], ours.evidence[cols])  # codes alike
    for name in (*KEY, "target_id", "action_a", "action_b"):  # over the same sorted ids
        assert theirs.evidence[name].dtype == ours.evidence[name].dtype, name
    assert theirs.edges["account_a"].dtype == ours.edges["account_a"].dtype
    pd.testing.assert_frame_equal(theirs.activity, ours.activity, check_dtype=False)
    for key in ("n_actions", "action_pairs_enumerated", "account_target_pairs",
                "candidate_pairs", "hub_actions_skipped", "hub_targets", "edges_kept"):
        assert theirs.stats[key] == ours.stats[key], key


def test_spark_weights_do_not_depend_on_the_plan(spark, logs_dir):
    """Spark adds in the order its tasks deliver rows; the weights are summed on the driver,
    so another partitioning gives the same bytes."""
    files = [logs_dir / "interactions.csv.gz"]
    kw = {"window_s": 3600, "max_crowd": 40, "min_shared_targets": 1}
    found = []
    for partitions in ("8", "3"):
        spark.conf.set("spark.sql.shuffle.partitions", partitions)
        try:
            found.append(spark_co_engagement(spark_interactions(spark, files, {}), **kw).edges)
        finally:
            spark.conf.set("spark.sql.shuffle.partitions", "8")
    assert len(found[0]) > 100
    pd.testing.assert_frame_equal(found[0], found[1], check_exact=True)


def test_spark_pairs_are_bounded_on_a_long_lived_target(spark):
    """One target engaged 600 times, every 10 minutes over 100 hours: every crowd is 13, so no
    action is a hub, yet a join on the target alone would weigh 179,700 pairs of actions."""
    n, window = 600, 3600
    rows = pd.DataFrame({"account_id": [f"u{i:03d}" for i in range(n)], "target_id": "t",
                         "action": "like", "time": 1_700_000_000 + 600 * np.arange(n)})
    paired = spark.createDataFrame(rows).withColumn("crowd", pyspark.sql.functions.lit(13))
    candidates = near_pairs(paired, window)
    assert candidates.count() <= 3 * 13 * n  # three buckets of at most 13 actions each
    within = candidates.where("abs(a.time - b.time) <= 3600").select("a.account_id",
                                                                      "b.account_id").collect()
    assert sorted(map(tuple, within)) == [(f"u{i:03d}", f"u{j:03d}") for i in range(n)
                                          for j in range(i + 1, min(i + 7, n))]


def test_spark_types_epochs_and_drops_bad_rows(spark, tmp_path):
    log = tmp_path / "a day's log.csv"  # read as file://…, as on a cluster's shared disk
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


def test_spark_run_flags_the_duckdb_runs_cohorts(spark, logs_dir, tmp_path):
    """A whole run with ``engine = "spark"`` (both passes projected on Spark, then the driver's
    clustering, scoring and report) flags the same groups of accounts as the DuckDB run."""
    from pipelines.config import load_config
    from pipelines.run import run

    common = dict(inputs=[str(logs_dir / "interactions.csv.gz")], posts=logs_dir / "posts.csv",
                  accounts=logs_dir / "accounts.csv", max_crowd=40, seed=1)
    results = {engine: run(load_config(None, out=tmp_path / engine, engine=engine, **common))
               for engine in ("duckdb", "spark")}

    def flagged(result) -> list[list[str]]:
        members = pd.read_csv(result.out / "memberships.csv")
        cohorts = result.cohorts.loc[result.cohorts["flagged"], "cohort_id"]
        return sorted(sorted(members.loc[members["cohort_id"] == c, "account_id"])
                      for c in cohorts)

    assert flagged(results["duckdb"])  # the farm is found
    assert flagged(results["spark"]) == flagged(results["duckdb"])
    for key in ("edges_kept", "action_pairs_enumerated", "candidate_pairs"):
        assert (results["spark"].manifest["projection"][key]
                == results["duckdb"].manifest["projection"][key]), key
    assert (results["spark"].manifest["projection"]["slow_pass"]["edges_kept"]
            == results["duckdb"].manifest["projection"]["slow_pass"]["edges_kept"])
    assert results["spark"].manifest["versions"]["pyspark"] == pyspark.__version__
    assert "pyspark" not in results["duckdb"].manifest["versions"]


@pytest.fixture(scope="module")
def messy_logs(tmp_path_factory):
    """Three files of the three formats with rows every check rejects, a line the CSV reader
    cannot split, an invalid JSON line and duplicates within and across files."""
    import pyarrow.parquet as pq

    out = tmp_path_factory.mktemp("messy")
    (out / "a.csv").write_text(
        "account_id,target_id,action,timestamp\n"
        " u1 ,p1,LIKE,1793527200\nu2,p1,like,1793527260000\nu3,p1,like,not a time\n"
        ",p1,like,1793527200\nu4,p1\nu1,p1,like,1793527200\nu5,p2,share,2099-01-02T00:00:00Z\n"
        "u6,p1,like,2026-11-01T10:00:00.5Z\nu6,p1,like,2026-11-01T10:00:00.7Z\n")
    pq.write_table(pa.table({"user": ["u1", "u2", "u7"], "target_id": ["p1", "p2", ""],
                             "action": ["like", "like", "like"],
                             "timestamp": ["1793527200", "1793527300", "1793527300"]}),
                   out / "b.parquet")
    (out / "c.jsonl").write_text(
        '{"user": "u8", "target_id": "p2", "action": "like", "timestamp": "1793527400"}\n'
        '{"user": "u9", "target_id"\n'
        '{"user": "u1", "target_id": "p1", "action": "like", "timestamp": "1793527200"}\n')
    return sorted(out.iterdir())


def test_spark_ingest_is_the_duckdb_ingest(spark, messy_logs):
    """Each file is typed by the DuckDB ingest in a Spark task: the same rejected rows (reason
    and file line), counts and accepted rows as the driver's ingest of a duckdb run, and the
    report's rows of some accounts as that run sets them aside."""
    from pipelines.ingest import streamed_interactions
    from pipelines.set_aside import rows_of_accounts, set_aside

    cases = [([messy_logs[0]], {}, 1), (messy_logs[1:], {"account_id": "user"}, 0)]
    for files, columns, future in cases:
        ours = streamed_interactions(files, columns)
        source = SparkLog(files, columns, "local[2]")
        try:
            theirs = source.ingest()
            rejected = pa.concat_tables([ours.parse_rejects, ours.valid.rejected]).sort_by(
                [("source", "ascending"), ("line", "ascending")])
            assert theirs.rejected.to_pylist() == rejected.to_pylist()
            assert (theirs.rows_read, theirs.rows_accepted, theirs.interactions) == (
                ours.valid.rows_read + ours.parse_rejects.num_rows, ours.valid.rows_accepted,
                ours.valid.interactions.num_rows)
            assert theirs.future_timestamps == future
            typed = source.typed().select("account_id", "target_id", "action", "timestamp")
            assert typed.toArrow().sort_by([(c, "ascending") for c in (
                "timestamp", "account_id", "target_id", "action")]).equals(
                decoded(ours.valid.interactions))
            aside = set_aside(ours.valid.interactions, files[0].parent / "aside.arrow")
            for accounts in (["u1", "u6", "nobody"], []):
                assert source.rows_of_accounts(accounts).equals(rows_of_accounts(aside, accounts))
        finally:
            source.close()


def test_spark_ingest_counts_every_file(spark, messy_logs):
    source = SparkLog([messy_logs[0], messy_logs[0].with_name("b.parquet")],
                      {"account_id": "user"}, "local[2]")
    with pytest.raises(InputError, match="a.csv.*user"):  # the CSV has account_id, not user
        source.ingest()
    source.close()


def test_spark_run_quarantines_like_the_duckdb_run(spark, messy_logs, tmp_path):
    """A whole spark run on the messy files: the same rejected.csv and row accounting as a
    duckdb run, and rows read = accepted + rejected."""
    from pipelines.config import load_config
    from pipelines.run import run

    files = [str(p) for p in messy_logs if p.suffix != ".csv"]
    results = {engine: run(load_config(None, inputs=files, out=tmp_path / engine, engine=engine,
                                       columns={"account_id": "user"}, min_size=2))
               for engine in ("duckdb", "spark")}
    assert ((tmp_path / "spark" / "rejected.csv").read_text()
            == (tmp_path / "duckdb" / "rejected.csv").read_text())
    rows = {engine: {k: v for k, v in r.manifest["rows"].items()}
            for engine, r in results.items()}
    assert rows["spark"] == rows["duckdb"]
    assert rows["spark"]["rows_read"] == 6 == 4 + rows["spark"]["rows_rejected"]


def test_spark_run_refuses_logs_that_need_an_adapter(spark, tmp_path):
    from pipelines.config import load_config
    from pipelines.run import run

    log = tmp_path / "log.csv"
    log.write_text("account_id,target_id,action,timestamp\nu1,http://x.org/a,share_url,1\n")
    with pytest.raises(InputError, match="reads plain logs"):
        run(load_config(None, inputs=[str(log)], out=tmp_path / "o", engine="spark",
                        format="cnt"))


def test_spark_nightly_run_tracks_the_duckdb_nightlys_cohorts(spark, tmp_path):
    """A nightly run (its partition reader is for the driver's ingest) on the spark engine:
    the executors read the day's partitions, and the same cohorts are tracked."""
    import datetime as dt

    from pipelines.nightly import load_nightly, nightly
    from tests.test_nightly import _write_week

    _write_week(tmp_path)
    day = dt.date(2026, 11, 2)
    lineage, rows = {}, {}
    for engine in ("duckdb", "spark"):
        cfg = load_nightly(None, input=str(tmp_path / "logs" / "date={date}" / "*.csv"),
                           store=tmp_path / engine / "history.duckdb",
                           reports=tmp_path / engine / "reports", posts=tmp_path / "posts.csv",
                           engine=engine)
        result = nightly(cfg, day)
        lineage[engine] = pd.read_csv(result.out / "lineage.csv")
        rows[engine] = result.manifest["rows"]
    assert rows["spark"] == rows["duckdb"] and rows["spark"]["rows_read"] > 500
    assert len(lineage["duckdb"]) > 0
    pd.testing.assert_frame_equal(lineage["spark"], lineage["duckdb"])


def test_spark_tasks_show_on_the_progress_step(spark, caplog):
    """Without a display, Spark's tasks are logged as the step's progress (tenths)."""
    import logging
    import time

    from pipelines import progress
    from pipelines.spark_progress import spark_task_progress

    with (caplog.at_level(logging.INFO, logger="pipelines.progress"), progress.step("projection"),
          spark_task_progress(every_s=0.05)):
        spark.sparkContext.parallelize(range(4), 4).map(lambda x: time.sleep(0.5) or x).collect()
    lines = [r.getMessage() for r in caplog.records if "Spark tasks" in r.getMessage()]
    assert lines and lines[0].startswith("projection · Spark tasks: "), [
        r.getMessage() for r in caplog.records]


def test_spark_projects_every_layer_but_text(spark, logs_dir, tmp_path):
    """URL shares (normalised on the executors), a layer of [action_layers] with its own
    window and weights: the same fused edges, layer counts and flagged accounts as duckdb."""
    from pipelines.config import load_config
    from pipelines.run import run

    rows = pd.read_csv(logs_dir / "interactions.csv.gz", dtype=str)
    share, comment = rows["action"] == "share", rows["action"] == "comment"
    spelled = np.where(np.arange(len(rows)) % 2 == 0, "/?utm_source=tw", "")
    rows.loc[share, "target_id"] = ("https://www.site.org/" + rows.loc[share, "target_id"]
                                    + spelled[share.to_numpy()])
    rows.loc[share.to_numpy() & (np.arange(len(rows)) % 7 == 0), "target_id"] = "https:///x"
    rows.loc[share, "action"] = "share_url"
    rows.loc[comment, ["action", "target_id"]] = ["use_hashtag", "#tag"]
    rows.loc[comment, "target_id"] = "#" + rows.loc[comment, "account_id"].str[-1]
    log = tmp_path / "layers.csv"
    rows.to_csv(log, index=False)
    common = dict(inputs=[str(log)], posts=logs_dir / "posts.csv", max_crowd=40, seed=1,
                  action_layers={"use_hashtag": "hashtag"}, layer_windows={"hashtag": "10m"},
                  layer_weights={"url": 2.0})
    results = {engine: run(load_config(None, out=tmp_path / engine, engine=engine, **common))
               for engine in ("duckdb", "spark")}
    layers = {e: {name: {k: v for k, v in stats.items() if k != "projection_chunks"}
                  for name, stats in r.manifest["projection"]["layers"].items()}
              for e, r in results.items()}  # (chunks: the DuckDB kernel's)
    assert sorted(layers["duckdb"]) == ["engage", "hashtag", "url"]
    assert layers["spark"] == layers["duckdb"]
    edges = {e: pd.read_parquet(tmp_path / e / "edges.parquet").sort_values(KEY,
                                                                            ignore_index=True)
             for e in results}
    assert (edges["duckdb"]["layers"].str.contains("url")).any()
    exact = [c for c in edges["duckdb"].columns if not c.startswith("weight")
             and c not in ("expected_ties", "p_value", "q_value")]
    pd.testing.assert_frame_equal(edges["spark"][exact], edges["duckdb"][exact])
    for column in ("weight", "weight:url", "weight:hashtag", "p_value", "q_value"):
        np.testing.assert_allclose(edges["spark"][column], edges["duckdb"][column], rtol=1e-9)
    assert ((tmp_path / "spark" / "memberships.csv").read_text()
            == (tmp_path / "duckdb" / "memberships.csv").read_text())


def test_spark_refuses_the_text_layer(spark, tmp_path):
    from pipelines.config import load_config
    from pipelines.run import run

    log = tmp_path / "log.csv"
    log.write_text("account_id,target_id,action,timestamp\nu1,same words here,post_text,1\n")
    with pytest.raises(InputError, match="does not project the text layer.*post_text rows"):
        run(load_config(None, inputs=[str(log)], out=tmp_path / "o", engine="spark"))
