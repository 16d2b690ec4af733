"""Id → code lookups by Arrow hashing (pandas' reindex/map on millions of strings is slow), and
id columns stacked as codes (pandas hashes a categorical's categories to compare them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import union_categoricals


def lookup_codes(values: pd.Series, keys: pd.Series | pa.ChunkedArray,
                 codes: np.ndarray, *, dtype: str | type = "int64") -> np.ndarray:
    """``codes[i]`` for each value equal to ``keys[i]``, ``-1`` for values that are no key.

    Parameters
    ----------
    values, keys : pandas.Series
        Text ids (object, string or Arrow-backed); ``keys`` are distinct, and may be given
        already converted by :func:`text_array` when they serve several lookups.
    codes : numpy.ndarray
        Integer code of each key.
    dtype
        Of the result (an integer type that holds the codes): a categorical's rows are
        taken straight into it (at 30M evidence rows an int32 result saves an int64 per
        row).

    Returns
    -------
    numpy.ndarray
        ``dtype``, one code per value.

    Examples
    --------
    >>> lookup_codes(pd.Series(["b", "x", "a"]), pd.Series(["a", "b"]), np.array([7, 9]))
    array([ 9, -1,  7])
    """
    key_array = keys if isinstance(keys, pa.ChunkedArray) else text_array(keys)
    if not len(codes):
        return np.full(len(values), -1, dtype=dtype)
    if isinstance(values.dtype, pd.CategoricalDtype):  # each category looked up once
        # by the categorical's own codes (`.cat.codes` copies them)
        return category_lookup(values, key_array, codes, dtype=dtype)[values.array.codes]
    found = pc.index_in(text_array(values), value_set=one_array(key_array))
    index = found.fill_null(0).to_numpy(zero_copy_only=False)
    valid = found.is_valid().to_numpy(zero_copy_only=False)
    return np.where(valid, np.asarray(codes, dtype="int64")[index], -1).astype(dtype,
                                                                                copy=False)


def category_lookup(column: pd.Series, keys: pd.Series | pa.ChunkedArray, codes: np.ndarray,
                    *, dtype: str | type = "int64") -> np.ndarray:
    """:func:`lookup_codes` of a categorical ``column``'s categories, then ``-1`` (its null
    code): indexed by the column's codes (``column.array.codes``, whole or a block at a
    time), it gives the column's lookup.

    >>> c = pd.Series(pd.Categorical(["b", "x", "b"]))
    >>> category_lookup(c, pd.Series(["a", "b"]), np.array([7, 9])).tolist()
    [9, -1, -1]
    """
    return np.append(lookup_codes(pd.Series(column.cat.categories), keys, codes), -1).astype(
        dtype)


def in_values(column: pd.Series, values: pd.Series | set[str]) -> np.ndarray:
    """Whether each row of a text column is one of ``values`` (a boolean mask).

    ``Series.isin`` on Arrow-backed text makes an Arrow scalar of every value first: 0.8 s
    per call for the accounts the slow pass took, at 10M rows.

    >>> in_values(pd.Series(["a", "b", "c"]), {"c", "a"}).tolist()
    [True, False, True]
    """
    value_set = (one_array(text_array(values)) if isinstance(values, pd.Series)
                 else pa.array(list(values), pa.large_string()))
    return pc.is_in(text_array(column), value_set=value_set).to_numpy(zero_copy_only=False)


def pair_groups(pairs: pd.DataFrame, group_of: pd.Series,
                keys: pa.ChunkedArray | None = None) -> np.ndarray:
    """Group of each ``account_a, account_b`` row when both accounts are in the same group
    of ``group_of`` (account id → int group), else ``-1``; ``keys`` is ``group_of``'s index
    already converted by :func:`text_array` when several tables use it. Int32 when the
    groups fit (three arrays of the table's rows are held at once: half the bytes of int64
    for the evidence's 10⁷–10⁸ rows), else int64.

    >>> pairs = pd.DataFrame({"account_a": ["a", "a", "x"], "account_b": ["b", "c", "y"]})
    >>> pair_groups(pairs, pd.Series([0, 0, 1], index=["a", "b", "c"])).tolist()
    [0, -1, -1]
    """
    keys = text_array(pd.Series(group_of.index)) if keys is None else keys
    codes = group_of.to_numpy(dtype="int64")
    dtype = narrow_dtype(codes)
    a = lookup_codes(pairs["account_a"], keys, codes, dtype=dtype)
    b = lookup_codes(pairs["account_b"], keys, codes, dtype=dtype)
    return np.where((a == b) & (a >= 0), a, dtype(-1))


def narrow_dtype(codes: np.ndarray) -> type:
    """``np.int32`` when every one of the integer ``codes`` fits in it (or there are none),
    else ``np.int64``.

    >>> narrow_dtype(np.array([0, 2**31 - 1])), narrow_dtype(np.array([-2**31 - 1]))
    (<class 'numpy.int32'>, <class 'numpy.int64'>)
    """
    fits = not codes.size or (int(codes.min()) >= -2**31 and int(codes.max()) < 2**31)
    return np.int32 if fits else np.int64


PAIR_BLOCK = 1 << 22
"""Rows of a pairs table looked up at a time by :func:`pair_group_blocks`."""


def pair_group_rows(pairs: pd.DataFrame, group_of: pd.Series, *, block: int = PAIR_BLOCK
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The rows of :func:`pair_groups` that are in a group: their positions (ascending) and
    groups, found a ``block`` of rows at a time (:func:`pair_group_blocks`), so that no
    array of every row is made (the evidence's 10⁷–10⁸ rows).

    >>> pairs = pd.DataFrame({"account_a": ["a", "a", "x", "b"], "account_b": list("bcyc")})
    >>> [x.tolist() for x in pair_group_rows(pairs, pd.Series([0, 0, 1], index=list("abc")),
    ...                                      block=2)]
    [[0], [0]]
    """
    codes = group_of.to_numpy(dtype="int64")
    codes = codes.astype(narrow_dtype(codes))
    looked_up = pair_lookups(pairs, text_array(pd.Series(group_of.index)), codes)
    found = list(pair_group_blocks(looked_up, len(pairs), block=block))
    if not found:
        return np.zeros(0, np.int64), codes[:0]
    return np.concatenate([r for r, _ in found]), np.concatenate([g for _, g in found])


def pair_lookups(pairs: pd.DataFrame, keys: pa.ChunkedArray, codes: np.ndarray
                 ) -> list[Callable[[int, int], np.ndarray]]:
    """For ``account_a`` and ``account_b`` of ``pairs``, the code (of ``codes``, ``-1`` when
    not one of ``keys``) of each row of a block ``[start, stop)``, as a function of the block
    (:func:`pair_group_blocks`); a categorical's categories are looked up here, once."""
    return [_block_lookup(pairs[name], keys, codes) for name in ("account_a", "account_b")]


def pair_group_blocks(looked_up: list[Callable[[int, int], np.ndarray]], n: int, *,
                      block: int = PAIR_BLOCK) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per ``block`` of the ``n`` rows of a pairs table, the positions (int32 while they fit)
    of the rows whose two accounts have one code (``looked_up``: :func:`pair_lookups`), and
    that code; the lookups can be iterated so again.

    >>> pairs = pd.DataFrame({"account_a": ["a", "x", "a"], "account_b": ["b", "b", "b"]})
    >>> keys, codes = pa.chunked_array([["a", "b"]]), np.array([3, 3], np.int32)
    >>> looked_up = pair_lookups(pairs, keys, codes)
    >>> [(r.tolist(), g.tolist()) for r, g in pair_group_blocks(looked_up, 3, block=2)]
    [([0], [3]), ([2], [3])]
    """
    for start in range(0, n, block):
        a, b = (look(start, min(start + block, n)) for look in looked_up)
        keep = (a == b) & (a >= 0)
        yield (np.flatnonzero(keep) + start).astype(np.int32 if n < 2**31 else np.int64), a[keep]


def _block_lookup(column: pd.Series, keys: pa.ChunkedArray, codes: np.ndarray
                  ) -> Callable[[int, int], np.ndarray]:
    """``lookup_codes(column[start:stop], keys, codes)`` (of ``codes``' dtype) as a function
    of the block; a categorical's categories are looked up once."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        per_category = category_lookup(column, keys, codes, dtype=codes.dtype)
        own = column.array.codes  # `.cat.codes` copies them
        return lambda start, stop: per_category[own[start:stop]]
    return lambda start, stop: lookup_codes(column.iloc[start:stop], keys, codes,
                                            dtype=codes.dtype)


def sorted_codes(column: pd.Series | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """The distinct values of a text column in sorted (code point) order, and each row's
    code: the rank of its value among them (int32; ``-1`` for nulls). Grouping by code
    orders groups as grouping by the text does.

    >>> ids, codes = sorted_codes(pd.Series(["b", "a", None, "b"]))
    >>> ids.to_pylist(), codes.tolist()
    (['a', 'b'], [1, 0, -1, 1])
    """
    if isinstance(column, pd.Series) and isinstance(column.dtype, pd.CategoricalDtype):
        return _category_codes(column)
    array = column if isinstance(column, pa.ChunkedArray) else text_array(column)
    encoded = array.cast(pa.large_string()).dictionary_encode()  # one dictionary, all chunks
    if encoded.num_chunks == 0:
        return pa.array([], pa.large_string()), np.empty(0, dtype="int32")
    dictionary = encoded.chunk(0).dictionary
    order = pc.sort_indices(dictionary).to_numpy()
    rank = np.append(np.empty(order.size, dtype="int32"), np.int32(-1))  # last: nulls
    rank[order] = np.arange(order.size, dtype="int32")
    index = np.concatenate([c.indices.fill_null(-1).to_numpy(zero_copy_only=False)
                            for c in encoded.chunks])
    return dictionary.take(pa.array(order)), rank[index]


def _category_codes(column: pd.Series) -> tuple[pa.Array, np.ndarray]:
    """:func:`sorted_codes` of a categorical column, from its codes (its categories that
    occur, sorted; no text per row)."""
    codes = column.array.codes  # `.cat.codes` copies them
    categories = column.cat.categories
    present = np.flatnonzero(np.bincount(codes[codes >= 0], minlength=len(categories)))
    values, rank = category_ranks(categories, present, "int32")
    return values, rank[codes]


def category_ranks(categories: pd.Index, present: np.ndarray,
                   dtype: str | type) -> tuple[pa.Array, np.ndarray]:
    """The ``present`` categories (their positions, ascending) in code point order, and the
    rank among them of each category's code (``-1`` for the others; a last slot, ``-1``,
    for code ``-1``), as ``dtype``: ``rank[codes]`` codes a categorical's rows.

    >>> values, rank = category_ranks(pd.Index(["b", "z", "a"]), np.array([0, 2]), "int8")
    >>> values.to_pylist(), rank.tolist()
    (['a', 'b'], [1, -1, 0, -1])
    """
    values = pa.array(categories.take(present), pa.large_string())
    order = (np.arange(len(values)) if in_code_point_order(values)  # the projection's ids
             else pc.sort_indices(values).to_numpy())  # 30M rows: 0.45 s per sort of 2M ids
    rank = np.full(len(categories) + 1, -1, dtype=dtype)
    rank[present[order]] = np.arange(order.size)
    return values.take(pa.array(order)), rank


def category_codes(column: pd.Series) -> tuple[pa.Array, np.ndarray] | None:
    """A categorical column's categories and its codes as they are (int32: no copy when they
    are int32; ``-1`` for nulls), when the categories are text in code point order, so that
    the codes rank as the text does (the projection's ids: :func:`graphs.projection.coded_ids`);
    ``None`` for other columns. Unlike :func:`sorted_codes`, the categories no row uses are
    kept: the codes are not renumbered (at 30M rows the 1 h pass's 31M evidence rows held
    two copies of each id column's codes, 0.37 GB).

    >>> ids, codes = category_codes(pd.Series(pd.Categorical(["c", "a"], categories=list("abc"))))
    >>> ids.to_pylist(), codes.tolist()
    (['a', 'b', 'c'], [2, 0])
    >>> category_codes(pd.Series(pd.Categorical(["a"], categories=["b", "a"]))) is None
    True
    """
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return None
    try:
        values = pa.array(column.cat.categories, pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # categories that are not text
        return None
    if not in_code_point_order(values):
        return None
    return values, column.array.codes.astype("int32", copy=False)  # `.cat.codes` copies


def in_code_point_order(values: pa.Array) -> bool:
    """Whether distinct text values are already in code point order (each less than the
    next: one comparison of neighbours instead of a sort).

    >>> in_code_point_order(pa.array(["B", "a", "é"])), in_code_point_order(pa.array(["b", "a"]))
    (True, False)
    """
    n = len(values)
    return n < 2 or pc.all(pc.less(values.slice(0, n - 1), values.slice(1))).as_py() is True


def run_codes(column: pd.Series, keys: pa.Array) -> np.ndarray:
    """:func:`lookup_codes` of ``column`` into ``keys`` (int32 positions, ``-1`` for values
    that are no key), looking up only the first row of each run of equal neighbours (an id
    column of a table sorted by it has one run per id: at 10M rows the evidence's
    ``account_a`` has 10.9M rows and ≈ 0.7M runs).

    >>> run_codes(pd.Series(["b", "b", "a", "x", "b"]), pa.array(["a", "b"])).tolist()
    [1, 1, 0, -1, 1]
    """
    if isinstance(column.dtype, pd.CategoricalDtype):  # int32 take: no int64 copy per row
        return lookup_codes(column, pa.chunked_array([keys]), np.arange(len(keys)),
                            dtype="int32")
    array = one_array(text_array(column))
    heads = run_heads(array)
    found = pc.index_in(array.take(pa.array(heads)), value_set=keys.cast(pa.large_string()))
    codes = found.fill_null(-1).to_numpy(zero_copy_only=False).astype("int32")
    return np.repeat(codes, np.diff(np.append(heads, len(array))))


def run_heads(array: pa.Array) -> np.ndarray:
    """Positions of the rows that differ from the row before (nulls always do).

    >>> run_heads(pa.array(["a", "a", None, None, "b"])).tolist()
    [0, 2, 3, 4]
    """
    if len(array) < 2:
        return np.arange(len(array))
    differs = pc.fill_null(pc.not_equal(array[1:], array[:-1]), True)
    return np.flatnonzero(np.concatenate([[True], differs.to_numpy(zero_copy_only=False)]))


def one_array(chunked: pa.ChunkedArray) -> pa.Array:
    """The chunks as one array; no copy when there is one chunk (``combine_chunks`` copies
    even then: 0.2 GB for the 10.9M target ids of the evidence at 10M rows)."""
    return chunked.chunk(0) if chunked.num_chunks == 1 else chunked.combine_chunks()


def text_array(column: pd.Series) -> pa.ChunkedArray:
    """A text column as an Arrow ``large_string`` array (no copy for Arrow-backed columns)."""
    if isinstance(column.dtype, (pd.ArrowDtype, pd.StringDtype, pd.CategoricalDtype)):
        array = pa.chunked_array(pa.array(column))  # pandas 3's "str" too; categories: decoded
    else:  # object: converted row by row
        array = pa.chunked_array([pa.array(column.astype(object).to_numpy(), from_pandas=True)])
    return array.cast(pa.large_string())


def spelled(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with its categorical columns (ids held as codes) as text (``str``).

    Small slices of a table coded over millions of ids are cheaper to use as text: pandas
    groups, merges and concatenates categoricals in time proportional to their categories.

    >>> t = pd.DataFrame({"id": pd.Categorical(["b", "a"]), "n": [1, 2]})
    >>> spelled(t).dtypes.astype(str).tolist()
    ['str', 'int64']
    """
    coded = {c: "str" for c, t in table.dtypes.items() if isinstance(t, pd.CategoricalDtype)}
    return table.astype(coded) if coded else table


def stacked(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """``pd.concat`` of frames with the same columns, categorical id columns kept categorical
    (:func:`stacked_column`).

    >>> a = pd.DataFrame({"id": pd.Categorical(["x"]), "n": [1]})
    >>> stacked([a, pd.DataFrame({"id": ["w"], "n": [2]})])["id"].cat.categories.tolist()
    ['w', 'x']
    """
    if len(frames) == 1:
        return frames[0].reset_index(drop=True)
    return pd.DataFrame({c: stacked_column([f[c] for f in frames]) for c in frames[0].columns},
                        copy=False)


def stacked_column(parts: list[pd.Series]) -> pd.Series:
    """The ``parts`` one after another. When any is categorical (ids as codes, see
    :func:`graphs.projection.coded_ids`), all are recoded over the sorted union of their
    values, so the result stays codes (``pd.concat`` would spell categoricals of different
    categories as text) and sorts as the text would."""
    if not any(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
        return pd.concat(parts, ignore_index=True)
    first = next(p.dtype for p in parts if isinstance(p.dtype, pd.CategoricalDtype))
    recoded = [p if same_categories(p.dtype, first) else _recoded(p, first) for p in parts]
    if all(r is not None for r in recoded):  # e.g. the slow pass's few rows: the layer's ids
        # codes joined directly: pd.concat hashed the 0.8M categories of every part's dtype
        codes = np.concatenate([r.cat.codes.to_numpy() for r in recoded])
        return pd.Series(pd.Categorical.from_codes(codes, dtype=first))
    coded = [p.array if isinstance(p.dtype, pd.CategoricalDtype)
             else pd.Categorical(p) for p in parts]
    return pd.Series(union_categoricals(coded, sort_categories=True))


def same_categories(dtype: object, first: pd.CategoricalDtype) -> bool:
    """Whether ``dtype`` is categorical with ``first``'s categories in the same order (its
    codes mean the same ids; ``==`` of unordered dtypes ignores the order)."""
    return (isinstance(dtype, pd.CategoricalDtype) and dtype.ordered == first.ordered
            and dtype.categories.equals(first.categories))


def _recoded(part: pd.Series, dtype: pd.CategoricalDtype) -> pd.Series | None:
    """``part`` as a categorical of ``dtype``; ``None`` when a value is not a category."""
    if isinstance(part.dtype, pd.CategoricalDtype):
        where = np.append(dtype.categories.get_indexer(part.cat.categories), -1)
        codes = where[part.cat.codes.to_numpy()]  # code -1 (missing) stays -1
    else:
        codes = dtype.categories.get_indexer(part)
    if ((codes < 0) & part.notna().to_numpy()).any():
        return None
    return pd.Series(pd.Categorical.from_codes(codes, dtype=dtype))
