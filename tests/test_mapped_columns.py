"""pipelines/mapped_columns.py: columns read from files as memory maps, pages dropped."""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pipelines.mapped_columns import (
    _MAPS,
    FileColumns,
    dropped_pages,
    is_mapped,
    mappable,
    mapped_column,
    taken_rows,
)
from pipelines.set_aside import mapped_aside


@pytest.fixture
def made(monkeypatch) -> list:
    """The files made for maps (their names are removed once mapped)."""
    import pipelines.mapped_columns as module

    paths, real = [], module._new_file

    def new_file(directory):
        paths.append(real(directory))
        return paths[-1]

    monkeypatch.setattr(module, "_new_file", new_file)
    return paths


def _resident_pages(column: pd.Series) -> int:
    """Pages of the column's map resident in this process (mincore is not in the standard
    library: read /proc/self/smaps' Rss of the mapping)."""
    address = column.array.asi8.__array_interface__["data"][0] if hasattr(
        column.array, "asi8") else column.to_numpy().__array_interface__["data"][0]
    lines = open("/proc/self/smaps").read().splitlines()
    for i, line in enumerate(lines):
        if "-" in line.split()[0] and ":" not in line.split()[0]:
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            if lo <= address < hi:
                rss = next(x for x in lines[i + 1:] if x.startswith("Rss:"))
                return int(rss.split()[1]) // 4
    raise AssertionError("mapping not found")


def _map_range(column: pd.Series) -> str:
    """``start-end`` of the mapping that holds ``column``'s values (/proc/self/maps)."""
    address = column.array.asi8.__array_interface__["data"][0]
    for line in open("/proc/self/maps"):
        lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
        if lo <= address < hi:
            return line.split()[0]
    raise AssertionError("mapping not found")


@pytest.mark.parametrize("column", [
    pd.Series(pd.to_datetime([0, 7, 2**31], unit="s", utc=True), name="t"),
    pd.Series(pd.to_datetime([0, 7], unit="s", utc=True).as_unit("ns"), name="t"),
    pd.Series([1.5, float("nan"), -2.0], name="f"),
    pd.Series(np.array([3, -1], dtype=np.int32), name="i"),
    pd.Series(np.array([True, False]), name="b"),
    pd.Series(pd.Categorical(["x", "y", "x", None]), name="ids"),
    pd.Series(pd.Categorical.from_codes(np.arange(300) % 290, categories=[
        f"id{k}" for k in range(290)]), name="ids16"),  # int16 codes
])
def test_a_mapped_column_has_the_values_dtype_and_name(tmp_path, made, column):
    back = mapped_column(column, tmp_path)
    pd.testing.assert_series_equal(back, column)
    assert is_mapped(back) and not is_mapped(column)
    assert len(made) == 1 and not list(tmp_path.iterdir())  # its name removed once mapped


def _text(*chunks: list) -> pd.Series:
    """Arrow-backed text (pandas' ``str``) of the given chunks."""
    array = pa.chunked_array([pa.array(c, pa.large_string()) for c in chunks],
                             type=pa.large_string())
    return pd.Series(pd.arrays.ArrowStringArray(array, dtype=pd.StringDtype("pyarrow",
                                                                            na_value=np.nan)),
                     name="targets")


@pytest.mark.parametrize("column", [
    _text(['["p","q"]', "é", ""], ['["r"]']),
    _text(["a", None, "b"], [None]),
    _text([]),
    pd.Series(pd.arrays.ArrowStringArray(  # slices of a chunk, as the splice leaves them
        pa.chunked_array([pa.array(list("abcdef"), pa.large_string()).slice(1, 2),
                          pa.array(list("xyz"), pa.large_string()).slice(2)]),
        dtype=pd.StringDtype("pyarrow", na_value=np.nan)), name="t"),
])
def test_mapped_text_is_one_arrow_array_over_two_files(tmp_path, made, column):
    back = mapped_column(column, tmp_path)
    pd.testing.assert_series_equal(back, column)
    assert back.array._pa_array.num_chunks == 1 and back.array._pa_array.type == pa.large_string()
    assert is_mapped(back) and not is_mapped(column) and mappable(column)
    assert len(made) == 2 and not list(tmp_path.iterdir())  # offsets and bytes, names removed
    dropped_pages()
    assert back.tolist() == column.tolist()  # read from the files again


def test_mapped_text_is_written_a_range_at_a_time(tmp_path, monkeypatch):
    import pipelines.mapped_columns as module

    drops = []
    monkeypatch.setattr(module, "ROWS_PER_READ", 2)
    monkeypatch.setattr(module, "dropped_pages", lambda: drops.append(1))
    back = mapped_column(_text(list("abcde"), ["f"]), tmp_path)
    assert back.tolist() == list("abcdef") and len(drops) == 4  # ranges 2, 2, 1 and 1


@pytest.mark.parametrize("column", [
    pd.Series(["a", "b"], dtype=object, name="text"),
    pd.Series(pd.to_datetime([0], unit="s", utc=True).tz_convert("Europe/Berlin"), name="z"),
    pd.Series(pd.to_datetime([0], unit="s"), name="naive"),
])
def test_other_columns_are_refused_by_name(tmp_path, column):
    assert not mappable(column)
    with pytest.raises(TypeError, match=f"column '{column.name}'"):
        mapped_column(column, tmp_path)


def test_a_write_that_fails_names_the_directory(tmp_path):
    with pytest.raises(OSError, match="cannot write column 'x' to .*TMPDIR"):
        mapped_column(pd.Series([1.0], name="x"), tmp_path / "missing")


def test_files_are_never_written_over(tmp_path, made):
    (tmp_path / "column-0.npy").write_bytes(b"another's")
    (tmp_path / "column-1.npy").write_bytes(b"another's")
    first = mapped_column(pd.Series([1.0, 2.0]), tmp_path)
    second = mapped_column(pd.Series([3.0]), tmp_path)
    assert first.tolist() == [1.0, 2.0] and second.tolist() == [3.0]
    assert len(made) == 2 and (tmp_path / "column-1.npy").read_bytes() == b"another's"


def test_dropped_pages_leave_the_resident_set_and_the_values(tmp_path):
    n = 1 << 20  # 8 MiB of int64
    column = mapped_column(pd.Series(np.arange(n, dtype=np.int64)), tmp_path)
    assert int(column.sum()) == n * (n - 1) // 2  # every page read
    assert _resident_pages(column) >= n * 8 // 4096 - 1
    dropped_pages()
    assert _resident_pages(column) == 0
    assert int(column.iloc[-1]) == n - 1  # read again from the file


def test_a_map_leaves_the_registry_when_its_columns_are_freed(tmp_path):
    import mmap
    import weakref

    column = mapped_column(pd.Series([1.0]), tmp_path)
    owner = column.to_numpy()
    while not isinstance(owner, mmap.mmap):  # the map under the views
        owner = owner.base
    raw = weakref.ref(owner)
    assert owner in _MAPS
    del column, owner
    gc.collect()  # other tests' maps may go too: only this one is looked for
    assert raw() is None and all(m is not raw() for m in _MAPS)


def test_taken_rows_equal_take_and_drop_the_pages_of_each_range(tmp_path, monkeypatch):
    import pipelines.mapped_columns as module

    monkeypatch.setattr(module, "ROWS_PER_READ", 4)
    drops = []
    monkeypatch.setattr(module, "dropped_pages", lambda: drops.append(1))
    frame = pd.DataFrame({"t": pd.to_datetime(np.arange(11), unit="s", utc=True),
                          "id": pd.Categorical(list("abcabcabcab")), "x": np.arange(11.0)},
                         index=np.arange(100, 111))
    for name in ["t"]:  # the same values, read from files
        frame[name] = mapped_column(frame[name], tmp_path).set_axis(frame.index)
    rows = np.array([0, 1, 5, 9, 10])
    pd.testing.assert_frame_equal(taken_rows(frame, rows), frame.take(rows))
    assert len(drops) == 3  # rows in the ranges [0, 4), [4, 8), [8, 12)
    pd.testing.assert_frame_equal(taken_rows(frame, rows[:0]), frame.take(rows[:0]))
    with pytest.raises(ValueError, match="ascending"):
        taken_rows(frame, np.array([3, 1]))
    plain = frame.assign(t=frame["t"].copy())  # no mapped column: one take
    pd.testing.assert_frame_equal(taken_rows(plain, rows), plain.take(rows))
    assert len(drops) == 3


def _frame_of_every_kind(n: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame({
        "id": pd.Categorical.from_codes(rng.integers(0, 4, n), categories=list("abcd")),
        "time_a": pd.to_datetime(rng.integers(0, 10**9, n), unit="s", utc=True).as_unit("us"),
        "text": pd.Series([f"x{k}" for k in range(n)], dtype=object),
        "time_b": pd.to_datetime(rng.integers(0, 10**9, n), unit="s", utc=True).as_unit("ns"),
        "dt_s": rng.random(n)})


@pytest.mark.parametrize("block", [1, 7, 1 << 22])
def test_arrow_table_is_from_pandas_s_table_and_schema(tmp_path, monkeypatch, block):
    import pyarrow as pa

    import pipelines.mapped_columns as module

    monkeypatch.setattr(module, "ROWS_PER_READ", block)
    frame = _frame_of_every_kind()
    expected = pa.Table.from_pandas(frame, preserve_index=False)
    for name in ["time_a", "time_b", "dt_s"]:  # the same values, read from files
        frame[name] = mapped_column(frame[name], tmp_path).set_axis(frame.index)
    found = module.arrow_table(frame)
    assert found.equals(expected) and found.schema.equals(expected.schema, check_metadata=True)
    buffer = found.column("time_a").chunk(0).buffers()[1]
    assert buffer.address == frame["time_a"].array.asi8.__array_interface__["data"][0]


@pytest.mark.parametrize("block", [1, 7, 9, 1 << 22])
def test_arrow_table_of_mapped_columns_with_missing_values_is_pyarrow_s(tmp_path, monkeypatch,
                                                                        block):
    import pyarrow as pa

    import pipelines.mapped_columns as module

    monkeypatch.setattr(module, "ROWS_PER_READ", block)
    frame = _frame_of_every_kind(37)
    frame.loc[[2, 30], "time_a"] = pd.NaT
    frame.loc[[0, 8, 9, 36], "dt_s"] = np.nan
    expected = pa.Table.from_pandas(frame, preserve_index=False)
    for name in ["time_a", "dt_s"]:  # the same values, read from files
        frame[name] = mapped_column(frame[name], tmp_path).set_axis(frame.index)
    found = module.arrow_table(frame)
    assert found.equals(expected) and found.schema.equals(expected.schema, check_metadata=True)
    assert found.column("time_a").null_count == 2 and found.column("dt_s").null_count == 4
    assert found.column("dt_s").to_pylist() == expected.column("dt_s").to_pylist()


def test_a_mapped_array_is_written_into_then_read_as_a_mapped_column(tmp_path, made):
    from graphs.utc_times import utc_times
    from pipelines.mapped_columns import mapped_array

    values = mapped_array(tmp_path, 4)
    values[:] = np.arange(4) * 10**6
    dropped_pages()  # written pages leave the resident set, not the file
    column = utc_times(values)
    assert is_mapped(column) and column.dt.second.tolist() == [0, 1, 2, 3]
    raw = open(f"/proc/self/map_files/{_map_range(column)}", "rb").read()  # the file
    assert np.frombuffer(raw[-32:], np.int64).tolist() == [0, 10**6, 2 * 10**6, 3 * 10**6]
    put_back = mapped_aside([frame := pd.DataFrame({"t": column})], "t", tmp_path)
    put_back()  # mapped already: taken out and put back, not written again
    assert len(made) == 1 and is_mapped(frame["t"]) and not list(tmp_path.iterdir())
    with pytest.raises(OSError, match="cannot write a column of 3 values to .*missing"):
        mapped_array(tmp_path / "missing", 3)


def test_a_projection_into_file_columns_is_the_same_and_all_mapped(tmp_path):
    """co_engagement with the run's store: the same edges and evidence, every column over a
    file (the edges' ``targets`` too; the categoricals' codes are pandas' int8 copies of the
    int32 codes written, with so few ids), no file left by name."""
    import datetime as dt

    from graphs.bipartite import bipartite_incidence
    from graphs.projection import co_engagement

    rng = np.random.default_rng(3)
    n = 400
    t0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    inc = bipartite_incidence(pa.table({
        "account_id": [f"u{i}" for i in rng.integers(0, 30, n)],
        "target_id": [f"p{i}" for i in rng.integers(0, 12, n)], "action": ["like"] * n,
        "timestamp": [t0 + dt.timedelta(seconds=int(s)) for s in rng.integers(0, 7200, n)]}))
    plain = co_engagement(inc, window_s=900, max_crowd=30, chunk_ties=50)
    filed = co_engagement(inc, window_s=900, max_crowd=30, chunk_ties=50,
                          columns=FileColumns(tmp_path))
    assert len(plain.edges) > 10 and plain.stats["projection_chunks"] > 1
    assert filed.edges.equals(plain.edges) and filed.evidence.equals(plain.evidence)
    for frame in (filed.edges, filed.evidence):
        coded = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
        assert all(is_mapped(frame[c]) for c in frame.columns if c not in coded)
        assert {str(frame[c].cat.codes.dtype) for c in coded} == {"int8"}
    assert list(tmp_path.iterdir()) == []


def test_file_columns_refuse_another_dtype_and_give_empty_columns(tmp_path):
    store = FileColumns(tmp_path)
    store.append("x", np.array([1, 2], np.int32))
    with pytest.raises(TypeError, match="column 'x' is int32, got float64"):
        store.append("x", np.array([1.5]))
    with pytest.raises(TypeError, match="column 'x' was written as int32, asked for as int64"):
        store.column("x", np.dtype(np.int64))
    assert list(tmp_path.iterdir()) == []  # its file removed
    store.append("y", np.array([], np.int64))
    for name in ("x", "y", "never"):
        assert store.column(name, np.dtype(np.int64)).shape == (0,)
    assert store.array("z", 0, np.dtype(np.uint8)).shape == (0,)
    assert list(tmp_path.iterdir()) == []


def test_a_write_into_file_columns_that_fails_names_the_column(tmp_path, monkeypatch):
    from pathlib import Path

    import pipelines.mapped_columns as module

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    monkeypatch.setattr(module, "_new_file", lambda directory: Path("/dev/full"))
    with pytest.raises(OSError, match=r"cannot write column 'x' to .*TMPDIR"):
        FileColumns(tmp_path).append("x", np.arange(1 << 16))


def test_pages_read_are_dropped_every_moment_while_trimmed(tmp_path):
    """Inside PagesTrimmed the pages a reader touched leave the resident set without a call
    of dropped_pages; after stop() they stay."""
    import time

    from pipelines.mapped_columns import PagesTrimmed

    n = 1 << 20
    column = mapped_column(pd.Series(np.arange(n, dtype=np.int64)), tmp_path)
    with PagesTrimmed(every_s=0.01) as trimmed:
        assert int(column.sum()) == n * (n - 1) // 2
        deadline = time.monotonic() + 5
        while _resident_pages(column) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _resident_pages(column) == 0
        trimmed.stop()
        assert int(column.sum()) == n * (n - 1) // 2  # read again from the file, kept
        time.sleep(0.05)
        assert _resident_pages(column) >= n * 8 // 4096 - 1


def test_maps_made_while_the_trimmer_lists_them_raise_nothing(tmp_path, monkeypatch):
    """The trimmer's thread lists the maps while the run makes new ones (a dict changed while
    listed would raise in that thread, and trimming would stop)."""
    import sys
    import threading

    from pipelines.mapped_columns import PagesTrimmed, mapped_array

    failures = []
    monkeypatch.setattr(threading, "excepthook", lambda args: failures.append(args))
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns as often as they can
    try:
        with PagesTrimmed(every_s=0):
            made = [mapped_array(tmp_path, 8) for _ in range(500)]
    finally:
        sys.setswitchinterval(interval)
    for values in made:
        values[:] = 1
    assert not failures and sum(int(v.sum()) for v in made) == 4000
