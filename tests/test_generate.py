"""benchmarks/generate.py: benchmark logs, one world or several regions of bounded size."""

from __future__ import annotations

import pandas as pd

from benchmarks import generate
from graphs.synthetic import synthetic_logs


def _read(out):
    inter = pd.read_csv(out / "interactions.csv.gz", dtype=str)
    return inter, *(pd.read_csv(out / f"{n}.csv", dtype=str, keep_default_na=False)
                    for n in ("posts", "accounts", "labels"))


def test_a_sharded_log_is_regions_with_ids_of_their_own(tmp_path, monkeypatch):
    whole = generate.write_logs(15_000, tmp_path / "one", seed=3)
    monkeypatch.setattr(generate, "SHARD_ROWS", 15_000)
    sharded = generate.write_logs(30_000, tmp_path / "two", seed=3)
    one, two = _read(tmp_path / "one"), _read(tmp_path / "two")
    inter, posts, accounts, labels = two
    assert sharded["rows"] == len(inter) and whole["rows"] == len(one[0])
    region = inter["account_id"].str.split(".").str[0]
    assert set(region) == {"r0", "r1"}
    assert (inter["target_id"].str.split(".").str[0] == region).all()  # no cross-region tie
    # region 0 is the one-world log of the same seed and size, its ids prefixed
    first = inter[region == "r0"].reset_index(drop=True)
    assert first["account_id"].tolist() == ("r0." + one[0]["account_id"]).tolist()
    assert first[["action", "timestamp"]].equals(one[0][["action", "timestamp"]])
    assert len(inter) > len(first)
    # side tables: every region's rows, one header, ids and farm groups prefixed alike
    assert set(labels["account_id"]) == set(accounts["account_id"])
    assert set(inter["account_id"]) <= set(labels["account_id"])
    farms = labels.loc[labels["label"] == "farm", "group"]
    assert farms.str.match(r"^r[01]\.").all() and (labels.loc[labels["label"] == "organic",
                                                             "group"] == "").all()
    assert set(posts["target_id"].str.split(".").str[0]) == {"r0", "r1"}


def test_viral_size_reaches_the_generator_only_when_given(tmp_path, monkeypatch):
    seen = []

    def recorded(**kwargs):
        seen.append(kwargs.get("viral_size"))
        return synthetic_logs(**kwargs)

    monkeypatch.setattr(generate, "synthetic_logs", recorded)
    generate.write_logs(15_000, tmp_path / "usual", seed=3)
    generate.write_logs(15_000, tmp_path / "hot", seed=3, viral_size=(600, 900))
    assert seen == [None, (600, 900)]  # None: the scenario's own 200-1,500 engagers
    usual, hot = (_read(tmp_path / name)[0] for name in ("usual", "hot"))
    assert not usual.equals(hot)
