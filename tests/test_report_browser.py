"""The report in a real headless Chromium: renders, stays offline, runs no injected code."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from pipelines.report import write_report

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(1)</script>",
    "\"'><svg onload=alert(1)>",
    'x" href="https://example.com/',
]
FARM = [*HOSTILE, *(f"farm_{i:02d}" for i in range(12))]
T0 = pd.Timestamp("2024-05-01 12:00:00", tz="UTC")


def hostile_tables() -> dict[str, pd.DataFrame]:
    """One flagged 16-account farm (hostile ids) sharing 3 targets, one unflagged pair."""
    ids = sorted(FARM)
    pairs = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1 :]]
    targets = ["<img src=y onerror=alert(2)>", "post_1", "post_2"]
    edges = pd.DataFrame(
        [(a, b, 3, 1.0 + (i % 5) / 5, 3.0, "[]") for i, (a, b) in enumerate(pairs)]
        + [("org_a", "org_b", 1, 0.3, 900.0, "[]")],
        columns=["account_a", "account_b", "shared_targets", "weight", "median_dt_s", "targets"],
    )
    evidence = pd.DataFrame(
        [(a, b, t, T0, T0 + pd.Timedelta(seconds=3), 3.0) for a, b in pairs for t in targets],
        columns=["account_a", "account_b", "target_id", "time_a", "time_b", "dt_s"],
    )
    memberships = pd.DataFrame(
        [(a, 0) for a in ids] + [("org_a", 1), ("org_b", 1)], columns=["account_id", "cohort_id"]
    )
    cohorts = pd.DataFrame(
        {
            "cohort_id": [0, 1],
            "size": [len(ids), 2],
            "n_edges": [len(pairs), 1],
            "density": [1.0, 1.0],
            "total_weight": [edges["weight"][:-1].sum(), 0.3],
            "mean_weight": [1.4, 0.3],
            "shared_targets": [3, 1],
            "median_dt_s": [3.0, 900.0],
            "n_authors": pd.array([3, 1], dtype="Int64"),
            "creation_spread_days": [0.2, 400.0],
            "score": [0.95, 0.05],
            "flagged": [True, False],
            "explanation": [f"{len(ids)} accounts <img src=z onerror=alert(3)> within 3 s", "pair"],
        }
    )
    return {"cohorts": cohorts, "memberships": memberships, "edges": edges, "evidence": evidence}


@pytest.mark.browser
def test_report_renders_offline_without_running_injected_code(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is required in CI")
        pytest.skip(f"{CHROMIUM} not installed")
    from playwright import sync_api  # a dev dependency: must be importable, even locally

    manifest = {"parameters": {"window_s": 3600}, "created_at": "2024-05-02T00:00:00Z"}
    index, cohort = write_report(tmp_path / "report", manifest=manifest, **hostile_tables())
    dialogs: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(index.as_uri())
        page.fill("#filter", "pair")
        assert page.locator("#cohorts tbody tr:visible").count() == 1
        page.goto(cohort.as_uri())
        page.wait_for_selector("#network canvas", timeout=10_000)
        page.wait_for_timeout(500)
        tooltip = hover_tooltip(page, "<img src=x onerror=alert(1)>")
        n_nodes = page.evaluate("Object.keys(window.cohortNetwork.body.nodes).length")
        page.locator("#network").screenshot(path="/tmp/report_cohort_network.png")
        page.screenshot(path="/tmp/report_cohort.png", full_page=True)
        browser.close()
    assert dialogs == []
    assert requests and all(url.startswith("file://") for url in requests), requests
    assert n_nodes == len(FARM)
    assert tooltip["text"].startswith("<img src=x onerror=alert(1)>\ndegree 15")
    assert tooltip["elements"] == 1  # our one text <div>, no parsed <img>


def hover_tooltip(page, account_id: str) -> dict:
    """Hover the node of ``account_id`` and return the vis tooltip's text and element count."""
    where = page.evaluate(
        """(label) => {
            const net = window.cohortNetwork;
            const id = Object.keys(net.body.nodes).find(
                (k) => net.body.nodes[k].options.title.textContent.startsWith(label));
            const p = net.canvasToDOM(net.getPositions([id])[id]);
            const box = document.querySelector("#network canvas").getBoundingClientRect();
            return {x: box.left + p.x, y: box.top + p.y};
        }""",
        account_id,
    )
    page.mouse.move(where["x"] + 2, where["y"] + 2)
    page.wait_for_selector("div.vis-tooltip", state="visible", timeout=5_000)
    return page.evaluate(
        """() => {
            const tip = document.querySelector("div.vis-tooltip");
            return {text: tip.textContent, elements: tip.querySelectorAll("*").length};
        }"""
    )
