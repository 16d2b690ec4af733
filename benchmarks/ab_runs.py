"""Back-to-back runs of two commits on the same logs, alternating, to tell a change from noise.

Usage: python benchmarks/ab_runs.py A B [--rows 10000000] [--pairs 2] [--cluster-p 0.001]
       [--work /tmp/cohortscan-bench] [--max-memory 64]

Runs of one tree on this shared machine have differed by up to 25 s at 10M rows, so a change
is judged on runs that alternate: A, B, A, B, … Each commit is checked out into a detached
git worktree under the work directory; each run is the command of ``run_benchmarks.py`` (the
report on) with this virtualenv's Python and the worktree as working directory, so that the
worktree's code is the one imported, under ``/usr/bin/time -v``; each tree first runs once
on the bundled sample (to compile its numba kernels). Prints every run (wall
time, peak RSS, step timings) and per commit the median of each. Writes nothing to
``results.jsonl``: these are comparisons, not records; the worktrees and the runs' outputs are
removed at the end. Not a test.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.generate import write_logs  # noqa: E402
from benchmarks.run_benchmarks import STEPS, _timed  # noqa: E402


def worktree(rev: str, work: Path) -> Path:
    """A detached worktree of ``rev`` under ``work`` (made once per commit)."""
    sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=HERE.parent, check=True,
                         capture_output=True, text=True).stdout.strip()
    tree = work / f"tree_{sha}"
    if not tree.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), sha], cwd=HERE.parent,
                       check=True, capture_output=True)
    return tree


def warm(tree: Path, work: Path) -> None:
    """Run ``tree`` once on the bundled sample: a fresh worktree has no numba cache, and its
    first run compiles the kernels (at 10M rows: +12 s in the projection, +1.4 GiB peak)."""
    subprocess.run([sys.executable, "-m", "pipelines.cli", "run",
                    "data/sample/interactions.csv.gz", "--out", str(work / f"warm_{tree.name}")],
                   cwd=tree, check=True, capture_output=True)


def run_once(tree: Path, logs: Path, out: Path, config: Path, max_memory: float) -> dict:
    """One run of the pipeline from ``tree``; wall, peak RSS and the manifest's timings."""
    cmd = [sys.executable, "-m", "pipelines.cli", "run", str(logs / "interactions.csv.gz"),
           "--posts", str(logs / "posts.csv"), "--accounts", str(logs / "accounts.csv"),
           "--out", str(out), "--window", "1h", "--seed", "0", "--max-memory", str(max_memory),
           "--config", str(config)]
    measured = _timed(cmd, cwd=tree)
    manifest = json.loads((out / "manifest.json").read_text())
    return {**measured, "timings_s": manifest["timings_s"],
            "n_flagged": manifest["cohorts"]["n_flagged"]}


def _pairs(trees: dict[str, Path], logs: Path, config: Path,
           args: argparse.Namespace) -> dict[str, list[dict]]:
    """Warm each tree, then run them alternately, ``args.pairs`` times each."""
    for tree in trees.values():
        warm(tree, args.work)
    runs: dict[str, list[dict]] = {rev: [] for rev in trees}
    for k in range(args.pairs):
        for rev, tree in trees.items():
            result = run_once(tree, logs, args.work / f"ab_{tree.name}", config, args.max_memory)
            runs[rev].append(result)
            steps = " ".join(f"{s} {result['timings_s'].get(s, 0):.1f}" for s in STEPS)
            print(f"pair {k + 1} {rev}: {result['wall_s']:.1f} s, "
                  f"{result['peak_rss_gib']:.2f} GiB ({steps}; "
                  f"{result['n_flagged']} flagged)", flush=True)
    return runs


def removed(trees: dict[str, Path], work: Path) -> None:
    """Remove the worktrees and every output of their runs."""
    for tree in trees.values():
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=HERE.parent,
                       check=False, capture_output=True)
        for out in (work / f"ab_{tree.name}", work / f"warm_{tree.name}"):
            shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--cluster-p", type=float, default=0.001)
    parser.add_argument("--max-memory", type=float, default=64.0)
    parser.add_argument("--work", type=Path, default=Path("/tmp/cohortscan-bench"))
    args = parser.parse_args()
    logs = args.work / f"logs_{args.rows}"
    if not (logs / "interactions.csv.gz").exists():
        write_logs(args.rows, logs)
    config = args.work / f"bench_{args.cluster_p:g}.toml"
    config.write_text(f"max_cluster_edge_p = {args.cluster_p!r}\n")
    trees = {rev: worktree(rev, args.work) for rev in (args.a, args.b)}
    try:
        runs = _pairs(trees, logs, config, args)
    finally:  # each run's output is ≈ 1.8 GB at 10M rows: a disk fills up fast
        removed(trees, args.work)
    for rev, done in runs.items():
        median = {s: statistics.median(r["timings_s"].get(s, 0) for r in done) for s in STEPS}
        print(f"median {rev}: {statistics.median(r['wall_s'] for r in done):.1f} s, "
              f"{statistics.median(r['peak_rss_gib'] for r in done):.2f} GiB ("
              + " ".join(f"{s} {v:.1f}" for s, v in median.items()) + ")")


if __name__ == "__main__":
    main()
