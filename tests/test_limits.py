"""The memory guard's pair bound from a layer's rows equals the bound from its incidence."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from graphs.bipartite import bipartite_incidence
from graphs.multiplex import Layer
from graphs.projection import pairs_bound
from pipelines import limits
from pipelines.ingest import InputError
from pipelines.limits import (
    GC_THRESHOLDS,
    batch_gc,
    check_layers_memory,
    layer_pairs_bound,
)

ROOT = Path(__file__).resolve().parents[1]


def _rows(n: int, seed: int) -> pd.DataFrame:
    """Random rows on few targets and few distinct seconds (many ties in (target, time))."""
    rng = np.random.default_rng(seed)
    seconds = 1_793_527_200 + rng.integers(0, 5000, n) * 7
    micros = seconds * 10**6 + rng.integers(0, 10**6, n)  # fractions floor to the second
    return pd.DataFrame({
        "account_id": [f"a{i}" for i in rng.integers(0, n // 3, n)],
        "target_id": [f"t{i}" for i in rng.integers(0, 40, n)],
        "action": "like",
        "timestamp": pd.to_datetime(micros, unit="us", utc=True)})


@pytest.mark.parametrize(("window_s", "max_crowd"), [(60, 1000), (3600, 1000), (3600, 50)])
def test_layer_bound_equals_the_incidence_bound(window_s, max_crowd):
    rows = _rows(6000, seed=window_s + max_crowd)
    inc = bipartite_incidence(pa.Table.from_pandas(rows, preserve_index=False))
    expected = pairs_bound(inc, window_s=window_s, max_crowd=max_crowd)
    assert expected > 0
    assert layer_pairs_bound(rows, window_s=window_s, max_crowd=max_crowd) == expected
    arrow_backed = pa.Table.from_pandas(rows, preserve_index=False).to_pandas(
        types_mapper=pd.ArrowDtype)  # the engage layer's columns
    assert layer_pairs_bound(arrow_backed, window_s=window_s, max_crowd=max_crowd) == expected


def test_layer_bound_of_no_rows_is_zero():
    assert layer_pairs_bound(_rows(6, 0).iloc[:0], window_s=60, max_crowd=10) == 0


def test_check_layers_memory_sums_layers_and_names_the_limit():
    layers = {"a": Layer(_rows(3000, 1), 3600), "b": Layer(_rows(3000, 2), 3600),
              "empty": Layer(_rows(6, 0).iloc[:0], 60)}
    bounds = [layer_pairs_bound(layers[n].interactions, window_s=3600, max_crowd=1000)
              for n in ("a", "b")]
    assert check_layers_memory(layers, max_crowd=1000, max_memory_gb=64) == sum(bounds)
    limit = (bounds[0] + bounds[1] / 2) * limits.BYTES_PER_PAIR / 2**30  # a fits, a + b not
    with pytest.raises(InputError, match=rf"^the projection would enumerate up to "
                       rf"{sum(bounds):,} action pairs .* more than max_memory_gb = "):
        check_layers_memory(layers, max_crowd=1000, max_memory_gb=limit)


def test_check_layers_memory_bounds_from_built_incidences_the_same():
    from graphs.multiplex import layer_incidences

    layers = {"a": Layer(_rows(3000, 3), 600), "b": Layer(_rows(3000, 4), 7200),
              "empty": Layer(_rows(6, 0).iloc[:0], 60)}
    incidences = layer_incidences(layers)
    assert sorted(incidences) == ["a", "b"]
    expected = check_layers_memory(layers, max_crowd=200, max_memory_gb=64)
    assert expected > 0
    assert check_layers_memory(layers, max_crowd=200, max_memory_gb=64,
                               incidences=incidences) == expected
    only_b = {"b": incidences["b"]}  # layer a is still bounded from its rows
    assert check_layers_memory(layers, max_crowd=200, max_memory_gb=64,
                               incidences=only_b) == expected


def test_batch_gc_collects_less_often_and_can_be_undone():
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)  # Python's defaults (a CLI test may have run batch_gc)
        batch_gc()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] > 700
    finally:
        gc.set_threshold(*before)


@pytest.mark.skipif(limits._libc() is None, reason="glibc's malloc_trim only")
def test_release_freed_returns_the_heaps_free_pages():
    import psutil

    proc = psutil.Process()
    chunks = [bytes(64 << 10) for _ in range(3200)]  # 200 MB of heap chunks (below mmap size)
    pin = bytes(64 << 10)  # allocated last: the heap's top stays in use
    del chunks
    held = proc.memory_info().rss
    limits.release_freed()
    assert held - proc.memory_info().rss > 100 << 20
    del pin


def test_release_freed_returns_arrows_free_pages():
    import psutil
    import pyarrow.compute as pc

    proc = psutil.Process()
    one = pa.array(np.ones(8192))
    chunks = [pc.add(one, 1.0) for _ in range(3200)]  # 200 MB in Arrow's pool, 64 KB each
    assert pa.default_memory_pool().bytes_allocated() >= 200 << 20
    del chunks
    held = proc.memory_info().rss
    limits.release_freed()
    assert held - proc.memory_info().rss > 100 << 20



def test_batch_gc_freezes_what_is_left_at_exit(tmp_path):
    """The exit handler is registered once, and freezes the objects so that the
    interpreter's final collections skip them."""
    code = ("import atexit, gc\n"
            "from pipelines.limits import batch_gc\n"
            "calls, freeze = [], gc.freeze\n"
            "gc.freeze = lambda: (calls.append(1), freeze())[1]\n"
            "batch_gc(); batch_gc()\n"
            "before = gc.get_freeze_count()\n"
            "atexit._run_exitfuncs()\n"
            "print(len(calls), before, gc.get_freeze_count() > 0)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["1", "0", "True"]
