"""``window = "auto"``: run detection once per candidate window and pick one by the data.

Each candidate window runs the same chain as :func:`pipelines.run.run` up to scoring (typed
layers, projection, Leiden, scoring — no outputs); :func:`graphs.window_scan.chosen_window`
compares the flagged cohorts of neighbouring windows (ARI) and picks the window with the
most flagged accounts among the stable ones. The scan table and the reason go to the
manifest under ``window_scan``. The scan costs one detection pass per candidate.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pandas as pd

from graphs.clustering import leiden_clusters
from graphs.multiplex import fused_co_engagement, layer_projections
from graphs.projection import clustered_edges
from graphs.scoring import scored_cohorts
from graphs.window_scan import chosen_window
from pipelines.config import RunConfig, window_seconds
from pipelines.layers import input_layers

__all__ = ["auto_window", "flagged_for_window"]


def flagged_for_window(raw: Any, interactions: Any, config: RunConfig, *,
                       posts: pd.DataFrame | None,
                       accounts: pd.DataFrame | None) -> pd.DataFrame:
    """The ``flagged_accounts`` of one detection pass with ``config.window_s``."""
    layers = input_layers(raw, interactions, config)
    projected = fused_co_engagement(
        layer_projections(layers, max_crowd=config.max_crowd,
                          min_shared_targets=config.min_shared_targets),
        {name: layer.weight for name, layer in layers.items()})
    clustered = clustered_edges(projected.edges, max_edge_p=config.max_cluster_edge_p)
    clusters = leiden_clusters(clustered, **config.leiden(clustered))
    return scored_cohorts(
        clusters, projected.edges, projected.evidence, projected.activity,
        n_actions=projected.stats["n_actions"], posts=posts, accounts=accounts,
        **config.scoring_rules()).flagged_accounts


def auto_window(raw: Any, interactions: Any, config: RunConfig, *,
                posts: pd.DataFrame | None = None,
                accounts: pd.DataFrame | None = None) -> tuple[RunConfig, dict[str, Any]]:
    """Scan ``config.scan_windows`` and return the config with the chosen window.

    Returns
    -------
    tuple
        The config with ``window_s`` set to the chosen window, and the manifest entry
        ``{"candidates_s", "scan": [{window_s, n_flagged, n_cohorts, ari_next, seconds}],
        "chosen_s", "reason"}``.
    """
    candidates = sorted({window_seconds(w) for w in config.scan_windows})  # checked by the run
    flagged, seconds = {}, {}
    for window_s in candidates:
        started = time.perf_counter()
        flagged[window_s] = flagged_for_window(
            raw, interactions, dataclasses.replace(config, window_s=window_s),
            posts=posts, accounts=accounts)
        seconds[window_s] = round(time.perf_counter() - started, 3)
    choice = chosen_window(flagged)
    scan = choice.scan.assign(seconds=choice.scan["window_s"].map(seconds))
    record = {"candidates_s": candidates,
              "scan": [{k: (None if pd.isna(v) else v) for k, v in row.items()}
                       for row in scan.astype(object).to_dict(orient="records")],
              "chosen_s": choice.window_s, "reason": choice.reason}
    return dataclasses.replace(config, window_s=choice.window_s), record
