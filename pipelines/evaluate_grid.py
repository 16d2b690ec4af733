"""The evaluation grid: run the whole pipeline on generator scenarios and score each run.

Each cell generates synthetic logs (:func:`graphs.synthetic.synthetic_logs`), writes them
to a temporary directory, runs :func:`pipelines.run.run` with default settings (only the
inputs differ: with or without the posts and accounts tables) and scores the flagged
accounts against the labels (:func:`graphs.evaluation.detection_scores`). Cells marked
``holdout`` use fixed seeds that were never looked at while choosing the defaults; they
are reported separately. Seeds 2001–2003 were added with the slow pass (graphs/passes.py),
whose settings were chosen after seeds 1001–1003 had been run once with a draft of it;
seeds 3001–3003 with the slow pass's cluster split (seed 2001 had been diagnosed for it).
The ``organic`` cell has no farms: every flagged account there is a
false positive, so its flagged share is the false-positive floor.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from graphs.evaluation import detection_scores
from graphs.synthetic import synthetic_logs
from pipelines.config import load_config
from pipelines.synthetic_io import write_synthetic

COLUMNS = ["cell", "holdout", "scenario", "seed", "settings", "posts", "accounts", "n_farm",
           "n_flagged",
           "precision", "recall", "f1", "fans_flagged", "organic_flagged", "ari", "seconds"]


class Cell(NamedTuple):
    """One grid cell: a generator scenario, seed, overrides and which side tables to pass."""

    name: str
    scenario: str
    seed: int
    overrides: dict[str, Any] = {}
    posts: bool = True
    accounts: bool = True
    holdout: bool = False
    settings: dict[str, Any] = {}
    """Run settings other than the defaults (config keys), e.g. ``{"window": "2d"}``."""


def grid_cells(*, holdout: bool = True) -> list[Cell]:
    """The development cells, plus the held-out ones when ``holdout`` is true."""
    cells = [Cell(f"{s}-s{seed}", s, seed) for s in ("easy", "medium", "hard") for seed in (1, 2)]
    cells += [
        Cell("medium-small-farms", "medium", 3, {"farm_size": (40, 60)}),
        Cell("medium-big-farms", "medium", 3, {"farm_size": (300, 600), "n_farms": 2}),
        Cell("medium-light-camouflage", "medium", 4, {"camouflage": 1.0}),
        Cell("medium-heavy-camouflage", "medium", 4, {"camouflage": 12.0}),
        Cell("medium-no-posts", "medium", 5, posts=False),
        Cell("medium-no-accounts", "medium", 5, accounts=False),
        Cell("medium-no-side-tables", "medium", 5, posts=False, accounts=False),
        Cell("hard-no-posts", "hard", 1, posts=False),
        Cell("organic", "medium", 6, {"n_farms": 0}),
    ]
    if holdout:
        cells += [Cell(f"holdout-{s}-s{seed}", s, seed, holdout=True)
                  for s in ("easy", "medium", "hard") for seed in (1001, 1002)]
        cells += [Cell("holdout-organic", "medium", 1003, {"n_farms": 0}, holdout=True)]
        cells += [Cell(f"holdout-{s}-s{seed}", s, seed, holdout=True)
                  for s in ("easy", "medium", "hard") for seed in (2001, 2002)]
        cells += [Cell("holdout-organic-s2003", "medium", 2003, {"n_farms": 0}, holdout=True)]
        cells += [Cell(f"holdout-{s}-s{seed}", s, seed, holdout=True)
                  for s in ("easy", "medium", "hard") for seed in (3001, 3002)]
        cells += [Cell("holdout-organic-s3003", "medium", 3003, {"n_farms": 0}, holdout=True)]
    return cells


def evaluate_cell(cell: Cell, workdir: Path, *, n_organic: int = 4000) -> dict[str, Any]:
    """Generate, run and score one cell inside ``workdir``; one row of the grid table."""
    from pipelines.run import run

    started = time.perf_counter()
    logs = synthetic_logs(scenario=cell.scenario, seed=cell.seed,
                          **({"n_organic": n_organic} | cell.overrides))
    data = workdir / cell.name / "data"
    write_synthetic(logs, data)
    config = load_config(None, inputs=[str(data / "interactions.csv.gz")],
                         out=workdir / cell.name / "run",
                         posts=data / "posts.csv" if cell.posts else None,
                         accounts=data / "accounts.csv" if cell.accounts else None,
                         **cell.settings)
    result = run(config)
    flagged = pd.read_csv(result.out / "flagged_accounts.csv", dtype={"account_id": str})
    members = pd.read_csv(result.out / "memberships.csv", dtype={"account_id": str})
    scores = detection_scores(flagged, members, logs.labels)
    row = {"cell": cell.name, "holdout": cell.holdout, "scenario": cell.scenario,
           "seed": cell.seed, "settings": _settings(cell.settings), "posts": cell.posts,
           "accounts": cell.accounts}
    row |= {k: scores[k] for k in COLUMNS if k in scores}
    return row | {"seconds": round(time.perf_counter() - started, 1)}


def _settings(settings: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(settings.items())) or "defaults"


def evaluation_grid(cells: list[Cell], *, n_organic: int = 4000) -> pd.DataFrame:
    """Run every cell in a temporary directory and return one row per cell (``COLUMNS``)."""
    with tempfile.TemporaryDirectory(prefix="cohortscan-grid-") as tmp:
        rows = [evaluate_cell(cell, Path(tmp), n_organic=n_organic) for cell in cells]
    return pd.DataFrame(rows, columns=COLUMNS)


def grid_markdown(table: pd.DataFrame) -> str:
    """The grid as a Markdown table (development cells first, then held-out ones)."""
    shown = table.sort_values("holdout", kind="stable")
    head = ("| cell | settings | side tables | farm accts | P | R | F1 | fans flagged "
            "| organic flagged | ARI |")
    lines = [head, "|---|---|---|---|---|---|---|---|---|---|"]
    for r in shown.itertuples():
        side = "+".join(n for n, on in (("posts", r.posts), ("accounts", r.accounts)) if on)
        lines.append(f"| {r.cell} | {r.settings} | {side or 'none'} | {int(r.n_farm)} | "
                     f"{r.precision:.3f} | "
                     f"{r.recall:.3f} | {r.f1:.3f} | {r.fans_flagged:.1%} | "
                     f"{r.organic_flagged:.2%} | {r.ari:.3f} |")
    return "\n".join(lines)
