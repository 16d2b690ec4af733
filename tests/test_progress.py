from __future__ import annotations

import io
import logging
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from pipelines import progress
from pipelines.report import parallel_map

ROOT = Path(__file__).resolve().parents[1]


def terminal() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=100, color_system=None)


def test_display_shows_each_step_with_its_bar_and_share():
    console = terminal()
    with progress.display(console) as bars:
        with progress.step("ingest"):
            pass
        with progress.step("projection"):
            progress.update(1, 4, "engage pairs")
            bars.refresh()  # as the display's thread does ten times a second
            assert "projection · engage pairs" in console.file.getvalue()
            assert " 25%" in console.file.getvalue()
            progress.update(4, 4, "engage pairs")
    text = console.file.getvalue()
    assert "✓ ingest" in text and "✓ projection" in text and "100%" in text
    assert "━" in text  # a bar was drawn


def test_a_failed_step_is_marked_failed_not_done():
    console = terminal()
    with progress.display(console):
        try:
            with progress.step("ingest"):
                progress.update(1, 4, "rows")
                raise ValueError("bad input")
        except ValueError:
            pass
    text = console.file.getvalue()
    assert "✗ ingest failed" in text and "✓ ingest" not in text
    final = text[text.rindex("✗ ingest failed"):].splitlines()[0]
    assert "25%" in final  # the bar stays where the step stopped


def test_without_display_update_logs_each_tenth_once(caplog):
    with caplog.at_level(logging.INFO, logger="pipelines.progress"):
        with progress.step("outputs"):
            for done in range(1, 21):
                progress.update(done, 20, "pages")
            progress.update(5, 10, "bundles")  # new work: counted from zero again
        progress.update(1, 1, "outside any step")  # ignored
    lines = [r.getMessage() for r in caplog.records]
    assert lines[:10] == [f"outputs · pages: {10 * k}% ({2 * k} of 20)" for k in range(1, 11)]
    assert lines[10:] == ["outputs · bundles: 50% (5 of 10)"]


def test_update_names_the_step_once_when_work_and_step_agree(caplog):
    with caplog.at_level(logging.INFO, logger="pipelines.progress"), progress.step("bundles"):
        progress.update(1, 1, "bundles")
    assert [r.getMessage() for r in caplog.records] == ["bundles: 100% (1 of 1)"]


def test_forked_workers_report_progress_on_the_display(tmp_path):
    console = terminal()

    def task(i: int) -> Path:
        logging.getLogger("worker").warning("page %d", i)  # a worker may print
        return tmp_path / str(i)

    with progress.display(console) as bars, progress.step("outputs"):
        paths = parallel_map(task, list(range(9)), workers=2, what="pages")
        assert bars.live.is_started  # restarted after the fork
        bars.refresh()
        assert "outputs · pages" in console.file.getvalue()
        assert bars.tasks[0].completed == 9
    assert paths == [tmp_path / str(i) for i in range(9)]


def test_names_are_text_not_markup():
    console = terminal()
    with progress.display(console) as bars, progress.step("layer [/oops]"):
        progress.update(1, 2, "[bold]x")
        bars.refresh()
    assert "layer [/oops] · [bold]x" in console.file.getvalue()


def test_fork_safe_stops_the_refresh_thread_for_the_block():
    console = terminal()
    with progress.display(console) as bars:
        with progress.fork_safe():
            assert not bars.live.is_started
        assert bars.live.is_started
    with progress.fork_safe():  # no display: nothing to do
        pass


def test_forget_drops_the_display_in_a_worker():
    with progress.display(terminal()), progress.step("outputs"):
        progress.forget()
        assert progress._live == [] and progress._steps == []
        progress.update(1, 2)  # a no-op now


def on_a_terminal(args: list[str]) -> tuple[int, str]:
    """Run ``python -m pipelines.cli ARGS`` under a pseudo-terminal: exit code, output text
    (escape sequences removed)."""
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", *args], cwd=ROOT,
                            stdin=child, stdout=child, stderr=child,
                            env={**os.environ, "COLUMNS": "100", "TERM": "xterm"})
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    code = proc.wait(timeout=300)
    return code, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode("utf-8", "replace"))


def test_cli_on_a_terminal_shows_progress_bars(tmp_path):
    """The real command under a pseudo-terminal: a line per step, bars, and the summary."""
    code, text = on_a_terminal(["run", "data/sample/interactions.csv.gz", "--posts",
                                "data/sample/posts.csv", "--out", str(tmp_path / "out"),
                                "--window", "1h", "--seed", "0"])
    assert code == 0, text[-2000:]
    for name in ("ingest", "projection", "clustering", "scoring", "outputs", "bundles"):
        assert f"✓ {name}" in text, text[-2000:]
    assert "100%" in text and "━" in text
    assert "flagged" in text and (tmp_path / "out" / "index.html").exists()


def test_nightly_on_a_terminal_shows_progress_bars(tmp_path):
    from tests.test_nightly import _write_week

    _write_week(tmp_path)
    code, text = on_a_terminal([
        "nightly", "--input", str(tmp_path / "logs" / "date={date}" / "*.csv"),
        "--store", str(tmp_path / "history.duckdb"), "--reports", str(tmp_path / "reports"),
        "--posts", str(tmp_path / "posts.csv"), "--date", "2026-11-02"])
    assert code == 0, text[-2000:]
    assert "✓ projection" in text and "✓ bundles" in text, text[-2000:]
    assert "cohortscan nightly 2026-11-02: ok" in text
