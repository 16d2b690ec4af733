"""The Spark engine: the co-engagement projection on a Spark cluster.

``engine = "spark"`` (``--engine spark --spark-master URL``) projects the log that
:mod:`pipelines.spark_log` read and typed on Spark with the same definition as
:func:`graphs.projection.co_engagement`: crowds by a window function over (target, time),
in-window action pairs by a self-join on target and adjacent time buckets
(:func:`near_pairs`: bounded like the DuckDB kernel) with the time condition, the same
``max_crowd`` rule and ``1 / log2(crowd)`` discount, the closest pair per (pair, target),
then ``shared_targets``, ``weight`` and ``median_dt_s`` per pair. Only the kept edges, their
evidence, per-account activity and the distinct targets and actions come back to the driver,
which codes them as the DuckDB engine does; significance, clustering, scoring and the report
run there unchanged (:func:`spark_passes` runs the slow pass and every layer but ``text``).

PySpark is an optional extra (``pip install 'cohortscan[spark]'``); it needs Java 17.
"""

from __future__ import annotations

import logging
import os
import sys
from functools import partial
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

from graphs.edge_targets import targets_json
from graphs.lookup import run_codes, sorted_codes
from graphs.multiplex import layer_of_action
from graphs.projection import CoEngagement, coded_ids, id_categories
from graphs.significance import bh_q_values, expected_ties, tie_p_values
from pipelines.config import RunConfig, layer_windows_s
from pipelines.ingest import InputError
from pipelines.limits import default_memory_gb
from pipelines.slow_pass import SlowPass, slow_pass, slow_skip_reason
from pipelines.spark_log import SparkIngest, SparkLog, to_driver

log = logging.getLogger(__name__)
FEWER_TIES = (", or keep fewer ties (a larger min_shared_targets, a smaller max_crowd or "
              "window)")
COLUMNS = ("account_id", "target_id", "action", "timestamp")


def spark_session(master: str = "local[2]", app_name: str = "cohortscan") -> Any:
    """Start (or reuse) a Spark session in UTC; raise InputError when PySpark is missing.

    An empty ``master`` leaves it to ``spark-submit --master``. On a ``local[N]`` master the
    Python workers, which run the ingest (:mod:`pipelines.spark_log`), use this interpreter
    unless ``PYSPARK_PYTHON`` says otherwise (PySpark's default is the ``PATH``'s ``python3``,
    which may lack cohortscan).
    """
    require_pyspark()
    from pyspark.sql import SparkSession

    if master.startswith("local"):  # the workers run the ingest (pipelines.spark_log) with
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # this venv, not PATH's python3
    builder = SparkSession.builder.master(master) if master else SparkSession.builder
    builder = builder.appName(app_name)
    for key, value in session_settings(master).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def require_pyspark() -> None:
    """Raise InputError when PySpark is not installed (a run checks before it reads its logs).

    >>> require_pyspark()  # installed here
    """
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise InputError("engine 'spark' needs PySpark: pip install 'cohortscan[spark]'") from exc


def session_settings(master: str) -> dict[str, str]:
    """Settings of the session for ``master``: UTC, Arrow transfers and no console progress
    bar of Spark's always (its ``[Stage 3:==>  (1 + 2) / 8]`` lines broke into the run's own
    progress display on a terminal, and into its log otherwise; the Spark UI shows them).

    On a ``local[N]`` master, where the driver's JVM does all the work, also: 8 shuffle
    partitions, no web UI, no limit on what comes back to the driver (Spark's default refuses
    results above 1 GiB; the run checks its own memory after the projection), and a heap of
    half the run's default memory budget (:func:`pipelines.limits.default_memory_gb`) instead
    of Spark's 1g, in which the generator's 1M-row log failed ("TaskResultLost (result lost
    from block manager)" as the evidence came back). A cluster (or an empty ``master``:
    ``spark-submit`` decides) keeps its own settings: 8 partitions would put hundreds of
    millions of pairs in each task of a large log.

    >>> session_settings("local[2]")["spark.sql.shuffle.partitions"]
    '8'
    >>> sorted(session_settings("spark://master:7077"))[1:]
    ['spark.sql.session.timeZone', 'spark.ui.showConsoleProgress']
    """
    settings = {"spark.sql.session.timeZone": "UTC",
                "spark.sql.execution.arrow.pyspark.enabled": "true",
                "spark.ui.showConsoleProgress": "false"}
    if master.startswith("local"):
        heap_gb = max(1, int(default_memory_gb() / 2))
        settings |= {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "8",
                     "spark.driver.maxResultSize": "0", "spark.driver.memory": f"{heap_gb}g"}
    return settings


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
        (1.0 / F.log2(F.greatest("a.crowd", "b.crowd", F.lit(2)))).alias("w"))
    # One shuffle, by pair: the (pair, target) aggregate and each pair's count of targets
    # then need none (a pair's rows are in one partition). Separate group-bys for the pairs
    # and a join back for their evidence shuffled the pairs three times (10.7M at 244k rows).
    by_pair = Window.partitionBy("account_a", "account_b")
    per_target = (pairs.repartition("account_a", "account_b")
                  .groupBy("account_a", "account_b", "target_id")
                  .agg(F.min("tie").alias("tie"), F.max("w").alias("w"),
                       F.count(F.lit(1)).alias("n_pairs"))
                  .withColumn("shared_targets", F.count(F.lit(1)).over(by_pair))).cache()
    evidence = per_target.where(F.col("shared_targets") >= min_shared_targets)
    counts = _counts(acts, per_target, max_crowd)
    is_paired = F.col("crowd") <= max_crowd  # hub actions stay out of the null, as in DuckDB
    activity = acts.groupBy("account_id").agg(
        F.sum(F.when(is_paired, 1).otherwise(0)).alias("n_actions"),
        F.sum(F.when(is_paired, F.col("crowd") - 1).otherwise(0)).alias("crowd_sum"))
    ties = partial(to_driver, what="the kept ties", hint=FEWER_TIES)
    result = _driver_tables(
        ties(evidence.select("account_a", "account_b", "target_id", "tie.*", "w").toPandas),
        ties(activity.toPandas), counts,
        targets=ties(acts.select("target_id").distinct().toPandas)["target_id"],
        actions=ties(acts.select("action").distinct().toPandas)["action"])
    for frame in (acts, per_target):
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


def _counts(acts: Any, per_target: Any, max_crowd: int) -> dict[str, int]:
    from pyspark.sql import functions as F

    hub = F.col("crowd") > max_crowd
    n_total, n_hub = acts.agg(F.count(F.lit(1)), F.sum(F.when(hub, 1).otherwise(0))).first()
    n_per_target, n_pairs = per_target.agg(F.count(F.lit(1)), F.sum("n_pairs")).first()
    # a pair of n shared targets has n rows: the pairs are the rows of each n divided by n
    n_candidates = sum(row["count"] // row["shared_targets"] for row in
                       per_target.groupBy("shared_targets").count().collect())
    return {
        "n_actions": int(n_total) - int(n_hub or 0),
        "n_actions_total": int(n_total),
        "action_pairs_enumerated": int(n_pairs or 0),
        "account_target_pairs": int(n_per_target),
        "candidate_pairs": int(n_candidates),
        "hub_actions_skipped": int(n_hub or 0),
        "hub_targets": acts.where(hub).select("target_id").distinct().count(),
    }


def _driver_tables(found: pd.DataFrame, activity: pd.DataFrame,
                   counts: dict[str, int], *, targets: pd.Series,
                   actions: pd.Series) -> CoEngagement:
    """Code, order, add targets JSON and significance on the driver, as the DuckDB engine does;
    the kept edges are the runs of pairs of their evidence ``found``.

    Ids and actions become categoricals over the log's sorted accounts (``activity`` has
    them all), ``targets`` and ``actions``: integer codes and one dictionary per kind, as
    :func:`graphs.projection.co_engagement` returns them, and both passes share their
    dictionaries (as Python strings, the driver peaked at 1.41 GiB instead of 0.86 on the
    generator's 244k rows)."""
    account_ids, account_rank = sorted_codes(activity["account_id"])
    n_actions = np.empty(len(account_ids))
    crowd_sum = np.empty(len(account_ids))
    n_actions[account_rank] = activity["n_actions"].to_numpy(dtype=float)
    crowd_sum[account_rank] = activity["crowd_sum"].to_numpy(dtype=float)
    target_ids = sorted_codes(targets)[0]
    action_names = sorted_codes(actions)[0]
    a, b, t = (run_codes(found[c], ids) for c, ids in (("account_a", account_ids),
                                                       ("account_b", account_ids),
                                                       ("target_id", target_ids)))
    order = np.lexsort((t, b, a))  # codes are ranks of the sorted ids: the text's order
    a, b, t = a[order], b[order], t[order]
    dt_s = found["dt"].to_numpy(dtype=float)[order]
    accounts, kinds = id_categories(account_ids), id_categories(action_names)
    evidence = pd.DataFrame({
        "account_a": coded_ids(accounts, a), "account_b": coded_ids(accounts, b),
        "target_id": coded_ids(id_categories(target_ids), t),
        **{f"time_{s}": pd.Series(pd.to_datetime(found[f"t{s}"].to_numpy()[order], unit="s",
                                                 utc=True)) for s in "ab"},
        **{f"action_{s}": coded_ids(kinds, run_codes(found[f"action_{s}"], action_names)[order])
           for s in "ab"},
        "dt_s": dt_s})
    starts = np.ones(len(a), dtype=bool)  # an edge's first evidence row
    starts[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    first = np.flatnonzero(starts)
    ka, kb = a[first], b[first]
    shared = np.diff(np.append(first, len(a))).astype(np.int64)
    edges = pd.DataFrame({
        "account_a": coded_ids(accounts, ka), "account_b": coded_ids(accounts, kb),
        "shared_targets": shared, "weight": _summed(found["w"].to_numpy(dtype=float)[order],
                                                    shared),
        "median_dt_s": _medians(dt_s, shared),
        # each edge's evidence rows follow one another, in the edges' order, by target
        "targets": targets_json(target_ids, t, shared)})
    expected = expected_ties(n_actions[ka], n_actions[kb], crowd_sum[ka], crowd_sum[kb],
                             counts["n_actions"])
    p_values = tie_p_values(shared, expected)
    edges = edges.assign(expected_ties=expected, p_value=p_values,
                         q_value=bh_q_values(p_values, n_tests=counts["candidate_pairs"]))
    in_edges = np.unique(np.concatenate([ka, kb]))
    activity = pd.DataFrame({"account_id": account_ids.take(pa.array(in_edges)).to_pandas(),
                             "n_actions": n_actions[in_edges], "crowd_sum": crowd_sum[in_edges]})
    stats = {**counts, "edges_kept": int(len(edges))}
    return CoEngagement(edges=edges, evidence=evidence, activity=activity, stats=stats)


def _medians(values: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Medians of consecutive runs of ``values`` of the given ``sizes`` (the mean of the two
    middle values of an even run, as the DuckDB kernel's). Spark's exact ``percentile`` over
    every candidate pair (not only the kept ones) held all their times in its aggregation
    buffers; here it is one sort of the kept edges' evidence.

    >>> _medians(np.array([5.0, 1.0, 3.0, 2.0, 9.0]), np.array([3, 2])).tolist()
    [3.0, 5.5]
    """
    if not len(sizes):
        return np.zeros(0)
    run = np.repeat(np.arange(len(sizes)), sizes)
    ranked = values[np.lexsort((values, run))]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return 0.5 * (ranked[starts + (sizes - 1) // 2] + ranked[starts + sizes // 2])


def _summed(values: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Sums of consecutive runs of ``values`` of the given ``sizes``, each added in row order.

    An edge's weight is summed here, over its evidence rows sorted by target, and not by
    Spark: Spark adds in the order its tasks deliver the rows, which changes with the plan
    and the cluster (the last bits of the weights did, from one version of the plan to the
    next), so the same input would not give the same bytes.

    >>> _summed(np.array([1.0, 2.0, 4.0]), np.array([2, 1])).tolist()
    [3.0, 4.0]
    """
    if not len(sizes):
        return np.zeros(0)
    return np.add.reduceat(values, np.concatenate([[0], np.cumsum(sizes)[:-1]]))


class SparkPasses(NamedTuple):
    """Both passes of a run projected on Spark (:func:`spark_passes`)."""

    slow: SlowPass | None
    per_layer: dict[str, CoEngagement]
    weights: dict[str, float]
    slow_skip: str
    """Why the slow pass did not run ("" when it did)."""


def spark_passes(source: SparkLog, ingest: SparkIngest, config: RunConfig, *,
                 posts: pd.DataFrame | None) -> SparkPasses:
    """The run's slow pass and its layers projected on Spark from ``source``, as a ``duckdb``
    run projects them (:func:`pipelines.slow_pass.slow_projection` on the ``engage`` layer,
    then every layer with its own window; the driver fuses them with their weights).

    An action's layer is :func:`graphs.multiplex.layer_of_action`'s: ``engage``, ``url``
    (``share_url`` rows, their links normalised on the executors) or one ``[action_layers]``
    names. The ``text`` layer (near-duplicate texts grouped over the whole log) raises
    InputError, as do logs that need an adapter.
    """
    layer_of = dict(config.action_layers)
    actions_of: dict[str, list[str]] = {}
    for action in ingest.actions:
        actions_of.setdefault(layer_of_action(action, layer_of), []).append(action)
    if "text" in actions_of:
        raise InputError("engine 'spark' does not project the text layer (its near-duplicate "
                         f"texts are grouped over the whole log); this input has "
                         f"{', '.join(actions_of['text'])} rows (use engine = \"duckdb\")")
    engage = actions_of.get("engage", [])
    whole = engage == ingest.actions  # one layer: no filtered copy, no count
    rows = {name: source.layer_rows(actions, url=name == "url")
            for name, actions in actions_of.items()}
    skip = slow_skip_reason(
        config, n_engage=ingest.interactions if whole else (
            rows["engage"].count() if engage else 0),
        same_action=lambda: source.same_action_chance(rows["engage"]))
    slow = None if skip else slow_pass(spark_co_engagement(
        rows["engage"], window_s=config.slow_window_s, max_crowd=config.slow_max_crowd,
        min_shared_targets=config.min_shared_targets), posts)
    windows = layer_windows_s(config)
    per_layer = {name: spark_co_engagement(rows[name],
                                           window_s=windows.get(name, config.window_s),
                                           max_crowd=config.max_crowd,
                                           min_shared_targets=config.min_shared_targets)
                 for name in sorted(rows)}
    return SparkPasses(slow, per_layer, {name: float(config.layer_weights.get(name, 1.0))
                                         for name in per_layer}, skip)
