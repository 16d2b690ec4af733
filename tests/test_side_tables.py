from __future__ import annotations

import pytest

from pipelines.ingest import InputError
from pipelines.side_tables import read_accounts, read_posts


def write(tmp_path, text: str, name: str = "posts.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_posts_rejects_missing_ids_and_repeated_targets_with_raw_lines(tmp_path):
    side = read_posts(write(tmp_path, "target_id,author_id\nt1,a1\n,a2\nt3,\nt1,a9\n"))
    assert side.table.to_dict("list") == {"target_id": ["t1"], "author_id": ["a1"]}
    assert side.rejected[["line", "reason", "raw"]].values.tolist() == [
        [3, "missing target_id", ",a2"],
        [4, "missing author_id", "t3,"],
        [5, "repeated target_id (the first row, line 2, is kept)", "t1,a9"],
    ]


def test_every_side_row_is_kept_or_rejected(tmp_path):
    side = read_posts(write(tmp_path, "target_id,author_id\n" + "".join(
        f"t{i % 7},a{i % 3}\n" for i in range(50))))
    assert len(side.table) + len(side.rejected) == 50


def test_posts_with_semicolons_and_bom_load(tmp_path):
    assert len(read_posts(write(tmp_path, "\ufefftarget_id;author_id\nt1;a1\n")).table) == 1


def test_posts_missing_column_is_named(tmp_path):
    with pytest.raises(InputError, match=r"posts\.csv: missing required column 'target_id' "
                       r"\(found: target, author_id\)"):
        read_posts(write(tmp_path, "target,author_id\nt1,a1\n"))


def test_empty_side_file_is_an_error(tmp_path):
    with pytest.raises(InputError, match=r"posts\.csv: empty file \(expected a header line"):
        read_posts(write(tmp_path, ""))


def test_header_only_side_file_is_empty_not_an_error(tmp_path):
    side = read_posts(write(tmp_path, "target_id,author_id\n"))
    assert (len(side.table), len(side.rejected)) == (0, 0)


def test_accounts_reject_unparseable_creation_dates_keeping_the_text(tmp_path):
    side = read_accounts(write(tmp_path, "account_id,created_at\nu1,2020-01-01\nu2,yesterday\n",
                               "accounts.csv"))
    assert side.table["account_id"].tolist() == ["u1"]
    assert side.rejected[["line", "reason", "raw"]].values.tolist() == [
        [3, "unparseable created_at (expected ISO-8601)", "u2,yesterday"]]
