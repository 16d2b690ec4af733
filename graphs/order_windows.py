"""Likes without timestamps: order-only windows by rank distance.

Some exports give only the order in which accounts liked a target (a "liking users" list).
:func:`rank_clock` puts each target's actions on a clock that ticks once per rank, so the
ordinary sliding-window projection (:func:`graphs.projection.co_engagement`) with
``window_s = k`` ties two accounts that liked the same target at most ``k`` positions apart.
Timed and order-only rows are projected as separate layers and fused
(:mod:`graphs.multiplex`), which is how mixed data is handled: the two clocks never mix.
"""

from __future__ import annotations

import pandas as pd

EPOCH = pd.Timestamp("1970-01-01", tz="UTC")


def rank_clock(ranked: pd.DataFrame) -> pd.DataFrame:
    """Replace each row's position by a timestamp ``rank`` seconds after the epoch.

    Positions are kept as given (not re-numbered), so a gap in the ranks — likers missing
    from the export — keeps its distance.

    Parameters
    ----------
    ranked : pandas.DataFrame
        ``account_id, target_id, action, rank``; ``rank`` is the position of the action in
        its target's list (any integers; gaps and ties allowed).

    Returns
    -------
    pandas.DataFrame
        ``account_id, target_id, action, timestamp`` where ``timestamp`` is the epoch plus
        ``rank`` seconds, sorted by target and rank.

    Examples
    --------
    >>> likes = pd.DataFrame({"account_id": ["a", "b", "c"], "target_id": ["p"] * 3,
    ...                       "action": ["like"] * 3, "rank": [10, 30, 20]})
    >>> out = rank_clock(likes)
    >>> list(zip(out["account_id"], (out["timestamp"] - EPOCH).dt.total_seconds().astype(int)))
    [('a', 10), ('c', 20), ('b', 30)]
    """
    for column in ("account_id", "target_id", "action", "rank"):
        if column not in ranked.columns:
            raise ValueError(f"ranked likes: missing column '{column}'")
    rank = pd.to_numeric(ranked["rank"], errors="coerce")
    bad = rank.isna() | (rank != rank.round())
    if bad.any():
        first = ranked.index[bad.to_numpy()][0]
        raise ValueError(f"ranked likes: row {first}: column 'rank' must be an integer, "
                         f"got {ranked.loc[first, 'rank']!r}")
    position = rank.astype("int64")
    out = pd.DataFrame({"account_id": ranked["account_id"], "target_id": ranked["target_id"],
                        "action": ranked["action"],
                        "timestamp": EPOCH + pd.to_timedelta(position, unit="s")})
    return out.assign(_r=position).sort_values(["target_id", "_r", "account_id"],
                                            ignore_index=True).drop(columns="_r")

