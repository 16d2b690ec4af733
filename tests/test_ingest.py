from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest

from graphs.interactions import validated_interactions
from pipelines.ingest import (
    InputError,
    file_format,
    input_files,
    read_interactions,
    streamed_interactions,
)

HEADER = "account_id,target_id,action,timestamp\n"


def test_ragged_rows_become_parse_rejects_with_their_lines(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(HEADER + "u1,p1,like,1\nu2,p1,like\nu3,p2,like,1,extra\nu4,p3,like,2\n")
    raw, rejects = read_interactions([path], {})
    assert rejects["line"].to_pylist() == [3, 4]
    assert "MISSING COLUMNS" in rejects["reason"][0].as_py()
    assert raw["line"].to_pylist() == [2, 5]
    assert raw["account_id"].to_pylist() == ["u1", "u4"]


def test_a_line_with_several_parse_errors_lists_them_in_one_order(tmp_path):
    """DuckDB may report two errors for one short line; their order in the reason was its
    aggregation's, which changed from run to run (so did rejected.csv)."""
    path = tmp_path / "a.csv"
    path.write_text(HEADER + "u1,p1,like,1\nu4,p1\nu5,p1,like,2\n")
    for _ in range(5):
        reason = streamed_interactions([path], {}).parse_rejects["reason"][0].as_py()
        parts = reason.split("; ")
        assert parts == sorted(parts) and "MISSING COLUMNS" in reason


def test_gzip_csv_and_semicolon_delimiter(tmp_path):
    path = tmp_path / "a.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(HEADER.replace(",", ";") + "u1;p1;like;1\n")
    raw, _ = read_interactions([path], {})
    assert raw["target_id"].to_pylist() == ["p1"]


def test_missing_column_suggests_closest(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("account_id,target_id,action,time_stamp\nu,p,like,1\n")
    with pytest.raises(InputError, match="missing required column 'timestamp'.*'time_stamp'"):
        read_interactions([path], {})


def test_column_mapping(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("user,post,kind,when\nu,p,like,1\n")
    raw, _ = read_interactions([path], {"account_id": "user", "target_id": "post",
                                        "action": "kind", "timestamp": "when"})
    assert raw["account_id"].to_pylist() == ["u"]


def test_empty_file_is_an_error(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("")
    with pytest.raises(InputError, match="empty file"):
        read_interactions([path], {})


def test_jsonl_invalid_line_is_rejected(tmp_path):
    path = tmp_path / "a.jsonl"
    good = {"account_id": "u", "target_id": "p", "action": "like", "timestamp": 1}
    path.write_text(json.dumps(good) + "\n{oops\n" + json.dumps(good | {"account_id": "v"}) + "\n")
    raw, rejects = read_interactions([path], {})
    assert raw["line"].to_pylist() == [1, 3] and raw["timestamp"].to_pylist() == ["1", "1"]
    assert rejects.to_pydict()["reason"] == ["invalid JSON line"]


def test_parquet_any_types_become_text(tmp_path):
    path = tmp_path / "a.parquet"
    pd.DataFrame({"account_id": [1], "target_id": ["p"], "action": ["like"],
                  "timestamp": [1793527200]}).to_parquet(path)
    raw, _ = read_interactions([path], {})
    assert raw.to_pydict()["account_id"] == ["1"] and raw.to_pydict()["line"] == [1]


def test_input_files_expand_dirs_and_globs(tmp_path):
    (tmp_path / "d").mkdir()
    for name in ("d/a.csv", "d/b.parquet", "d/notes.txt", "c.jsonl"):
        (tmp_path / name).write_text("x")
    assert [p.name for p in input_files([str(tmp_path / "d")])] == ["a.csv", "b.parquet"]
    assert [p.name for p in input_files([str(tmp_path / "*.jsonl")])] == ["c.jsonl"]
    with pytest.raises(InputError, match="no such file"):
        input_files([str(tmp_path / "nothing*.csv")])


def test_unknown_format_is_named(tmp_path):
    with pytest.raises(InputError, match="unknown input format"):
        file_format(tmp_path / "a.xlsx")


def _hostile_files(tmp_path):
    """A CSV with unsplittable, ragged, untrimmed, duplicate and invalid rows, a gzipped
    semicolon CSV, a Parquet file with float ids and a JSON Lines file with a broken line."""
    a = tmp_path / "a.csv"
    a.write_text("\ufeffaccount_id,target_id,action,timestamp\n"
                 "u1,p1,like,1793527200\n"
                 "u2,p1,like\n"                       # missing column
                 ' u3 ,"p,2",LIKE,2026-11-01T10:00:00Z\n'
                 "u4,p3,like,yesterday\n"              # unparseable timestamp
                 "u1,p1,like,1793527200\n"             # exact duplicate
                 "u5,p4,like,1,extra\n"                # too many columns
                 ",p5,like,1793527200\n"               # missing account
                 "u6,p6,share,99999999999999999\n"     # out of range
                 '"u7,p7,like,1\n')                    # broken quote
    b = tmp_path / "b.csv.gz"
    with gzip.open(b, "wt") as fh:
        fh.write(HEADER.replace(",", ";") + "u8;p1;like;1793527201\nu9;;like;1\n")
    c = tmp_path / "c.parquet"
    pd.DataFrame({"account_id": [10.0, 2.5, None], "target_id": ["p1", "p2", "p3"],
                  "action": ["like"] * 3,
                  "timestamp": [1793527200, 1793527300, 1793527400]}).to_parquet(c)
    d = tmp_path / "d.jsonl"
    good = {"account_id": "u", "target_id": "p", "action": "like", "timestamp": 1793527200}
    d.write_text(json.dumps(good) + "\n{oops\n\n" + json.dumps(good | {"timestamp": "x"}) + "\n")
    return [a, b, c, d]


def test_streamed_interactions_equal_read_then_validated(tmp_path):
    files = _hostile_files(tmp_path)
    raw, parse_rejects = read_interactions(files, {})
    expected = validated_interactions(raw)
    got = streamed_interactions(files, {})
    assert got.parse_rejects.equals(parse_rejects)
    assert got.valid.interactions.equals(expected.interactions)
    assert got.valid.rejected.equals(expected.rejected)
    assert got.valid[2:] == expected[2:]
    # the fixture reaches every kind of reject, each with its file line
    lines = {(r["source"].rsplit("/", 1)[1], r["line"])
             for r in [*got.parse_rejects.to_pylist(), *got.valid.rejected.to_pylist()]}
    assert lines == {("a.csv", 3), ("a.csv", 5), ("a.csv", 7), ("a.csv", 8), ("a.csv", 9),
                     ("a.csv", 10), ("b.csv.gz", 3), ("c.parquet", 3), ("d.jsonl", 2),
                     ("d.jsonl", 4)}
    assert got.valid.duplicates_collapsed == 1


def test_streamed_interactions_errors_name_the_file(tmp_path):
    bad = tmp_path / "a.csv"
    bad.write_text("account_id,target_id,action,time_stamp\nu,p,like,1\n")
    with pytest.raises(InputError, match="a.csv: missing required column 'timestamp'"):
        streamed_interactions([bad], {})
    broken = tmp_path / "b.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(InputError, match="b.parquet: cannot read as Parquet"):
        streamed_interactions([broken], {})


def test_streamed_rejects_keep_their_lines_when_duckdb_reads_in_parallel(tmp_path):
    """A 45 MB CSV is split between DuckDB's threads: typed and unsplittable rejects spread
    through it still get their own file line (the table keeps the file's row order)."""
    n = 1_200_000
    rows = [f"u{i % 997},p{i % 1009},like,{1793527200 + i}" for i in range(n)]
    for k in range(0, n, 150_001):
        rows[k] = f"u{k},p1,like,never"          # typed reject: line k + 2
        rows[k + 7] = f"u{k},p1,like"            # parse reject: line k + 9
    path = tmp_path / "big.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    got = streamed_interactions([path], {})
    raw, parse_rejects = read_interactions([path], {})
    expected = validated_interactions(raw)
    assert got.valid.rejected["line"].to_pylist() == [k + 2 for k in range(0, n, 150_001)]
    assert got.parse_rejects["line"].to_pylist() == [k + 9 for k in range(0, n, 150_001)]
    assert got.valid.rejected.equals(expected.rejected)
    assert got.parse_rejects.equals(parse_rejects)
    assert got.valid.interactions.equals(expected.interactions)


def test_duckdb_out_of_memory_names_the_step_and_the_limit(tmp_path, monkeypatch):
    """Below DuckDB's least workable limit (which a run never sets, MIN_MEMORY_MIB), the
    gathering of the typed rows fails: an InputError saying so, not DuckDB's exception."""
    import pipelines.duckdb_limits as limits

    path = tmp_path / "a.csv"
    path.write_text(HEADER + "".join(f"a{i},hot,like,{1793527200 + 8 * i}\n"
                                     for i in range(4000)))
    monkeypatch.setattr(limits, "MIN_MEMORY_MIB", 1)
    with limits.duckdb_limits(0.005), pytest.raises(
            InputError, match=r"^DuckDB ran out of memory gathering the typed rows \(its limit: "
                              r"5MiB; Out of Memory Error: .*\); raise --max-memory$"):
        streamed_interactions([path], {})
