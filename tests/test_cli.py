from __future__ import annotations

import json

from typer.testing import CliRunner

from pipelines.cli import app

runner = CliRunner()


def test_run_writes_report_and_summary_line(world_files, tmp_path):
    log, posts = world_files
    result = runner.invoke(app, ["run", str(log), "--posts", str(posts), "--out",
                                 str(tmp_path / "out"), "--window", "1h", "--seed", "0"])
    assert result.exit_code == 0, result.output
    assert "1 flagged (6 accounts)" in result.output
    assert (tmp_path / "out" / "index.html").exists()


def test_data_error_is_one_line_and_exit_1(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("user,post\nu,p\n")
    result = runner.invoke(app, ["run", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "missing required column 'account_id'" in result.output
    assert "Map names in the config's [columns] table." in result.output  # not read as markup
    assert "Traceback" not in result.output


def test_bad_window_is_exit_1(world_files, tmp_path):
    log, _ = world_files
    result = runner.invoke(app, ["run", str(log), "--out", str(tmp_path / "o"), "--window", "x"])
    assert result.exit_code == 1 and "window" in result.output


def test_usage_error_is_exit_2():
    assert runner.invoke(app, ["run", "--no-such-option"]).exit_code == 2


def test_generate_then_evaluate(tmp_path):
    data = tmp_path / "data"
    assert runner.invoke(app, ["generate", str(data), "--scenario", "easy", "--seed", "1"]
                         ).exit_code == 0
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(data / "interactions.csv.gz"), "--posts",
                                 str(data / "posts.csv"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    scored = runner.invoke(app, ["evaluate", str(out), str(data / "labels.csv"), "--json"])
    assert scored.exit_code == 0
    assert json.loads(scored.output)["recall"] > 0.9


def test_generate_unknown_scenario_is_exit_1(tmp_path):
    result = runner.invoke(app, ["generate", str(tmp_path), "--scenario", "nightmare"])
    assert result.exit_code == 1 and "nightmare" in result.output


def test_every_command_is_documented_in_readme():
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for command in app.registered_commands:
        assert f"cohortscan {command.name or command.callback.__name__}" in readme


def test_the_command_line_starts_without_the_pipeline_modules():
    """``cohortscan --help`` (and every command) imports pipelines.cli; the pipeline's
    modules (matplotlib, igraph, numba: ≈ 2 s) are imported by the commands that run it."""
    import subprocess
    import sys

    code = ("import sys, pipelines.cli; heavy = {'matplotlib', 'igraph', 'numba', 'networkx'};"
            "print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
