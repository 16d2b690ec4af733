from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from graphs.bipartite import bipartite_incidence
from graphs.held_columns import HeldColumns
from graphs.projection import clustered_edges, co_engagement, sparse_empty, windowed_pairs

T = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def _inc(rows):
    a, t, s = zip(*rows, strict=True)
    return bipartite_incidence(pa.table({
        "account_id": list(a), "target_id": list(t), "action": ["like"] * len(rows),
        "timestamp": [T + dt.timedelta(seconds=x) for x in s]}))


def test_window_is_exact_and_inclusive():
    inc = _inc([("a", "p", 0), ("b", "p", 600), ("c", "p", 1201)])
    pairs = windowed_pairs(inc, window_s=600, max_crowd=10).to_pydict()
    assert list(zip(pairs["a"], pairs["b"], pairs["dt"], strict=True)) == [(0, 1, 600)]


def test_sliding_not_binned_across_an_hour_boundary():
    inc = _inc([("a", "p", 3599), ("b", "p", 3601)])
    assert windowed_pairs(inc, window_s=60, max_crowd=10).num_rows == 1


def test_same_account_never_pairs_with_itself():
    inc = _inc([("a", "p", 0), ("a", "p", 1)])
    assert windowed_pairs(inc, window_s=60, max_crowd=10).num_rows == 0


def test_hub_actions_are_skipped_and_enumeration_stays_bounded():
    rows = [(f"u{i:05d}", "viral", i % 100) for i in range(20_000)]
    rows += [("a", "q", 0), ("b", "q", 5)]
    result = co_engagement(_inc(rows), window_s=3600, max_crowd=50, min_shared_targets=1)
    assert result.stats["action_pairs_enumerated"] == 1
    assert result.stats["hub_targets"] == 1 and result.stats["hub_actions_skipped"] == 20_000
    assert result.edges[["account_a", "account_b"]].values.tolist() == [["a", "b"]]


def test_edges_keep_evidence_and_discount_crowds():
    rows = [("a", "p", 0), ("b", "p", 60), ("a", "q", 0), ("b", "q", 30), ("c", "q", 40),
            ("d", "q", 50), ("a", "r", 0), ("c", "r", 10)]
    result = co_engagement(_inc(rows), window_s=600, min_shared_targets=2)
    edges = result.edges.set_index(["account_a", "account_b"])
    ab = edges.loc[("a", "b")]
    assert ab["shared_targets"] == 2 and json.loads(ab["targets"]) == ["p", "q"]
    assert ab["weight"] == pytest.approx(1 / np.log2(2) + 1 / np.log2(4))
    assert ab["median_dt_s"] == 45
    assert ("a", "c") in edges.index and ("b", "c") not in edges.index
    ev = result.evidence.query("account_a == 'a' and account_b == 'b'")
    assert ev["target_id"].tolist() == ["p", "q"] and ev["dt_s"].tolist() == [60.0, 30.0]
    assert ev["time_b"].iloc[0] == T + dt.timedelta(seconds=60)


def test_repeated_actions_count_a_target_once_with_the_closest_gap():
    rows = [("a", "p", 0), ("b", "p", 500), ("b", "p", 20), ("a", "q", 0), ("b", "q", 1)]
    result = co_engagement(_inc(rows), window_s=600, min_shared_targets=2)
    assert result.edges["shared_targets"].tolist() == [2]
    assert result.evidence["dt_s"].tolist() == [20.0, 1.0]


def test_significance_columns_are_probabilities():
    rows = [(acc, f"t{k}", k * 10_000 + i) for k in range(4) for i, acc in enumerate("abc")]
    rows += [(f"o{i}", f"t{i % 4}", 99_999 + 7_000 * i) for i in range(30)]
    edges = co_engagement(_inc(rows), window_s=600).edges
    assert ((edges["p_value"] > 0) & (edges["p_value"] <= 1)).all()
    assert (edges["q_value"] >= edges["p_value"]).all()
    assert edges.set_index(["account_a", "account_b"]).loc[("a", "b"), "p_value"] < 0.01


def test_empty_incidence_gives_empty_edges():
    inc = _inc([("a", "p", 0)])
    result = co_engagement(inc)
    assert result.edges.empty and result.evidence.empty


def test_chunking_does_not_change_the_result():
    rng = np.random.default_rng(5)
    rows = [(f"u{rng.integers(0, 30)}", f"p{rng.integers(0, 12)}", int(rng.integers(0, 7200)))
            for _ in range(400)]
    inc = _inc(rows)
    whole = co_engagement(inc, window_s=900, max_crowd=30, chunk_ties=1 << 30)
    tiny = co_engagement(inc, window_s=900, max_crowd=30, chunk_ties=1)
    assert tiny.stats["projection_chunks"] > whole.stats["projection_chunks"] == 1
    assert tiny.edges.equals(whole.edges) and tiny.evidence.equals(whole.evidence)
    assert len(whole.edges) > 10


def test_edges_without_targets_are_the_same_edges():
    rng = np.random.default_rng(6)
    rows = [(f"u{rng.integers(0, 30)}", f"p{rng.integers(0, 12)}", int(rng.integers(0, 7200)))
            for _ in range(400)]
    inc = _inc(rows)
    spelled = co_engagement(inc, window_s=900, max_crowd=30)
    bare = co_engagement(inc, window_s=900, max_crowd=30, targets=False)
    assert "targets" in spelled.edges and len(spelled.edges) > 10
    assert bare.edges.equals(spelled.edges.drop(columns="targets"))
    assert bare.evidence.equals(spelled.evidence) and bare.stats == spelled.stats


class _Recording(HeldColumns):
    """A store in memory that notes what the projection does with it."""

    def __init__(self):
        super().__init__()
        self.appended, self.asked, self.made, self.released = {}, [], [], 0

    def append(self, name, values):
        self.appended.setdefault(name, set()).add(str(values.dtype))
        super().append(name, values)

    def column(self, name, dtype):
        self.asked.append(name)
        return super().column(name, dtype)

    def array(self, name, n, dtype):
        self.made.append((name, n, str(np.dtype(dtype))))
        return super().array(name, n, dtype)

    def release(self):
        self.released += 1


def test_every_column_goes_through_the_store():
    """Each chunk's edge and evidence rows are appended to the store, each column asked for
    once, the significance and ``targets`` made as arrays of it; the result is the same."""
    rng = np.random.default_rng(7)
    rows = [(f"u{rng.integers(0, 30)}", f"p{rng.integers(0, 12)}", int(rng.integers(0, 7200)))
            for _ in range(400)]
    inc = _inc(rows)
    store = _Recording()
    plain = co_engagement(inc, window_s=900, max_crowd=30, chunk_ties=50)
    given = co_engagement(inc, window_s=900, max_crowd=30, chunk_ties=50, columns=store)
    assert given.evidence.equals(plain.evidence) and given.edges.equals(plain.edges)
    assert plain.stats["projection_chunks"] > 1
    expected = {f"evidence.{c}" for c in plain.evidence.columns} | {
        f"edges.{c}" for c in ("account_a", "account_b", "shared_targets", "weight",
                               "median_dt_s")}
    assert set(store.appended) == expected and sorted(store.asked) == sorted(expected)
    assert all(len(dtypes) == 1 for dtypes in store.appended.values())  # one dtype a column
    n = len(plain.edges)
    assert [m[:2] for m in store.made] == [
        ("edges.expected_ties", n), ("edges.p_value", n), ("edges.q_value", n),
        ("edges.targets.offsets", n + 1),
        ("edges.targets.data", len("".join(plain.edges["targets"]).encode()))]
    assert store.released > 0 and store.column("edges.weight", np.float64).size == 0


def test_progress_is_reported_after_each_chunk():
    rng = np.random.default_rng(5)
    rows = [(f"u{rng.integers(0, 30)}", f"p{rng.integers(0, 12)}", int(rng.integers(0, 7200)))
            for _ in range(400)]
    inc = _inc(rows)
    calls: list[tuple[int, int]] = []
    seen = co_engagement(inc, window_s=900, max_crowd=30, chunk_ties=50,
                         on_progress=lambda done, total: calls.append((done, total)))
    assert len(calls) == seen.stats["projection_chunks"] > 1
    done = [d for d, _ in calls]
    assert done == sorted(done) and len(set(done)) == len(done)  # each chunk moves it on
    assert {t for _, t in calls} == {calls[-1][1]} and calls[-1][0] == calls[-1][1] > 0
    assert seen.edges.equals(co_engagement(inc, window_s=900, max_crowd=30,
                                           chunk_ties=50).edges)


def test_invalid_parameters_are_named():
    inc = _inc([("a", "p", 0)])
    with pytest.raises(ValueError, match="min_shared_targets, max_crowd and chunk_ties"):
        co_engagement(inc, min_shared_targets=0)
    with pytest.raises(ValueError, match="max_edge_p must be in"):
        clustered_edges(pd.DataFrame({"p_value": []}), max_edge_p=0)


def test_clustered_edges_keep_weak_ties_among_significant_accounts():
    edges = pd.DataFrame({"account_a": ["a", "a", "b", "c"], "account_b": ["b", "c", "c", "d"],
                          "p_value": [1e-6, 0.4, 1e-5, 0.9]})
    kept = clustered_edges(edges, max_edge_p=1e-3)
    assert kept[["account_a", "account_b"]].values.tolist() == [["a", "b"], ["a", "c"],
                                                                ["b", "c"]]
    assert clustered_edges(edges) is edges


def test_clustered_edges_on_codes_keep_the_rows_the_text_keeps():
    rng = np.random.default_rng(5)
    ids = [f"u{i}" for i in range(60)]
    edges = pd.DataFrame({"account_a": rng.choice(ids, 400), "account_b": rng.choice(ids, 400),
                          "p_value": rng.choice([1e-6, 0.5], 400, p=[0.05, 0.95])})
    text = clustered_edges(edges, max_edge_p=1e-3)
    assert 0 < len(text) < len(edges)
    shared = pd.CategoricalDtype([*ids, "never-tied"])  # one dtype, as the projection makes
    coded = edges.astype({"account_a": shared, "account_b": shared})
    assert clustered_edges(coded, max_edge_p=1e-3).index.equals(text.index)
    apart = edges.astype({"account_a": pd.CategoricalDtype(ids), "account_b": shared})  # text
    assert clustered_edges(apart, max_edge_p=1e-3).index.equals(text.index)


def _random_incidence(seed: int, n: int = 1500):
    rng = np.random.default_rng(seed)
    return _inc([(f"u{rng.integers(0, 80)}", f"p{rng.integers(0, 25)}",
                  int(rng.integers(0, 20_000))) for _ in range(n)])


@pytest.mark.parametrize(("min_shared", "max_crowd"), [(1, 1000), (2, 1000), (3, 40)])
def test_kernel_equals_a_reduction_of_every_windowed_pair(min_shared, max_crowd):
    inc = _random_incidence(min_shared)
    pairs = windowed_pairs(inc, window_s=1800, max_crowd=max_crowd).to_pandas()
    closest = pairs.sort_values(["a", "b", "target", "dt", "ia", "ib"]).groupby(
        ["a", "b", "target"], as_index=False).agg(dt=("dt", "first"), w=("w", "max"))
    per_pair = closest.groupby(["a", "b"]).agg(shared=("target", "size"), weight=("w", "sum"))
    kept = per_pair[per_pair["shared"] >= min_shared]
    result = co_engagement(inc, window_s=1800, max_crowd=max_crowd,
                           min_shared_targets=min_shared)
    ids = inc.account_ids.to_pylist()
    got = result.edges.assign(a=result.edges["account_a"].map(ids.index),
                              b=result.edges["account_b"].map(ids.index)).set_index(["a", "b"])
    assert len(kept) > 20 and got.index.tolist() == kept.index.tolist()
    assert got["shared_targets"].tolist() == kept["shared"].tolist()
    np.testing.assert_allclose(got["weight"], kept["weight"])
    assert result.stats["action_pairs_enumerated"] == len(pairs)
    assert result.stats["account_target_pairs"] == len(closest)
    assert result.stats["candidate_pairs"] == len(per_pair)
    evidence = closest.set_index(["a", "b"]).loc[kept.index]
    assert result.evidence["dt_s"].tolist() == evidence["dt"].astype(float).tolist()
    medians = evidence.groupby(["a", "b"])["dt"].median().loc[kept.index]
    assert got["median_dt_s"].tolist() == medians.tolist()


@pytest.mark.parametrize("n_targets", [5, 6, 64, 65, 70])
def test_median_gap_of_a_pair_on_either_side_of_the_kernels_scratch(n_targets):
    # the kernel sorts up to 64 gaps of a pair in a scratch buffer, more with np.sort
    gaps = [(k * 37) % 500 + 1 for k in range(n_targets)]
    inc = _inc([row for k, gap in enumerate(gaps)
                for row in (("a", f"p{k}", 1000 * k), ("b", f"p{k}", 1000 * k + gap))])
    edges = co_engagement(inc, window_s=600).edges
    assert edges["shared_targets"].tolist() == [n_targets]
    assert edges["median_dt_s"].tolist() == [float(np.median(gaps))]


def test_accounts_beyond_the_shared_hash_table_get_their_own(monkeypatch):
    import graphs.projection as projection

    inc = _random_incidence(9)
    usual = co_engagement(inc, window_s=1800)
    monkeypatch.setattr(projection, "TABLE_SLOTS", 16)  # every account needs more slots
    small = co_engagement(inc, window_s=1800)
    assert len(usual.edges) > 20
    pd.testing.assert_frame_equal(small.edges, usual.edges)
    pd.testing.assert_frame_equal(small.evidence, usual.evidence)
    assert small.stats == usual.stats


def test_wide_evidence_gives_the_same_result(monkeypatch):
    import graphs.projection as projection

    inc = _random_incidence(11)
    assert projection.evidence_dtype(inc) is np.int32
    narrow = co_engagement(inc, window_s=1800)
    monkeypatch.setattr(projection, "evidence_dtype", lambda inc: np.int64)  # ≥ 2^31 values
    wide = co_engagement(inc, window_s=1800)
    assert len(narrow.edges) > 20
    pd.testing.assert_frame_equal(wide.edges, narrow.edges)
    pd.testing.assert_frame_equal(wide.evidence, narrow.evidence)
    assert wide.stats == narrow.stats


def test_evidence_ids_are_codes_over_the_sorted_ids():
    rows = [("b", "q", 0), ("a", "q", 30), ("b", "p", 0), ("a", "p", 60), ("c", "z", 5)]
    evidence = co_engagement(_inc(rows), window_s=600).evidence
    assert evidence["account_a"].cat.categories.tolist() == ["a", "b", "c"]
    assert evidence["target_id"].cat.categories.tolist() == ["p", "q", "z"]
    assert evidence[["account_a", "account_b", "target_id"]].astype(str).values.tolist() == [
        ["a", "b", "p"], ["a", "b", "q"]]



def test_sparse_buffers_are_writable_and_ask_for_small_pages():
    """The kernel's output buffers: the right shape and dtype, writable (numba needs it), and
    on Linux a mapping the kernel may not back with huge pages (``nh`` in smaps)."""
    buf = sparse_empty((1 << 20, 5), np.int32)
    assert buf.shape == (1 << 20, 5) and buf.dtype == np.int32 and buf.flags.writeable
    buf[-1] = 3
    assert buf[-1].sum() == 15
    assert sparse_empty((0, 2), np.int64).shape == (0, 2)
    smaps = Path("/proc/self/smaps")
    if not smaps.exists():
        pytest.skip("no /proc/self/smaps: the flag is Linux's")
    start = buf.__array_interface__["data"][0]
    flags, inside = None, False
    for line in smaps.read_text().splitlines():
        if "-" in line.split()[0] and ":" not in line.split()[0]:
            low, high = (int(x, 16) for x in line.split()[0].split("-"))
            inside = low <= start < high
        elif inside and line.startswith("VmFlags:"):
            flags = line.split()[1:]
    assert flags is not None and "nh" in flags


def test_chunk_arrays_are_gathered_onto_pages_that_go_back_when_freed():
    """The kernel's chunk arrays are the accounts' rows in order, on a mapping of their own, so
    freeing one unmaps it (RSS falls at once) whatever its size; from the C heap, chunks of
    about 1 MB (the real ones) stayed resident once freed."""
    import mmap

    import psutil

    from graphs.projection import _gathered_pages

    rng = np.random.default_rng(2)
    values = rng.integers(0, 100, (2, 4_000_000, 5)).astype(np.int32)
    thread, start = np.array([1, 0, 1]), np.array([5, 0, 2_000_000])
    lengths = np.array([3, 1_500_000, 2_000_000])
    paged = _gathered_pages(thread, start, lengths, values)
    assert np.array_equal(paged, np.concatenate([values[t, s:s + n] for t, s, n in
                                                 zip(thread, start, lengths, strict=True)]))
    base = paged
    while isinstance(base, np.ndarray):
        base = base.base
    assert isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap)
    del base
    rss = psutil.Process().memory_info().rss
    del paged  # 70 MB
    assert psutil.Process().memory_info().rss < rss - 50e6


def test_coded_ids_keep_codes_of_pandas_dtype_without_a_copy():
    """Codes already of the dtype pandas holds for the categories (int32 past 32,767 ids)
    stay the caller's array: a run's are over files (pandas 3's Series copies by default)."""
    from graphs.projection import coded_ids, id_categories

    dtype = id_categories(pa.array([f"a{i:05d}" for i in range(40_000)]))
    codes = np.array([39_999, 0, 7], dtype=np.int32)
    column = coded_ids(dtype, codes)
    assert column.tolist() == ["a39999", "a00000", "a00007"]
    assert np.shares_memory(column.array.codes, codes)


def test_id_categories_do_not_keep_the_hash_table_of_their_ids():
    """The categories' Index drops the lookup table pandas built to check them (a Python str
    per id, for the whole run); lookups still work, building it again."""
    from graphs.projection import id_categories

    dtype = id_categories(pa.array(["b", "a", "c"]))
    assert "_engine" not in dtype.categories._cache
    assert dtype.categories.get_loc("c") == 2 and dtype.categories.is_unique


def test_bounds_crowds_and_activity_in_blocks_are_the_whole_ones(monkeypatch):
    """The crowds, the guard's bound and the activity are summed a block of entries at a
    time: tiny blocks give the same bound, edges, evidence and activity."""
    import graphs.projection as projection
    from graphs.projection import pairs_bound

    rng = np.random.default_rng(11)
    rows = [(f"u{rng.integers(0, 30)}", f"p{rng.integers(0, 6)}", int(rng.integers(0, 3600)))
            for _ in range(400)]
    inc = _inc(rows)
    whole = co_engagement(inc, window_s=900, max_crowd=40)
    bound = pairs_bound(inc, window_s=900, max_crowd=40)
    assert whole.stats["hub_actions_skipped"] > 0 and bound > 0
    monkeypatch.setattr(projection, "BLOCK", 7)
    blocks = co_engagement(inc, window_s=900, max_crowd=40)
    assert pairs_bound(inc, window_s=900, max_crowd=40) == bound
    assert blocks.edges.equals(whole.edges) and blocks.evidence.equals(whole.evidence)
    assert blocks.activity.equals(whole.activity) and blocks.stats == whole.stats
