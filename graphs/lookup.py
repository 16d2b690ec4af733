"""Id → code lookups by Arrow hashing (pandas' reindex/map on millions of strings is slow)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def lookup_codes(values: pd.Series, keys: pd.Series | pa.ChunkedArray,
                 codes: np.ndarray) -> np.ndarray:
    """``codes[i]`` for each value equal to ``keys[i]``, ``-1`` for values that are no key.

    Parameters
    ----------
    values, keys : pandas.Series
        Text ids (object, string or Arrow-backed); ``keys`` are distinct, and may be given
        already converted by :func:`text_array` when they serve several lookups.
    codes : numpy.ndarray
        Integer code of each key.

    Returns
    -------
    numpy.ndarray
        int64, one code per value.

    Examples
    --------
    >>> lookup_codes(pd.Series(["b", "x", "a"]), pd.Series(["a", "b"]), np.array([7, 9]))
    array([ 9, -1,  7])
    """
    key_array = keys if isinstance(keys, pa.ChunkedArray) else text_array(keys)
    found = pc.index_in(text_array(values), value_set=key_array.combine_chunks())
    if not len(codes):
        return np.full(len(values), -1, dtype="int64")
    index = found.fill_null(0).to_numpy(zero_copy_only=False)
    valid = found.is_valid().to_numpy(zero_copy_only=False)
    return np.where(valid, np.asarray(codes, dtype="int64")[index], -1)


def pair_groups(pairs: pd.DataFrame, group_of: pd.Series,
                keys: pa.ChunkedArray | None = None) -> np.ndarray:
    """Group of each ``account_a, account_b`` row when both accounts are in the same group
    of ``group_of`` (account id → int group), else ``-1``; ``keys`` is ``group_of``'s index
    already converted by :func:`text_array` when several tables use it.

    >>> pairs = pd.DataFrame({"account_a": ["a", "a", "x"], "account_b": ["b", "c", "y"]})
    >>> pair_groups(pairs, pd.Series([0, 0, 1], index=["a", "b", "c"]))
    array([ 0, -1, -1])
    """
    keys = text_array(pd.Series(group_of.index)) if keys is None else keys
    codes = group_of.to_numpy(dtype="int64")
    a = lookup_codes(pairs["account_a"], keys, codes)
    b = lookup_codes(pairs["account_b"], keys, codes)
    return np.where((a == b) & (a >= 0), a, -1)


def text_array(column: pd.Series) -> pa.ChunkedArray:
    """A text column as an Arrow ``large_string`` array (no copy for Arrow-backed columns)."""
    if isinstance(column.dtype, pd.ArrowDtype) or str(column.dtype).startswith("string"):
        array = pa.chunked_array(pa.array(column))
    else:
        array = pa.chunked_array([pa.array(column.astype(object).to_numpy())])
    return array.cast(pa.large_string())
