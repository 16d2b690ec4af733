"""The report in a real headless Chromium: renders, clicks, stays offline, runs no injected code."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from pipelines.report import write_report

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(1)</script>",
    "javascript:alert(1)",
    "\"'><svg onload=alert(1)>",
    "{{7*7}}",
    'x" href="https://example.com/',
]
FARM = [*PAYLOADS, *(f"farm_{i:02d}" for i in range(10))]
TARGETS = [f"t{p}" for p in PAYLOADS[:5]] + ["post_1"]
T0 = pd.Timestamp("2024-05-01 12:00:00", tz="UTC")


def hostile_tables() -> dict[str, pd.DataFrame]:
    """One flagged 16-account farm (payload ids) sharing 6 payload targets, one unflagged pair."""
    ids = sorted(FARM)
    pairs = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1 :]]
    edges = pd.DataFrame(
        [(a, b, len(TARGETS), 1.0 + (i % 5) / 5, 3.0, "[]") for i, (a, b) in enumerate(pairs)]
        + [("org_a", "org_b", 1, 0.3, 900.0, "[]")],
        columns=["account_a", "account_b", "shared_targets", "weight", "median_dt_s", "targets"],
    )
    evidence = pd.DataFrame(
        [(a, b, t, T0 + pd.Timedelta(minutes=k), T0 + pd.Timedelta(minutes=k, seconds=3), 3.0)
         for a, b in pairs for k, t in enumerate(TARGETS)],
        columns=["account_a", "account_b", "target_id", "time_a", "time_b", "dt_s"],
    )
    memberships = pd.DataFrame(
        [(a, 0) for a in ids] + [("org_a", 1), ("org_b", 1)], columns=["account_id", "cohort_id"]
    )
    cohorts = pd.DataFrame({
        "cohort_id": [0, 1], "size": [len(ids), 2], "n_edges": [len(pairs), 1],
        "density": [1.0, 1.0], "total_weight": [edges["weight"][:-1].sum(), 0.3],
        "mean_weight": [1.4, 0.3], "shared_targets": [len(TARGETS), 1],
        "median_dt_s": [3.0, 900.0], "n_authors": pd.array([6, 1], dtype="Int64"),
        "creation_spread_days": [0.2, 400.0], "score": [0.95, 0.05], "flagged": [True, False],
        "explanation": [f"{len(ids)} accounts <img src=z onerror=alert(3)> {{{{7*7}}}}", "pair"],
    })
    return {"cohorts": cohorts, "memberships": memberships, "edges": edges, "evidence": evidence}


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    accounts = pd.DataFrame({"account_id": FARM, "created_at": T0 - pd.Timedelta(days=3)})
    manifest = {"parameters": {"window_s": 3600}, "created_at": "2024-05-02T00:00:00Z",
                "inputs": [{"path": "logs/<img src=q onerror=alert(4)>.csv", "sha256": "0"}]}
    layers = pd.DataFrame({"cohort_id": [0, 0], "layer": ["text", PAYLOADS[0]], "edges": [90, 30],
                           "ties": [90, 30], "weight": [9.0, 3.0], "share": [0.75, 0.25]})
    index, cohort = write_report(tmp_path_factory.mktemp("browser") / "report", manifest=manifest,
                                 accounts=accounts, figures=False, cohort_layers=layers,
                                 **hostile_tables())
    return index, cohort


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is required in CI")
        pytest.skip(f"{CHROMIUM} not installed")
    from playwright import sync_api  # a dev dependency: must be importable, even locally

    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


class Watched:
    """A page that records dialogs, requests and console errors."""

    def __init__(self, browser) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 1000})
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def check_clean(self) -> None:
        assert self.dialogs == [] and self.errors == []
        assert self.requests and all(u.startswith("file://") for u in self.requests), self.requests
        self.page.close()


def test_index_overview_and_table(browser, pages) -> None:
    w = Watched(browser)
    w.page.goto(pages[0].as_uri())
    w.page.wait_for_selector("#overview canvas", timeout=10_000)
    assert w.page.evaluate("Object.keys(window.overviewNetwork.body.nodes).length") == 2
    assert "<img src=z onerror=alert(3)> {{7*7}}" in w.page.inner_text("#cohorts")
    header = w.page.locator("#cohorts thead th").all_inner_texts()
    layers = w.page.locator("#cohorts tbody tr").first.locator("td").nth(header.index("layers"))
    assert layers.inner_text() == f"text 75%, {PAYLOADS[0]} 25%"
    w.page.fill("#filter", "pair")
    assert w.page.locator("#cohorts tbody tr:visible").count() == 1
    w.check_clean()


def node_point(page, account_id: str) -> dict:
    """DOM coordinates of the node of ``account_id`` (via vis-network's own transforms)."""
    return page.evaluate(
        """(account) => {
            const net = window.cohortNetwork;
            const id = Object.keys(net.body.nodes).find(
                (k) => net.body.data.nodes.get(Number(k)).account === account);
            const p = net.canvasToDOM(net.getPositions([id])[id]);
            const box = document.querySelector("#network canvas").getBoundingClientRect();
            return {x: box.left + p.x, y: box.top + p.y};
        }""",
        account_id,
    )


@pytest.mark.parametrize("account_id", PAYLOADS[:5])
def test_click_account_shows_its_panel_as_text(browser, pages, account_id: str) -> None:
    w = Watched(browser)
    w.page.goto(pages[1].as_uri())
    w.page.wait_for_selector("#network canvas", timeout=10_000)
    w.page.locator("#network").scroll_into_view_if_needed()
    w.page.wait_for_timeout(300)
    where = node_point(w.page, account_id)
    w.page.mouse.click(where["x"], where["y"])
    w.page.wait_for_selector("#panel details", timeout=5_000)
    assert w.page.inner_text("#panel h3") == account_id
    assert w.page.locator("#panel details").count() == len(FARM) - 1
    w.page.locator("#panel summary").first.click()
    rows = w.page.locator("#panel details[open] tbody tr")
    assert rows.count() == len(TARGETS)
    targets = rows.evaluate_all("(rows) => rows.map((r) => r.cells[0].textContent)")
    assert sorted(targets) == sorted(TARGETS)  # payload target ids shown verbatim, as text
    assert w.page.locator("#panel img, #panel svg, #panel script").count() == 0
    if account_id == PAYLOADS[0]:
        w.page.screenshot(path="/tmp/report_cohort_clicked.png")
    w.check_clean()


def test_click_edge_shows_shared_targets_with_both_times(browser, pages) -> None:
    w = Watched(browser)
    w.page.goto(pages[1].as_uri())
    w.page.wait_for_selector("#network canvas", timeout=10_000)
    w.page.locator("#network").scroll_into_view_if_needed()
    w.page.wait_for_timeout(300)
    a, b = node_point(w.page, "farm_00"), node_point(w.page, "farm_01")
    # a point on the edge, close to farm_00 but outside its dot
    t = 0.2
    w.page.mouse.click(a["x"] + t * (b["x"] - a["x"]), a["y"] + t * (b["y"] - a["y"]))
    selected = w.page.evaluate(
        "[window.cohortNetwork.getSelectedNodes(), window.cohortNetwork.getSelectedEdges()]")
    assert selected[0] == [] and len(selected[1]) == 1
    text = w.page.inner_text("#panel")
    assert f"{len(TARGETS)} shared targets" in text and "time A" in text and "time B" in text
    rows = w.page.locator("#panel tbody tr")
    assert rows.count() == len(TARGETS)
    cells = rows.first.locator("td").all_inner_texts()
    assert cells[1].endswith(":00Z") and cells[2].endswith(":03Z") and cells[3] == "3"
    targets = rows.evaluate_all("(rows) => rows.map((r) => r.cells[0].textContent)")
    assert targets == sorted(TARGETS)  # equal Δt: by target id; shown verbatim, as text
    assert w.page.locator("#panel img, #panel svg, #panel script").count() == 0
    layer_rows = w.page.locator("#layers tbody tr")
    assert layer_rows.count() == 2 and layer_rows.first.is_visible()
    assert layer_rows.first.locator("td").all_inner_texts() == [
        "text", "90", "90", "75%", "these accounts posted near-duplicate texts"]
    assert layer_rows.nth(1).locator("td").first.inner_text() == PAYLOADS[0]  # as text
    w.check_clean()
