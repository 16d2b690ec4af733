from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipelines.real_data import main, real_data_run
from tests.conftest import FANS, FARM

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def _dataset(tmp_path: Path, world, labelled: list[str] | None) -> Path:
    interactions, _ = world
    folder = tmp_path / "tiny_real"
    folder.mkdir()
    interactions.assign(timestamp=interactions["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
                        ).to_csv(folder / "interactions.csv.gz", index=False)
    if labelled is not None:
        pd.DataFrame({"account_id": labelled, "label": "suspected", "group": ""}).to_csv(
            folder / "labels.csv", index=False)
    return folder


def test_labelled_dataset_gives_recall_and_reachable_recall(tmp_path, world):
    # the farm, an organic account and one that is not in the log at all
    folder = _dataset(tmp_path, world, [*FARM, "o00", "nobody"])
    summary = real_data_run(folder, tmp_path / "run")
    assert summary["dataset"] == "tiny_real" and summary["labelled"] == 8
    assert summary["labelled_flagged"] == 6 and summary["recall"] == 0.75
    assert summary["reachable"] == 7 and summary["recall_of_reachable"] == round(6 / 7, 5)
    assert summary["flagged_share"] == round(summary["flagged_accounts"] / summary["accounts"], 5)


def test_unlabelled_dataset_gives_flagged_share_only(tmp_path, world, capsys):
    folder = _dataset(tmp_path, world, None)
    assert main([str(tmp_path / "runs"), str(folder)]) == 0
    summary = json.loads(capsys.readouterr().out)
    # without posts the fans of one creator cannot be told from a farm: both are flagged
    assert summary["flagged_accounts"] == len(FARM) + len(FANS) and "recall" not in summary


def test_missing_interactions_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no interactions.csv.gz"):
        real_data_run(tmp_path, tmp_path / "run")
    assert main([]) == 2


@pytest.mark.slow
@pytest.mark.skipif(not (REAL / "starscout_fake_stars").is_dir(), reason="no shared real data")
def test_starscout_runs_and_flagged_accounts_are_labelled(tmp_path):
    summary = real_data_run(REAL / "starscout_fake_stars", tmp_path / "run")
    assert summary["labelled"] == 24080
    assert summary["reachable"] < summary["labelled"]
    assert summary["labelled_flagged"] == summary["flagged_accounts"]  # every account is labelled
