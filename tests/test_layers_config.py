"""Layer settings from the run configuration (pipelines/layers.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.config import RunConfig
from pipelines.ingest import InputError
from pipelines.layers import account_profiles, input_layers

T0 = pd.Timestamp("2026-11-01", tz="UTC")
ROWS = pd.DataFrame({"account_id": ["a", "b", "a", "b"], "target_id": ["p", "p", "u", "u"],
                     "action": ["like", "like", "follow", "follow"], "timestamp": [T0] * 4})


def config(**kw) -> RunConfig:
    return RunConfig(inputs=("x",), out=Path("x"), **kw)


def test_action_layers_windows_and_weights():
    layers = input_layers(None, ROWS, config(action_layers={"follow": "follows"},
                                             layer_windows={"follows": "2d"},
                                             layer_weights={"follows": 0.5}))
    assert sorted(layers) == ["engage", "follows"]
    assert (layers["follows"].window_s, layers["follows"].weight) == (172800, 0.5)
    assert layers["engage"].window_s == 3600


@pytest.mark.parametrize(("kw", "match"), [
    ({"layer_windows": {"text": "soon"}}, "layer_windows.text: window: expected a duration"),
    ({"layer_weights": {"text": -1}}, "layer_weights.text must be a positive number"),
    ({"rank_window": 0}, "rank_window must be positive"),
    ({"action_layers": {"follow": ""}}, r"\[action_layers\] must map actions to layer names"),
    ({"action_layers": {"like": "x"}, "layer_windows": {"x": 0}}, "window: must be positive"),
])
def test_bad_layer_settings(kw, match):
    with pytest.raises(InputError, match=match):
        input_layers(None, ROWS, config(**kw))


def test_account_profiles_adds_optional_columns(tmp_path):
    path = tmp_path / "accounts.csv"
    path.write_text("account_id,created_at,handle,profile_changes\n a ,2026-01-01,ann123456,3\n")
    table = pd.DataFrame({"account_id": ["a"], "created_at": [T0]})
    out = account_profiles(path, table)
    assert out[["handle", "profile_changes"]].values.tolist() == [["ann123456", "3"]]
    plain = tmp_path / "plain.csv"
    plain.write_text("account_id,created_at\na,2026-01-01\n")
    assert account_profiles(plain, table) is table


def test_account_profiles_read_only_the_columns_they_add(tmp_path, monkeypatch):
    table = pd.DataFrame({"account_id": ["a", "b"], "created_at": [T0, T0]})
    parquet = tmp_path / "accounts.parquet"
    pd.DataFrame({"account_id": ["a"], "bio": ["x"], "handle": ["ann123456"]}).to_parquet(parquet)
    out = account_profiles(parquet, table)
    assert out.columns.tolist() == ["account_id", "created_at", "handle"]
    assert out["handle"].tolist()[0] == "ann123456" and pd.isna(out["handle"].tolist()[1])
    lines = tmp_path / "accounts.jsonl"
    lines.write_text('{"account_id": "b", "profile_changes": 2}\n')
    assert account_profiles(lines, table)["profile_changes"].tolist()[1] == 2
    plain = tmp_path / "plain.parquet"
    pd.DataFrame({"account_id": ["a"]}).to_parquet(plain)
    monkeypatch.setattr(pd, "read_parquet", lambda *a, **k: pytest.fail("read whole"))
    assert account_profiles(plain, table) is table  # its schema says: nothing to add
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(InputError, match="broken.parquet: cannot read"):
        account_profiles(broken, table)


def test_run_writes_account_context(tmp_path):
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("account_id,created_at,profile_changes\na,2026-01-01,4\nb,2026-01-02,6\n"
                        "c,2020-05-01,0\n")
    log = Path(__file__).parent / "fixtures" / "ranked_likes.csv"
    result = CliRunner().invoke(app, ["run", str(log), "--accounts", str(accounts), "--out",
                                      str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    context = pd.read_csv(tmp_path / "run" / "account_context.csv")
    assert context[["known_accounts", "creation_burst_share", "mean_profile_changes"]] \
        .values.tolist() == [[2, 1.0, 5.0]]
    assert context["baseline_mean_profile_changes"].round(3).tolist() == [3.333]
