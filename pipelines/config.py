"""The run configuration: one frozen object built once from TOML and command-line options."""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.ingest import InputError

if TYPE_CHECKING:
    import pandas as pd

_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
ENGINES = ("duckdb", "spark")


@dataclass(frozen=True)
class RunConfig:
    """Everything a run depends on besides the input bytes; recorded in the manifest."""

    inputs: tuple[str, ...]
    out: Path
    posts: Path | None = None
    accounts: Path | None = None
    columns: dict[str, str] = field(default_factory=dict)
    window_s: int = 3600
    seed: int = 0
    max_crowd: int = 1000
    min_shared_targets: int = 2
    resolution: float = 1.0
    resolution_reference_weight: float = 2e6
    """Leiden's resolution grows with the clustered edges' total weight beyond this, so that a
    longer log does not merge farms with fandoms (graphs.clustering.effective_resolution;
    0: plain modularity). The generator's 10M-row benchmark clusters 1.9e6."""
    min_size: int = 5
    min_cohort_targets: int = 5
    min_density: float = 0.1
    min_lift: float = 3.0
    max_cohort_p: float = 1e-6
    min_authors: int = 5
    max_top_author_share: float = 0.5
    min_effective_authors: float = 5.0
    min_effective_targets: float = 5.0
    min_creation_burst: float = 0.25
    """Without a posts table (authors unknown): a cohort with at least this share of its members
    created within 3 days (accounts table) shows a farm sign (0 disables)."""
    min_same_action_share: float = 0.8
    """Without a posts table: a cohort with at least this share of its tied action pairs being
    the same action (bundles) shows a farm sign; without either sign it is not flagged."""
    window_auto: bool = False
    """``window = "auto"``: scan ``scan_windows`` and pick one (pipelines/window_auto.py)."""
    scan_windows: tuple[str, ...] = ("10m", "1h", "6h")
    max_rejected_share: float = 0.5
    slow_window_s: int = 7 * 86400
    """Slow pass (graphs/passes.py): engagements this far apart tie; 0 (``"off"``) disables."""
    slow_max_crowd: int = 100
    """Slow pass: targets with more engagers within ``slow_window`` are not paired."""
    slow_min_member_lift: float = 1.5
    """Slow pass: members with fewer ties into their cohort than this × chance are dropped."""
    slow_min_density: float = 0.25
    """Slow pass: cohorts need this density (farms reuse their pool: 0.34-0.53 measured)."""
    slow_min_lift: float = 4.5
    """Slow pass: cohorts need this lift (split clusters are chosen for density, which lifts
    organic groups to 3-4; slow farm cohorts measured 4.9-8.0)."""
    slow_min_size: int = 20
    """Slow pass: cohorts need this many accounts (weak ties add up to evidence only over many
    accounts; the organic groups that split clusters let through had 6-12, slow farms 38+)."""
    slow_split_above: int = 300
    """Slow pass: clusters with more accounts are clustered again on their own edges (0: off)."""
    max_cluster_edge_p: float = 1.0
    """Cluster only edges among accounts with a tie of p <= this (1: all kept edges)."""
    max_memory_gb: float = 0.0
    """Memory limit in GiB; 0 means 80% of the memory available when the run starts."""
    max_report_nodes: int = 2000
    max_report_cohorts: int = 100
    """Cohort pages, figures and evidence bundles for this many flagged cohorts, highest
    ranked first (0: all); the tables and the index list every cohort."""
    pseudonymise: bool = False
    pseudonym_key: str = ""
    format: str = "auto"
    engine: str = "duckdb"
    """Ingest and projection engine: ``duckdb`` (this machine) or ``spark`` (``spark_master``:
    :mod:`pipelines.spark_log`, :mod:`pipelines.spark_engine`)."""
    spark_master: str = "local[2]"
    layer_windows: dict[str, str | int] = field(default_factory=dict)
    layer_weights: dict[str, float] = field(default_factory=dict)
    rank_window: int = 3
    text_threshold: float = 0.7
    action_layers: dict[str, str] = field(default_factory=dict)

    def scoring_rules(self) -> dict[str, Any]:
        """The flag rules as keyword arguments of :func:`graphs.scoring.scored_cohorts`."""
        return dict(min_size=self.min_size, min_shared_targets=self.min_cohort_targets,
                    min_density=self.min_density, min_lift=self.min_lift,
                    max_cohort_p=self.max_cohort_p, min_authors=self.min_authors,
                    max_top_author_share=self.max_top_author_share,
                    min_effective_authors=self.min_effective_authors,
                    min_effective_targets=self.min_effective_targets,
                    min_creation_burst=self.min_creation_burst,
                    min_same_action_share=self.min_same_action_share)

    def leiden(self, edges: pd.DataFrame) -> dict[str, Any]:
        """The keyword arguments of :func:`graphs.clustering.leiden_clusters` on ``edges``
        besides them: the seed, and the resolution grown with their total weight beyond
        ``resolution_reference_weight`` (:func:`graphs.clustering.effective_resolution`;
        the manifests record it)."""
        from graphs.clustering import effective_resolution  # igraph: not for --help

        return dict(seed=self.seed, resolution=effective_resolution(
            float(edges["weight"].sum()), resolution=self.resolution,
            reference_weight=self.resolution_reference_weight))

    def parameters(self) -> dict[str, Any]:
        """The configuration as JSON-able values (paths as strings)."""
        values = dataclasses.asdict(self)
        if values.get("pseudonym_key"):
            values["pseudonym_key"] = "(set, not recorded)"
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in values.items()}


def window_seconds(text: str | int) -> int:
    """Parse a window such as ``90s``, ``30m``, ``1h``, ``2d`` or a number of seconds.

    >>> window_seconds("1h"), window_seconds("90s"), window_seconds(600)
    (3600, 90, 600)
    """
    if isinstance(text, int):
        seconds = text
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)?\s*", str(text))
        if not match:
            raise InputError(f"window: expected a duration like 90s, 30m, 1h or 2d, got {text!r}")
        seconds = int(float(match.group(1)) * _UNITS[match.group(2) or "s"])
    if seconds <= 0:
        raise InputError(f"window: must be positive, got {text!r}")
    return seconds


def load_config(path: Path | None, **overrides: Any) -> RunConfig:
    """Build the run configuration from a TOML file and options (options win).

    Options that are ``None`` are ignored. Unknown keys are an error naming the closest key.
    """
    values: dict[str, Any] = _read_toml(path) if path else {}
    values.update({k: v for k, v in overrides.items() if v is not None})
    if values.get("window") == "auto":
        values.pop("window")
        values["window_auto"] = True
    if "window" in values:
        values["window_s"] = window_seconds(values.pop("window"))
    if values.get("slow_window") in ("off", 0):
        values.pop("slow_window")
        values["slow_window_s"] = 0
    if "slow_window" in values:
        values["slow_window_s"] = window_seconds(values.pop("slow_window"))
    if "scan_windows" in values:
        scan = values["scan_windows"]
        values["scan_windows"] = tuple(str(w) for w in ([scan] if isinstance(scan, str) else scan))
    known = {f.name for f in dataclasses.fields(RunConfig)}
    for key in values:
        if key not in known:
            hint = difflib.get_close_matches(key, sorted(known), n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise InputError(f"config: unknown key '{key}'{suggestion}")
    for required in ("inputs", "out"):
        if not values.get(required):
            raise InputError(f"config: '{required}' is required (in the file or as an option)")
    return _typed(values)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"config {path}: {exc}") from exc
    return data


def _typed(values: dict[str, Any]) -> RunConfig:
    inputs = values["inputs"]
    values["inputs"] = tuple([inputs] if isinstance(inputs, str) else inputs)
    for key in ("out", "posts", "accounts"):
        if values.get(key) is not None:
            values[key] = Path(values[key])
    defaults = RunConfig(inputs=("x",), out=Path("x"))
    for key, value in values.items():
        expected = type(getattr(defaults, key))
        if expected in (int, float) and not isinstance(value, int | float):
            raise InputError(f"config: '{key}' must be a number, got {value!r}")
        if expected is float:
            values[key] = float(value)
        if expected in (bool, str) and not isinstance(value, expected):
            raise InputError(f"config: '{key}' must be {expected.__name__}, got {value!r}")
    columns = values.get("columns", {})
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise InputError("config: [columns] must map our column names to text names")
    config = RunConfig(**values)
    check_config(config)
    return config


def check_config(config: RunConfig) -> None:
    """Raise InputError naming the first setting of ``config`` that cannot run: checked with
    the config and again as a run starts, before any log is read (not after its ingest).

    >>> check_config(RunConfig(inputs=("a.csv",), out=Path("out"), rank_window=0))
    Traceback (most recent call last):
    ...
    pipelines.ingest.InputError: config: rank_window must be positive, got 0
    """
    if config.engine not in ENGINES:
        raise InputError(f"config: engine must be 'duckdb' or 'spark', got {config.engine!r}")
    if config.window_auto:
        if config.engine != "duckdb":
            raise InputError(f"config: window = auto runs on the duckdb engine only, "
                             f"got engine {config.engine!r}")
        if not config.scan_windows:
            raise InputError("config: scan_windows must list at least one window for "
                             "window = auto")
        for text in config.scan_windows:
            try:
                window_seconds(text)
            except InputError as exc:
                raise InputError(f"config: scan_windows: {exc}") from None
    layer_windows_s(config)
    for name, value in config.layer_weights.items():
        if not isinstance(value, int | float) or value <= 0:
            raise InputError(f"config: layer_weights.{name} must be a positive number, "
                             f"got {value!r}")
    if not all(isinstance(v, str) and v for v in config.action_layers.values()):
        raise InputError("config: [action_layers] must map actions to layer names")
    if config.rank_window <= 0:
        raise InputError(f"config: rank_window must be positive, got {config.rank_window}")
    if config.resolution_reference_weight < 0:
        raise InputError("config: resolution_reference_weight must be 0 (off) or positive, "
                         f"got {config.resolution_reference_weight:g}")


def layer_windows_s(config: RunConfig) -> dict[str, int]:
    """``[layer_windows]`` in seconds; InputError naming the layer of a bad one.

    >>> layer_windows_s(RunConfig(inputs=("a.csv",), out=Path("o"), layer_windows={"text": "2d"}))
    {'text': 172800}
    """
    windows = {}
    for name, value in config.layer_windows.items():
        try:
            windows[name] = window_seconds(value)
        except InputError as exc:
            raise InputError(f"config: layer_windows.{name}: {exc}") from None
    return windows
