"""Id → code lookups by Arrow hashing (pandas' reindex/map on millions of strings is slow)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def lookup_codes(values: pd.Series, keys: pd.Series, codes: np.ndarray) -> np.ndarray:
    """``codes[i]`` for each value equal to ``keys[i]``, ``-1`` for values that are no key.

    Parameters
    ----------
    values, keys : pandas.Series
        Text ids (object, string or Arrow-backed); ``keys`` are distinct.
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
    found = pc.index_in(_text(values), value_set=_text(keys).combine_chunks())
    if not len(codes):
        return np.full(len(values), -1, dtype="int64")
    index = found.fill_null(0).to_numpy(zero_copy_only=False)
    valid = found.is_valid().to_numpy(zero_copy_only=False)
    return np.where(valid, np.asarray(codes, dtype="int64")[index], -1)


def _text(column: pd.Series) -> pa.ChunkedArray:
    if isinstance(column.dtype, pd.ArrowDtype) or str(column.dtype).startswith("string"):
        array = pa.chunked_array(pa.array(column))
    else:
        array = pa.chunked_array([pa.array(column.astype(object).to_numpy())])
    return array.cast(pa.large_string())
