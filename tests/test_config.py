from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import load_config, window_seconds
from pipelines.ingest import InputError


def test_toml_then_options_win(tmp_path):
    cfg_path = tmp_path / "run.toml"
    cfg_path.write_text('inputs = ["a.csv"]\nout = "o"\nwindow = "30m"\nseed = 4\n'
                        '[columns]\naccount_id = "user"\n')
    cfg = load_config(cfg_path, seed=9, out=None)
    assert cfg.inputs == ("a.csv",) and cfg.out == Path("o")
    assert cfg.window_s == 1800 and cfg.seed == 9 and cfg.columns == {"account_id": "user"}


def test_unknown_key_names_the_closest(tmp_path):
    cfg_path = tmp_path / "run.toml"
    cfg_path.write_text('inputs = ["a.csv"]\nout = "o"\nmin_sise = 3\n')
    with pytest.raises(InputError, match="unknown key 'min_sise' \\(did you mean 'min_size'\\?\\)"):
        load_config(cfg_path)


def test_wrong_type_and_missing_required():
    with pytest.raises(InputError, match="'seed' must be a number"):
        load_config(None, inputs=["a"], out="o", seed="x")
    with pytest.raises(InputError, match="'inputs' is required"):
        load_config(None, out="o")


def test_broken_toml_is_a_clear_error(tmp_path):
    cfg_path = tmp_path / "run.toml"
    cfg_path.write_text("inputs = [")
    with pytest.raises(InputError, match="config .*run.toml"):
        load_config(cfg_path)


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("1h", 3600),
                                               ("2d", 172800), ("600", 600), ("1.5h", 5400)])
def test_windows(text, seconds):
    assert window_seconds(text) == seconds


@pytest.mark.parametrize("text", ["soon", "0s", "-1h", "1w"])
def test_bad_windows(text):
    with pytest.raises(InputError, match="window"):
        window_seconds(text)


def test_a_negative_resolution_reference_weight_is_an_error(tmp_path):
    with pytest.raises(InputError, match="resolution_reference_weight must be 0 \\(off\\) or "
                                         "positive, got -1"):
        load_config(None, inputs=["x.csv"], out=tmp_path, resolution_reference_weight=-1)


def test_engine_errors_come_before_any_log_is_read(tmp_path, monkeypatch):
    import sys

    from pipelines.run import run

    with pytest.raises(InputError, match="engine must be 'duckdb' or 'spark', got 'flink'"):
        load_config(None, inputs=["x.csv"], out=tmp_path, engine="flink")
    with pytest.raises(InputError, match="window = auto runs on the duckdb engine only"):
        load_config(None, inputs=["x.csv"], out=tmp_path, engine="spark", window="auto")
    monkeypatch.setitem(sys.modules, "pyspark", None)  # as if the spark extra were missing
    config = load_config(None, inputs=[str(tmp_path / "no such log.csv")], out=tmp_path / "o",
                         engine="spark")
    with pytest.raises(InputError, match=r"needs PySpark: pip install 'cohortscan\[spark\]'"):
        run(config)  # not "no such file": the log is not read first
