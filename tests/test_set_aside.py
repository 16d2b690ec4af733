from __future__ import annotations

import pyarrow as pa
import pytest

from pipelines.set_aside import rows_of_accounts, set_aside


def test_rows_of_accounts_keep_the_tables_order_across_record_batches(tmp_path):
    table = pa.Table.from_batches([
        pa.record_batch({"account_id": ["a", "b", "c"], "n": [1, 2, 3]}),
        pa.record_batch({"account_id": ["c", "a", "d"], "n": [4, 5, 6]}),
    ])
    path = set_aside(table, tmp_path / "t.arrow")
    got = rows_of_accounts(path, ["c", "a", "c"])
    assert got.to_pydict() == {"account_id": ["a", "c", "c", "a"], "n": [1, 3, 4, 5]}
    assert got.schema == table.schema


def test_rows_of_no_accounts_is_an_empty_table_with_the_schema(tmp_path):
    table = pa.table({"account_id": ["a"], "n": [1]})
    got = rows_of_accounts(set_aside(table, tmp_path / "t.arrow"), [])
    assert got.num_rows == 0 and got.schema == table.schema


def test_a_failed_write_names_the_directory_and_the_way_out(tmp_path):
    missing = tmp_path / "gone" / "t.arrow"
    with pytest.raises(OSError, match=r"cannot set the interactions aside in .*gone .*TMPDIR"):
        set_aside(pa.table({"account_id": ["a"]}), missing)
