"""The nightly report: ``index.html`` leads with what changed since the last run.

The run's own report (``pipelines/report.py``) is written first; this module renders the
"what changed" section (``templates/nightly_changes.html``, autoescaped) and inserts it at
the top of that ``index.html``, with links to earlier nightly reports (``../<date>/``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.report import display, render, write_text_atomic

STATUS_ORDER = ["new", "grown", "merged", "split", "shrunk", "persisting", "dissolved"]


def write_nightly_index(out_dir: Path, *, run_date: dt.date, lineage: pd.DataFrame,
                        cohorts: pd.DataFrame, note: dict[str, Any],
                        earlier: list[dt.date]) -> Path:
    """Insert the "what changed" section at the top of ``out_dir/index.html``."""
    index = out_dir / "index.html"
    page = index.read_text(encoding="utf-8")
    if "<body>" not in page:
        raise ValueError(f"{index}: no <body> tag to insert the nightly section after")
    section = render("nightly_changes.html", run_date=run_date.isoformat(),
                     window=note["window"], previous_run=note["previous_run"],
                     missing=note["missing_partitions"], counts=status_counts(lineage),
                     rows=change_rows(lineage, cohorts),
                     earlier=[d.isoformat() for d in earlier])
    return write_text_atomic(index, page.replace("<body>", "<body>\n" + section, 1))


def status_counts(lineage: pd.DataFrame) -> list[tuple[str, int]]:
    """``(status, count)`` in :data:`STATUS_ORDER`, statuses that occur only."""
    counts = lineage["status"].value_counts()
    return [(s, int(counts[s])) for s in STATUS_ORDER if s in counts.index]


def change_rows(lineage: pd.DataFrame, cohorts: pd.DataFrame) -> list[dict[str, Any]]:
    """One row per lineage entry, changes first (STATUS_ORDER), then by stable id."""
    facts = cohorts.set_index("cohort_id")
    order = lineage.assign(_rank=lineage["status"].map(STATUS_ORDER.index))
    rows = []
    for r in order.sort_values(["_rank", "cohort_id"], kind="stable").itertuples():
        alive = not pd.isna(r.run_cohort_id)
        fact = facts.loc[int(r.run_cohort_id)] if alive else None
        flagged = bool(fact["flagged"]) if alive else False
        rows.append({
            "cohort_id": int(r.cohort_id), "status": r.status, "size": int(r.size),
            "previous": r.previous_cohort_ids, "overlap": display(float(r.overlap)),
            "flagged": flagged, "flagged_text": display(flagged) if alive else "—",
            "explanation": str(fact["explanation"]) if alive else "no longer found",
            "link": f"cohorts/cohort_{int(r.run_cohort_id)}.html" if flagged else None})
    return rows
