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


def text_array(column: pd.Series) -> pa.ChunkedArray:
    """A text column as an Arrow ``large_string`` array (no copy for Arrow-backed columns)."""
    if isinstance(column.dtype, pd.ArrowDtype) or str(column.dtype).startswith("string"):
        array = pa.chunked_array(pa.array(column))
    else:
        array = pa.chunked_array([pa.array(column.astype(object).to_numpy())])
    return array.cast(pa.large_string())
