"""Hostile strings as account, target and author ids flow through every output as data:
CSVs neutralise formulas, no id reaches a file name, and the HTML runs none of it (checked
in headless Chromium)."""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.config import load_config
from pipelines.outputs import FORMULA_PREFIXES
from pipelines.run import run
from tests.worlds import write_world

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(2)</script>",
    "javascript:alert(3)",
    "=cmd|' /C calc'!A0",
    "+1+1",
    "@SUM(1)",
    "-2+3",
    "../../etc/passwd",
    "ctl\x01\x1b[31m\x7f",
    "rtl\u202egnp.exe",
    "\"'><svg onload=alert(4)>",
    "w" * 10_000,
]
T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def hostile_world(tmp_path: Path) -> tuple[Path, Path]:
    """A farm whose 12 accounts are the hostile strings, liking 6 hostile-named posts of 6
    hostile-named customers within minutes; 200 organic accounts liking 4 random posts each
    at scattered times; one NUL row."""
    rng = np.random.default_rng(0)
    rows, posts = [], []
    for k in range(6):
        target = f"{HOSTILE[k]}#post{k}"
        posts.append((target, f"{HOSTILE[(k + 3) % len(HOSTILE)]}#author{k}"))
        rows += [(acc, target, "like", T0 + dt.timedelta(hours=5 * k, minutes=i))
                 for i, acc in enumerate(HOSTILE)]
    for i in range(200):
        for j, post in enumerate(rng.choice(150, size=4, replace=False)):
            rows.append((f"o{i}", f"x{post}", "like",
                         T0 + dt.timedelta(hours=3 * j + i % 29, minutes=7 * i)))
    posts += [(f"x{k}", f"author{k % 10}") for k in range(150)]
    rows.append(("nul\x00id", "x1", "like", T0))
    return write_world(rows, posts, tmp_path)


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("hostile")
    log, posts = hostile_world(tmp)
    result = run(load_config(None, inputs=[str(log)], posts=posts, out=tmp / "out"))
    assert result.manifest["cohorts"]["n_flagged"] >= 1
    return tmp / "out"


def test_the_farm_of_hostile_ids_is_found_and_ids_survive_unchanged(hostile_run):
    flagged = pd.read_csv(hostile_run / "flagged_accounts.csv", dtype=str,
                          keep_default_na=False)
    ids = {a[1:] if a.startswith("'") and a[1:].startswith(FORMULA_PREFIXES) else a
           for a in flagged["account_id"]}
    assert ids == set(HOSTILE)


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_no_csv_cell_starts_a_formula(hostile_run):
    csvs = sorted(hostile_run.rglob("*.csv"))
    assert {p.name for p in csvs} >= {"flagged_accounts.csv", "cohorts.csv",
                                      "memberships.csv", "rejected.csv"}
    risky = []
    for path in csvs:
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                risky += [(path.name, c[:30]) for c in row
                          if c.startswith(FORMULA_PREFIXES) and not _number(c)]
    assert risky == []


def test_rejected_nul_row_is_written_escaped(hostile_run):
    rejected = pd.read_csv(hostile_run / "rejected.csv", dtype=str, keep_default_na=False)
    assert rejected[["reason", "raw"]].values.tolist() == [
        ["NUL byte in account_id", "nul\\x00id,x1,like,2026-11-01T00:00:00+00:00"]]


def test_no_id_reaches_a_file_name(hostile_run):
    names = [p.relative_to(hostile_run).as_posix() for p in hostile_run.rglob("*")]
    assert names and all(re.fullmatch(r"[A-Za-z0-9_./-]+", n) for n in names), names
    assert all(".." not in n.split("/") for n in names)
    assert not any(p.is_symlink() for p in hostile_run.rglob("*"))
    assert all(p.resolve().is_relative_to(hostile_run.resolve()) for p in hostile_run.rglob("*"))


@pytest.mark.browser
def test_report_pages_run_no_hostile_code_and_stay_offline(hostile_run):
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is required in CI")
        pytest.skip(f"{CHROMIUM} not installed")
    from playwright import sync_api

    pages = [hostile_run / "index.html", *sorted((hostile_run / "cohorts").glob("*.html"))]
    assert len(pages) >= 2
    dialogs: list[str] = []
    requests: list[str] = []
    shown: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: requests.append(r.url))
        for path in pages:
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            page.wait_for_timeout(300)
            shown.append(page.inner_text("body"))
            injected = page.evaluate("document.querySelectorAll('img[src=x], svg[onload]')"
                                     ".length")
            assert injected == 0, path
        browser.close()
    assert dialogs == []
    assert requests and all(u.startswith(("file://", "data:")) for u in requests), requests
    assert HOSTILE[0] in "\n".join(shown[1:])  # the payload is shown as text on cohort pages
