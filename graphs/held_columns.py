"""Where the projection puts the columns it makes: in memory here, in files in a run.

:func:`graphs.projection.co_engagement` appends each chunk's rows of every edge and evidence
column as the kernel finds them, then asks for each column whole, and for arrays of a known
size for the columns it computes afterwards (significance, ``targets``), which it fills a
block of rows at a time. A :class:`ColumnStore` decides where they live:
:class:`HeldColumns` keeps them in memory; the run's store writes them into files and reads
them as memory maps (:class:`pipelines.mapped_columns.FileColumns`), so that a pass's edges
and evidence never sit in its heap whole.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class ColumnStore(Protocol):
    """What :func:`graphs.projection.co_engagement` needs of the place its columns live."""

    def append(self, name: str, values: np.ndarray) -> None:
        """Add ``values`` (one dimension, one dtype per column) at the end of column
        ``name``; they are handed over (the caller does not change them afterwards)."""

    def column(self, name: str, dtype: np.dtype) -> np.ndarray:
        """Every value appended to ``name``, in order, as one array of ``dtype`` (empty when
        none were); ``name`` starts afresh after this."""

    def array(self, name: str, n: int, dtype: np.dtype) -> np.ndarray:
        """A new writable array of ``n`` values of ``dtype`` (unset) for column ``name``."""

    def release(self) -> None:
        """Called after each block of rows read or written: a store over files drops the
        pages touched."""


class HeldColumns:
    """A :class:`ColumnStore` in memory: appended chunks are copied into one array when the
    column is asked for, each released as it is copied (no concatenated intermediate).

    >>> store = HeldColumns()
    >>> store.append("x", np.array([1, 2])); store.append("x", np.array([3]))
    >>> store.column("x", np.dtype(np.int64)).tolist(), store.column("x", np.int64).size
    ([1, 2, 3], 0)
    """

    def __init__(self) -> None:
        self._chunks: dict[str, list[np.ndarray]] = {}

    def append(self, name: str, values: np.ndarray) -> None:
        self._chunks.setdefault(name, []).append(np.ascontiguousarray(values))

    def column(self, name: str, dtype: np.dtype) -> np.ndarray:
        chunks = self._chunks.pop(name, [])
        out = np.empty(sum(len(c) for c in chunks), dtype)
        at = 0
        chunks.reverse()  # taken from the end: each chunk is freed once copied
        while chunks:
            chunk = chunks.pop()
            out[at:at + len(chunk)] = chunk
            at += len(chunk)
        return out

    def array(self, name: str, n: int, dtype: np.dtype) -> np.ndarray:
        return np.empty(n, dtype)

    def release(self) -> None:
        return None
