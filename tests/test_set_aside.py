from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import pipelines.set_aside as set_aside_module
from pipelines.mapped_columns import held_values, is_mapped, mapped_column
from pipelines.set_aside import (
    Aside,
    columns_mapped,
    frames_aside,
    mapped_aside,
    rows_of_accounts,
    set_aside,
)


def test_rows_of_accounts_keep_the_tables_order_across_record_batches(tmp_path):
    table = pa.Table.from_batches([
        pa.record_batch({"account_id": ["a", "b", "c"], "n": [1, 2, 3]}),
        pa.record_batch({"account_id": ["c", "a", "d"], "n": [4, 5, 6]}),
    ])
    path = set_aside(table, tmp_path / "t.arrow")
    got = rows_of_accounts(path, ["c", "a", "c"])
    assert got.to_pydict() == {"account_id": ["a", "c", "c", "a"], "n": [1, 3, 4, 5]}
    assert got.schema == table.schema


@pytest.mark.parametrize("shared", [True, False])
def test_dictionary_encoded_ids_are_set_aside_and_come_back_as_text(tmp_path, shared):
    """Ingest's ids share one dictionary over every chunk (written as they are); chunks with
    dictionaries of their own are unified (an IPC file cannot replace a dictionary)."""
    values = pa.array(["a", "b", "c", "d"])
    chunks = ([pa.DictionaryArray.from_arrays(pa.array(i, pa.int8()), values)
               for i in ([0, 1, 2], [2, 0, 3])] if shared else
              [pa.array(ids).dictionary_encode() for ids in (["a", "b", "c"], ["c", "a", "d"])])
    table = pa.Table.from_batches([pa.record_batch({"account_id": c, "n": n}) for c, n in
                                   zip(chunks, ([1, 2, 3], [4, 5, 6]), strict=True)])
    path = set_aside(table, tmp_path / "t.arrow")
    got = rows_of_accounts(path, ["c", "a"])
    assert got.schema == pa.schema([("account_id", pa.string()), ("n", pa.int64())])
    assert got.to_pydict() == {"account_id": ["a", "c", "c", "a"], "n": [1, 3, 4, 5]}


def test_rows_of_no_accounts_is_an_empty_table_with_the_schema(tmp_path):
    table = pa.table({"account_id": ["a"], "n": [1]})
    got = rows_of_accounts(set_aside(table, tmp_path / "t.arrow"), [])
    assert got.num_rows == 0 and got.schema == table.schema


def test_a_failed_write_names_the_directory_and_the_way_out(tmp_path):
    missing = tmp_path / "gone" / "t.arrow"
    with pytest.raises(OSError, match=r"cannot set the interactions aside in .*gone .*TMPDIR"):
        set_aside(pa.table({"account_id": ["a"]}), missing)


def test_an_object_set_aside_comes_back_equal_with_its_shared_buffers_shared(tmp_path):
    codes = np.array([2, 0, 1], dtype=np.int32)
    frame = pd.DataFrame({"account_a": codes, "dt_s": [1.0, 2.0, 3.0],
                          "target_id": pd.Categorical(["t2", "t1", "t2"])}, copy=False)
    ids = pa.array(["a", "b", "c"])
    obj = {"frame": frame, "codes": codes, "ids": ids, "origin": 17, "none": None}
    assert np.shares_memory(frame["account_a"].to_numpy(), codes)
    aside = Aside(obj, tmp_path / "o.pickle")
    assert aside.path.exists()
    back = aside.taken_back()
    pd.testing.assert_frame_equal(back["frame"], frame)
    np.testing.assert_array_equal(back["codes"], codes)
    assert back["ids"].equals(ids) and back["origin"] == 17 and back["none"] is None
    assert np.shares_memory(back["frame"]["account_a"].to_numpy(), back["codes"])
    back["codes"][0] = 5  # in memory and writable, as before
    assert back["frame"]["account_a"].iloc[0] == 5 and codes[0] == 2
    assert not aside.path.exists() and aside.taken_back() is back  # read once


def test_a_buffer_written_once_per_distinct_memory(tmp_path):
    big = np.arange(100_000, dtype=np.int64)
    one = Aside({"a": big, "b": big[:], "c": big.copy()}, tmp_path / "one.pickle")
    # big and its full view share one buffer; the copy is a second one
    assert 2 * big.nbytes <= one.path.stat().st_size < 2 * big.nbytes + 4096
    back = one.taken_back()
    assert np.shares_memory(back["a"], back["b"]) and not np.shares_memory(back["a"], back["c"])


def test_a_failed_aside_names_the_directory_and_the_way_out(tmp_path):
    with pytest.raises(OSError, match=r"cannot set a table aside in .*gone .*TMPDIR"):
        Aside({"a": np.arange(3)}, tmp_path / "gone" / "o.pickle")


def test_a_truncated_aside_file_is_an_error_naming_it(tmp_path):
    aside = Aside({"a": np.arange(1000)}, tmp_path / "o.pickle")
    aside.path.write_bytes(aside.path.read_bytes()[:-100])
    with pytest.raises(OSError, match=r"o\.pickle: truncated"):
        aside.taken_back()


def test_the_edges_columns_move_to_files_in_their_places_shared_ones_once(tmp_path, monkeypatch):
    """The fused edges' ``targets`` and every layer's (one column shared by two frames, as
    with a single layer, and one of a frame's own), their numbers and their ids' codes:
    each frame keeps its columns in order and values, read from files; the shared column
    written once and still shared; the ids themselves stay in memory."""
    import pipelines.set_aside as module

    def buffer(frame: pd.DataFrame) -> int:
        return frame["targets"].array._pa_array.chunk(0).buffers()[-1].address

    written, real = [], module.mapped_column
    monkeypatch.setattr(module, "mapped_column",
                        lambda column, directory: written.append(column.name) or real(
                            column, directory))
    ids = pd.CategoricalDtype(["a", "b"])
    engage = pd.DataFrame({"account_a": pd.Categorical(["a", "b"], dtype=ids),
                           "targets": pd.Series(['["p","q"]', '["q"]'], dtype="str")})
    fused = engage.assign(weight=[1.0, 2.0])
    url = pd.DataFrame({"targets": pd.Series(['["u"]'], dtype="str"), "weight": [3.0]})
    assert buffer(fused) == buffer(engage)
    before = [frame.copy() for frame in (fused, engage, url)]
    columns_mapped([fused, engage, url], tmp_path)
    for frame, was in zip((fused, engage, url), before, strict=True):
        pd.testing.assert_frame_equal(frame, was)
        assert all(is_mapped(frame[c]) for c in frame.columns)
    assert written == ["account_a", "targets", "targets", "weight", "weight"]  # engage's with
    assert fused["account_a"].dtype is engage["account_a"].dtype  # fused's; the ids in memory
    assert buffer(fused) == buffer(engage)
    assert not any(tmp_path.iterdir())  # the files' names removed once mapped
    columns_mapped([fused], tmp_path)
    assert len(written) == 5  # mapped ones are not written again


def test_columns_of_numpy_datetimes_come_back_shared_and_in_order(tmp_path):
    """Two columns taken out one after the other and put back in reverse order, as the run
    does with the evidence times: the same columns, order and dtype, read from files, and
    the column the two frames shared still shared."""
    times = pd.Series(pd.to_datetime([1, 2, 3], unit="s", utc=True))
    engage = pd.DataFrame({"a": [1, 2, 3], "time_a": times,
                           "time_b": times + pd.Timedelta(seconds=5), "x": [1.0, 2.0, 3.0]})
    fused = engage.assign(layer="engage")
    before = [fused.copy(), engage.copy()]
    backs = [mapped_aside([fused, engage], name, tmp_path) for name in ("time_a", "time_b")]
    assert list(fused.columns) == ["a", "x", "layer"]
    for back in reversed(backs):
        back()
    pd.testing.assert_frame_equal(fused, before[0])
    pd.testing.assert_frame_equal(engage, before[1])
    assert np.shares_memory(fused["time_a"].array.asi8, engage["time_a"].array.asi8)
    assert is_mapped(fused["time_b"]) and not any(tmp_path.iterdir())


def test_overlapping_columns_are_not_taken_for_one_column(tmp_path):
    """Two frames whose columns are overlapping views of one array (not the same column)
    each get their own back."""
    values = np.arange(5.0)
    first = pd.DataFrame({"x": pd.Series(values[:3], copy=False)}, copy=False)
    second = pd.DataFrame({"x": pd.Series(values[1:4], copy=False)}, copy=False)
    assert np.shares_memory(first["x"].to_numpy(), second["x"].to_numpy())
    frames_aside([first, second], tmp_path / "x.pickle", None)()
    assert first["x"].tolist() == [0.0, 1.0, 2.0] and second["x"].tolist() == [1.0, 2.0, 3.0]


def test_frames_aside_takes_every_column_and_gives_back_shared_codes_shared(tmp_path):
    """Every column of two frames that share columns (categorical ids, floats, times, Arrow
    text), with codes that are one categorical's own: all back in order and dtype, what was
    shared shared again, and the codes still the column's."""
    ids = pd.CategoricalDtype([f"id{k:05d}" for k in range(40_000)])  # int32 codes
    account = pd.Series(pd.Categorical.from_codes(np.array([3, 1, 39_999], np.int32), dtype=ids))
    times = pd.Series(pd.to_datetime([1, 2, 3], unit="s", utc=True))
    engage = pd.DataFrame({"account_a": account, "dt_s": [1.0, 2.0, 3.0], "time_a": times,
                           "text": pd.Series(["a", "b", "c"], dtype="str")})
    fused = engage.assign(layer="engage")
    codes = {"evidence_a": engage["account_a"].array.codes}
    before = [fused.copy(), engage.copy()]
    back = frames_aside([fused, engage], tmp_path / "fast.pickle", codes)
    assert fused.shape == (3, 0) and engage.shape == (3, 0)
    del codes
    again = back()
    for frame, was in zip((fused, engage), before, strict=True):
        pd.testing.assert_frame_equal(frame, was)
    assert not any(tmp_path.iterdir())
    for column in ("account_a", "dt_s", "time_a"):
        held = [held_values(f[column]) for f in (fused, engage)]
        assert np.shares_memory(held[0], held[1]), column
    assert np.shares_memory(again["evidence_a"], engage["account_a"].array.codes)
    assert again["evidence_a"].tolist() == [3, 1, 39_999]


def test_a_frame_given_twice_is_taken_once(tmp_path):
    """The fused tables of one layer may be that layer's own: each frame's columns are taken
    once and put back once."""
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]})
    before = frame.copy()
    back = frames_aside([frame, frame], tmp_path / "f.pickle", 7)
    assert frame.shape == (2, 0)
    assert back() == 7
    pd.testing.assert_frame_equal(frame, before)


def test_columns_read_from_files_stay_in_their_frames(tmp_path):
    from pipelines.set_aside import frames_aside

    frame = pd.DataFrame({"a": [1, 2], "dt_s": [0.5, 1.5], "b": ["x", "y"]})
    for name in ["dt_s"]:  # the same values, read from files
        frame[name] = mapped_column(frame[name], tmp_path).set_axis(frame.index)
    back = frames_aside([frame], tmp_path / "f.pickle", "extra")
    assert list(frame.columns) == ["dt_s"] and is_mapped(frame["dt_s"])  # on disk already
    assert back() == "extra" and list(frame.columns) == ["a", "dt_s", "b"]
    assert frame["a"].tolist() == [1, 2] and is_mapped(frame["dt_s"])


def test_mapped_aside_puts_back_maps_in_each_frame_s_place_shared_columns_once(tmp_path,
                                                                             monkeypatch):
    written = []
    monkeypatch.setattr(set_aside_module, "mapped_column",
                        lambda column, d: written.append(1) or mapped_column(column, d))
    times = pd.Series(pd.to_datetime([5, 6], unit="s", utc=True))
    one = pd.DataFrame({"a": [1, 2], "t": times, "b": [3, 4]})
    two = pd.DataFrame({"t": one["t"], "c": [0, 0]})  # the same values: a shared column
    two.index = [7, 3]  # put back by position, not aligned on the index
    three = pd.DataFrame({"t": times + pd.Timedelta(1, "s")})  # other values
    expected = [f.copy() for f in (one, two, three)]
    put_back = mapped_aside([one, two, three, one], "t", tmp_path)
    assert "t" not in one and "t" not in two and "t" not in three
    assert len(written) == 2
    put_back()
    for frame, before in zip((one, two, three), expected, strict=True):
        pd.testing.assert_frame_equal(frame, before)
        assert is_mapped(frame["t"])
    assert np.shares_memory(one["t"].array.asi8, two["t"].array.asi8)
    put_back()  # once: nothing more to put back
    assert list(one.columns) == ["a", "t", "b"]


def test_mapped_aside_leaves_frames_without_the_column_alone(tmp_path):
    frame = pd.DataFrame({"x": [1]})
    mapped_aside([frame], "t", tmp_path)()
    assert list(frame.columns) == ["x"] and not list(tmp_path.iterdir())


def test_aside_keeps_buffers_of_maps_where_they_are(tmp_path):
    """Arrays over maps of files (a mapped column's codes, say) are neither written nor read:
    they come back as the same maps; the others are written and read into fresh memory."""
    from pipelines.mapped_columns import mapped_array

    mapped = mapped_array(tmp_path, 100_000, np.int32)
    mapped[:] = np.arange(100_000)
    ids = pd.Series(pd.Categorical.from_codes(mapped[:1000] % 7, categories=list("abcdefg")))
    column = mapped_column(ids, tmp_path)
    own = np.arange(50, dtype=np.int64)
    aside = Aside({"mapped": mapped, "ids": column, "own": own}, tmp_path / "o.pickle")
    assert (tmp_path / "o.pickle").stat().st_size < 2_000  # own's 400 bytes and the head
    back = aside.taken_back()
    assert np.shares_memory(back["mapped"], mapped) and back["mapped"].flags.writeable
    assert is_mapped(back["ids"]) and back["ids"].equals(column)
    assert back["own"].tolist() == own.tolist() and not np.shares_memory(back["own"], own)
    assert not (tmp_path / "o.pickle").exists()
