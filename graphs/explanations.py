"""The words of a cohort's verdict: why it was not flagged, and what its accounts did."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

VERBS = {"like": "co-liked", "share": "co-shared", "retweet": "co-retweeted",
         "comment": "co-commented on", "reply": "co-replied to", "follow": "co-followed",
         "star": "co-starred", "post_text": "posted", "share_url": "co-shared"}
NOUNS = {"post_text": "near-duplicate texts", "share_url": "URLs"}
"""Actions whose targets are not posts (text and URL layers): what the targets are."""


def flag_reasons(row: Mapping[str, Any], *, min_size, min_shared_targets, min_density,
                 min_lift, max_cohort_p, min_authors, max_top_author_share,
                 min_effective_authors, min_effective_targets,
                 min_creation_burst, min_same_action_share) -> list[str]:
    """The flag rules a cohort's features (one row of ``cohorts``, as a Series or a dict)
    fail, in words; ``[]`` when it is flagged (rules as in
    :func:`graphs.scoring.scored_cohorts`)."""
    reasons = []
    if row["lift"] < min_lift:
        reasons.append(f"only {row['lift']:.1f}× the co-engagement expected by chance")
    elif row["cohort_p_value"] > max_cohort_p:
        reasons.append(f"group test p = {row['cohort_p_value']:.1e} above {max_cohort_p:g}")
    if row["size"] < min_size:
        reasons.append(f"fewer than {min_size} accounts")
    if row["density"] < min_density:
        reasons.append(f"density {row['density']:.2f} below {min_density}")
    if row["shared_targets"] < min_shared_targets:
        reasons.append(f"fewer than {min_shared_targets} shared targets")
    elif row["effective_targets"] < min_effective_targets:
        reasons.append(f"co-engagements concentrated on {row['effective_targets']:.1f} "
                       f"effective targets (< {min_effective_targets:g})")
    if pd.notna(row["n_authors"]) and row["n_authors"] < min_authors:
        reasons.append(f"targets from fewer than {min_authors} authors")
    if pd.notna(row["top_author_share"]) and row["top_author_share"] > max_top_author_share:
        reasons.append(f"{row['top_author_share']:.0%} of co-engagements on one author's posts")
    elif pd.notna(row["effective_authors"]) and row["effective_authors"] < min_effective_authors:
        reasons.append(f"co-engagements concentrated on {row['effective_authors']:.1f} "
                       f"effective authors (< {min_effective_authors:g})")
    return reasons + _uncorroborated(row, min_creation_burst, min_same_action_share)


def _uncorroborated(row: Mapping[str, Any], min_burst: float, min_same: float) -> list[str]:
    """Without authors, the farm signs a cohort lacks: no sign-up burst, no bundles."""
    if min_burst <= 0 and min_same <= 0:
        return []
    burst = row.get("creation_burst_share", float("nan"))
    same = row.get("same_action_share", float("nan"))
    if (min_burst > 0 and pd.notna(burst) and burst >= min_burst) or (
            min_same > 0 and pd.notna(same) and same >= min_same):
        return []
    missing = []
    if min_burst > 0 and pd.notna(burst):
        missing.append(f"no sign-up burst (at most {burst:.0%} of members created within 3 "
                       f"days, < {min_burst:.0%})")
    if min_same > 0:
        missing.append(f"no single-action bundles ({same:.0%} of tied pairs did the same "
                       f"action, < {min_same:.0%})")
    why = "authors unknown (no posts table)" if pd.isna(row["n_authors"]) else (
        "weak ties need a second farm sign")
    return [f"{why}, {' and '.join(missing)}"] if missing else []


def explanation(row, reasons: list[str]) -> str:
    """One line: what the cohort's accounts did and how far above chance, after the
    ``reasons`` it was not flagged (if any). ``row`` is a named tuple of its features."""
    verb = VERBS.get(str(row.action), "co-engaged")
    noun = NOUNS.get(str(row.action), "targets")
    what = f"{row.size} accounts {verb} {row.shared_targets} {noun}"
    if pd.notna(row.n_authors) and str(row.action) not in NOUNS:
        what = f"{row.size} accounts {verb} {row.shared_targets} posts of {row.n_authors} authors"
    if pd.notna(row.median_dt_s):
        what += f", median {duration(row.median_dt_s)} apart"
    what += f", {row.lift:.0f}× the co-engagement expected by chance"
    return what if not reasons else f"not flagged: {'; '.join(reasons)}; {what}"


def duration(seconds: float) -> str:
    """``45 s``, ``26 min`` or ``10.7 h``.

    >>> duration(45), duration(1560), duration(38505)
    ('45 s', '26 min', '10.7 h')
    """
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
