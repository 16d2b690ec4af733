"""graphs/edge_targets.py: each edge's targets as one JSON list, joined a block at a time."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

import graphs.edge_targets as edge_targets
from graphs.edge_targets import targets_json
from graphs.held_columns import HeldColumns

IDS = pa.array(["p", "q", 'é"x'])
CODES, SHARED = np.array([1, 0, 1, 2, 0, 2, 1]), np.array([2, 1, 3, 1])
TEXT = ['["q","p"]', '["q"]', '["é\\"x","p","é\\"x"]', '["q"]']


@pytest.mark.parametrize("block", [1, 3, 1 << 22])  # 1: one edge per chunk
def test_targets_json_in_blocks_is_the_whole_column(monkeypatch, block):
    monkeypatch.setattr(edge_targets, "BLOCK", block)
    out = targets_json(IDS, CODES, SHARED)
    assert out.tolist() == TEXT and str(out.dtype) == "str"
    assert [json.loads(t) for t in out] == [["q", "p"], ["q"], ['é"x', "p", 'é"x'], ["q"]]


def test_the_text_is_the_store_s_two_arrays_sized_beforehand(monkeypatch):
    """Offsets and bytes are arrays the store makes, of exactly the text's size (the quoted
    targets' lengths counted first), released after each block."""
    made, released = {}, []

    class Store(HeldColumns):
        def array(self, name, n, dtype):
            made[name] = super().array(name, n, dtype)
            return made[name]

        def release(self):
            released.append(1)

    monkeypatch.setattr(edge_targets, "BLOCK", 3)
    out = targets_json(IDS, CODES, SHARED, columns=Store())
    assert out.tolist() == TEXT
    assert set(made) == {"edges.targets.offsets", "edges.targets.data"}
    assert made["edges.targets.data"].size == len("".join(TEXT).encode())
    assert made["edges.targets.offsets"].tolist() == [0, *np.cumsum([len(t.encode())
                                                                     for t in TEXT])]
    text = out.array._pa_array.chunks[0]
    assert np.shares_memory(np.frombuffer(text.buffers()[2], np.uint8),
                            made["edges.targets.data"])  # the column is the store's bytes
    assert len(released) >= 3


def test_rows_that_do_not_add_up_are_refused_and_no_edges_give_an_empty_column():
    with pytest.raises(ValueError, match="4 evidence rows, but the edges' shared targets add "
                                         "up to 3"):
        targets_json(IDS, np.array([0, 1, 2, 0]), np.array([2, 1]))
    assert targets_json(IDS, np.array([], np.int32), np.array([], np.int64)).size == 0
