"""Each edge's ``targets``: the JSON list of the targets its evidence rows share."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graphs.bipartite import BLOCK
from graphs.held_columns import ColumnStore, HeldColumns


def targets_json(target_ids: pa.Array, codes: np.ndarray, shared: np.ndarray, *,
                 columns: ColumnStore | None = None) -> pd.Series | np.ndarray:
    """Per edge, the JSON list of the targets of its evidence rows, in row order.

    ``codes`` index ``target_ids``, one per evidence row, each edge's rows together and in
    edge order; ``shared`` is each edge's number of rows (at least one). Only the distinct
    targets are quoted (``json.dumps``); an Arrow-backed column (no Python str per edge),
    or an empty array. The text goes into two arrays of ``columns`` (its offsets and its
    bytes: :meth:`ColumnStore.array`; in memory without one), sized beforehand from the
    quoted targets' lengths, and is joined for blocks of edges of about
    :data:`graphs.bipartite.BLOCK` evidence rows at a time, ``columns.release()`` after
    each: in a run neither the column nor the rows' codes are ever resident whole.

    >>> targets_json(pa.array(["p", "q"]), np.array([1, 0, 1]), np.array([2, 1])).tolist()
    ['["q","p"]', '["q"]']
    """
    columns = HeldColumns() if columns is None else columns
    n_rows = int(shared.sum(dtype=np.int64))
    columns.release()
    if n_rows != len(codes):
        raise ValueError(f"targets_json: {len(codes)} evidence rows, but the edges' shared "
                         f"targets add up to {n_rows}")
    if len(shared) == 0:
        return pa.array([], pa.string()).to_numpy(zero_copy_only=False)
    per_target = np.zeros(len(target_ids), dtype=np.int64)
    for start in range(0, len(codes), BLOCK):
        per_target += np.bincount(codes[start:start + BLOCK], minlength=len(target_ids))
        columns.release()
    present = np.flatnonzero(per_target)
    rank = np.zeros(len(target_ids), dtype=np.int32)
    rank[present] = np.arange(present.size, dtype=np.int32)
    quoted = pa.array([json.dumps(t, ensure_ascii=False)
                       for t in target_ids.take(pa.array(present)).to_pylist()], pa.string())
    lengths = np.diff(np.frombuffer(quoted.buffers()[1], np.int32)[:len(quoted) + 1])
    # per edge: its quoted targets, one comma fewer than its rows, and two brackets
    size = int((per_target[present] * lengths).sum()) + n_rows + len(shared)
    offsets = columns.array("edges.targets.offsets", len(shared) + 1, np.dtype(np.int64))
    data = columns.array("edges.targets.data", size, np.dtype(np.uint8))
    offsets[0] = first = row = at = 0
    while first < len(shared):  # edges first..last-1: at least one, rows up to about BLOCK
        ends = np.zeros(min(BLOCK, len(shared) - first) + 1, dtype=np.int64)
        np.cumsum(shared[first:first + BLOCK], out=ends[1:])
        count = max(int(np.searchsorted(ends[1:], BLOCK, side="right")), 1)
        ends = ends[:count + 1]
        lists = pa.ListArray.from_arrays(pa.array(ends.astype(np.int32)),
                                         quoted.take(pa.array(rank[codes[row:row + ends[-1]]])))
        text = pc.binary_join_element_wise("[", pc.binary_join(lists, ","), "]", "")
        bounds = np.frombuffer(text.buffers()[1], np.int32)[text.offset:
                                                            text.offset + len(text) + 1]
        offsets[first + 1:first + count + 1] = bounds[1:] - bounds[0] + at
        data[at:at + bounds[-1] - bounds[0]] = np.frombuffer(text.buffers()[2], np.uint8)[
            bounds[0]:bounds[-1]]
        first, row, at = first + count, row + int(ends[-1]), at + int(bounds[-1] - bounds[0])
        columns.release()
    array = pa.Array.from_buffers(pa.large_string(), len(shared),
                                  [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    return pa.chunked_array([array]).to_pandas()
