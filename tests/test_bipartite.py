from __future__ import annotations

import datetime as dt

import pyarrow as pa

from graphs.bipartite import bipartite_incidence

T = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def test_accounts_and_targets_are_separate_namespaces_sorted_by_target_then_time():
    inc = bipartite_incidence(pa.table({
        "account_id": ["x", "p", "x"], "target_id": ["p", "x", "x"],
        "action": ["like", "share", "like"],
        "timestamp": [T + dt.timedelta(seconds=s) for s in (5, 9, 1)],
    }))
    assert inc.account_ids.to_pylist() == ["p", "x"]
    assert inc.target_ids.to_pylist() == ["p", "x"]
    assert inc.target.tolist() == [0, 1, 1]
    assert inc.time.tolist() == [1793491205, 1793491201, 1793491209]
    assert inc.account.tolist() == [1, 1, 0]
    assert [inc.action_names[c].as_py() for c in inc.action] == ["like", "like", "share"]
