from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pyarrow as pa
import pytest

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


def _duckdb_reference(table: pa.Table):
    """The incidence as the former DuckDB query built it (dense ranks, ORDER BY)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("interactions", table)
    coded = con.sql(
        "SELECT dense_rank() OVER (ORDER BY account_id) - 1 AS account,"
        " dense_rank() OVER (ORDER BY target_id) - 1 AS target,"
        " dense_rank() OVER (ORDER BY action) - 1 AS action,"
        " CAST(floor(epoch(CAST(timestamp AS TIMESTAMPTZ))) AS BIGINT) AS time"
        " FROM interactions ORDER BY target, time, account, action").fetchnumpy()
    ids = [con.sql(f"SELECT DISTINCT {c} FROM interactions ORDER BY 1").to_arrow_table()[c]
           .to_pylist() for c in ("account_id", "target_id", "action")]
    return ids, {k: np.asarray(v).tolist() for k, v in coded.items()}


@pytest.mark.parametrize("unit", ["s", "us", "ns"])
def test_same_incidence_as_the_duckdb_dense_rank_query(unit):
    rng = np.random.default_rng(7)
    names = ["a", "B", "b", "é", "日本", "a b", "a,b", "Z", "ä", "10", "9", "🙂", "a\tb"]
    n = 4000
    ticks = (1_793_527_200 + rng.integers(-5, 600, n)) * {"s": 1, "us": 10**6, "ns": 10**9}[unit]
    if unit != "s":
        ticks += rng.integers(0, 1000, n)  # fractions of a second floor to the second
    table = pa.table({
        "account_id": [names[i] + str(i % 3) for i in rng.integers(0, len(names), n)],
        "target_id": [names[i] for i in rng.integers(0, len(names), n)],
        "action": [["like", "share", "Like"][i] for i in rng.integers(0, 3, n)],
        "timestamp": pa.array(ticks, pa.timestamp(unit, tz="UTC"))})
    table = pa.concat_tables([table.slice(0, 1500), table.slice(1500)])  # several chunks
    inc = bipartite_incidence(table)
    ids, coded = _duckdb_reference(table)
    assert [inc.account_ids.to_pylist(), inc.target_ids.to_pylist(),
            inc.action_names.to_pylist()] == ids
    assert inc.account_ids.type == inc.target_ids.type == pa.string()
    for name in ("account", "target", "action", "time"):
        assert getattr(inc, name).tolist() == coded[name], name
    assert (inc.account.dtype, inc.target.dtype, inc.action.dtype, inc.time.dtype) == (
        np.int32, np.int32, np.int16, np.int64)


def test_empty_interactions_give_an_empty_incidence():
    table = pa.table({"account_id": pa.array([], pa.string()),
                      "target_id": pa.array([], pa.string()), "action": pa.array([], pa.string()),
                      "timestamp": pa.array([], pa.timestamp("us", tz="UTC"))})
    inc = bipartite_incidence(table)
    assert inc.account.size == inc.time.size == len(inc.account_ids) == 0


def test_nulls_and_untyped_timestamps_are_refused():
    row = {"account_id": ["a"], "target_id": ["x"], "action": ["like"], "timestamp": [T]}
    with pytest.raises(ValueError, match="column 'target_id' has 1 nulls"):
        bipartite_incidence(pa.table({**row, "target_id": pa.array([None], pa.string())}))
    with pytest.raises(ValueError, match="column 'timestamp' must hold timestamps, got string"):
        bipartite_incidence(pa.table({**row, "timestamp": ["2026-11-01"]}))


# one composite key / the least significant keys first, then grouped by the most significant
# one by counting (a small range: the first key) or with their rank as a tie-break (the
# second key of 2**40) / np.lexsort where even a key and a rank do not fit in 63 bits
@pytest.mark.parametrize("span", [10, 2**40, 2**61])
@pytest.mark.parametrize("block", [1 << 22, 7])
def test_entry_order_sorts_like_lexsort(span, block, monkeypatch):
    import graphs.bipartite as bipartite
    from graphs.bipartite import _entry_order

    monkeypatch.setattr(bipartite, "BLOCK", block)  # the key built in blocks of 7 rows

    rng = np.random.default_rng(span % 97)
    keys = [rng.integers(0, 50, 3000), rng.integers(-span, span, 3000),
            rng.integers(0, 2**20, 3000), rng.integers(0, 3, 3000)]
    order = _entry_order(*keys)
    expected = np.lexsort(keys[::-1])
    assert all((k[order] == k[expected]).all() for k in keys)


def test_ids_encoded_in_parallel_slices_give_the_same_incidence(monkeypatch):
    import graphs.bipartite as bipartite

    rng = np.random.default_rng(5)
    n = 5000
    table = pa.table({
        "account_id": [f"a{i}" for i in rng.integers(0, 700, n)],
        "target_id": [f"t{i}" for i in rng.integers(0, 300, n)],
        "action": rng.choice(["like", "share"], n).tolist(),
        "timestamp": pa.array(rng.integers(0, 10**6, n) * 10**6, pa.timestamp("us", tz="UTC")),
    })
    whole = bipartite_incidence(table)
    chunked = pa.Table.from_batches(table.to_batches(max_chunksize=333))  # as DuckDB returns
    assert chunked["account_id"].num_chunks == 16
    monkeypatch.setattr(bipartite, "PARALLEL_ENCODE_ROWS", 10)
    monkeypatch.setattr(bipartite.os, "cpu_count", lambda: 3)  # three slices
    for sliced in (bipartite_incidence(table), bipartite_incidence(chunked)):
        for field in whole._fields:
            a, b = getattr(whole, field), getattr(sliced, field)
            assert (a.equals(b) if isinstance(a, pa.Array) else np.array_equal(a, b)), field
    monkeypatch.setattr(bipartite.os, "cpu_count", lambda: 1)  # one thread, many chunks
    one = bipartite_incidence(chunked)
    assert all(np.array_equal(getattr(whole, f), getattr(one, f)) for f in ("account", "target"))


def test_dictionary_encoded_ids_give_the_same_incidence_as_their_text():
    """As ingest returns them (one shared, sorted dictionary with values no row uses), and
    with a dictionary of their own per chunk in no order: the same ids and codes as text."""
    from graphs.interactions import coded_column

    rng = np.random.default_rng(11)
    n = 3000
    accounts = np.array([f"a{i}" for i in range(900)])  # sorted as text: a0, a1, a10, …
    values = pa.array(sorted(accounts.tolist()))
    codes = rng.integers(0, 600, n)  # the last 300 values are used by no row
    table = pa.table({
        "account_id": pa.array(values.to_numpy(zero_copy_only=False)[codes]),
        "target_id": [f"t{i}" for i in rng.integers(0, 200, n)],
        "action": rng.choice(["like", "share"], n).tolist(),
        "timestamp": pa.array(rng.integers(0, 10**5, n) * 10**6, pa.timestamp("us", tz="UTC")),
    })
    text = bipartite_incidence(table)
    shared = coded_column(pa.chunked_array([codes[:1000], codes[1000:]]), values)
    own = pa.chunked_array([table["account_id"].chunk(0)[lo:hi].dictionary_encode()
                            for lo, hi in ((0, 1700), (1700, n))])
    for column in (shared, own):
        coded = bipartite_incidence(table.set_column(0, "account_id", column))
        assert coded.account_ids.equals(text.account_ids)
        assert coded.account_ids.type == pa.string()
        for name in ("account", "target", "action", "time"):
            assert np.array_equal(getattr(coded, name), getattr(text, name)), name
