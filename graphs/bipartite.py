"""Account–target incidence: the bipartite graph as integer-coded arrays.

Accounts and targets live in separate namespaces (an account and a target may share an id);
ids are kept in sorted lookup arrays and the computation runs on integer codes.
"""

from __future__ import annotations

from typing import NamedTuple

import duckdb
import numpy as np
import pyarrow as pa


class Incidence(NamedTuple):
    """Bipartite account–target incidence, one entry per interaction.

    Entries are sorted by (target, time, account); ``account[k]`` indexes ``account_ids``.
    """

    account_ids: pa.Array
    target_ids: pa.Array
    action_names: pa.Array
    account: np.ndarray
    target: np.ndarray
    action: np.ndarray
    time: np.ndarray
    """Seconds since the epoch (int64)."""


_CODED_SQL = """
SELECT dense_rank() OVER (ORDER BY account_id) - 1 AS account,
       dense_rank() OVER (ORDER BY target_id) - 1 AS target,
       dense_rank() OVER (ORDER BY action) - 1 AS action,
       CAST(floor(epoch(CAST(timestamp AS TIMESTAMPTZ))) AS BIGINT) AS time
FROM interactions
ORDER BY target, time, account, action
"""


def bipartite_incidence(interactions: pa.Table) -> Incidence:
    """Encode interactions as a bipartite incidence sorted by (target, time).

    Parameters
    ----------
    interactions : pyarrow.Table
        Columns ``account_id, target_id, action, timestamp`` (UTC timestamps).

    Returns
    -------
    Incidence
        Sorted id arrays and integer-coded entries.

    Examples
    --------
    >>> import datetime as dt
    >>> t = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    >>> inc = bipartite_incidence(pa.table({
    ...     "account_id": ["b", "a", "a"], "target_id": ["x", "x", "a"],
    ...     "action": ["like"] * 3, "timestamp": [t, t, t]}))
    >>> inc.account_ids.to_pylist(), inc.target_ids.to_pylist(), inc.account.tolist()
    (['a', 'b'], ['a', 'x'], [0, 0, 1])
    """
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("interactions", interactions)
    coded = con.sql(_CODED_SQL).fetchnumpy()
    ids = {
        name: con.sql(f"SELECT DISTINCT {name} FROM interactions ORDER BY 1")
        .to_arrow_table()[name].combine_chunks()
        for name in ("account_id", "target_id", "action")
    }
    con.close()
    return Incidence(
        account_ids=ids["account_id"],
        target_ids=ids["target_id"],
        action_names=ids["action"],
        account=np.asarray(coded["account"], dtype=np.int32),
        target=np.asarray(coded["target"], dtype=np.int32),
        action=np.asarray(coded["action"], dtype=np.int16),
        time=np.asarray(coded["time"], dtype=np.int64),
    )
