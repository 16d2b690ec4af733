from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest

from pipelines.ingest import InputError, file_format, input_files, read_interactions

HEADER = "account_id,target_id,action,timestamp\n"


def test_ragged_rows_become_parse_rejects_with_their_lines(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(HEADER + "u1,p1,like,1\nu2,p1,like\nu3,p2,like,1,extra\nu4,p3,like,2\n")
    raw, rejects = read_interactions([path], {})
    assert rejects["line"].to_pylist() == [3, 4]
    assert "MISSING COLUMNS" in rejects["reason"][0].as_py()
    assert raw["line"].to_pylist() == [2, 5]
    assert raw["account_id"].to_pylist() == ["u1", "u4"]


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
