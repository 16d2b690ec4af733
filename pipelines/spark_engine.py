"""The Spark engine: ingest typing and the co-engagement projection on a Spark cluster.

``engine = "spark"`` (``--engine spark --spark-master URL``) reads the log files with Spark,
types them with the same rules as :mod:`graphs.interactions` (trimmed ids, lower-cased
actions, ISO-8601 or epoch seconds/milliseconds, exact duplicates collapsed), and projects
them with the same definition as :func:`graphs.projection.co_engagement`: crowds by a
window function over (target, time), in-window action pairs by a self-join on target and
adjacent time buckets (:func:`near_pairs`: bounded like the DuckDB kernel) with the time
condition, the same ``max_crowd`` rule and ``1 / log2(crowd)`` discount, the
closest pair per (pair, target), then ``shared_targets``, ``weight`` and ``median_dt_s``
per pair. Only the kept edges, their evidence and per-account activity come back to the
driver, where significance, clustering, scoring and the report run unchanged.

PySpark is an optional extra (``pip install 'cohortscan[spark]'``); it needs Java 17.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from graphs.projection import CoEngagement, targets_json
from graphs.significance import bh_q_values, expected_ties, tie_p_values
from pipelines.ingest import InputError, file_format

log = logging.getLogger(__name__)
COLUMNS = ("account_id", "target_id", "action", "timestamp")


def spark_session(master: str = "local[2]", app_name: str = "cohortscan") -> Any:
    """Start (or reuse) a Spark session in UTC; raise InputError when PySpark is missing.

    An empty ``master`` leaves it to ``spark-submit --master``.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise InputError("engine 'spark' needs PySpark: pip install 'cohortscan[spark]'") from exc
    builder = SparkSession.builder.master(master) if master else SparkSession.builder
    session = (builder.appName(app_name)
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "8")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    return session


def spark_interactions(spark: Any, files: Sequence[Path], columns: Mapping[str, str]) -> Any:
    """Read and type the log files on Spark: ``account_id, target_id, action, time`` (seconds).

    Rows with a missing field or an unparseable timestamp are dropped (the driver-side
    ingest counts and reports them); exact duplicates are collapsed.
    """
    from pyspark.sql import functions as F

    frames = []
    for path in files:
        fmt = file_format(path)
        if fmt == "csv":
            sep = "\t" if ".tsv" in path.name.lower() else ","
            df = spark.read.csv(str(path), header=True, sep=sep, quote='"', escape='"')
        elif fmt == "parquet":
            df = spark.read.parquet(str(path))
        else:
            df = spark.read.json(str(path))
        frames.append(df.select(*[F.col(f"`{columns.get(c, c)}`").cast("string").alias(c)
                                  for c in COLUMNS]))
    raw = frames[0]
    for frame in frames[1:]:
        raw = raw.unionByName(frame)
    return _typed(raw)


def _typed(raw: Any) -> Any:
    from pyspark.sql import functions as F

    ts = F.trim("timestamp")
    number = ts.try_cast("double")
    seconds = (F.when(number.isNotNull() & (F.abs(number) < 1e11), number)
               .when(number.isNotNull() & (F.abs(number) < 1e14), number / 1000)
               .when(number.isNull(), F.unix_micros(ts.try_cast("timestamp")) / 1e6))
    typed = raw.select(
        F.nullif(F.trim("account_id"), F.lit("")).alias("account_id"),
        F.nullif(F.trim("target_id"), F.lit("")).alias("target_id"),
        F.nullif(F.lower(F.trim("action")), F.lit("")).alias("action"),
        F.floor(seconds).cast("long").alias("time"))
    return typed.dropna().dropDuplicates()


def spark_co_engagement(interactions: Any, *, window_s: int = 3600, max_crowd: int = 1000,
                        min_shared_targets: int = 2) -> CoEngagement:
    """Project typed Spark interactions onto accounts; same tables as ``co_engagement``."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    around = Window.partitionBy("target_id").orderBy("time").rangeBetween(-window_s, window_s)
    acts = interactions.withColumn("crowd", F.count(F.lit(1)).over(around)).cache()
    paired = acts.where(F.col("crowd") <= max_crowd)
    pairs = near_pairs(paired, window_s).where(
        F.abs(F.col("a.time") - F.col("b.time")) <= window_s)
    pairs = pairs.select(
        F.col("a.account_id").alias("account_a"), F.col("b.account_id").alias("account_b"),
        F.col("a.target_id").alias("target_id"),
        F.struct(F.abs(F.col("a.time") - F.col("b.time")).alias("dt"),
                 F.col("a.time").alias("ta"), F.col("b.time").alias("tb"),
                 F.col("a.action").alias("action_a"), F.col("b.action").alias("action_b"))
        .alias("tie"),
        (1.0 / F.log2(F.greatest("a.crowd", "b.crowd", F.lit(2)))).alias("w")).cache()
    per_target = (pairs.groupBy("account_a", "account_b", "target_id")
                  .agg(F.min("tie").alias("tie"), F.max("w").alias("w"))).cache()
    per_pair = per_target.groupBy("account_a", "account_b").agg(
        F.count(F.lit(1)).alias("shared_targets"), F.sum("w").alias("weight"),
        F.expr("percentile(tie.dt, 0.5)").alias("median_dt_s"))
    kept = per_pair.where(F.col("shared_targets") >= min_shared_targets).cache()
    evidence = per_target.join(kept.select("account_a", "account_b"),
                               ["account_a", "account_b"], "left_semi")
    counts = _counts(acts, pairs, per_target, max_crowd)
    is_paired = F.col("crowd") <= max_crowd  # hub actions stay out of the null, as in DuckDB
    activity = acts.groupBy("account_id").agg(
        F.sum(F.when(is_paired, 1).otherwise(0)).alias("n_actions"),
        F.sum(F.when(is_paired, F.col("crowd") - 1).otherwise(0)).alias("crowd_sum"))
    result = _driver_tables(kept.toPandas(), evidence.select(
        "account_a", "account_b", "target_id", "tie.*").toPandas(), activity.toPandas(), counts)
    for frame in (acts, pairs, per_target, kept):
        frame.unpersist()
    return result


def near_pairs(paired: Any, window_s: int) -> Any:
    """Pairs of ``paired`` actions (aliased ``a`` and ``b``) on the same target by two accounts
    (``a.account_id < b.account_id``) whose times fall in the same or adjacent buckets of
    ``window_s`` seconds: every pair within the window is among them.

    A join on the target alone would compare every two actions on a target, k² for a target
    engaged k times over the log's span, before the time condition. Here each action meets
    the actions of three buckets only, and a bucket holds at most ``max_crowd`` paired
    actions (they are all within the window of each other, so each one's crowd counts them
    all): at most ``3 * max_crowd`` candidates per action, whatever the degree distribution
    (the DuckDB engine's bound, by construction).
    """
    from pyspark.sql import functions as F

    bucket = F.floor(F.col("time") / max(int(window_s), 1))
    keyed = paired.withColumn("bucket", bucket)
    near = paired.withColumn("bucket", F.explode(F.array(bucket - 1, bucket, bucket + 1)))
    a, b = keyed.alias("a"), near.alias("b")
    return a.join(b, (F.col("a.target_id") == F.col("b.target_id"))
                  & (F.col("a.bucket") == F.col("b.bucket"))
                  & (F.col("a.account_id") < F.col("b.account_id")))


def _counts(acts: Any, pairs: Any, per_target: Any, max_crowd: int) -> dict[str, int]:
    from pyspark.sql import functions as F

    hub = acts.where(F.col("crowd") > max_crowd)
    n_total, n_hub = acts.count(), hub.count()
    return {
        "n_actions": n_total - n_hub,
        "n_actions_total": n_total,
        "action_pairs_enumerated": pairs.count(),
        "account_target_pairs": per_target.count(),
        "candidate_pairs": per_target.select("account_a", "account_b").distinct().count(),
        "hub_actions_skipped": n_hub,
        "hub_targets": hub.select("target_id").distinct().count(),
    }


def _driver_tables(kept: pd.DataFrame, found: pd.DataFrame, activity: pd.DataFrame,
                   counts: dict[str, int]) -> CoEngagement:
    """Order, add targets JSON and significance on the driver, as the DuckDB engine does."""
    key = ["account_a", "account_b"]
    kept = kept.sort_values(key, ignore_index=True)
    found = found.sort_values([*key, "target_id"], ignore_index=True)
    evidence = pd.DataFrame({
        **{c: found[c].astype(object) for c in (*key, "target_id")},
        "time_a": pd.to_datetime(found["ta"], unit="s", utc=True),
        "time_b": pd.to_datetime(found["tb"], unit="s", utc=True),
        "action_a": found["action_a"].astype(object), "action_b": found["action_b"].astype(object),
        "dt_s": found["dt"].astype(float)})
    edges = kept.assign(shared_targets=kept["shared_targets"].astype(np.int64),
                        weight=kept["weight"].astype(float),
                        median_dt_s=kept["median_dt_s"].astype(float))
    # each kept pair's evidence rows follow one another, in the edges' order, by target
    codes, target_ids = pd.factorize(found["target_id"])
    edges["targets"] = targets_json(pa.array(target_ids, pa.string()), codes,
                                    edges["shared_targets"].to_numpy())
    per = activity.set_index("account_id")
    n_a, c_a = per["n_actions"].reindex(edges["account_a"]), per["crowd_sum"].reindex(
        edges["account_a"])
    n_b, c_b = per["n_actions"].reindex(edges["account_b"]), per["crowd_sum"].reindex(
        edges["account_b"])
    expected = expected_ties(n_a.to_numpy(float), n_b.to_numpy(float), c_a.to_numpy(float),
                             c_b.to_numpy(float), counts["n_actions"])
    p_values = tie_p_values(edges["shared_targets"].to_numpy(), expected)
    edges = edges.assign(expected_ties=expected, p_value=p_values,
                         q_value=bh_q_values(p_values, n_tests=counts["candidate_pairs"]))
    in_edges = np.unique(np.concatenate([edges["account_a"], edges["account_b"]]).astype(str))
    activity = (per.reindex(in_edges).rename_axis("account_id").reset_index()
                .astype({"n_actions": float, "crowd_sum": float}))
    stats = {**counts, "edges_kept": int(len(edges))}
    return CoEngagement(edges=edges, evidence=evidence, activity=activity, stats=stats)


def spark_projections(files: Sequence[Path], layers: Mapping[str, Any], *,
                      columns: Mapping[str, str], master: str, max_crowd: int,
                      min_shared_targets: int) -> dict[str, CoEngagement]:
    """The run's ``engage`` layer projected on Spark (``engine = "spark"``), read from ``files``.

    Only plain logs (one ``engage`` layer, generic columns) run on Spark; text, URL and
    order layers need the driver-side adapters and raise InputError.
    """
    other = sorted(set(layers) - {"engage"})
    if other:
        raise InputError(f"engine 'spark' projects the engage layer only; this input also has "
                         f"{', '.join(other)} (use engine = \"duckdb\")")
    if not layers:
        return {}
    log.info("spark: master %s, %d files", master, len(files))
    spark = spark_session(master)
    typed = spark_interactions(spark, files, columns)
    return {"engage": spark_co_engagement(typed, window_s=int(layers["engage"].window_s),
                                          max_crowd=max_crowd,
                                          min_shared_targets=min_shared_targets)}
