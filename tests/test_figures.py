"""Static figures: PNG + SVG written, reproducible, hostile ids drawn as paths only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.figures import write_cohort_figures

T0 = pd.Timestamp("2024-05-01 12:00:00", tz="UTC")
IDS = ["<svg onload=alert(1)>", "$\\alpha$ math", "plain"]


def draw(out: Path) -> list[Path]:
    actions = pd.DataFrame({
        "account_id": IDS * 2,
        "target_id": ["</text><script>x</script>"] * 3 + ["post_2"] * 3,
        "timestamp": [T0 + pd.Timedelta(seconds=s) for s in (0, 5, 9, 3600, 3605, 3611)],
    })
    return write_cohort_figures(
        out, 7, positions=np.array([[0.0, 0.0], [10.0, 5.0], [5.0, 10.0]]),
        pairs=[(0, 1), (1, 2), (0, 2)], weights=[1.0, 2.0, 0.5], labels=IDS, actions=actions,
        caption="Data: logs.csv. Co-engagement window 3600 s.",
    )


def test_figures_are_written_reproducibly_without_text_nodes(tmp_path: Path) -> None:
    first = draw(tmp_path / "a")
    assert [p.name for p in first] == [
        f"cohort_7_{kind}.{ext}" for kind in ("network", "raster") for ext in ("png", "svg")]
    second = draw(tmp_path / "b")
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
        assert a.stat().st_size > 5_000
    for svg in (p for p in first if p.suffix == ".svg"):
        text = svg.read_text(encoding="utf-8")
        # text is drawn as paths; matplotlib keeps it only in escaped XML comments
        assert "<text" not in text and "<script" not in text and "<svg onload" not in text
    assert first[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_empty_cohort_still_draws(tmp_path: Path) -> None:
    paths = write_cohort_figures(
        tmp_path, 0, positions=np.zeros((0, 2)), pairs=[], weights=[], labels=[],
        actions=pd.DataFrame(columns=["account_id", "target_id", "timestamp"]), caption="",
    )
    assert all(p.stat().st_size > 0 for p in paths)


def test_dt_histogram_names_its_background() -> None:
    from matplotlib.figure import Figure

    from pipelines.figures import draw_dt_histogram, dt_histogram

    fig = Figure()
    background = dt_histogram(np.array([10.0, 20.0, 30.0]), 7 * 86400)
    draw_dt_histogram(fig, np.array([60.0, 120.0]), background, "all slow-pass edges")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["all slow-pass edges (n = 3)", "this cohort (n = 2)"]
    assert fig.axes[0].get_xlim()[1] >= 7 * 86400 / 60  # the axis spans the slow window
