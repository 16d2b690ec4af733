"""Spark's work on the run's progress display: the tasks done of the stages seen so far.

While a run's ingest or projection runs on Spark, a thread asks Spark's status tracker every
second which stages run and how many of their tasks are done, and reports the sum over every
stage seen in the step with :func:`pipelines.progress.update` (a bar on a terminal, an INFO
line at each tenth otherwise). The total grows as Spark plans further stages, so the bar can
step back; it still tells a running job from a stuck one. Spark's own console bar is off
(:func:`pipelines.spark_engine.session_settings`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from pipelines import progress


@contextlib.contextmanager
def spark_task_progress(every_s: float = 1.0) -> Iterator[None]:
    """Report Spark's tasks on the open progress step while the block runs (no-op until a
    Spark context is active).

    >>> with spark_task_progress(every_s=0.01):
    ...     pass
    """
    stop = threading.Event()
    seen: dict[int, tuple[int, int]] = {}

    def report() -> None:
        context = _active_context()
        if context is None or getattr(context, "_jsc", None) is None:  # (still starting)
            return
        try:
            done, total = tasks_done(seen, context.statusTracker())
        except Exception:  # noqa: BLE001 - a context stopping under us: no progress, no error
            return
        if total:
            progress.update(done, total, "Spark tasks")

    def poll() -> None:
        while not stop.wait(every_s):
            report()

    thread = threading.Thread(target=poll, name="spark-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()  # before the step closes: no update after it
    report()  # the block is done: so are the stages seen (a short one may not have shown)


def tasks_done(seen: dict[int, tuple[int, int]], tracker: Any) -> tuple[int, int]:
    """Update ``seen`` (stage id → tasks done, tasks) from Spark's status ``tracker``; a stage
    no longer active counts as done. Return the tasks done and the tasks of all stages seen.

    >>> class Info:
    ...     def __init__(self, done, n):
    ...         self.numCompletedTasks, self.numTasks = done, n
    >>> class Tracker:
    ...     def __init__(self, stages):
    ...         self.stages = stages
    ...     def getActiveStageIds(self):
    ...         return list(self.stages)
    ...     def getStageInfo(self, stage):
    ...         return self.stages[stage]
    >>> seen = {}
    >>> tasks_done(seen, Tracker({0: Info(1, 8)})), tasks_done(seen, Tracker({1: Info(0, 2)}))
    ((1, 8), (8, 10))
    """
    active = set(tracker.getActiveStageIds())
    for stage in seen.keys() - active:  # finished (or failed, and the run stops) since
        seen[stage] = (seen[stage][1], seen[stage][1])
    for stage in active:
        info = tracker.getStageInfo(stage)
        if info is not None:
            seen[stage] = (int(info.numCompletedTasks), int(info.numTasks))
    return sum(d for d, _ in seen.values()), sum(n for _, n in seen.values())


def _active_context() -> Any:
    from pyspark import SparkContext

    return SparkContext._active_spark_context
