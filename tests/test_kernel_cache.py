from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from graphs.projection import compile_kernels
from pipelines import kernel_cache
from pipelines.kernel_cache import cached, finish_aside, kernels_aside

ROOT = Path(__file__).resolve().parents[1]


def test_a_warm_cache_starts_no_child_but_a_loading_thread(monkeypatch):
    compile_kernels()  # this process compiled or loaded them: the cache holds them now
    assert cached()
    monkeypatch.setattr(kernel_cache.subprocess, "Popen", lambda *a, **k: pytest.fail("a child"))
    loaded = threading.Event()
    monkeypatch.setattr(kernel_cache, "compile_kernels", lambda: loaded.wait(5) and None)
    with kernels_aside() as ready:
        loader = [t for t in threading.enumerate() if t.name == "cohortscan-kernels"]
        assert len(loader) == 1 and loader[0].is_alive()
        loaded.set()
        ready()
        assert not loader[0].is_alive()
        ready()  # a second wait is a no-op


def test_a_failed_loading_thread_is_a_warning(monkeypatch, caplog):
    def fails():
        raise RuntimeError("no cached code")

    monkeypatch.setattr(kernel_cache, "compile_kernels", fails)
    with caplog.at_level(logging.WARNING, logger="pipelines.kernel_cache"):
        kernel_cache.load_aside().join()
    assert "loading the projection kernels aside failed: no cached code" in caplog.text


def test_a_disabled_block_starts_nothing(monkeypatch):
    monkeypatch.setattr(kernel_cache, "compile_aside", lambda: pytest.fail("a child started"))
    monkeypatch.setattr(kernel_cache, "load_aside", lambda: pytest.fail("a thread started"))
    with kernels_aside(enabled=False) as ready:
        ready()


def test_a_cold_cache_is_filled_by_the_child(tmp_path):
    """With an empty numba cache the child compiles every kernel and the run's process then
    finds them all cached (it compiles nothing itself)."""
    code = ("from pipelines.kernel_cache import cached, compile_aside, finish_aside\n"
            "before = cached(); child = compile_aside(); finish_aside(child)\n"
            "print(before, child is not None, child.returncode, cached())")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=600,
                         env={**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"),
                              "PYTHONPATH": str(ROOT)})
    assert out.stdout.split() == ["False", "True", "0", "True"], out.stderr[-2000:]


def test_a_failed_child_is_a_warning(caplog):
    child = subprocess.Popen([sys.executable, "-c", "raise SystemExit('no compiler')"],
                             stderr=subprocess.PIPE, text=True)
    with caplog.at_level(logging.WARNING, logger="pipelines.kernel_cache"):
        finish_aside(child)
    assert "compiling the kernels aside failed (exit 1)" in caplog.text
    assert "no compiler" in caplog.text


def test_a_child_still_running_when_the_run_fails_is_stopped(monkeypatch):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                             stderr=subprocess.PIPE, text=True)
    monkeypatch.setattr(kernel_cache, "compile_aside", lambda: child)
    try:
        with kernels_aside():
            raise RuntimeError("ingest failed")
    except RuntimeError:
        pass
    assert child.poll() is not None  # killed, not left compiling
