"""The projection's numba kernels compiled in a child process, so that a run only loads them.

numba compiles the kernels of ``graphs/pair_kernel.py`` at their first call and caches the
machine code next to the source (``cache=True``). The first run after an install or after a
change of the kernels used to compile them in the run's own process, during the projection:
at 10M rows that added 13.8 s, and LLVM's memory stayed in the process (peak RSS 5.28 GiB
instead of 3.83 GiB). Now, when numba's cache lacks any kernel, :func:`compile_aside` starts
a child Python that compiles them on a tiny incidence
(:func:`graphs.projection.compile_kernels`) while the run reads its logs, and
:func:`finish_aside` waits for it before the projection. With a warm cache nothing starts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from numba.core.registry import CPUDispatcher

import graphs
from graphs import pair_kernel

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


@contextlib.contextmanager
def kernels_aside(enabled: bool = True) -> Iterator[Callable[[], None]]:
    """:func:`compile_aside` for the block; yields the call that waits for it
    (:func:`finish_aside`). A child still compiling when the block ends (the run failed
    before its projection) is stopped."""
    child = compile_aside() if enabled else None
    try:
        yield lambda: finish_aside(child)
    finally:
        if child is not None and child.poll() is None:
            child.kill()
            child.communicate()
