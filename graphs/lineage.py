"""Stable cohort identities across runs: match today's cohorts to the last run's by membership.

Two cohorts are *linked* when they share at least ``min_shared`` accounts and their overlap
coefficient ``|A ∩ B| / min(|A|, |B|)`` is at least ``min_overlap`` (the overlap
coefficient, not Jaccard, so that a cohort that doubled is still linked to its old self).
The links decide the status of each of today's cohorts:

- ``new`` — no link;
- ``merged`` — linked to two or more earlier cohorts;
- ``split`` — its one earlier cohort is linked to two or more of today's;
- otherwise one-to-one: ``grown`` when ``size ≥ (1 + growth) × earlier size``, ``shrunk``
  when ``size ≤ earlier size / (1 + growth)``, else ``persisting``;

and every earlier cohort without a link today is ``dissolved``. Earlier ids are carried
greedily by shared accounts (most first, then smaller ids), each id by at most one of
today's cohorts; cohorts that carry none get fresh ids from ``next_id`` in run order.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

__all__ = ["LINEAGE_COLUMNS", "cohort_lineage"]

LINEAGE_COLUMNS = ["cohort_id", "run_cohort_id", "status", "previous_cohort_ids", "overlap",
                   "size"]


def cohort_lineage(current: pd.DataFrame, previous: pd.DataFrame, *, next_id: int,
                   min_overlap: float = 0.5, min_shared: int = 2,
                   growth: float = 0.5) -> pd.DataFrame:
    """Carry cohort ids from the previous run to this one and classify every change.

    Parameters
    ----------
    current : pandas.DataFrame
        ``account_id, cohort_id`` of this run (the run's own cohort ids).
    previous : pandas.DataFrame
        ``account_id, cohort_id`` of the previous run, with *stable* cohort ids.
    next_id : int
        First stable id for cohorts that carry no earlier id (above every id used so far).
    min_overlap, min_shared, growth : float, int, float
        Link and growth thresholds (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        :data:`LINEAGE_COLUMNS`: stable ``cohort_id``, ``run_cohort_id`` (NA for dissolved
        cohorts), ``status``, ``previous_cohort_ids`` (JSON list), ``overlap`` (Jaccard of the
        cohort with the union of its linked earlier cohorts; for a dissolved cohort its best
        Jaccard with any cohort today) and ``size`` (today's, or the earlier size if
        dissolved). Rows: today's cohorts by run id, then dissolved ones by id.

    Examples
    --------
    >>> before = pd.DataFrame({"account_id": list("abcdxyz"), "cohort_id": [7] * 4 + [8] * 3})
    >>> today = pd.DataFrame({"account_id": list("abcdefghpq"),
    ...                       "cohort_id": [0] * 8 + [1] * 2})
    >>> cohort_lineage(today, before, next_id=9)[["cohort_id", "status", "previous_cohort_ids"]]
       cohort_id     status previous_cohort_ids
    0          7      grown                 [7]
    1          9        new                  []
    2          8  dissolved                 [8]
    """
    for name, table in (("current", current), ("previous", previous)):
        missing = {"account_id", "cohort_id"} - set(table.columns)
        if missing:
            raise ValueError(f"{name}: missing column {sorted(missing)[0]!r}")
    if min_shared < 1 or not 0 < min_overlap <= 1 or growth <= 0:
        raise ValueError("min_shared must be >= 1, min_overlap in (0, 1], growth > 0")
    now, before = _sizes(current), _sizes(previous)
    links = _links(current, previous, now, before, min_overlap, min_shared)
    carried = _carried_ids(links)
    rows = [_row(c, now, before, links, carried, current, previous, growth) for c in now.index]
    ids = _assign_new(rows, next_id)
    lineage = pd.DataFrame(rows, columns=LINEAGE_COLUMNS).assign(cohort_id=ids)
    gone = _dissolved(before, links, current, previous)
    out = pd.concat([lineage, gone], ignore_index=True) if len(gone) else lineage
    return out.astype({"cohort_id": "int64", "run_cohort_id": "Int64", "size": "int64",
                       "overlap": "float64"})


def _sizes(members: pd.DataFrame) -> pd.Series:
    return members.groupby("cohort_id")["account_id"].nunique().sort_index()


def _links(current: pd.DataFrame, previous: pd.DataFrame, now: pd.Series, before: pd.Series,
           min_overlap: float, min_shared: int) -> pd.DataFrame:
    """``current, previous, shared`` for every linked pair of cohorts."""
    both = current[["account_id", "cohort_id"]].drop_duplicates().merge(
        previous[["account_id", "cohort_id"]].drop_duplicates(), on="account_id",
        suffixes=("_now", "_before"))
    shared = both.groupby(["cohort_id_now", "cohort_id_before"]).size().rename("shared")
    shared = shared.reset_index().rename(columns={"cohort_id_now": "current",
                                                  "cohort_id_before": "previous"})
    smaller = np.minimum(now.loc[shared["current"]].to_numpy(),
                         before.loc[shared["previous"]].to_numpy())
    keep = (shared["shared"] >= min_shared) & (shared["shared"] / smaller >= min_overlap)
    return shared[keep].reset_index(drop=True)


def _carried_ids(links: pd.DataFrame) -> dict[int, int]:
    """Today's cohort → the earlier id it carries (greedy by shared accounts)."""
    carried: dict[int, int] = {}
    used: set[int] = set()
    order = links.sort_values(["shared", "previous", "current"], ascending=[False, True, True])
    for cur, prev in zip(order["current"], order["previous"], strict=True):
        if cur not in carried and prev not in used:
            carried[int(cur)] = int(prev)
            used.add(int(prev))
    return carried


def _row(cohort: int, now: pd.Series, before: pd.Series, links: pd.DataFrame,
         carried: dict[int, int], current: pd.DataFrame, previous: pd.DataFrame,
         growth: float) -> list:
    preds = sorted(int(p) for p in links.loc[links["current"] == cohort, "previous"])
    size = int(now[cohort])
    if not preds:
        status = "new"
    elif len(preds) > 1:
        status = "merged"
    elif (links["previous"] == preds[0]).sum() > 1:
        status = "split"
    elif size >= (1 + growth) * before[preds[0]]:
        status = "grown"
    elif size * (1 + growth) <= before[preds[0]]:
        status = "shrunk"
    else:
        status = "persisting"
    mine = set(current.loc[current["cohort_id"] == cohort, "account_id"])
    theirs = set(previous.loc[previous["cohort_id"].isin(preds), "account_id"])
    overlap = len(mine & theirs) / len(mine | theirs) if preds else 0.0
    return [carried.get(int(cohort)), int(cohort), status, json.dumps(preds), round(overlap, 6),
            size]


def _assign_new(rows: list[list], next_id: int) -> list[int]:
    ids = []
    for row in rows:
        if row[0] is None:
            row[0] = next_id
            next_id += 1
        ids.append(row[0])
    return ids


def _dissolved(before: pd.Series, links: pd.DataFrame, current: pd.DataFrame,
               previous: pd.DataFrame) -> pd.DataFrame:
    gone = [int(p) for p in before.index if p not in set(links["previous"])]
    now_sets = current.groupby("cohort_id")["account_id"].agg(set)
    rows = []
    for prev in gone:
        theirs = set(previous.loc[previous["cohort_id"] == prev, "account_id"])
        best = max((len(theirs & s) / len(theirs | s) for s in now_sets), default=0.0)
        rows.append([prev, pd.NA, "dissolved", json.dumps([prev]), round(best, 6),
                     int(before[prev])])
    return pd.DataFrame(rows, columns=LINEAGE_COLUMNS)
