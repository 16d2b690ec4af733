"""Real third-party logs as a user would run them: default settings, one summary per dataset.

Each dataset folder (``../shared/data/real/<name>/``) holds ``interactions.csv.gz`` and, for
some, ``labels.csv``. :func:`real_data_run` runs the pipeline with default settings on one
folder; :func:`real_data_summary` reads the run back: the share of accounts flagged (for
unlabelled data, a ceiling on the false-positive rate: some of it may be real coordination)
and, with labels, the recall of the labelled accounts — also against the accounts the
detector can reach at all (those that engaged at least ``min_shared_targets`` distinct targets;
an account with one action can never share two targets with anyone).

``python -m pipelines.real_data OUT DATASET_DIR...`` prints one JSON line per dataset.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.config import load_config

__all__ = ["real_data_run", "real_data_summary"]


def real_data_run(data_dir: Path, out: Path) -> dict[str, Any]:
    """Run the pipeline with default settings on one dataset folder and summarise it."""
    from pipelines.run import run

    log = data_dir / "interactions.csv.gz"
    if not log.is_file():
        raise FileNotFoundError(f"{data_dir}: no interactions.csv.gz")
    started = time.perf_counter()
    result = run(load_config(None, inputs=[str(log)], out=out))
    summary = real_data_summary(result.out, data_dir,
                                min_shared_targets=result.manifest["parameters"]
                                ["min_shared_targets"])
    return summary | {"seconds": round(time.perf_counter() - started, 1)}


def real_data_summary(run_dir: Path, data_dir: Path, *,
                      min_shared_targets: int = 2) -> dict[str, Any]:
    """Flagged share, and recall against ``labels.csv`` when the folder has one.

    Returns
    -------
    dict
        ``dataset, accounts, flagged_accounts, flagged_share, flagged_cohorts`` and, with
        labels, ``labelled, labelled_flagged, recall, reachable, recall_of_reachable``.
    """
    rows = pd.read_csv(data_dir / "interactions.csv.gz", usecols=["account_id", "target_id"],
                       dtype=str, keep_default_na=False)
    flagged = pd.read_csv(run_dir / "flagged_accounts.csv", dtype={"account_id": str},
                          keep_default_na=False)
    accounts = rows["account_id"].nunique()
    summary: dict[str, Any] = {
        "dataset": data_dir.name, "accounts": int(accounts),
        "flagged_accounts": int(flagged["account_id"].nunique()),
        "flagged_share": round(flagged["account_id"].nunique() / max(accounts, 1), 5),
        "flagged_cohorts": int(flagged["cohort_id"].nunique()),
    }
    labels_path = data_dir / "labels.csv"
    if not labels_path.is_file():
        return summary
    labelled = set(pd.read_csv(labels_path, dtype=str, keep_default_na=False)["account_id"])
    hits = len(labelled & set(flagged["account_id"]))
    targets = rows.groupby("account_id")["target_id"].nunique()
    reachable = len(labelled & set(targets.index[targets >= min_shared_targets]))
    return summary | {
        "labelled": len(labelled), "labelled_flagged": hits,
        "recall": round(hits / max(len(labelled), 1), 5), "reachable": reachable,
        "recall_of_reachable": round(hits / max(reachable, 1), 5),
    }


def main(argv: list[str]) -> int:
    """``OUT DATASET_DIR...``: run each dataset into ``OUT/<name>`` and print its summary."""
    if len(argv) < 2:
        print("usage: python -m pipelines.real_data OUT DATASET_DIR...", file=sys.stderr)
        return 2
    out = Path(argv[0])
    for folder in map(Path, argv[1:]):
        print(json.dumps(real_data_run(folder, out / folder.name)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
