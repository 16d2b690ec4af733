from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.evaluate_grid import COLUMNS, Cell, evaluate_cell, grid_cells, grid_markdown


def test_grid_has_held_out_seeds_apart_from_development():
    dev, full = grid_cells(holdout=False), grid_cells(holdout=True)
    held = [c for c in full if c.holdout]
    assert held and not any(c.holdout for c in dev)
    assert {c.seed for c in held}.isdisjoint({c.seed for c in dev})
    assert {"easy", "medium", "hard"} <= {c.scenario for c in held}
    assert any(not c.posts for c in dev) and any(c.overrides.get("n_farms") == 0 for c in dev)


def test_one_small_cell_runs_the_pipeline_and_scores_it(tmp_path):
    cell = Cell("tiny", "easy", 3, {"n_farms": 1, "farm_size": 30, "n_fandoms": 1})
    row = evaluate_cell(cell, tmp_path, n_organic=300)
    assert list(row) == COLUMNS
    assert row["n_farm"] == 30 and row["recall"] > 0.5 and row["fans_flagged"] == 0.0
    assert (tmp_path / "tiny" / "run" / "manifest.json").exists()
    text = grid_markdown(pd.DataFrame([row], columns=COLUMNS))
    assert text.splitlines()[2].startswith("| tiny | defaults | posts+accounts | 30 |")


def test_cell_settings_reach_the_run(tmp_path):
    import json

    cell = Cell("tiny-2d", "easy", 3, {"n_farms": 1, "farm_size": 30, "n_fandoms": 1},
                settings={"window": "2d", "max_crowd": 100})
    row = evaluate_cell(cell, tmp_path, n_organic=300)
    assert row["settings"] == "max_crowd=100 window=2d"
    manifest = json.loads((tmp_path / "tiny-2d" / "run" / "manifest.json").read_text())
    assert manifest["parameters"]["window_s"] == 172800
    assert manifest["parameters"]["max_crowd"] == 100


def test_evaluate_without_grid_needs_run_dir_and_labels():
    result = CliRunner().invoke(app, ["evaluate"])
    assert result.exit_code == 2
    assert "RUN_DIR and LABELS are required" in result.output
