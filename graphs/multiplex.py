"""Typed layers fused into one account graph, with per-layer provenance on every edge.

Each layer (co-liking, co-retweeting, near-duplicate text, shared URL, order-only likes…)
is an interaction table with its own window and weight. Every layer is projected on its
own with :func:`graphs.projection.co_engagement`; the fused edge of a pair sums the pair's
ties over layers (``shared_targets``), its layer-weighted weights (``weight``) and the
null's expected ties (``expected_ties`` — a sum of Poisson means is the mean of the summed
ties, so the p-value of the sum is again a Poisson tail). Columns ``ties:<layer>`` and
``weight:<layer>`` and the JSON list ``layers`` say which layers tied the pair.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graphs.bipartite import Incidence, bipartite_incidence
from graphs.held_columns import ColumnStore
from graphs.interactions import decoded
from graphs.layer_fusion import fused_tables, labelled, one_value
from graphs.lookup import pair_groups
from graphs.order_windows import EPOCH, rank_clock
from graphs.projection import CoEngagement, co_engagement
from graphs.text_layer import text_posts
from graphs.url_layer import url_shares

DEFAULT_LAYERS = {"post_text": "text", "share_url": "url"}
LAYER_COLUMNS = ["account_id", "target_id", "action", "timestamp"]


class Layer(NamedTuple):
    """One typed trace: its interactions, window (seconds, or ranks for order layers), weight."""

    interactions: pd.DataFrame
    window_s: int
    weight: float = 1.0


def typed_layers(interactions: pd.DataFrame | pa.Table, *,
                 layer_of: dict[str, str] | None = None,
                 order_actions: frozenset[str] = frozenset(), window_s: int = 3600,
                 rank_window: int = 3, windows: dict[str, int] | None = None,
                 weights: dict[str, float] | None = None, text_threshold: float = 0.7,
                 seed: int = 0) -> dict[str, Layer]:
    """Split validated interactions into typed layers, each with its window and weight.

    An action's layer is ``layer_of[action]``, else ``text`` for ``post_text`` rows (their
    ``target_id`` is the text: grouped into near-duplicates by :func:`text_posts`), ``url``
    for ``share_url`` rows (their ``target_id`` is the link: normalised by
    :func:`url_shares`), else ``engage``. Actions in ``order_actions`` carry a rank as
    their timestamp; their layer is put on a rank clock (:func:`rank_clock`) and its
    default window is ``rank_window`` positions instead of ``window_s`` seconds.

    Examples
    --------
    >>> t = pd.Timestamp("2026-11-01", tz="UTC")
    >>> rows = pd.DataFrame({"account_id": ["a", "b", "c"], "timestamp": [t] * 3,
    ...     "target_id": ["p1", "http://www.x.org/?utm_source=y", "p1"],
    ...     "action": ["like", "share_url", "comment"]})
    >>> layers = typed_layers(rows, windows={"url": 60})
    >>> {name: (len(layer.interactions), layer.window_s) for name, layer in layers.items()}
    {'engage': (2, 3600), 'url': (1, 60)}
    """
    layer_of, windows, weights = layer_of or {}, windows or {}, weights or {}
    actions_of: dict[str, list[str]] = {}
    for action in _distinct_actions(interactions):
        actions_of.setdefault(layer_of_action(action, layer_of), []).append(action)
    layers = {}
    for layer in sorted(actions_of):
        ordered = [a in order_actions for a in actions_of[layer]]
        if any(ordered) and not all(ordered):
            raise ValueError(f"layer '{layer}': mixes timed and order-only actions")
        plain = not all(ordered) and layer not in ("text", "url")
        rows = _layer_rows(interactions, actions_of[layer], arrow_backed=plain)
        if all(ordered):
            rank = (rows["timestamp"] - EPOCH).dt.total_seconds().round().astype("int64")
            rows = rank_clock(rows.drop(columns="timestamp").assign(rank=rank))
        elif layer == "text":
            rows = text_posts(rows.rename(columns={"target_id": "text"}), seed=seed,
                              threshold=text_threshold).assign(action=rows["action"])
        elif layer == "url":
            rows = url_shares(rows.rename(columns={"target_id": "url"}))
        window = windows.get(layer, rank_window if all(ordered) else window_s)
        layers[layer] = Layer(rows, int(window), float(weights.get(layer, 1.0)))
    return layers


def layer_of_action(action: str, layer_of: dict[str, str]) -> str:
    """The layer of ``action``: ``layer_of[action]``, else its default layer
    (:data:`DEFAULT_LAYERS`), else ``engage``.

    >>> [layer_of_action(a, {"follow": "follows"}) for a in ("follow", "share_url", "like")]
    ['follows', 'url', 'engage']
    """
    return layer_of.get(action) or DEFAULT_LAYERS.get(action) or "engage"


def _distinct_actions(interactions: pd.DataFrame | pa.Table) -> list[str]:
    if isinstance(interactions, pa.Table):
        return sorted(pc.unique(interactions["action"]).drop_null().to_pylist())
    return sorted(interactions["action"].dropna().unique())


def _layer_rows(interactions: pd.DataFrame | pa.Table, actions: list[str], *,
                arrow_backed: bool) -> pd.DataFrame:
    """Rows of ``actions``; from an Arrow table without copying the strings when
    ``arrow_backed`` (pandas ``ArrowDtype`` columns: the whole log is never held as Python
    objects), as plain pandas columns otherwise (the text, URL and order layers)."""
    if not isinstance(interactions, pa.Table):
        return interactions.loc[interactions["action"].isin(actions),
                                LAYER_COLUMNS].reset_index(drop=True)
    inside = _is_in(interactions["action"], actions)
    whole = pc.all(inside).as_py() is not False  # one layer: no filtered copy of the log
    rows = (interactions if whole else interactions.filter(inside)).select(LAYER_COLUMNS)
    if arrow_backed:  # dictionary-encoded ids stay so, down to the incidence
        return rows.to_pandas(types_mapper=pd.ArrowDtype)
    return decoded(rows).to_pandas()


def _is_in(column: pa.ChunkedArray, values: list[str]) -> pa.ChunkedArray:
    """Whether each row's value is one of ``values``; for a dictionary-encoded column (the
    actions as ingest returns them) looked up on each chunk's few distinct values and
    spread by its indices: ``pc.is_in`` decodes every row (at 100M rows ≈ 1 GB of text).

    >>> _is_in(pa.chunked_array([pa.array(["a", "b", "a"]).dictionary_encode()]),
    ...        ["a"]).to_pylist()
    [True, False, True]
    """
    if not pa.types.is_dictionary(column.type):
        return pc.is_in(column, value_set=pa.array(values, column.type))
    value_set = pa.array(values, column.type.value_type)
    return pa.chunked_array([pc.is_in(chunk.dictionary, value_set=value_set).take(chunk.indices)
                             for chunk in column.chunks], type=pa.bool_())


def layer_incidences(layers: dict[str, Layer]) -> dict[str, Incidence]:
    """The bipartite incidence of every non-empty layer, built once for every use of it (the
    memory guard, the layer's projection and, for ``engage``, the slow pass's projection).

    Examples
    --------
    >>> t = pd.Timestamp("2026-11-01", tz="UTC")
    >>> likes = pd.DataFrame({"account_id": ["a", "b"], "target_id": ["x", "x"],
    ...                       "action": "like", "timestamp": [t] * 2})
    >>> layer_incidences({"like": Layer(likes, 60)})["like"].account_ids.to_pylist()
    ['a', 'b']
    """
    out = {}
    for name in sorted(layers):
        rows = layers[name].interactions
        if len(rows) == 0:
            continue
        table = pa.Table.from_pandas(rows[LAYER_COLUMNS], preserve_index=False)
        table = table.set_column(3, "timestamp",
                                 table["timestamp"].cast(pa.timestamp("us", tz="UTC"), safe=False))
        out[name] = bipartite_incidence(table)
    return out


def rowless_layers(layers: dict[str, Layer]) -> dict[str, Layer]:
    """``layers`` with their windows and weights but no rows (the columns and dtypes kept),
    for projections from the layers' incidences (:func:`layer_projections`) once the rows
    are no longer needed: an empty slice of an Arrow-backed column would hold the whole
    log's buffers.

    >>> likes = pd.DataFrame({"account_id": ["a"], "target_id": ["x"], "action": "like",
    ...                       "timestamp": [pd.Timestamp("2026-11-01", tz="UTC")]})
    >>> bare = rowless_layers({"like": Layer(likes, 60, 2.0)})["like"]
    >>> len(bare.interactions), list(bare.interactions.columns), bare.window_s, bare.weight
    (0, ['account_id', 'target_id', 'action', 'timestamp'], 60, 2.0)
    """
    return {name: layer._replace(interactions=pd.DataFrame(
        {column: pd.Series(pd.array([], dtype=dtype))
         for column, dtype in layer.interactions.dtypes.items()}))
        for name, layer in layers.items()}


def layer_projections(layers: dict[str, Layer], *, max_crowd: int = 1000,
                      min_shared_targets: int = 2,
                      incidences: dict[str, Incidence] | None = None,
                      on_progress: Callable[[str, int, int], None] | None = None,
                      targets: bool = True,
                      columns: ColumnStore | None = None,
                      ) -> dict[str, CoEngagement]:
    """Project every non-empty layer with its own window (layers sorted by name).

    ``incidences`` may hold layers' incidences already built (:func:`layer_incidences` of the
    same interactions; the window does not enter the incidence); the others are built here.
    A layer whose incidence is given is projected from it alone, so its rows may have been
    dropped (:func:`rowless_layers`).
    ``on_progress(layer, done, total)`` is :func:`graphs.projection.co_engagement`'s, with
    the layer's name; ``targets`` and ``columns`` too (``targets=False``: edges without
    ``targets``).

    Examples
    --------
    >>> t = pd.Timestamp("2026-11-01", tz="UTC")
    >>> likes = pd.DataFrame({"account_id": ["a", "b", "a", "b"], "target_id": list("xxyy"),
    ...                       "action": "like", "timestamp": [t] * 4})
    >>> layer_projections({"like": Layer(likes, 60)})["like"].edges["shared_targets"].tolist()
    [2]
    """
    out = {}
    for name in sorted(layers):
        layer = layers[name]
        if layer.window_s <= 0:
            raise ValueError(f"layer '{name}': window must be positive, got {layer.window_s}")
        inc = (incidences or {}).get(name)
        if inc is None:
            if len(layer.interactions) == 0:
                continue
            inc = layer_incidences({name: layer})[name]
        out[name] = co_engagement(inc, window_s=int(layer.window_s), max_crowd=max_crowd,
                                  min_shared_targets=min_shared_targets,
                                  on_progress=None if on_progress is None
                                  else partial(on_progress, name), targets=targets,
                                  columns=columns)
    return out


def fused_co_engagement(projections: dict[str, CoEngagement],
                        weights: dict[str, float] | None = None) -> CoEngagement:
    """Fuse per-layer projections into one ``CoEngagement`` with layer provenance.

    Parameters
    ----------
    projections : dict of str to CoEngagement
        From :func:`layer_projections`.
    weights : dict of str to float, optional
        Multiplier of each layer's edge weights (default 1).

    Returns
    -------
    CoEngagement
        ``edges`` as ``co_engagement_edges`` plus ``expected_ties, p_value, q_value``
        recomputed on the summed ties, ``layers`` (JSON list), ``ties:<layer>`` and
        ``weight:<layer>``; ``evidence`` with a ``layer`` column; ``activity`` summed over
        layers; ``stats`` summed, with per-layer counts under ``stats["layers"]``.

    Examples
    --------
    >>> t = pd.Timestamp("2026-11-01", tz="UTC")
    >>> rows = lambda targets: pd.DataFrame({"account_id": ["a", "b"] * 2,
    ...     "target_id": targets, "action": "x", "timestamp": [t] * 4})
    >>> proj = layer_projections({"like": Layer(rows(list("ppqq")), 60),
    ...                           "text": Layer(rows(list("ttuu")), 60)})
    >>> fused = fused_co_engagement(proj, {"text": 2.0})
    >>> fused.edges[["shared_targets", "weight", "layers", "ties:like", "ties:text"]].values
    array([[4, 6.0, '["like","text"]', 2, 2]], dtype=object)
    """
    weights = weights or {}
    names = sorted(projections)
    if not names:
        raise ValueError("fused_co_engagement: no layer has any interaction")
    if len(names) == 1 and len(projections[names[0]].edges):  # sorted, nothing to combine
        evidence = labelled(projections[names[0]].evidence, names[0])
        edges = _single_layer_edges(projections[names[0]], names[0],
                                    float(weights.get(names[0], 1.0)))
    else:
        edges, evidence = fused_tables(projections, weights, names)
    activity = (pd.concat([projections[n].activity for n in names])
                .groupby("account_id", as_index=False)[["n_actions", "crowd_sum"]].sum())
    stats = _fused_stats(projections, len(edges))
    return CoEngagement(edges=edges, evidence=evidence, activity=activity, stats=stats)


def _single_layer_edges(projection: CoEngagement, name: str, factor: float) -> pd.DataFrame:
    """The fused edges of one layer: what :func:`graphs.layer_fusion.fused_tables` computes
    for a single layer (same values, columns and dtypes; tested), without grouping or
    pivoting. Relies on
    :func:`graphs.projection.co_engagement` returning edges sorted by (account_a, account_b)
    and evidence sorted by (account_a, account_b, target_id), and on its ``p_value`` and
    ``q_value`` being the fused test on one layer's ties (the same ``shared_targets``,
    ``expected_ties`` and ``candidate_pairs`` tests: 10M rows, 0.6 s not spent again)."""
    layer = projection.edges
    weight = layer["weight"] * factor
    edges = pd.DataFrame({
        "account_a": layer["account_a"], "account_b": layer["account_b"],
        "shared_targets": layer["shared_targets"].astype("int64"), "weight": weight,
        "median_dt_s": layer["median_dt_s"], "targets": layer["targets"],
        "expected_ties": layer["expected_ties"], "p_value": layer["p_value"],
        "q_value": layer["q_value"]}, copy=False)  # share the layer's columns
    edges["layers"] = one_value(json.dumps([name], separators=(",", ":")), len(edges))
    edges[f"ties:{name}"] = edges["shared_targets"]
    edges[f"weight:{name}"] = weight.astype(float)
    return edges


def _fused_stats(projections: dict[str, CoEngagement], n_edges: int) -> dict:
    summed = ("n_actions", "action_pairs_enumerated", "account_target_pairs", "candidate_pairs",
              "hub_actions_skipped", "hub_targets")
    stats = {k: int(sum(p.stats[k] for p in projections.values())) for k in summed}
    stats["edges_kept"] = int(n_edges)
    stats["layers"] = {n: dict(p.stats) for n, p in sorted(projections.items())}
    return stats


def cohort_layers(memberships: pd.DataFrame, fused_edges: pd.DataFrame) -> pd.DataFrame:
    """Which layers tied each cohort: internal edges, ties and weight per (cohort, layer).

    Parameters
    ----------
    memberships : pandas.DataFrame
        ``account_id, cohort_id``.
    fused_edges : pandas.DataFrame
        Edges from :func:`fused_co_engagement` (``ties:<layer>``, ``weight:<layer>``).

    Returns
    -------
    pandas.DataFrame
        ``cohort_id, layer, edges, ties, weight, share`` (``share`` = the layer's part of the
        cohort's internal ties), one row per layer with at least one internal tie, sorted by
        cohort and descending ties.

    Examples
    --------
    >>> m = pd.DataFrame({"account_id": ["a", "b", "c"], "cohort_id": [0, 0, 1]})
    >>> e = pd.DataFrame({"account_a": ["a", "a"], "account_b": ["b", "c"],
    ...     "ties:like": [0, 5], "ties:text": [3, 0],
    ...     "weight:like": [0.0, 5.0], "weight:text": [3.0, 0.0]})
    >>> cohort_layers(m, e).values.tolist()
    [[0, 'text', 1, 3, 3.0, 1.0]]
    """
    cohort = pair_groups(fused_edges, memberships.set_index("account_id")["cohort_id"])
    inside = cohort >= 0
    columns = ["cohort_id", "layer", "edges", "ties", "weight", "share"]
    parts = []
    for name in (c.removeprefix("ties:") for c in fused_edges.columns if c.startswith("ties:")):
        # a layer at a time, grouped by cohort alone: the rows of a (cohort, layer) group and
        # their order are those of one grouping by both, so are the sums (one frame of every
        # layer's internal ties grouped by both keys: at 100M rows +2.36 GiB, now +1.66)
        ties = fused_edges[f"ties:{name}"].to_numpy()
        rows = inside & (ties > 0)
        if rows.any():
            tied = pd.DataFrame({"ties": ties[rows],
                                 "weight": fused_edges[f"weight:{name}"].to_numpy()[rows]})
            parts.append(tied.groupby(cohort[rows]).agg(
                edges=("ties", "size"), ties=("ties", "sum"), weight=("weight", "sum"),
            ).rename_axis("cohort_id").reset_index().assign(layer=name))
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)
    out["share"] = out["ties"] / out.groupby("cohort_id")["ties"].transform("sum")
    out = out.astype({"cohort_id": "int64", "edges": "int64", "ties": "int64"})
    return out.sort_values(["cohort_id", "ties", "layer"], ascending=[True, False, True],
                           ignore_index=True)[columns]
