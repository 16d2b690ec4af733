"""Overview network of the index: one node per cohort, edges by cross-cohort weight.

Small unflagged cohorts (two accounts tied by a couple of likes) are most of the cohorts of
a run and would turn the overview into a hairball; it draws every flagged cohort and the
highest ranked unflagged cohorts of at least ``min_size`` accounts, and says what it left out.
"""

from __future__ import annotations

import math

import pandas as pd
from pyvis.network import Network

from pipelines.report_network import cohort_codes, json_options, network_layout

MAX_OVERVIEW_COHORTS = 50


def cohort_overview(
    ranked: pd.DataFrame,
    memberships: pd.DataFrame,
    edges: pd.DataFrame,
    *,
    min_size: int = 1,
    max_cohorts: int = MAX_OVERVIEW_COHORTS,
) -> dict:
    """vis-network data of the cohorts: one node per cohort, edges by cross-cohort weight.

    Parameters
    ----------
    ranked : DataFrame
        ``cohorts`` in report order (flagged first).
    memberships, edges : DataFrame
        ``memberships`` and ``co_engagement_edges``.
    min_size, max_cohorts : int
        Drawn: every flagged cohort, then the ``max_cohorts`` highest ranked unflagged
        cohorts of at least ``min_size`` accounts (the run's flag rule ``min_size``).

    Returns
    -------
    dict
        ``{"nodes", "edges", "options", "n_cohorts", "shown", "left_out"}``; node size grows
        with members, edge width with the summed weight of the ties between two cohorts;
        ``left_out`` = ``{"small": cohorts under min_size, "ranked_lower": beyond the cap,
        "min_size", "max_cohorts"}``.
    """
    shown, left_out = overview_cohorts(ranked, min_size=min_size, max_cohorts=max_cohorts)
    index = {int(c): i for i, c in enumerate(shown["cohort_id"])}
    position = pd.Series(index, dtype="float64")
    ends = pd.DataFrame({"a": position.reindex(cohort_codes(edges["account_a"], memberships))
                         .to_numpy(),
                         "b": position.reindex(cohort_codes(edges["account_b"], memberships))
                         .to_numpy(),
                         "w": edges["weight"].astype(float).to_numpy()}).dropna()
    ends = ends[ends["a"] != ends["b"]]
    lo, hi = ends[["a", "b"]].min(axis=1).astype(int), ends[["a", "b"]].max(axis=1).astype(int)
    cross = ends.groupby([lo.rename("lo"), hi.rename("hi")])["w"].agg(["sum", "size"])
    pairs = [(int(a), int(b)) for a, b in cross.index]
    coords = network_layout(len(index), pairs, cross["sum"].tolist())
    w_max = max(float(cross["sum"].max()) if len(cross) else 0.0, 1e-9)
    s_max = max(int(shown["size"].max()) if len(shown) else 1, 1)
    nodes = [
        {"id": i, "label": f"#{int(r.cohort_id)}", "cohort_id": int(r.cohort_id),
         "members": int(r.size), "flagged": bool(r.flagged), "explanation": str(r.explanation),
         "x": coords[i][0], "y": coords[i][1], "size": round(6 + 24 * math.sqrt(r.size / s_max), 2),
         "shape": "dot", "physics": False,
         "color": "#d9480f" if bool(r.flagged) else "#adb5bd"}
        for i, r in enumerate(shown.itertuples(index=False))
    ]
    links = [
        {"from": a, "to": b, "width": round(1 + 7 * w / w_max, 2), "weight": round(float(w), 4),
         "ties": int(n)}
        for (a, b), w, n in zip(pairs, cross["sum"], cross["size"], strict=True)
    ]
    net = Network(height="100%", width="100%", directed=False)
    net.toggle_physics(False)
    return {"nodes": nodes, "edges": links, "options": json_options(net),
            "n_cohorts": len(ranked), "shown": len(nodes), "left_out": left_out}


def overview_cohorts(ranked: pd.DataFrame, *, min_size: int = 1,
                     max_cohorts: int = MAX_OVERVIEW_COHORTS) -> tuple[pd.DataFrame, dict]:
    """The cohorts the overview draws (report order) and counts of what it left out."""
    flagged = ranked["flagged"].astype(bool)
    big = ranked["size"].astype(int) >= min_size
    extra = (~flagged & big).cumsum() <= max_cohorts
    keep = flagged | (~flagged & big & extra)
    left_out = {"small": int((~flagged & ~big).sum()),
                "ranked_lower": int((~flagged & big & ~extra).sum()),
                "min_size": int(min_size), "max_cohorts": int(max_cohorts)}
    return ranked[keep], left_out
