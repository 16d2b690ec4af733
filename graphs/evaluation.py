"""Scores of a detection run against the generator's ground-truth labels."""

from __future__ import annotations

import igraph as ig
import pandas as pd

__all__ = ["detection_scores"]


def detection_scores(flagged_accounts: pd.DataFrame, memberships: pd.DataFrame,
                     labels: pd.DataFrame) -> dict[str, float]:
    """Return precision, recall and cohort agreement of flagged accounts against labels.

    Parameters
    ----------
    flagged_accounts : pandas.DataFrame
        ``account_id, cohort_id, cohort_score``: the accounts a run flagged.
    memberships : pandas.DataFrame
        ``account_id, cohort_id``: every clustered account and its cohort.
    labels : pandas.DataFrame
        ``account_id, label, group`` with ``label`` in ``{farm, fan, organic}``.

    Returns
    -------
    dict of str to float
        ``precision``, ``recall``, ``f1`` of flagged vs ``label == "farm"`` over labelled
        accounts (0.0 when undefined); ``fans_flagged`` and ``organic_flagged``, the shares
        of fans and organic accounts flagged; ``n_flagged``, ``n_farm``; ``n_unlabelled_flagged``
        (flagged ids absent from ``labels``, left out of every other figure); and ``ari``, the
        adjusted Rand index between cohorts and true farm groups over true farm accounts,
        where an account in no cohort is a cohort of its own (1.0 for identical partitions,
        NaN below two farm accounts).
        A zero-row table may lack its columns.

    Raises
    ------
    ValueError
        If a table with rows lacks a required column, or ``labels`` repeats an account.

    Examples
    --------
    >>> labels = pd.DataFrame({"account_id": ["a", "b", "c", "d"],
    ...                        "label": ["farm", "farm", "fan", "organic"],
    ...                        "group": ["farm_0", "farm_0", "fandom_0", ""]})
    >>> cohorts = pd.DataFrame({"account_id": ["a", "b", "c"], "cohort_id": [0, 0, 1]})
    >>> flagged = cohorts.iloc[:2].assign(cohort_score=1.0)
    >>> scores = detection_scores(flagged, cohorts, labels)
    >>> scores["precision"], scores["recall"], scores["fans_flagged"], scores["ari"]
    (1.0, 1.0, 0.0, 1.0)
    """
    label = _column(labels, "label", "labels").set_axis(_column(labels, "account_id", "labels"))
    if label.index.has_duplicates:
        duplicated = label.index[label.index.duplicated()][0]
        raise ValueError(f"labels lists account_id {duplicated!r} more than once")
    flagged_ids = pd.Index(_column(flagged_accounts, "account_id", "flagged_accounts").unique())
    is_flagged = label.index.isin(flagged_ids)
    is_farm = (label == "farm").to_numpy()
    hits = int((is_flagged & is_farm).sum())
    n_flagged, n_farm = int(is_flagged.sum()), int(is_farm.sum())
    precision, recall = _ratio(hits, n_flagged), _ratio(hits, n_farm)
    return {
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * precision * recall, precision + recall),
        "fans_flagged": _ratio(int((is_flagged & (label == "fan")).sum()), (label == "fan").sum()),
        "organic_flagged": _ratio(int((is_flagged & (label == "organic")).sum()),
                                  (label == "organic").sum()),
        "n_flagged": float(n_flagged),
        "n_farm": float(n_farm),
        "n_unlabelled_flagged": float((~flagged_ids.isin(label.index)).sum()),
        "ari": _farm_ari(memberships, labels[is_farm] if n_farm else labels.iloc[:0]),
    }


def _column(table: pd.DataFrame, name: str, table_name: str) -> pd.Series:
    if name in table.columns:
        return table[name]
    if len(table) == 0:
        return pd.Series([], dtype=object, name=name)
    raise ValueError(f"{table_name} has no column {name!r}; columns are {list(table.columns)}")


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def _farm_ari(memberships: pd.DataFrame, farm_labels: pd.DataFrame) -> float:
    """ARI of cohort vs true group over farm accounts; unclustered accounts are singletons."""
    if len(farm_labels) < 2:
        return float("nan")
    cohort = pd.Series(_column(memberships, "cohort_id", "memberships").to_numpy(),
                       index=_column(memberships, "account_id", "memberships").to_numpy())
    cohort = cohort[~cohort.index.duplicated()]
    found = farm_labels["account_id"].map(cohort)
    found = found.where(found.notna(), "unclustered:" + farm_labels["account_id"].astype(str))
    predicted = pd.factorize(found.astype(str))[0].tolist()
    truth = pd.factorize(_column(farm_labels, "group", "labels").astype(str))[0].tolist()
    if truth == predicted:  # same partition (factorize numbers by first appearance)
        return 1.0  # igraph gives NaN when both are one cohort or all singletons
    # "ari" is only a deprecated partial match for igraph's "adjusted_rand"
    return float(ig.compare_communities(truth, predicted, method="adjusted_rand"))
