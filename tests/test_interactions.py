from __future__ import annotations

import pyarrow as pa
import pytest

from graphs.interactions import coded_column, decoded, validated_interactions


def _raw(*rows: tuple[str | None, str | None, str | None, str | None]) -> pa.Table:
    cols = list(zip(*rows, strict=True))
    return pa.table({
        "source": ["f.csv"] * len(rows), "line": list(range(2, len(rows) + 2)),
        "account_id": list(cols[0]), "target_id": list(cols[1]),
        "action": list(cols[2]), "timestamp": list(cols[3]),
    }, schema=pa.schema([("source", pa.string()), ("line", pa.int64()),
                         ("account_id", pa.string()), ("target_id", pa.string()),
                         ("action", pa.string()), ("timestamp", pa.string())]))


@pytest.mark.parametrize(("value", "iso"), [
    ("2026-11-01T10:00:00Z", "2026-11-01T10:00:00+00:00"),
    ("2026-11-01T12:00:00+02:00", "2026-11-01T10:00:00+00:00"),
    ("2026-11-01 10:00:00", "2026-11-01T10:00:00+00:00"),
    ("1793527200", "2026-11-01T10:00:00+00:00"),
    ("1793527200000", "2026-11-01T10:00:00+00:00"),
    ("1793527200.5", "2026-11-01T10:00:00.500000+00:00"),
])
def test_timestamps_in_several_formats_are_utc(value, iso):
    v = validated_interactions(_raw(("u", "p", "like", value)))
    assert v.interactions["timestamp"][0].as_py().isoformat() == iso


@pytest.mark.parametrize(("row", "reason"), [
    ((None, "p", "like", "1"), "missing account_id"),
    (("  ", "p", "like", "1"), "missing account_id"),
    (("u", "", "like", "1"), "missing target_id"),
    (("u", "p", None, "1"), "missing action"),
    (("u", "p", "like", ""), "missing timestamp"),
    (("u", "p", "like", "yesterday"), "unparseable timestamp"),
    (("u", "p", "like", "99999999999999999"), "unparseable timestamp"),
])
def test_rejects_name_the_reason(row, reason):
    v = validated_interactions(_raw(row, ("u", "p", "like", "1")))
    assert v.rejected["reason"][0].as_py().startswith(reason)
    assert v.rejected["line"][0].as_py() == 2
    assert (v.rows_read, v.rows_accepted) == (2, 1)


def test_duplicates_collapse_and_ids_are_trimmed():
    v = validated_interactions(_raw(("u ", "p", "LIKE", "1"), ("u", " p", "like", "1"),
                                    ("u", "p", "share", "1")))
    assert v.rows_accepted == 3 and v.duplicates_collapsed == 1
    assert v.interactions.column("action").to_pylist() == ["like", "share"]


def test_empty_input_accounts_for_zero_rows():
    v = validated_interactions(_raw(("u", "p", "like", "1")).slice(0, 0))
    assert (v.rows_read, v.rows_accepted, v.rejected.num_rows) == (0, 0, 0)


@pytest.mark.parametrize("pad", [" ", "\t", "\n", "\x0b", "\x0c", "\r", "\u00a0", "\ufeff",
                                 " \ufeff\t"])
def test_every_trimmed_character_is_trimmed_at_both_ends_only(pad):
    v = validated_interactions(_raw(
        (f"{pad}u 1{pad}", f"{pad}p{pad}", f"{pad}LIKE{pad}", f"{pad}1793527200{pad}"),
        (pad, "p", "like", "1793527200"), ("x\u2003", "p", "like", "1793527200")))
    row = v.interactions.to_pylist()
    assert [(r["account_id"], r["target_id"], r["action"]) for r in row] == [
        ("u 1", "p", "like"), ("x\u2003", "p", "like")]  # em space is not trimmed
    assert v.rejected["reason"].to_pylist() == ["missing account_id"]


def test_accepted_ids_come_back_dictionary_encoded_in_sorted_order():
    """Each distinct value once, sorted; the rows sorted by time, then ids as text sorts."""
    v = validated_interactions(_raw(("b", "p2", "like", "2"), ("a10", "p1", "share", "1"),
                                    ("a9", "p1", "like", "1"), ("a10", "p1", "like", "1"),
                                    ("zz", "p3", "like", "x")))
    got = v.interactions
    assert [got.schema.field(c).type for c in ("account_id", "target_id", "action")] == [
        pa.dictionary(pa.int8(), pa.string())] * 3
    assert got["account_id"].chunk(0).dictionary.to_pylist() == ["a10", "a9", "b"]
    assert got["target_id"].chunk(0).dictionary.to_pylist() == ["p1", "p2"]
    assert got["action"].chunk(0).dictionary.to_pylist() == ["like", "share"]
    assert [tuple(r.values())[:3] for r in got.to_pylist()] == [
        ("a10", "p1", "like"), ("a10", "p1", "share"), ("a9", "p1", "like"),
        ("b", "p2", "like")]


@pytest.mark.parametrize(("n_values", "index"), [(1, pa.int8()), (128, pa.int8()),
                                                 (129, pa.int16()), (32768, pa.int16()),
                                                 (32769, pa.int32())])
def test_coded_columns_take_the_narrowest_index_that_fits(n_values, index):
    values = pa.array([f"v{i:06d}" for i in range(n_values)])
    column = coded_column(pa.chunked_array([[0, n_values - 1], [n_values - 1]]), values)
    assert column.type == pa.dictionary(index, pa.string())
    assert column.to_pylist() == ["v000000", *[f"v{n_values - 1:06d}"] * 2]


def test_decoded_gives_plain_columns():
    table = pa.table({"a": pa.array(["x", "y", "x"]).dictionary_encode(), "n": [1, 2, 3]})
    assert decoded(table).equals(pa.table({"a": ["x", "y", "x"], "n": [1, 2, 3]}))
