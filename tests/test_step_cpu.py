"""benchmarks/step_cpu.py: each step's wall and CPU time, parts of the report left out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
STEPS = ["ingest", "layers", "projection", "clustering", "scoring", "outputs", "bundles",
         "whole run"]


def _step_cpu(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "step_cpu.py"), *args, "--",
         str(SAMPLE / "interactions.csv.gz"), "--posts", str(SAMPLE / "posts.csv"),
         "--out", str(out), "--seed", "0"], capture_output=True, text=True, cwd=tmp_path)
    return proc, out


def _steps(stdout: str) -> dict[str, tuple[float, float, float]]:
    lines = stdout[stdout.index("step "):].splitlines()[1:]
    return {line[:12].strip(): tuple(float(v) for v in line[12:].split()) for line in lines}


@pytest.mark.parametrize("without", ["pages", "report"])
def test_each_step_is_timed_and_the_left_out_files_are_missing(tmp_path, without):
    proc, out = _step_cpu(tmp_path, "--without", without)
    assert proc.returncode == 0, proc.stderr
    steps = _steps(proc.stdout)
    assert list(steps) == STEPS
    assert all(wall >= 0 and cpu >= 0 for wall, cpu, _ in steps.values())
    whole = steps["whole run"]
    assert whole[0] >= sum(w for name, (w, _, _) in steps.items() if name != "whole run")
    assert (out / "cohorts.csv").exists() and (out / "evidence.csv").exists()
    assert not (out / "cohorts").exists() and not (out / "figures").exists()
    if without == "pages":
        assert (out / "index.html").exists() and (out / "graph.gexf").exists()
        assert any((out / "bundles").glob("cohort_*.zip"))
    else:
        assert not (out / "index.html").exists() and not (out / "graph.gexf").exists()
        assert not (out / "bundles").exists()


def test_a_failing_run_fails_the_script(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "step_cpu.py"), "--", "missing.csv",
         "--out", str(tmp_path / "out")], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode != 0 and "missing.csv" in proc.stderr
    assert "whole run" not in proc.stdout
