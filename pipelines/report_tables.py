"""Tables of the report's index: ranked cohorts, the cohort table, the run summary.

Cells are plain text (:func:`display`) and numeric sort keys (:func:`sort_key`); the
templates autoescape them.
"""

from __future__ import annotations

import json
import math
import numbers

import numpy as np
import pandas as pd


def ranked_cohorts(cohorts: pd.DataFrame) -> pd.DataFrame:
    """Cohorts with flagged ones first, each group by score descending, then cohort id."""
    order = cohorts.assign(_flag=cohorts["flagged"].astype(bool))
    order = order.sort_values(
        ["_flag", "score", "cohort_id"], ascending=[False, False, True], kind="mergesort"
    )
    return order.drop(columns="_flag").reset_index(drop=True)


def paged_cohorts(cohorts: pd.DataFrame, max_cohorts: int = 0) -> list[int]:
    """Ids of the flagged cohorts that get a page, figures and a bundle: the ``max_cohorts``
    highest ranked (all when ``max_cohorts`` is 0), in rank order.

    >>> c = pd.DataFrame({"cohort_id": [0, 1, 2], "flagged": [True, True, False],
    ...                   "score": [9.0, 3.0, 1.0]})
    >>> paged_cohorts(c), paged_cohorts(c, 1)
    ([0, 1], [0])
    """
    ranked = ranked_cohorts(cohorts)
    flagged = [int(c) for c in ranked.loc[ranked["flagged"].astype(bool), "cohort_id"]]
    return flagged[:max_cohorts] if max_cohorts > 0 else flagged


def cohort_table(ranked: pd.DataFrame, layers: dict[int, str] | None = None,
                 paged: set[int] | None = None) -> dict:
    """Header and cells (display text, sort key, CSS class) of the index's cohort table.

    ``layers`` maps a cohort id to its layer summary (``"engage 97%, url 3%"``); when
    given, a ``layers`` column follows the explanation (``—`` for cohorts without one).
    Flagged cohorts link to their page when they have one (``paged``; all when ``None``).
    """
    if layers is not None:
        ids = ranked["cohort_id"].astype(int)
        ranked = ranked.assign(layers=[layers.get(int(c), "—") for c in ids])
    first = [c for c in ("cohort_id", "explanation", "layers") if c in ranked.columns]
    columns = first + [c for c in ranked.columns if c not in first]  # the why next to the id
    records = ranked.to_dict("records")
    kinds = ["num" if any(sort_key(r[c]) for r in records) else "text" for c in columns]
    rows = []
    for record in records:
        has_page = record["flagged"] and (paged is None or int(record["cohort_id"]) in paged)
        link = f"cohorts/cohort_{int(record['cohort_id'])}.html" if has_page else None
        cells = [
            (display(record[c]), sort_key(record[c]), kind)
            for c, kind in zip(columns, kinds, strict=True)
        ]
        rows.append({"cells": cells, "link": link, "flagged": bool(record["flagged"])})
    return {"columns": columns, "rows": rows}


def run_summary(manifest: dict) -> dict:
    """Manifest sections as (key, text) pairs for the index's summary tables."""

    def pairs(section: str) -> list[tuple[str, str]]:
        return [(str(k), display(v)) for k, v in (manifest.get(section) or {}).items()]

    inputs = [
        (str(i.get("path", "")), str(i.get("sha256", "")), display(i.get("rows")))
        for i in manifest.get("inputs") or []
    ]
    return {
        "created_at": str(manifest.get("created_at", "")),
        "inputs": inputs,
        "rows": pairs("rows"),
        "parameters": pairs("parameters"),
        "timings": pairs("timings_s"),
        "versions": pairs("versions"),
    }


def display(value: object) -> str:
    """Short text for a table cell: 4 significant digits, ``—`` for missing values.

    Examples
    --------
    >>> [display(v) for v in (0.123456, 11260.4, float("nan"), True, 3, "x")]
    ['0.1235', '11260', '—', 'yes', '3', 'x']
    """
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        return f"{number:.0f}" if 1e4 <= abs(number) < 1e15 else f"{number:.4g}"
    return str(value)


def sort_key(value: object) -> str:
    """A number as text for the table's numeric sort, or ``""`` for text and missing values."""
    if isinstance(value, bool | np.bool_):
        return str(int(value))
    if isinstance(value, numbers.Real) and not math.isnan(float(value)):
        return repr(float(value))
    return ""
