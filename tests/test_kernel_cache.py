from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from graphs.projection import compile_kernels
from pipelines import kernel_cache
from pipelines.kernel_cache import cached, finish_aside, kernels_aside

ROOT = Path(__file__).resolve().parents[1]


def test_a_warm_cache_starts_nothing():
    compile_kernels()  # this process compiled or loaded them: the cache holds them now
    assert cached()
    with kernels_aside() as ready:
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
