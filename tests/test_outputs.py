"""write_csv: the DuckDB-formatted CSV has the bytes pandas' to_csv writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import pipelines.outputs as outputs
from pipelines.outputs import safe_for_spreadsheets, write_csv

HOSTILE = ["plain", "", "a,b", 'q"q', '"', "new\nline", "cr\rx", "\r\n", " lead", "trail ",
           "tab\tx", "é日本", "x;y", "=1+2", "+1", "-1", "@a", "\tx", "\rx", "'=1", "nul\x00x",
           "#hash", "a\u2028b", "\\back", "😀,\"\n", "=a,b", "-\"x\""]


@pytest.fixture(autouse=True)
def duckdb_for_every_size(monkeypatch):
    """These tests compare the DuckDB path with pandas on small frames: take it for all."""
    monkeypatch.setattr(outputs, "CSV_DUCKDB_MIN_ROWS", 0)


def test_short_frames_are_written_by_pandas(tmp_path, monkeypatch):
    monkeypatch.setattr(outputs, "CSV_DUCKDB_MIN_ROWS", 3)

    def no_duckdb():
        raise AssertionError("DuckDB used for a short frame")

    monkeypatch.setattr(outputs, "connect", no_duckdb)
    frame = pd.DataFrame({"a": ["=1", "x"], "n": [1, 2]})
    assert write_csv(frame, tmp_path / "s.csv").read_bytes() == b"a,n\n'=1,1\nx,2\n"
    with pytest.raises(AssertionError, match="DuckDB used"):
        write_csv(pd.concat([frame, frame]), tmp_path / "l.csv")


def _pandas_bytes(frame: pd.DataFrame, tmp_path: Path) -> bytes:
    path = tmp_path / "pandas.csv"
    safe_for_spreadsheets(frame).to_csv(path, index=False, lineterminator="\n")
    return path.read_bytes()


def _fast_bytes(frame: pd.DataFrame, tmp_path: Path) -> bytes:
    assert outputs._csv_table(frame) is not None  # the DuckDB path, not the fallback
    return write_csv(frame, tmp_path / "fast.csv").read_bytes()


def _floats(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(n) * 10.0 ** rng.integers(-12, 22, n)
    values[: n // 4] = np.round(values[: n // 4])  # whole numbers print with ".0"
    special = [0.0, -0.0, 1e16, 1e15, 9999999999999998.0, 1e-5, 1e-4, 0.1, 1 / 3, 2.5e-5,
               np.inf, -np.inf, np.nan, 5e-324, 1.7976931348623157e308, 123456789.0]
    return np.concatenate([values, special])


def test_hostile_text_ints_bools_floats_and_times_give_pandas_bytes(tmp_path):
    n = len(_floats(400, 0))
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({
        "text": [HOSTILE[i] for i in rng.integers(0, len(HOSTILE), n)],
        "object": pd.Series([HOSTILE[i] for i in rng.integers(0, len(HOSTILE), n)],
                            dtype=object),
        "count": rng.integers(-10**12, 10**12, n),
        "maybe": pd.array([None if i % 5 == 0 else i for i in range(n)], dtype="Int64"),
        "flag": rng.integers(0, 2, n).astype(bool),
        "value": _floats(400, 0),
        "time": pd.to_datetime(1_793_527_200 + rng.integers(0, 10**6, n), unit="s", utc=True),
        'odd, "name"': 1.5,
    })
    assert _fast_bytes(frame, tmp_path) == _pandas_bytes(frame, tmp_path)


def test_times_at_midnight_and_text_with_missing_values_give_pandas_bytes(tmp_path):
    frame = pd.DataFrame({
        "day": pd.to_datetime(["2026-11-01", "2026-11-02"], utc=True),
        "text": pd.array(["x", None], dtype="str"), "value": [np.nan, 2.0]})
    assert _fast_bytes(frame, tmp_path) == _pandas_bytes(frame, tmp_path)
    assert _fast_bytes(frame.head(0), tmp_path) == _pandas_bytes(frame.head(0), tmp_path)


def test_utc_times_missing_and_with_fractions_give_pandas_bytes(tmp_path):
    stamps = pd.to_datetime(["2026-11-01 10:00:00", "2026-11-01 23:59:59", None], utc=True)
    frame = pd.DataFrame({"t": stamps, "s": ["a", "b", "c"],
                          "frac": stamps + pd.Timedelta(milliseconds=500)})
    for part in (frame, frame[["t", "s"]], frame.head(0)):  # NaT / fractions: pandas path
        written = write_csv(part, tmp_path / "mixed.csv").read_bytes()
        assert written == _pandas_bytes(part, tmp_path)


def test_rows_are_written_in_order_across_slices(tmp_path, monkeypatch):
    monkeypatch.setattr(outputs, "CSV_SLICE_ROWS", 7)
    frame = pd.DataFrame({"k": np.arange(50)[::-1], "s": [f"r{i}" for i in range(50)]})
    assert _fast_bytes(frame, tmp_path) == _pandas_bytes(frame, tmp_path)


@pytest.mark.parametrize("column", [
    pd.to_datetime(["2026-11-01 10:00:00.5"], utc=True),  # fractions of a second
    pd.to_datetime(["2026-11-01 10:00:00"]),  # naive
    pd.to_datetime(["2026-11-01 10:00:00"]).tz_localize("Europe/Paris"),
    pd.array([1.5], dtype="Float64"), np.array([1.5], dtype=np.float32),
    pd.Categorical([1]), pd.Categorical(["x", None][:1] + [None]),
    pd.Series([{"a": 1}], dtype=object), pd.array([True], "boolean"),
])
def test_other_columns_fall_back_to_pandas(tmp_path, column):
    frame = pd.DataFrame({"c": column, "s": ["=x"] * len(column)})
    assert outputs._csv_table(frame) is None
    assert write_csv(frame, tmp_path / "x.csv").read_bytes() == _pandas_bytes(frame, tmp_path)


def test_categorical_text_is_written_as_its_text_across_slices(tmp_path, monkeypatch):
    monkeypatch.setattr(outputs, "CSV_SLICE_ROWS", 3)
    ids = pd.CategoricalDtype(["=cmd", "a,b", "zé", "unused"])
    frame = pd.DataFrame({"id": pd.Categorical.from_codes([2, 0, 1, 0, 2, 1, 0], dtype=ids),
                          "n": range(7)})
    assert outputs._csv_table(frame) is not None
    assert _fast_bytes(frame, tmp_path) == _pandas_bytes(frame.astype({"id": "str"}), tmp_path)


@pytest.mark.parametrize("rows", [0, 1, 5, 7])
def test_parquet_of_categorical_ids_equals_parquet_of_their_text(tmp_path, monkeypatch, rows):
    monkeypatch.setattr(outputs, "PARQUET_SLICE_ROWS", 3)
    ids = pd.CategoricalDtype(["a", "b", "c"])
    frame = pd.DataFrame({"id": pd.Categorical.from_codes(np.arange(rows) % 3, dtype=ids),
                          "t": pd.Series(["x"] * rows, dtype="str"), "n": np.arange(rows)})
    spelled = frame.astype({"id": "str"})
    outputs.write_parquet(frame, tmp_path / "coded.parquet")
    spelled.to_parquet(tmp_path / "text.parquet", index=False)
    back = pd.read_parquet(tmp_path / "coded.parquet")
    pd.testing.assert_frame_equal(back, pd.read_parquet(tmp_path / "text.parquet"))
    assert pq.read_schema(tmp_path / "coded.parquet").equals(
        pq.read_schema(tmp_path / "text.parquet"), check_metadata=True)
    assert pq.ParquetFile(tmp_path / "coded.parquet").metadata.num_rows == rows


def test_parquet_of_categorical_ids_keeps_other_columns_types(tmp_path, monkeypatch):
    # an object column empty in the first slice: its type comes from all the rows
    monkeypatch.setattr(outputs, "PARQUET_SLICE_ROWS", 2)
    frame = pd.DataFrame({"id": pd.Categorical(["a", "b", "a"]),
                          "note": pd.Series([None, None, "x"], dtype=object)})
    outputs.write_parquet(frame, tmp_path / "coded.parquet")
    frame.astype({"id": "str"}).to_parquet(tmp_path / "text.parquet", index=False)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "coded.parquet"),
                                  pd.read_parquet(tmp_path / "text.parquet"))
    assert pq.read_schema(tmp_path / "coded.parquet").equals(
        pq.read_schema(tmp_path / "text.parquet"), check_metadata=True)


def _taken_bytes(frame: pd.DataFrame, rows: np.ndarray, first: tuple, tmp_path: Path) -> bytes:
    taken = frame.take(rows).reset_index(drop=True)
    taken.insert(0, first[0], first[1])
    return _pandas_bytes(taken, tmp_path)


@pytest.mark.parametrize("min_rows", [0, 10**9])  # DuckDB's path, pandas'
def test_rows_taken_with_a_first_column_give_the_taken_frames_bytes(tmp_path, monkeypatch,
                                                                    min_rows):
    monkeypatch.setattr(outputs, "CSV_SLICE_ROWS", 7)  # 40 rows taken: six slices
    monkeypatch.setattr(outputs, "CSV_DUCKDB_MIN_ROWS", min_rows)
    rng = np.random.default_rng(3)
    ids = pd.CategoricalDtype([f"u{i}" for i in range(9)] + ["=x", "a,b"])
    frame = pd.DataFrame({
        "account": pd.Categorical.from_codes(rng.integers(0, 11, 60), dtype=ids),
        "time": pd.to_datetime(1_793_527_200 + rng.integers(0, 10**6, 60), unit="s", utc=True),
        "dt_s": _floats(44, 4), "text": [HOSTILE[i % len(HOSTILE)] for i in range(60)]})
    rows = rng.permutation(60)[:40]
    first = ("cohort_id", rng.integers(0, 5, 40))
    written = write_csv(frame, tmp_path / "t.csv", rows=rows, first=first).read_bytes()
    assert written == _taken_bytes(frame, rows, first, tmp_path)
    assert written.startswith(f"cohort_id,account,time,dt_s,text\n{first[1][0]},".encode())
    empty = write_csv(frame, tmp_path / "e.csv", rows=rows[:0], first=(first[0], first[1][:0]))
    assert empty.read_bytes() == _taken_bytes(frame, rows[:0], (first[0], first[1][:0]),
                                              tmp_path)


def test_a_first_column_duckdb_cannot_format_falls_back_to_pandas(tmp_path):
    frame = pd.DataFrame({"s": ["a", "b", "c"]})
    first = ("ratio", np.array([0.5, 1.5], dtype=np.float32))  # float32: pandas' digits
    written = write_csv(frame, tmp_path / "f.csv", rows=np.array([2, 0]), first=first)
    assert written.read_bytes() == _taken_bytes(frame, np.array([2, 0]), first, tmp_path)
    whole = write_csv(frame, tmp_path / "w.csv", first=("n", np.array([1, 2, 3], np.float32)))
    assert whole.read_bytes() == b"n,s\n1.0,a\n2.0,b\n3.0,c\n"
    assert list(frame.columns) == ["s"]  # the caller's frame is not changed



@pytest.mark.parametrize("take_rows", [1, 3, 1 << 12])
def test_columns_read_from_files_give_the_same_bytes(tmp_path, monkeypatch, take_rows):
    """Times (and a float column) over files (pipelines.mapped_columns), taken a few rows
    at a time with the pages dropped: the same CSV and Parquet bytes as from memory."""
    from pipelines.mapped_columns import mapped_column

    monkeypatch.setattr(outputs, "CSV_SLICE_ROWS", 7)
    monkeypatch.setattr(outputs, "PARQUET_SLICE_ROWS", 5)
    monkeypatch.setattr(outputs, "MAPPED_TAKE_ROWS", take_rows)
    rng = np.random.default_rng(4)
    ids = pd.CategoricalDtype([f"u{i}" for i in range(9)] + ["=x"])
    frame = pd.DataFrame({
        "account_a": pd.Categorical.from_codes(rng.integers(0, 10, 60), dtype=ids),
        "time_a": pd.to_datetime(1_793_527_200 + rng.integers(0, 10**6, 60), unit="s",
                                 utc=True).as_unit("us"),
        "time_b": pd.to_datetime(1_793_527_200 + rng.integers(0, 10**6, 60), unit="s",
                                 utc=True).as_unit("us"),
        "dt_s": _floats(44, 5)})  # 16 special values after 44
    rows, first = rng.permutation(60)[:40], ("cohort_id", rng.integers(0, 5, 40))
    expected = [write_csv(frame, tmp_path / "a.csv", rows=rows, first=first).read_bytes(),
                write_csv(frame, tmp_path / "b.csv").read_bytes(),
                outputs.write_parquet(frame, tmp_path / "c.parquet").read_bytes()]
    for name in ["time_a", "time_b", "dt_s"]:  # the same values, read from files
        frame[name] = mapped_column(frame[name], tmp_path).set_axis(frame.index)
    found = [write_csv(frame, tmp_path / "d.csv", rows=rows, first=first).read_bytes(),
             write_csv(frame, tmp_path / "e.csv").read_bytes(),
             outputs.write_parquet(frame, tmp_path / "f.parquet").read_bytes()]
    assert found == expected
