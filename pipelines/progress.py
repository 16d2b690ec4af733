"""Progress of a run: rich bars per step on a terminal, plain log lines otherwise.

:func:`step` opens a step (ingest, projection, …) and :func:`update` reports how far the
current step's countable work is (projection: the pairs bound of the accounts done; outputs:
files and pages written). With a :func:`display` installed (the CLI does on a terminal)
each step is a line of a live ``rich`` display: a spinner, a bar, the share done and the
elapsed time. Without one, :func:`update` logs a plain INFO line at every tenth of the
work (and the run logs each step's start and end), so CI logs and pipes stay readable.

The display is process-wide (a run is one at a time); :func:`fork_safe` stops its refresh
thread while worker processes are forked (a fork while that thread holds the console's lock
would leave a child that blocks on its first print). Step and layer names are shown as text
(rich markup in them is escaped).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterator

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
)
from rich.text import Text

log = logging.getLogger(__name__)

_live: list[Progress] = []


@dataclasses.dataclass(eq=False)
class _Step:
    name: str
    task: TaskID | None
    what: str = ""
    tenths: int = 0
    """Tenths of the work already logged (plain lines), for ``what``."""


_steps: list[_Step] = []
"""Open steps, innermost last."""


class _Mark(SpinnerColumn):
    """A spinner while the step runs; once it ended, its ``mark`` field (✓ or ✗)."""

    def render(self, task: Task) -> Text:
        if task.stop_time is not None:
            return Text.from_markup(task.fields.get("mark", ""))
        return super().render(task)


class _StepTime(ProgressColumn):
    """The step's time so far, or its whole time once done (rich's elapsed column stops
    when the bar first reaches 100%, which a step with several works does early)."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.elapsed:.1f} s" if task.elapsed is not None else "",
                    style="progress.elapsed")


@contextlib.contextmanager
def display(console: Console) -> Iterator[Progress]:
    """Show the run's steps as live progress bars on ``console`` until the block ends.

    Examples
    --------
    >>> import io
    >>> console = Console(file=io.StringIO(), force_terminal=True, width=80)
    >>> with display(console):
    ...     with step("projection"):
    ...         update(3, 4)
    >>> "projection" in console.file.getvalue()
    True
    """
    bars = Progress(_Mark(), TextColumn("{task.description}"),
                    BarColumn(), TaskProgressColumn(), _StepTime(), console=console,
                    transient=False)
    _live.append(bars)
    try:
        with bars:
            yield bars
    finally:
        if bars in _live:  # (not after forget())
            _live.remove(bars)


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    """One step of the run: a line of the display (a bar once :func:`update` gives a total).

    Examples
    --------
    >>> with step("ingest"):
    ...     update(1, 2)
    """
    bars = _live[-1] if _live else None
    task = bars.add_task(escape(name), total=None) if bars is not None else None
    entry = _Step(name, task)
    _steps.append(entry)
    ok = False
    try:
        yield
        ok = True
    finally:
        if entry in _steps:  # (not after forget())
            _steps.remove(entry)
        if bars is not None and task is not None:
            shown = bars.tasks[bars.task_ids.index(task)]
            total = shown.total or 1
            if ok:
                bars.update(task, total=total, completed=total, description=escape(name),
                            mark="[green]✓")
            else:  # the bar stays where the step stopped
                bars.update(task, total=total, completed=min(shown.completed, total),
                            description=f"{escape(name)} [red]failed", mark="[red]✗")
            bars.stop_task(task)


def update(done: int, total: int, what: str = "") -> None:
    """How far the innermost open step is: ``done`` of ``total`` (any unit), on ``what``.

    On a display the step's bar moves (its line reads ``step · what``); without one an INFO
    line is logged each time a further tenth of ``total`` is done. Outside any step it does
    nothing.
    """
    if not _steps:
        return
    current = _steps[-1]
    label = f"{current.name} · {what}" if what and what != current.name else current.name
    bars = _live[-1] if _live else None
    if bars is not None and current.task is not None:
        bars.update(current.task, total=max(total, 1), completed=min(done, total),
                    description=escape(label))
        return
    if what != current.what:
        current.what, current.tenths = what, 0
    tenths = 10 * min(done, total) // total if total > 0 else 10
    if tenths > current.tenths:
        current.tenths = tenths
        log.info("%s: %d%% (%d of %d)", label, 10 * tenths, done, total)


def forget() -> None:
    """Drop the display and the open steps (in a forked worker: the parent shows them)."""
    _live.clear()
    _steps.clear()


@contextlib.contextmanager
def fork_safe() -> Iterator[None]:
    """Stop the display's refresh thread for the block (around forking worker processes)."""
    bars = _live[-1] if _live else None
    if bars is None or not bars.live.is_started:
        yield
        return
    live = bars.live
    transient, live.transient = live.transient, True  # erased, not left above the new one
    bars.stop()
    try:
        yield
    finally:
        live.transient = transient
        bars.start()
