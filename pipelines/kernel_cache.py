"""The projection's numba kernels made ready while a run reads its logs.

numba compiles the kernels of ``graphs/pair_kernel.py`` at their first call and caches the
machine code next to the source (``cache=True``). The first run after an install or after a
change of the kernels used to compile them in the run's own process, during the projection:
at 10M rows that added 13.8 s, and LLVM's memory stayed in the process (peak RSS 5.28 GiB
instead of 3.83 GiB). Now, when numba's cache lacks any kernel, :func:`compile_aside` starts
a child Python that compiles them on a tiny incidence
(:func:`graphs.projection.compile_kernels`) while the run reads its logs, and
:func:`finish_aside` waits for it before the projection.

With a warm cache, loading the kernels still costs a fresh process ≈ 0.3 s (numba's typing
and target registries, the cached code), and their first call ≈ 0.2 s more (OpenMP's
threads, first-call paths of pandas and SciPy). :func:`load_aside` does both in a thread of
the run's own process on the same tiny incidence, while DuckDB reads the logs with the GIL
released: on the issue's ~250k-row log with viral hubs, ingest + projection in a fresh
process went 2.2 → 1.65 s. The thread runs the parallel kernels on one thread of its own, so
no second team of OpenMP threads outlives it (at 10M rows, kernels timed after a loading
thread that used two were ≈ 0.5 s slower per pass than after loading in the main thread; the
difference was within the runs' noise and is not settled).
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numba
from numba.core.registry import CPUDispatcher

import graphs
from graphs import pair_kernel
from graphs.projection import compile_kernels

log = logging.getLogger(__name__)

CHILD = "from graphs.projection import compile_kernels; compile_kernels()"


def cached() -> bool:
    """Whether numba's cache holds compiled code for every kernel of ``graphs.pair_kernel``
    (read from numba's cache index, which is empty when the source changed since).

    >>> isinstance(cached(), bool)
    True
    """
    kernels = [k for k in vars(pair_kernel).values() if isinstance(k, CPUDispatcher)]
    try:
        return all(k._cache._cache_file._load_index() for k in kernels)
    except (AttributeError, OSError):  # another numba: let the run compile as before
        return True


def compile_aside() -> subprocess.Popen | None:
    """Start compiling the kernels in a child process when the cache lacks any (else None)."""
    if cached():
        return None
    root = str(Path(graphs.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
    log.info("compiling the projection kernels in a child process (numba's cache is cold)")
    return subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def finish_aside(child: subprocess.Popen | None, timeout_s: float = 600) -> None:
    """Wait for :func:`compile_aside`'s child; if it failed, log why (the run then compiles
    the kernels itself, as it did before)."""
    if child is None:
        return
    try:
        _, err = child.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        log.warning("compiling the kernels aside took over %g s; the run compiles them", timeout_s)
        return
    if child.returncode != 0:
        log.warning("compiling the kernels aside failed (exit %d): %s", child.returncode,
                    (err or "").strip().splitlines()[-1:] or "no message")


def load_aside() -> threading.Thread:
    """Start loading the cached kernels (and running them once on a tiny incidence) in a
    thread of this process; join it before any kernel runs in another thread (numba's
    threading layers need not take two parallel launches at once).

    >>> load_aside().join()
    """
    thread = threading.Thread(target=_load, name="cohortscan-kernels", daemon=True)
    thread.start()
    return thread


def _load() -> None:
    """:func:`compile_kernels`, a failure logged: the run then meets it at its own call."""
    try:
        numba.set_num_threads(1)  # this thread's setting: no second team of OpenMP threads
        compile_kernels()
    except Exception as error:  # noqa: BLE001 - the run's own call raises it again
        log.warning("loading the projection kernels aside failed: %s", error)


@contextlib.contextmanager
def kernels_aside(enabled: bool = True) -> Iterator[Callable[[], None]]:
    """:func:`compile_aside` for the block, or :func:`load_aside` when the cache is warm;
    yields the call that waits for either (call it before the first kernel runs). A child
    still compiling when the block ends (the run failed before its projection) is stopped;
    a loading thread is joined. The yielded call may be made more than once."""
    child = compile_aside() if enabled else None
    loader = load_aside() if enabled and child is None else None
    waited = False

    def ready() -> None:
        nonlocal waited
        if not waited:
            finish_aside(child)
            if loader is not None:
                loader.join()
            waited = True

    try:
        yield ready
    finally:
        if child is not None and child.poll() is None:
            child.kill()
            child.communicate()
        if loader is not None:
            loader.join()
