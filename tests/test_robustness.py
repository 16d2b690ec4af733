"""The input matrix: every kind of bad input loads with a documented normalisation, lands in
rejected.csv with its reason, or stops the run with one clear error — and
``rows_read = rows_accepted + rows_rejected`` holds in every case (docs/robustness.md).

Each case runs the whole pipeline (:func:`pipelines.run.run`) on a tiny file next to the
tiny planted world of ``conftest.py`` (so that the run has cohorts to score). The HTML report
is not rendered here (it takes ~80% of a tiny run's time and sees none of the rejected rows);
tests/test_hostile.py renders it.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_world

from pipelines.config import load_config
from pipelines.ingest import InputError
from pipelines.run import run

H = "account_id,target_id,action,timestamp\n"


@pytest.fixture(autouse=True)
def _no_html_report(monkeypatch):
    monkeypatch.setattr("pipelines.run.report_tasks", lambda out, **tables: [])
T = 1793527200  # 2026-11-01T10:00:00Z


def world_csv(tmp_path: Path, columns: dict[str, str] | None = None) -> Path:
    """The tiny world as a CSV whose column names follow the run's ``[columns]`` mapping."""
    interactions, _ = tiny_world()
    path = tmp_path / "world.csv"
    interactions.assign(timestamp=interactions["timestamp"].map(lambda t: t.isoformat())
                        ).rename(columns=columns or {}).to_csv(path, index=False)
    return path


def run_case(tmp_path: Path, name: str, data: bytes | str, **overrides):
    """Run the pipeline on ``name`` (+ the tiny world); return (rows, rejects of ``name``)."""
    path = tmp_path / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    out = tmp_path / "out"
    world = world_csv(tmp_path, overrides.get("columns"))
    result = run(load_config(None, inputs=[str(path), str(world)], out=out, **overrides))
    rows = result.manifest["rows"]
    assert rows["rows_read"] == rows["rows_accepted"] + rows["rows_rejected"]
    rejected = (pd.read_csv(out / "rejected.csv", dtype={"raw": str}, keep_default_na=False)
                if (out / "rejected.csv").exists()
                else pd.DataFrame(columns=["source", "line", "reason", "raw"]))
    assert len(rejected) == rows["rows_rejected"]
    world_rows = len(tiny_world()[0])
    case = rejected[rejected["source"] == str(path)].reset_index(drop=True)
    return rows, case, rows["rows_read"] - world_rows


def run_alone(tmp_path: Path, name: str, data: bytes | str, **overrides):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return run(load_config(None, inputs=[str(path)], out=tmp_path / "out", **overrides))


# --- structure -------------------------------------------------------------------------


def test_missing_required_column(tmp_path):
    with pytest.raises(InputError, match=r"a\.csv: missing required column 'timestamp' "
                       r"\(found: account_id, target_id, action\)"):
        run_alone(tmp_path, "a.csv", "account_id,target_id,action\nu,p,like\n")


def test_unknown_column_name_suggests_the_closest(tmp_path):
    with pytest.raises(InputError, match=r"missing required column 'timestamp' .*"
                       r"did you mean 'time_stamp'\?"):
        run_alone(tmp_path, "a.csv", "account_id,target_id,action,time_stamp\nu,p,like,1\n",
                  format="generic")


def test_column_mapping_loads_renamed_columns(tmp_path):
    rows, case, n = run_case(tmp_path, "a.csv", f"user,post,kind,when\nu,p,like,{T}\n",
                             columns={"account_id": "user", "target_id": "post",
                                      "action": "kind", "timestamp": "when"})
    assert (n, len(case)) == (1, 0)


def test_empty_file(tmp_path):
    with pytest.raises(InputError, match=r"a\.csv: empty file \(expected a header line with "
                       r"column names\)$"):
        run_alone(tmp_path, "a.csv", "\n\n")


def test_header_only_is_an_error(tmp_path):
    with pytest.raises(InputError, match=r"^no data rows in the input \(header only\?\)$"):
        run_alone(tmp_path, "a.csv", H)


@pytest.mark.parametrize("delim", [";", "|", "\t"])
def test_other_known_delimiters_are_sniffed(tmp_path, delim):
    data = H.replace(",", delim) + delim.join(["u", "p", "like", str(T)]) + "\n"
    rows, case, n = run_case(tmp_path, "a.csv", data)
    assert (n, len(case)) == (1, 0)


def test_semicolon_file_with_format_auto(tmp_path):
    rows, case, n = run_case(tmp_path, "a.csv", H.replace(",", ";") + f"u;p;like;{T}\n")
    assert (n, len(case)) == (1, 0)


@pytest.mark.parametrize(("sep", "shown"), [(":", "':'"), (" ", "' '")])
def test_unknown_delimiter_is_named(tmp_path, sep, shown):
    data = H.replace(",", sep) + sep.join(["u", "p", "like", str(T)]) + "\n"
    with pytest.raises(InputError, match=r"a\.csv: the header line has a single column .*: no "
                       r"known delimiter \(',' ';' tab '\|'\) found; it looks delimited by "
                       + shown + "; convert the file to comma-separated CSV"):
        run_alone(tmp_path, "a.csv", data)


def test_ragged_rows_are_rejected_with_their_lines(tmp_path):
    data = H + f"u1,p1,like,{T}\nu2,p1,like\nu3,p2,like,{T},extra\nu4,p3,like,{T}\n"
    rows, case, n = run_case(tmp_path, "a.csv", data)
    assert n == 4 and case["line"].tolist() == [3, 4]
    assert case["reason"].str.startswith("MISSING COLUMNS").tolist() == [True, False]
    assert case["reason"][1].startswith("TOO MANY COLUMNS")


def test_unclosed_quote_rejects_the_rest_of_the_file_as_one_record(tmp_path):
    data = H + f'u1,p1,like,{T}\n"u2,p1,like,{T}\nu3,p1,like,{T}\n'
    rows, case, n = run_case(tmp_path, "a.csv", data)
    assert n == 2 and case["line"].tolist() == [3]
    assert case["reason"][0] == "UNQUOTED VALUE: Value with unterminated quote found."
    assert case["raw"][0] == f'"u2,p1,like,{T}\nu3,p1,like,{T}\n'


def test_nul_byte_in_an_id_is_rejected(tmp_path):
    rows, case, n = run_case(tmp_path, "a.csv", (H + f"u1,p\x001,like,{T}\nu2,p,like,{T}\n"))
    assert n == 2 and case[["line", "reason", "raw"]].values.tolist() == [
        [2, "NUL byte in target_id", f"u1,p\\x001,like,{T}"]]


@pytest.mark.parametrize(("line", "shown"), [
    (b"u\xff1,p1,like,1793527200\n", "u?1,p1,like,1793527200"),
    ("caf\u00e9,p1,like,1793527200\n".encode("latin-1"), "caf??p1,like,1793527200"),
])
def test_invalid_utf8_line_is_rejected_not_guessed(tmp_path, line, shown):
    rows, case, n = run_case(tmp_path, "a.csv", H.encode() + line + b"u2,p,like,1793527200\n")
    assert n == 2 and case["line"].tolist() == [2]
    assert case["reason"][0] == ("INVALID ENCODING: Invalid unicode (byte sequence mismatch) "
                                 "detected. This file is not utf-8 encoded.")
    assert case["raw"][0].replace("\ufffd", "?") == shown


def test_utf8_bom_is_skipped(tmp_path):
    rows, case, n = run_case(tmp_path, "a.csv", b"\xef\xbb\xbf" + (H + f"u1,p,like,{T}\n").encode(),
                             format="generic")
    assert (n, len(case)) == (1, 0)


# --- values ----------------------------------------------------------------------------


def test_timestamps_in_several_formats(tmp_path):
    stamps = ["2026-11-01T10:00:00Z", "2026-11-01T12:00:00+02:00", "2026-11-01 10:00:00",
              "2026-11-01T10:00", str(T), str(T * 1000), f"{T}.5"]
    data = H + "".join(f"u{i},p,like,{s}\n" for i, s in enumerate(stamps))
    rows, case, n = run_case(tmp_path, "a.csv", data)
    assert (n, len(case)) == (len(stamps), 0)


@pytest.mark.parametrize(("stamp", "reason"), [
    ("yesterday", "unparseable timestamp (expected ISO-8601 or epoch seconds/ms): yesterday"),
    ("2026-13-01", "unparseable timestamp (expected ISO-8601 or epoch seconds/ms): 2026-13-01"),
    ("01/11/2026", "unparseable timestamp (expected ISO-8601 or epoch seconds/ms): 01/11/2026"),
    ("99999-01-01", "timestamp out of range (1970-01-01 to 2100-01-01): 99999-01-01"),
    ("-99999999999", "timestamp out of range (1970-01-01 to 2100-01-01): -99999999999"),
    ("1969-12-31T23:59:59Z",
     "timestamp out of range (1970-01-01 to 2100-01-01): 1969-12-31T23:59:59Z"),
    ("99999999999999999",
     "unparseable timestamp (expected ISO-8601 or epoch seconds/ms): 99999999999999999"),
])
def test_bad_timestamps_are_rejected_with_reason(tmp_path, stamp, reason):
    rows, case, n = run_case(tmp_path, "a.csv", H + f"u1,p,like,{stamp}\nu2,p,like,{T}\n")
    assert n == 2 and case[["line", "reason"]].values.tolist() == [[2, reason]]


def test_future_timestamps_are_kept_and_counted(tmp_path):
    rows, case, n = run_case(tmp_path, "a.csv", H + "u1,p,like,2099-01-01T00:00:00Z\n")
    assert (n, len(case), rows["future_timestamps"]) == (1, 0, 1)


@pytest.mark.parametrize(("row", "reason"), [
    (f",p,like,{T}", "missing account_id"),
    (f"   ,p,like,{T}", "missing account_id"),
    (f"u,\t,like,{T}", "missing target_id"),
    (f"\u00a0\ufeff,p,like,{T}", "missing account_id"),
    (f"u,p,,{T}", "missing action"),
    ("u,p,like,", "missing timestamp"),
])
def test_empty_or_whitespace_values_are_rejected(tmp_path, row, reason):
    rows, case, n = run_case(tmp_path, "a.csv", H + row + "\n")
    assert n == 1 and case[["line", "reason"]].values.tolist() == [[2, reason]]


def test_ten_kilobyte_ids_load_unchanged(tmp_path):
    big = "x" * 10_000
    rows, case, n = run_case(tmp_path, "a.csv", H + f"{big},{big}p,like,{T}\n")
    assert (n, len(case), rows["rows_accepted"] - len(tiny_world()[0])) == (1, 0, 1)


def test_duplicate_rows_collapse_and_are_counted(tmp_path):
    rows, case, n = run_case(tmp_path, "a.csv", H + f"u,p,like,{T}\n u ,p,LIKE,{T}\n")
    assert (n, len(case), rows["duplicates_collapsed"]) == (2, 0, 1)


def test_same_row_with_different_actions_are_two_interactions(tmp_path):
    rows, case, n = run_case(tmp_path, "a.csv", H + f"u,p,like,{T}\nu,p,share,{T}\n")
    assert (n, rows["duplicates_collapsed"]) == (2, 0)
    assert rows["interactions"] == len(tiny_world()[0]) + 2


# --- files -----------------------------------------------------------------------------


def test_truncated_gzip_names_the_file(tmp_path):
    blob = gzip.compress((H + "".join(f"u{i},p{i % 7},like,{T + i}\n"
                                      for i in range(20_000))).encode())
    with pytest.raises(InputError, match=r"a\.csv\.gz: cannot read as CSV \(IO Error: Unexpected "
                       r"end of GZIP stream: .*a\.csv\.gz\)$"):
        run_case(tmp_path, "a.csv.gz", blob[: len(blob) // 2])


def test_directory_with_mixed_formats(tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    (d / "a.csv").write_text(H + f"u1,p,like,{T}\n")
    with gzip.open(d / "b.csv.gz", "wt") as fh:
        fh.write(H + f"u2,p,like,{T}\n")
    (d / "c.jsonl").write_text(json.dumps({"account_id": "u3", "target_id": "p",
                                           "action": "like", "timestamp": T}) + "\n{oops\n")
    pd.DataFrame({"account_id": ["u4"], "target_id": ["p"], "action": ["like"],
                  "timestamp": [T]}).to_parquet(d / "d.parquet")
    (d / "notes.txt").write_text("ignored: not a log format")
    result = run(load_config(None, inputs=[str(d), str(world_csv(tmp_path))],
                             out=tmp_path / "out"))
    rows = result.manifest["rows"]
    assert rows["rows_read"] - len(tiny_world()[0]) == 5
    assert (rows["rows_rejected"], rows["rows_read"]) == (1, rows["rows_accepted"] + 1)
    rejected = pd.read_csv(tmp_path / "out" / "rejected.csv")
    assert rejected[["line", "reason"]].values.tolist() == [[2, "invalid JSON line"]]
    assert [Path(i["path"]).name for i in result.manifest["inputs"]][:4] == [
        "a.csv", "b.csv.gz", "c.jsonl", "d.parquet"]


def test_parquet_with_wrong_types_is_normalised(tmp_path):
    path = tmp_path / "a.parquet"
    pd.DataFrame({"account_id": [1.0, 2.5, np.nan], "target_id": [7.0, 7.0, 7.0],
                  "action": ["like"] * 3,
                  "timestamp": [T, T * 1000, T]}).to_parquet(path)
    result = run(load_config(None, inputs=[str(path), str(world_csv(tmp_path))],
                             out=tmp_path / "out"))
    rows = result.manifest["rows"]
    assert (rows["rows_read"] - len(tiny_world()[0]), rows["rows_rejected"]) == (3, 1)
    rejected = pd.read_csv(tmp_path / "out" / "rejected.csv", keep_default_na=False)
    assert rejected[["line", "reason"]].values.tolist() == [[3, "missing account_id"]]


def test_parquet_ids_as_whole_floats_match_text_ids(tmp_path):
    from pipelines.ingest import read_interactions

    path = tmp_path / "a.parquet"
    pd.DataFrame({"account_id": [1.0, 2.5], "target_id": [7.0, 8.0], "action": ["like"] * 2,
                  "timestamp": [T, T]}).to_parquet(path)
    raw = read_interactions([path], {}).raw.to_pydict()
    assert (raw["account_id"], raw["target_id"]) == (["1", "2.5"], ["7", "8"])


def test_too_many_rejects_is_an_error(tmp_path):
    data = H + "".join(f"u{i},p,like,never\n" for i in range(400))
    with pytest.raises(InputError, match=r"^400 of \d+ rows rejected \(\d+% > "
                       r"max_rejected_share 50%\)$"):
        run_case(tmp_path, "a.csv", data)


# --- adversarial degrees -------------------------------------------------------------


def hot_log(n: int, account) -> str:
    return H + "".join(f"{account(i)},hot,like,{T + i * 3600 // n}\n" for i in range(n))


def test_one_account_engaging_one_target_a_hundred_thousand_times(tmp_path):
    data = H + "".join(f"solo,hot,like,{T + i}\n" for i in range(100_000))  # 1 per second
    rows, case, n = run_case(tmp_path, "a.csv", data)
    assert (n, len(case), rows["duplicates_collapsed"]) == (100_000, 0, 0)


@pytest.mark.slow
def test_one_target_engaged_by_a_million_accounts_is_bounded(tmp_path):
    import time

    started = time.perf_counter()
    path = tmp_path / "a.csv"
    path.write_text(hot_log(1_000_000, lambda i: f"a{i}"))
    result = run(load_config(None, inputs=[str(path), str(world_csv(tmp_path))],
                             out=tmp_path / "out"))
    projection = result.manifest["projection"]
    assert projection["hub_actions_skipped"] >= 1_000_000 and projection["hub_targets"] == 1
    assert projection["action_pairs_enumerated"] < 10_000  # only the tiny world's pairs
    assert time.perf_counter() - started < 60  # measured 8.5 s (docs/robustness.md)
