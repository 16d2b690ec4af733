"""Static figures (matplotlib, Agg): evidence panels for the report, PNG/SVG for publication.

Ids are untrusted text: math-text parsing is off (a ``$`` in an id is drawn as is), SVG
text is written as paths (no text node can carry markup), and files are reproducible
(fixed SVG hash salt, no creation date in the metadata).
"""

from __future__ import annotations

import base64
import io
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

RC = {"text.parse_math": False, "svg.fonttype": "path", "svg.hashsalt": "cohortscan",
      "font.size": 9, "axes.spines.top": False, "axes.spines.right": False}
METADATA = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None}}
SAVE = {"png": {"pil_kwargs": {"compress_level": 3}}, "svg": {}}
"""zlib level 3 instead of Pillow's 6: half the encoding time (a fifth of a page's time went
to PNG encoding), files 5–10% larger."""
TARGET_COLOURS = np.array(plt.get_cmap("tab10").colors)
OTHER_TARGETS = (0.6, 0.6, 0.6)
MAX_LABELS = 40
MAX_VECTOR_MARKS = 1000
"""Collections with more marks (edges, raster ticks) are rasterized inside the SVG: an SVG
element per mark made the SVG network cost 0.45 s per cohort; text and axes stay vector."""
CAPTION_CHARS_PER_INCH = 17  # 7 pt DejaVu Sans: ≈ 18.5 average characters per inch
PAD_INCHES = 0.1


@contextmanager
def figure(width: float, height: float) -> Iterator[Figure]:
    """A new figure under the safe rc settings, closed when the block ends."""
    with plt.rc_context(RC):
        fig = plt.figure(figsize=(width, height), dpi=110)
        try:
            yield fig
        finally:
            plt.close(fig)


def _short(text: str, n: int = 28) -> str:
    clean = "".join(ch if ch.isprintable() else "?" for ch in str(text))
    return clean if len(clean) <= n else clean[: n - 1] + "…"


def draw_raster(fig: Figure, actions: pd.DataFrame, *, caption: str = "") -> None:
    """Lockstep raster: one row per account, one mark per action on a shared target.

    ``actions`` has ``account_id, target_id, timestamp``; the ten targets with most
    actions get their own colour, the rest are grey.
    """
    ax = fig.add_subplot(1, 1, 1)
    if actions.empty:
        ax.text(0.5, 0.5, "no actions", ha="center", transform=ax.transAxes)
        return
    first = actions.groupby("account_id")["timestamp"].min().sort_values(kind="mergesort")
    row = {acc: i for i, acc in enumerate(first.index)}
    top = actions["target_id"].value_counts().index[: len(TARGET_COLOURS)]
    rank = top.get_indexer(actions["target_id"])
    colours = np.vstack([TARGET_COLOURS, OTHER_TARGETS])[rank]  # rank -1: the grey row
    x = actions["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None)
    y = actions["account_id"].map(row)
    ax.scatter(x, y, c=colours, marker="|", s=60, linewidths=1.2,
               rasterized=len(actions) > MAX_VECTOR_MARKS)
    ax.set_ylim(len(row) - 0.5, -0.5)
    _account_ticks(ax, list(row))
    ax.set_xlabel("time (UTC)")
    n_targets = actions["target_id"].nunique()
    ax.set_title(f"Lockstep raster: {len(row)} accounts × actions on {n_targets} shared targets"
                 " (colour = target)", loc="left")
    fig.autofmt_xdate()
    _caption(fig, caption)


def _account_ticks(ax, accounts: list[str]) -> None:
    if len(accounts) <= MAX_LABELS:
        ax.set_yticks(range(len(accounts)), [_short(a) for a in accounts], fontsize=7)
    else:
        ax.set_ylabel(f"{len(accounts)} accounts (by first action)")
        ax.set_yticks([])


def draw_network(fig: Figure, positions: np.ndarray, pairs: list[tuple[int, int]],
                 weights: list[float], labels: list[str], *, caption: str = "") -> None:
    """The co-engagement network with precomputed positions; edge width ~ weight."""
    ax = fig.add_subplot(1, 1, 1)
    ax.set_axis_off()
    if len(positions):
        w = np.asarray(weights, dtype=float)
        segments = positions[np.asarray(pairs, dtype=np.int64).reshape(-1, 2)]
        ax.add_collection(LineCollection(
            segments, linewidths=0.3 + 2.0 * w / max(w.max(initial=0.0), 1e-9),
            colors="#8aa4c8", alpha=0.6, zorder=1, rasterized=len(pairs) > MAX_VECTOR_MARKS))
        ax.scatter(positions[:, 0], positions[:, 1], s=28, c="#4c6ef5", edgecolors="#364fc7",
                   zorder=2)
        if len(labels) <= MAX_LABELS:
            for (px, py), label in zip(positions, labels, strict=True):
                ax.annotate(_short(label, 20), (px, py), fontsize=6, xytext=(3, 3),
                            textcoords="offset points")
        ax.set_aspect("equal", adjustable="datalim")
        ax.invert_yaxis()  # the HTML canvas's y axis points down
    ax.set_title(f"Co-engagement network: {len(positions)} accounts, {len(pairs)} edges "
                 "(width = weight)", loc="left")
    _caption(fig, caption)


def draw_heatmap(fig: Figure, actions: pd.DataFrame, *, max_rows: int = 60,
                 max_cols: int = 60) -> None:
    """Account × target matrix; colour = minutes after the cohort's first action on it."""
    ax = fig.add_subplot(1, 1, 1)
    if actions.empty:
        ax.text(0.5, 0.5, "no actions", ha="center", transform=ax.transAxes)
        return
    start = actions.groupby("target_id")["timestamp"].transform("min")
    minutes = (actions["timestamp"] - start).dt.total_seconds() / 60
    cells = actions.assign(m=minutes).groupby(["account_id", "target_id"])["m"].min().unstack()
    cols = cells.notna().sum().sort_values(ascending=False, kind="mergesort").index[:max_cols]
    rows = cells.notna().sum(axis=1).sort_values(ascending=False, kind="mergesort").index
    cells = cells.loc[rows[:max_rows], cols]
    image = ax.imshow(cells.to_numpy(dtype=float), aspect="auto", cmap="viridis_r",
                      interpolation="nearest")
    fig.colorbar(image, ax=ax, label="minutes after the cohort's first action on the target")
    ax.set_xlabel(f"{len(cols)} shared targets (most engaged first)")
    _account_ticks(ax, [str(r) for r in cells.index])
    ax.set_xticks([])
    ax.set_title(f"Accounts × targets ({len(cells)} accounts; blank = no action)", loc="left")


class Histogram(NamedTuple):
    """Values counted in bins: ``counts`` per bin, ``edges`` (one more), ``n`` values in all."""

    counts: np.ndarray
    edges: np.ndarray
    n: int


def counted(values: np.ndarray, edges: np.ndarray) -> Histogram:
    """``values`` counted in the bins between ``edges`` (numbers, or both ``datetime64[ns]``).

    >>> counted(np.array([0.5, 1.5, 1.7, 9.0]), np.array([0.0, 1.0, 2.0])).counts.tolist()
    [1, 2]
    """
    ticks = [a.view("int64") if a.dtype.kind == "M" else a for a in (values, edges)]
    return Histogram(np.histogram(ticks[0], ticks[1])[0], edges, len(values))


def dt_histogram(dt_s: np.ndarray, window_s: float) -> Histogram:
    """Δt (seconds) counted in minutes, 30 bins from 0 to the window: the background of
    :func:`draw_dt_histogram`, counted once for all cohorts."""
    edges = np.linspace(0, max(float(window_s), 1.0) / 60, 31)
    return counted(np.asarray(dt_s, dtype=float) / 60, edges)


def creation_histogram(created: pd.Series) -> Histogram:
    """Creation dates in 40 bins spanning them all: the background of :func:`draw_creation`
    (every cohort's dates fall inside, so its bins serve every cohort)."""
    values = _naive_utc(created)
    if not len(values):
        return Histogram(np.zeros(0, dtype=np.int64), values, 0)
    edges = pd.date_range(values.min(), values.max() + np.timedelta64(1, "s"), periods=41)
    return counted(values, edges.to_numpy(dtype="datetime64[ns]"))


def _naive_utc(created: pd.Series) -> np.ndarray:
    stamps = created.dropna().dt.tz_convert("UTC").dt.tz_localize(None)
    return stamps.to_numpy(dtype="datetime64[ns]")


def _densities(ax, hists: list[tuple[Histogram, str, str]]) -> None:
    """Each histogram as a filled density step (one polygon, not a patch per bin)."""
    for hist, label, colour in hists:
        if hist.n:
            ax.hist(hist.edges[:-1], bins=hist.edges, weights=hist.counts, density=True,
                    histtype="stepfilled", alpha=0.6, color=colour,
                    label=f"{label} (n = {hist.n})")
    ax.legend(frameon=False)


def draw_dt_histogram(fig: Figure, cohort_dt: np.ndarray, background: Histogram,
                      background_label: str = "all kept edges") -> None:
    """Density of Δt (closest gap of a tie) inside the cohort against the background
    (:func:`dt_histogram`; the cohort is counted in its bins)."""
    ax = fig.add_subplot(1, 1, 1)
    cohort = counted(np.asarray(cohort_dt, dtype=float) / 60, background.edges)
    _densities(ax, [(background, background_label, "#adb5bd"),
                    (cohort, "this cohort", "#d9480f")])
    ax.set_xlabel("Δt between the two accounts' actions on a shared target (minutes)")
    ax.set_ylabel("density")
    ax.set_title("Δt of co-engagements: cohort against background", loc="left")


def draw_creation(fig: Figure, cohort: pd.Series, background: Histogram) -> None:
    """Account creation dates of the cohort against all accounts in the accounts table
    (:func:`creation_histogram`)."""
    ax = fig.add_subplot(1, 1, 1)
    values = _naive_utc(cohort)
    if not len(values):
        ax.text(0.5, 0.5, "no creation dates", ha="center", transform=ax.transAxes)
        return
    _densities(ax, [(background, "all accounts", "#adb5bd"),
                    (counted(values, background.edges), "this cohort", "#d9480f")])
    ax.set_yticks([])
    ax.set_title("Account creation dates (density)", loc="left")
    fig.autofmt_xdate()


def _caption(fig: Figure, caption: str) -> None:
    """Caption at the foot of ``fig``, wrapped to the figure's width by character count
    (matplotlib's ``wrap=True`` measures the text again on every draw: 0.2 s a cohort)."""
    if caption:
        text = textwrap.fill(caption, int(fig.get_figwidth() * CAPTION_CHARS_PER_INCH))
        fig.text(0.01, 0.005, text, fontsize=7, color="#5c6677", va="bottom")
        fig.subplots_adjust(bottom=max(fig.subplotpars.bottom, 0.12))


def png_data_uri(fig: Figure) -> str:
    """The figure as a ``data:image/png;base64,…`` URI (for ``<img>`` under the page's CSP)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata=METADATA["png"], bbox_inches=tight_bbox(fig),
                **SAVE["png"])
    return png_uri(buffer.getvalue())


def png_uri(png: bytes) -> str:
    """PNG bytes as a ``data:image/png;base64,…`` URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def save_figure(fig: Figure, stem: Path) -> list[Path]:
    """Write ``<stem>.png`` and ``<stem>.svg`` (cropped as one); return both paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    bbox = tight_bbox(fig)
    paths = []
    for fmt in ("png", "svg"):
        path = stem.with_suffix(f".{fmt}")
        fig.savefig(path, format=fmt, metadata=METADATA[fmt], bbox_inches=bbox, dpi=150,
                    **SAVE[fmt])
        paths.append(path)
    return paths


def tight_bbox(fig: Figure) -> Bbox:
    """What ``bbox_inches="tight"`` crops ``fig`` to, computed once for several saves.

    ``savefig(bbox_inches="tight")`` draws the figure once without rendering before each
    save to lay it out; the artists' extents alone give the same box for these figures
    (checked on each kind: network, raster, heatmap, histograms) at a fifth of the cost.
    """
    return fig.get_tightbbox().padded(PAD_INCHES)


def figure_height(n_rows: int) -> float:
    """Height in inches for a figure with ``n_rows`` labelled rows."""
    return min(3.0 + 0.14 * min(n_rows, MAX_LABELS), 9.0) if n_rows else 3.0


def write_cohort_figures(out_dir: Path, cohort_id: int, *, positions: np.ndarray,
                         pairs: list[tuple[int, int]], weights: list[float], labels: list[str],
                         actions: pd.DataFrame, caption: str) -> list[Path]:
    """Publication PNG+SVG of one cohort's network and lockstep raster in ``out_dir``.

    Writes ``cohort_<id>_network.{png,svg}`` and ``cohort_<id>_raster.{png,svg}``.
    """
    size = 7.5 if len(positions) <= 200 else 10.0
    paths = []
    with figure(size, size * 0.85) as fig:
        draw_network(fig, positions, pairs, weights, labels, caption=caption)
        paths += save_figure(fig, out_dir / f"cohort_{cohort_id}_network")
    n_accounts = actions["account_id"].nunique() if len(actions) else 0
    with figure(9.0, figure_height(n_accounts) + 1.0) as fig:
        draw_raster(fig, actions, caption=caption)
        paths += save_figure(fig, out_dir / f"cohort_{cohort_id}_raster")
    return paths
