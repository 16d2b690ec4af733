"""graphs/lookup.py: Arrow hash lookups of text ids, id columns stacked as codes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from graphs.lookup import (
    in_values,
    lookup_codes,
    pair_group_rows,
    pair_groups,
    run_codes,
    sorted_codes,
    stacked_column,
    text_array,
)


def test_lookup_accepts_object_string_and_arrow_columns_alike():
    keys = pd.Series(["<b>", "a", "ü"], dtype=object)
    codes = np.array([3, 1, 2])
    expected = [2, -1, 3, 1, -1]
    values = ["ü", "z", "<b>", "a", None]
    for column in (pd.Series(values, dtype=object), pd.Series(values, dtype="string[pyarrow]"),
                   pd.Series(pa.array(values, pa.string()), dtype=pd.ArrowDtype(pa.string()))):
        assert lookup_codes(column, keys, codes).tolist() == expected


def test_lookup_gives_the_dtype_asked_for_text_and_categoricals_alike():
    keys = pd.Series(["<b>", "a", "ü"], dtype=object)
    codes = np.array([3, 1, 2])
    values = ["ü", "z", "<b>", "a", None]
    for column in (pd.Series(values, dtype="str"),
                   pd.Series(pd.Categorical(values, categories=["z", "a", "ü", "<b>", "x"]))):
        found = lookup_codes(column, keys, codes, dtype="int32")
        assert found.dtype == np.int32 and found.tolist() == [2, -1, 3, 1, -1]
        assert lookup_codes(column, pd.Series([], dtype=object), codes[:0],
                            dtype="int32").dtype == np.int32


def test_pair_groups_are_int32_while_the_groups_fit():
    pairs = pd.DataFrame({"account_a": pd.Categorical(["a", "a", "x", "b"]),
                          "account_b": ["b", "c", "y", "a"]})
    for groups, dtype in (([0, 0, 5], np.int32), ([2**31, 2**31, 5], np.int64)):
        found = pair_groups(pairs, pd.Series(groups, index=["a", "b", "c"]))
        assert found.dtype == dtype and found.tolist() == [groups[0], -1, -1, groups[0]]
    assert pair_groups(pairs[:0], pd.Series([], dtype="int64")).dtype == np.int32


@pytest.mark.parametrize("block", [1, 2, 5, 1 << 22])
@pytest.mark.parametrize("coded", [True, False])
def test_pair_group_rows_are_pair_groups_rows_in_a_group(block, coded):
    rng = np.random.default_rng(block)
    ids = [f"u{k}" for k in range(12)]
    a, b = (rng.choice(ids, 40) for _ in range(2))
    pairs = pd.DataFrame({"account_a": pd.Categorical(a) if coded else pd.Series(a, dtype="str"),
                          "account_b": pd.Categorical(b, categories=ids[::-1])})
    for groups in (rng.integers(0, 3, 9), rng.integers(0, 3, 9) + 2**31):
        group_of = pd.Series(groups, index=ids[:9])
        whole = pair_groups(pairs, group_of)
        rows, found = pair_group_rows(pairs, group_of, block=block)
        assert rows.tolist() == np.flatnonzero(whole >= 0).tolist() and len(rows) > 0
        assert found.tolist() == whole[whole >= 0].tolist() and found.dtype == whole.dtype
    rows, found = pair_group_rows(pairs[:0], pd.Series([1], index=["u1"]))
    assert rows.size == found.size == 0 and found.dtype == np.int32


def test_lookup_without_keys_gives_minus_one():
    assert lookup_codes(pd.Series(["a"]), pd.Series([], dtype=object),
                        np.array([], dtype="int64")).tolist() == [-1]


def test_sorted_codes_order_groups_as_pandas_orders_the_ids():
    from graphs.lookup import sorted_codes

    ids = ["b", "B", "a", "é", "z", "Z9", "😀", "ab", "a b", "", "ü", "b"]
    column = pd.Series(ids, dtype="str")
    vocab, codes = sorted_codes(column)
    by_id = pd.Series(1, index=column).groupby(level=0).size().index.tolist()
    assert vocab.to_pylist() == by_id == sorted(set(ids))
    assert [vocab[c].as_py() for c in codes] == ids
    _, with_null = sorted_codes(pd.Series(["b", None, "a"], dtype=object))
    assert with_null.tolist() == [1, -1, 0]
    for categories in (sorted(set(ids)) + ["unused"], sorted(set(ids), reverse=True)):
        coded = pd.Series(pd.Categorical(ids, categories=categories))  # sorted, then not
        cat_vocab, cat_codes = sorted_codes(coded)
        assert cat_vocab.to_pylist() == vocab.to_pylist()
        assert cat_codes.tolist() == codes.tolist()


def test_run_codes_equal_lookup_codes_sorted_or_not():
    from graphs.lookup import run_codes

    rng = np.random.default_rng(3)
    keys = pd.Series([f"k{i}" for i in range(50)])
    values = pd.Series(rng.choice([*keys, "missing", None], size=500), dtype="str")
    for column in (values, values.sort_values(ignore_index=True)):
        expected = lookup_codes(column, keys, np.arange(50))
        assert run_codes(column, pa.array(keys)).tolist() == expected.tolist()
    assert run_codes(pd.Series([], dtype="str"), pa.array(keys)).tolist() == []


def test_text_array_shares_the_buffers_of_str_columns():
    from graphs.lookup import text_array

    column = pd.Series(["x", None, "y"], dtype="str")  # pandas 3's default string dtype
    array = text_array(column)
    assert array.type == pa.large_string() and array.to_pylist() == ["x", None, "y"]
    data = pa.chunked_array(pa.array(column)).chunk(0).buffers()[2]
    assert array.chunk(0).buffers()[2].address == data.address  # no copy, no row loop


def test_categorical_columns_give_the_codes_of_their_text():
    # unsorted categories, unused ones, a missing value: the same codes as the text gives
    dtype = pd.CategoricalDtype(["zz", "b", "unused", "a", "é"])
    column = pd.Series(pd.Categorical.from_codes([1, 0, -1, 3, 1, 4, 0], dtype=dtype))
    text = column.astype(object)
    ids, codes = sorted_codes(column)
    want_ids, want_codes = sorted_codes(text)
    assert ids.to_pylist() == want_ids.to_pylist() == ["a", "b", "zz", "é"]
    assert codes.tolist() == want_codes.tolist() and codes.dtype == want_codes.dtype
    keys = pa.array(["é", "a", "b", "x"])
    assert run_codes(column, keys).tolist() == run_codes(text, keys).tolist()
    assert run_codes(column, keys).dtype == np.int32
    values = np.array([10, 11, 12, 13])
    assert (lookup_codes(column, pa.chunked_array([keys]), values).tolist()
            == lookup_codes(text, pa.chunked_array([keys]), values).tolist()
            == [12, -1, -1, 11, 12, 10, -1])
    assert text_array(column).to_pylist() == text.tolist()[:2] + [None] + text.tolist()[3:]


def test_in_values_matches_series_isin_on_every_text_dtype():
    values = ["ü", "z", "<b>", "a", None, "a"]
    wanted = {"a", "ü", "q"}
    for column in (pd.Series(values, dtype=object), pd.Series(values, dtype="str"),
                   pd.Series(values, dtype="category")):
        expected = column.isin(wanted).tolist()
        assert in_values(column, wanted).tolist() == expected == [True, False, False, True,
                                                                  False, True]
        assert in_values(column, pd.Series(sorted(wanted))).tolist() == expected
    assert in_values(pd.Series(["a"]), set()).tolist() == [False]


def test_stacked_ids_stay_codes_and_sort_as_their_text():
    a = pd.Series(pd.Categorical(["m", "b", "zz"], categories=["b", "m", "zz", "q"]))
    b = pd.Series(pd.Categorical(["a", "m"], categories=["a", "m"]))
    text = pd.Series(["é", "b"], dtype="str")
    out = stacked_column([a, b, text])
    assert isinstance(out.dtype, pd.CategoricalDtype)
    assert out.cat.categories.tolist() == ["a", "b", "m", "q", "zz", "é"]
    assert out.tolist() == ["m", "b", "zz", "a", "m", "é", "b"]
    spelled = out.astype("str")
    assert out.sort_values(kind="stable").index.tolist() == (
        spelled.sort_values(kind="stable").index.tolist())
    same = stacked_column([a, a])  # one dtype: codes concatenated as they are
    assert same.dtype == a.dtype and same.tolist() == a.tolist() * 2
    assert stacked_column([text, text]).tolist() == ["é", "b"] * 2
    within = stacked_column([a, pd.Series(["q", None], dtype="str"),
                             pd.Series(pd.Categorical([None, "b"]))])  # a's categories
    assert within.dtype == a.dtype
    assert within.tolist()[3:] == ["q", np.nan, np.nan, "b"]
    permuted = pd.Series(pd.Categorical(["zz", "q"], categories=["q", "zz", "m", "b"]))
    assert permuted.dtype == a.dtype  # unordered: equal up to the categories' order
    mixed = stacked_column([a, permuted])  # its codes mean other ids: recoded, not joined
    assert mixed.dtype.categories.tolist() == ["b", "m", "zz", "q"]
    assert mixed.tolist() == ["m", "b", "zz", "zz", "q"]
    twin = pd.Series(pd.Categorical.from_codes([3], dtype=pd.CategoricalDtype(
        pd.Index(["b", "m", "zz", "q"]))))  # another dtype object, the same categories
    assert stacked_column([a, twin]).tolist() == ["m", "b", "zz", "q"]
