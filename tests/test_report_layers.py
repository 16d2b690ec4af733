"""The report says which layers tied a cohort, shows account context apart, caps its network."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from graphs.synthetic_comments import comment_farm_logs
from pipelines.config import load_config
from pipelines.report import write_report
from pipelines.report_layers import context_rows, layer_rows, layer_summaries
from pipelines.run import run
from pipelines.synthetic_io import write_synthetic
from tests.test_report import ACCOUNTS, MANIFEST, tables

LAYERS = pd.DataFrame({
    "cohort_id": [0, 0, 1], "layer": ["engage", "<b>url</b>", "like@order"],
    "edges": [6, 1, 2], "ties": [97, 3, 2], "weight": [9.0, 0.5, 1.0], "share": [0.97, 0.03, 1.0]})
CONTEXT = pd.DataFrame({
    "cohort_id": [0], "known_accounts": [4], "creation_burst_share": [1.0],
    "default_handle_share": [0.25], "mean_profile_changes": [float("nan")],
    "baseline_creation_burst_share": [0.1], "baseline_default_handle_share": [0.5],
    "baseline_mean_profile_changes": [float("nan")]})


def text_of(html: str, heading: str) -> str:
    """Visible text of one page section, from its ``<h2>`` to the next one."""
    section = html.split(f"<h2>{heading}", 1)[1].split("<h2>", 1)[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section))


def test_layer_summaries_rows_and_context() -> None:
    assert layer_summaries(LAYERS) == {0: "engage 97%, <b>url</b> 3%", 1: "like@order 100%"}
    assert layer_summaries(None) == {} and layer_rows(LAYERS.head(0), 0) == []
    assert layer_rows(LAYERS, 1) == [("like@order", "2", "2", "100%", "liked in the same order")]
    rows = context_rows(CONTEXT, 0)
    assert rows[0] == ("accounts found in the accounts table", "4", "")
    assert [r[1:] for r in rows[1:]] == [("100%", "10%"), ("25%", "50%")]  # NaN row left out
    assert context_rows(CONTEXT, 1) == [] and context_rows(None, 0) == []


def test_pages_show_layers_context_and_respect_max_nodes(tmp_path: Path) -> None:
    manifest = {**MANIFEST, "parameters": {**MANIFEST["parameters"], "min_size": 1}}
    index, page = write_report(tmp_path, manifest=manifest, accounts=ACCOUNTS, figures=False,
                               cohort_layers=LAYERS, account_context=CONTEXT, max_nodes=2,
                               **tables())
    index_html, page_html = index.read_text(), page.read_text()
    header = re.findall(r'<th scope="col" tabindex="0">([^<]*)</th>', index_html)
    assert header[:3] == ["cohort_id", "explanation", "layers"]
    assert "engage 97%, &lt;b&gt;url&lt;/b&gt; 3%" in index_html and "<b>url</b>" not in index_html
    layers = text_of(page_html, "Layers")
    assert "engage 6 97 97% engaged the same targets within the window" in layers
    url = "&lt;b&gt;url&lt;/b&gt;"
    assert f"{url} 1 3 3% {url}: acted on the same targets" in layers
    context = text_of(page_html, "Account context (supporting evidence, not used for flagging)")
    assert "created within 3 days of each other 100% 10%" in context
    assert "did not change its clustering, score or flag" in context
    assert "Layers: each typed trace" in text_of(page_html, "Methodology")
    assert "Showing 2 of 4 accounts" in page_html  # max_nodes reached the network
    with pytest.raises(ValueError, match="max_report_nodes must be at least 1, got 0"):
        write_report(tmp_path / "x", manifest=manifest, figures=False, max_nodes=0, **tables())


def test_pages_without_layers_have_no_layer_column_or_panel(tmp_path: Path) -> None:
    index, page = write_report(tmp_path, manifest=MANIFEST, figures=False, **tables())
    assert ">layers</th>" not in index.read_text()
    assert "<h2>Layers" not in page.read_text() and "<h2>Account context" not in page.read_text()


@pytest.fixture(scope="module")
def comment_farm_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    tmp = tmp_path_factory.mktemp("comment_farm")
    logs = comment_farm_logs(seed=0)
    write_synthetic(logs, tmp / "raw")
    config = load_config(None, inputs=[str(tmp / "raw" / "interactions.csv.gz")],
                         out=tmp / "out", posts=tmp / "raw" / "posts.csv",
                         accounts=tmp / "raw" / "accounts.csv", max_report_nodes=5)
    run(config)
    return tmp / "out", set(logs.labels.loc[logs.labels["group"] == "comment_farm",
                                            "account_id"])


def test_comment_farm_report_says_text(comment_farm_run: tuple[Path, set[str]]) -> None:
    out, farm = comment_farm_run
    flagged = pd.read_csv(out / "flagged_accounts.csv")
    [cohort_id] = flagged["cohort_id"].unique()
    assert set(flagged["account_id"]) <= farm and len(flagged) >= 0.8 * len(farm)
    layers = pd.read_csv(out / "cohort_layers.csv")
    assert layers.loc[layers["cohort_id"] == cohort_id, "layer"].tolist() == ["text"]
    page = (out / "cohorts" / f"cohort_{cohort_id}.html").read_text()
    panel = text_of(page, "Layers")
    assert "text" in panel and "100% these accounts posted near-duplicate texts" in panel
    assert "engage" not in panel
    cohorts = pd.read_csv(out / "cohorts.csv").set_index("cohort_id")
    assert f"accounts posted {cohorts.loc[cohort_id, 'shared_targets']} near-duplicate texts" \
        in cohorts.loc[cohort_id, "explanation"]
    context = text_of(page, "Account context (supporting evidence, not used for flagging)")
    assert "created within 3 days" in context and "creation_burst_share" not in context
    assert f"Showing 5 of {len(flagged)} accounts" in page  # config max_report_nodes
    row = re.search(rf'cohort_{cohort_id}\.html">{cohort_id}</a></td>(.*?)</tr>', re.sub(
        r"\s+", " ", (out / "index.html").read_text()))
    assert row is not None and ">text 100%<" in row.group(1)


def test_run_writes_top_level_exports_and_zipped_bundles(
        comment_farm_run: tuple[Path, set[str]]) -> None:
    from pipelines.bundle import check_zip

    out, _ = comment_farm_run
    cohorts = pd.read_parquet(out / "cohorts.parquet")
    assert cohorts["cohort_id"].tolist() == pd.read_csv(out / "cohorts.csv")["cohort_id"].tolist()
    accounts = pd.read_csv(out / "accounts.csv")
    assert len(accounts) == len(pd.read_csv(out / "memberships.csv"))
    assert (accounts["n_actions"] > 0).all() and (accounts["degree"] > 0).all()
    evidence = pd.read_csv(out / "evidence.csv")
    assert set(evidence["cohort_id"]) == set(cohorts.loc[cohorts["flagged"], "cohort_id"])
    assert set(evidence["layer"]) == {"text"}
    zips = sorted((out / "bundles").glob("cohort_*.zip"))
    assert [z.stem for z in zips] == [f"cohort_{c}" for c in cohorts.loc[cohorts["flagged"],
                                                                          "cohort_id"]]
    assert all(check_zip(z) == [] for z in zips)
