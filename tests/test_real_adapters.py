"""The real datasets of ../shared/data/real load through their natural adapters.

Skipped when the shared folder is absent. Only samples of rows are read, so this stays fast.
"""

from __future__ import annotations

import lzma
from pathlib import Path

import pandas as pd
import pytest

from graphs.interactions import validated_interactions
from graphs.multiplex import typed_layers
from pipelines.adapters import read_inputs, sniffed_format

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
IRA = REAL / "ira_troll_tweets_2016h2" / "tweets_2016h2.csv.xz"
RUSSIAN = REAL / "coortweet_russian_coord_tweets" / "russian_coord_tweets.rda"
GERMAN = REAL / "coortweet_german_elections" / "german_elections.rda"

pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="../shared/data/real is absent")


def test_ira_sample_gives_retweet_text_hashtag_mention_layers(tmp_path):
    sample = tmp_path / "ira_sample.csv"
    with lzma.open(IRA, "rt", encoding="utf-8") as src:
        head = [next(src) for _ in range(5001)]
    sample.write_text("".join(head), encoding="utf-8")
    assert sniffed_format(sample) == "ira"
    assert sniffed_format(IRA) == "ira"  # the xz-compressed original (header read via lzma)
    adapted = read_inputs([sample], {})
    valid = validated_interactions(adapted.raw)
    assert valid.rejected.num_rows == 0
    layers = typed_layers(valid.interactions.to_pandas(), layer_of=adapted.layer_of)
    assert {"retweet", "text", "hashtag", "mention"} <= set(layers)
    tweets = pd.read_csv(sample, dtype=str, keep_default_na=False)
    assert len(layers["retweet"].interactions) <= (tweets["post_type"] == "R").sum()
    assert layers["text"].interactions["target_id"].str.startswith("text:").all()


@pytest.mark.parametrize(("path", "actions"), [
    (RUSSIAN, {"share"}), (GERMAN, {"url", "domain", "hashtag", "phash"})])
def test_coortweet_rda_tables(path, actions):
    assert sniffed_format(path) == "coortweet"
    adapted = read_inputs([path], {})
    assert set(adapted.raw["action"].to_pylist()) == actions
    valid = validated_interactions(adapted.raw.slice(0, 20000))
    assert valid.rejected.num_rows == 0


def test_russian_coord_tweets_match_the_converted_counts():
    adapted = read_inputs([RUSSIAN], {})
    valid = validated_interactions(adapted.raw)
    converted = pd.read_csv(RUSSIAN.parent / "interactions.csv.gz", dtype=str)
    assert valid.interactions.num_rows == converted.drop_duplicates().shape[0]
    assert len(valid.interactions["account_id"].unique()) == converted["account_id"].nunique()
