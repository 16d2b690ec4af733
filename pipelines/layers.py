"""Wiring of the typed layers: configuration → :func:`graphs.multiplex.typed_layers`."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from graphs.multiplex import Layer, typed_layers
from pipelines.config import RunConfig, check_config, layer_windows_s
from pipelines.ingest import InputError, input_files

EXTRA_SUFFIXES = (".csv.xz", ".tsv.xz", ".rda", ".rdata", ".rds")


def input_paths(patterns: Sequence[str]) -> list[Path]:
    """Like :func:`pipelines.ingest.input_files`, also taking xz CSVs and R data files."""
    extra: set[Path] = set()
    rest = []
    for pattern in patterns:
        matches = [Path(m) for m in glob.glob(pattern)] or [Path(pattern)]
        mine = [p for p in matches if p.is_file() and p.name.lower().endswith(EXTRA_SUFFIXES)]
        extra.update(mine)
        if len(mine) < len(matches):
            rest.append(pattern)
    return sorted(extra.union(input_files(rest) if rest else []))


def input_layers(raw: Any, interactions: Any, config: RunConfig) -> dict[str, Layer]:
    """The run's typed layers from the validated interactions and the adapter's layer map.

    ``raw`` is an :class:`pipelines.adapters.Adapted` (or a plain raw table without layer
    information: everything is then one ``engage`` layer, plus ``text``/``url`` rows); the
    config's ``[action_layers]`` (action → layer) overrides the adapter's layer of an action.
    An Arrow ``interactions`` table stays Arrow-backed (no whole-log pandas copy).
    """
    check_config(config)  # a run checks it as it starts; callers of this alone, here
    table = interactions if isinstance(interactions, pa.Table) else pd.DataFrame(interactions)
    try:
        return typed_layers(
            table, layer_of={**getattr(raw, "layer_of", {}),
                                           **config.action_layers},
            order_actions=getattr(raw, "order_actions", frozenset()),
            window_s=config.window_s, rank_window=config.rank_window,
            windows=layer_windows_s(config),
            weights={k: float(v) for k, v in config.layer_weights.items()},
            text_threshold=config.text_threshold, seed=config.seed)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _profile_columns(path: Path, optional: list[str]) -> pd.DataFrame | None:
    """The file's ``account_id`` and those of ``optional`` it has, ``None`` when it has none;
    a CSV's header or a Parquet file's schema is read first (the 100M log's accounts table,
    7.9M rows, has neither; reading it whole took 8.1 s and +0.89 GiB, for nothing)."""
    name = path.name.lower()
    if name.endswith((".json", ".jsonl", ".ndjson")):  # no header: read whole
        frame = pd.read_json(path, lines=True, dtype=False)
        keep = [c for c in optional if c in frame.columns]
        return frame[["account_id", *keep]] if keep else None
    present = (pq.read_schema(path).names if name.endswith(".parquet")
               else pd.read_csv(path, dtype=str, nrows=0).columns)
    keep = [c for c in optional if c in present]
    if not keep:
        return None
    if name.endswith(".parquet"):
        return pd.read_parquet(path, columns=["account_id", *keep])
    return pd.read_csv(path, dtype=str, keep_default_na=False, usecols=["account_id", *keep])


def account_profiles(path: Path, accounts: pd.DataFrame) -> pd.DataFrame:
    """The validated accounts table plus the optional ``handle`` and ``profile_changes``
    columns of the same file (for :func:`graphs.account_context.account_context`)."""
    try:
        extra = _profile_columns(path, ["handle", "profile_changes"])
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from exc
    if extra is None:
        return accounts
    extra = extra.astype({"account_id": str})
    extra["account_id"] = extra["account_id"].str.strip()
    return accounts.merge(extra.drop_duplicates("account_id"), on="account_id", how="left")
