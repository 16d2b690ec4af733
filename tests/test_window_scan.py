from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from graphs.window_scan import chosen_window, cohort_ari


def _flagged(groups: list[list[str]]) -> pd.DataFrame:
    rows = [(acc, k) for k, group in enumerate(groups) for acc in group]
    return pd.DataFrame(rows, columns=["account_id", "cohort_id"])


def test_ari_is_one_for_identical_cohorts_and_drops_when_split():
    farm = _flagged([["a", "b", "c", "d"], ["e", "f", "g", "h"]])
    split = _flagged([["a", "b"], ["c", "d"], ["e", "f", "g", "h"]])
    assert cohort_ari(farm, farm) == 1.0
    assert 0 < cohort_ari(farm, split) < 1.0


def test_unstable_window_is_not_chosen_even_with_more_accounts():
    farm = _flagged([["a", "b", "c", "d"], ["e", "f", "g", "h"]])
    noisy = _flagged([["a", "e", "x", "y", "z"], ["b", "f", "c", "g", "d", "h", "w"]])
    choice = chosen_window({600: farm, 3600: farm, 86400: noisy})
    assert choice.window_s == 600  # 600 and 3600 agree; the tie goes to the shorter window
    assert choice.scan["n_flagged"].tolist() == [8, 8, 12]
    assert "the shortest of 2 of 3 candidate windows" in choice.reason


def test_shortest_stable_window_that_flags_is_chosen_over_more_accounts():
    one, two = [f"a{i}" for i in range(20)], [f"b{i}" for i in range(20)]
    farms, more = _flagged([one, two]), _flagged([one, [*two, "x"]])
    nothing = _flagged([])
    choice = chosen_window({600: nothing, 3600: farms, 21600: more, 86400: more})
    assert choice.window_s == 3600  # 600 flags nothing; 3600 agrees with 21600 (ARI 0.95)
    assert choice.scan["n_flagged"].tolist() == [0, 40, 41, 41]


def test_no_stable_window_takes_the_most_flagged():
    first = _flagged([["a", "b"], ["c", "d"]])
    second = _flagged([["a", "c"], ["b", "d", "e"]])
    choice = chosen_window({600: first, 3600: second})
    assert choice.window_s == 3600 and "no window that flags accounts was stable" in choice.reason


def test_no_window_is_an_error():
    with pytest.raises(ValueError, match="flagged_by_window: expected at least one window"):
        chosen_window({})


def test_window_auto_scans_and_records_the_choice(tmp_path, world_files):
    import json

    from pipelines.config import load_config
    from pipelines.run import run
    from tests.conftest import FARM

    log, posts = world_files
    config = load_config(None, inputs=[str(log)], posts=posts, out=tmp_path / "out",
                         window="auto", scan_windows=["10m", "1h", "6h"])
    assert config.window_auto and config.scan_windows == ("10m", "1h", "6h")
    result = run(config)
    scan = json.loads((result.out / "manifest.json").read_text())["window_scan"]
    assert scan["candidates_s"] == [600, 3600, 21600]
    assert [row["window_s"] for row in scan["scan"]] == [600, 3600, 21600]
    assert scan["chosen_s"] == result.manifest["parameters"]["window_s"]
    assert scan["reason"].startswith(f"window {scan['chosen_s']} s:")
    flagged = pd.read_csv(result.out / "flagged_accounts.csv")
    assert sorted(flagged["account_id"]) == FARM


def test_window_auto_rejects_bad_candidates(tmp_path, world_files):
    from pipelines.config import load_config
    from pipelines.ingest import InputError
    from pipelines.run import run

    log, _ = world_files  # each refused with the config, before the logs are read
    with pytest.raises(InputError, match="scan_windows: window: expected a duration"):
        load_config(None, inputs=[str(log)], out=tmp_path / "out", window="auto",
                    scan_windows=["10m", "soon"])
    with pytest.raises(InputError, match="scan_windows must list at least one window"):
        load_config(None, inputs=[str(log)], out=tmp_path / "out", window="auto",
                    scan_windows=[])
    with pytest.raises(InputError, match="window = auto runs on the duckdb engine only"):
        load_config(None, inputs=[str(log)], out=tmp_path / "out", window="auto",
                    engine="spark")
    built = dataclasses.replace(load_config(None, inputs=[str(tmp_path / "no such log.csv")],
                                            out=tmp_path / "out", window="auto"),
                                scan_windows=())  # a config built without load_config
    with pytest.raises(InputError, match="scan_windows must list at least one window"):
        run(built)  # not "no such file": the run checks its config first
