"""Input adapters on small, faithfully shaped samples of each export (tests/fixtures/)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.adapters import read_inputs, sniffed_format
from pipelines.cli import app
from pipelines.ingest import InputError

FIXTURES = Path(__file__).parent / "fixtures"


def rows(name: str, fmt: str = "auto") -> list[tuple]:
    adapted = read_inputs([FIXTURES / name], {}, fmt)
    frame = adapted.raw.to_pandas().sort_values(["line", "action", "target_id"])
    return list(frame[["line", "account_id", "target_id", "action", "timestamp"]]
                .itertuples(index=False, name=None))


@pytest.mark.parametrize(("name", "fmt"), [
    ("cnt_sample.csv", "cnt"), ("coortweet_sample.csv", "coortweet"),
    ("coortweet_wide.csv", "coortweet"), ("crowdtangle_sample.csv", "crowdtangle"),
    ("ira_sample.csv", "ira"), ("ranked_likes.csv", "generic"),
    ("twitter_v2_sample.jsonl", "twitter-v2"),
])
def test_sniffed_format(name, fmt):
    assert sniffed_format(FIXTURES / name) == fmt


@pytest.mark.parametrize("suffix", [".gz", ".xz", ".bz2"])
def test_compressed_ira_export_is_sniffed_and_read(tmp_path, suffix):
    import bz2
    import gzip
    import lzma

    opener = {".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open}[suffix]
    path = tmp_path / f"ira_sample.csv{suffix}"
    with opener(path, "wb") as fh:
        fh.write((FIXTURES / "ira_sample.csv").read_bytes())
    assert sniffed_format(path) == "ira"
    plain = read_inputs([FIXTURES / "ira_sample.csv"], {}).raw.drop_columns(["source"])
    assert read_inputs([path], {}).raw.drop_columns(["source"]).equals(plain)


def test_cnt_reposts_replies_texts_and_links():
    assert rows("cnt_sample.csv") == [
        (2, "u1", "Vote early, vote often! https://www.example.org/vote/?utm_source=tw",
         "post_text", "1636070400"),
        (2, "u1", "https://www.example.org/vote/?utm_source=tw", "share_url", "1636070400"),
        (3, "u2", "tweet:1001", "retweet", "1636070460"),
        (4, "u3", "@alice totally agree", "post_text", "1636070520"),
        (4, "u3", "tweet:1001", "reply", "1636070520"),
        (5, "u4", "Vote early and vote often!!", "post_text", "1636070580"),
        (5, "u4", "http://example.org/vote", "share_url", "1636070580"),
        (5, "u4", "https://bit.ly/3xYz", "share_url", "1636070580"),
    ]


def test_coortweet_narrow_and_wide():
    narrow = rows("coortweet_sample.csv")
    assert [(r[1][:4], r[2][:4], r[3], r[4]) for r in narrow] == [
        ("0fb4", "85d2", "share", "1623881000"), ("7d0e", "85d2", "share", "1623881030"),
        ("7d0e", "8986", "share", "1623879000")]
    wide = read_inputs([FIXTURES / "coortweet_wide.csv"], {})
    assert wide.layer_of == {"url": "url", "hashtag": "hashtag", "domain": "domain",
                             "phash": "phash"}
    assert sorted(wide.raw["target_id"].to_pylist()) == [
        "domain:3498", "domain:3498", "domain:6756", "hashtag:17", "hashtag:17", "phash:p9",
        "url:23678", "url:23678"]


def test_crowdtangle_links_messages_and_zones():
    assert rows("crowdtangle_sample.csv") == [
        (2, "100064", "Read this before the vote", "post_text", "2021-03-01 12:34:56-05:00"),
        (2, "100064", "https://news.example/story", "share_url", "2021-03-01 12:34:56-05:00"),
        (3, "100077", "Read this before the vote!!", "post_text", "2021-03-01 12:35:40-05:00"),
        (3, "100077", "https://bit.ly/abc", "share_url", "2021-03-01 12:35:40-05:00"),
    ]


def test_ira_retweets_hashtags_mentions_texts():
    got = rows("ira_sample.csv")
    retweets = [r for r in got if r[3] == "retweet"]
    assert [r[1] for r in retweets] == ["Pamela_Moore13", "jenn_abrams"]
    assert retweets[0][2] == retweets[1][2]  # case and spacing do not split a retweet
    assert [(r[1], r[2]) for r in got if r[3] in ("hashtag", "mention")] == [
        ("TEN_GOP", "hashtag:maga"), ("TEN_GOP", "user:realdonaldtrump"),
        ("jenn_abrams", "hashtag:maga"), ("TEN_GOP", "hashtag:debates2016"),
        ("TEN_GOP", "hashtag:maga")]
    assert [r[0] for r in got if r[3] == "post_text"] == [2, 5, 6]
    assert [(r[0], r[2]) for r in got if r[3] == "hashtag_seq"] == [
        (6, "hashtags:debates2016 maga")]  # only tweets with two or more hashtags


def test_twitter_v2_tweets_pages_likers_and_bad_line():
    adapted = read_inputs([FIXTURES / "twitter_v2_sample.jsonl"], {})
    got = rows("twitter_v2_sample.jsonl")
    assert (2, "12", "tweet:1500", "retweet", "2022-03-01T10:00:30.000Z") in got
    assert (2, "13", "tweet:1500", "reply", "2022-03-01T10:01:00.000Z") in got
    assert (1, "11", "hashtag:moon", "hashtag", "2022-03-01T10:00:00.000Z") in got
    assert (1, "11", "hashtags:moon hodl", "hashtag_seq", "2022-03-01T10:00:00.000Z") in got
    assert [r[1:] for r in got if r[3] == "like@order"] == [
        ("12", "tweet:1500", "like@order", "0"), ("13", "tweet:1500", "like@order", "-1")]
    assert not [r for r in got if r[1] == "12" and r[3] == "post_text"]  # retweet text
    assert adapted.order_actions == {"like@order"}
    assert adapted.parse_rejects.to_pylist()[0]["line"] == 4


def test_generic_rank_column_gives_order_only_rows():
    adapted = read_inputs([FIXTURES / "ranked_likes.csv"], {})
    assert adapted.order_actions == {"like@order"}
    assert [r[3:] for r in rows("ranked_likes.csv")][:2] == [("like@order", "1"),
                                                             ("like@order", "2")]
    assert rows("ranked_likes.csv")[-1][3:] == ("like", "2026-11-01T10:01:00Z")


def test_wrong_format_names_the_likely_one():
    with pytest.raises(InputError, match=r"--format ira needs column\(s\) author_id.*looks like "
                                         r"'cnt'"):
        read_inputs([FIXTURES / "cnt_sample.csv"], {}, "ira")


def test_unknown_format_name():
    with pytest.raises(InputError, match="unknown format 'tiktok'"):
        read_inputs([FIXTURES / "cnt_sample.csv"], {}, "tiktok")


def test_unrecognised_columns(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("who,what,when\na,b,c\n")
    with pytest.raises(InputError, match=r"cannot tell the format from its columns \(what"):
        sniffed_format(path)
    with pytest.raises(InputError, match="missing required column 'account_id'"):
        read_inputs([path], {})  # auto falls back to generic, which names the column


def test_unrecognised_json(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"foo": 1}\n')
    with pytest.raises(InputError, match="cannot tell the format of this JSON"):
        sniffed_format(path)


@pytest.mark.parametrize(("text", "match"), [
    ("", "empty file or first line is not a JSON object"), ("[1]\n", "not a JSON object"),
    ("{broken\n", "cannot read the first JSON line")])
def test_bad_first_json_line(tmp_path, text, match):
    path = tmp_path / "x.jsonl"
    path.write_text(text)
    with pytest.raises(InputError, match=match):
        sniffed_format(path)


def test_twitter_v2_without_tweets(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"data": []}\n')
    with pytest.raises(InputError, match="found no tweets or liking users"):
        read_inputs([path], {}, "twitter-v2")


def test_coortweet_without_object_columns(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("account_id,post_id,timestamp\na,1,5\n")
    with pytest.raises(InputError, match="needs object_id or <kind>_id columns"):
        read_inputs([path], {}, "coortweet")


def test_generic_explicit_still_uses_column_map(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("user,target_id,action,timestamp\nu1,p1,like,1700000000\n")
    adapted = read_inputs([path], {"account_id": "user"})
    assert adapted.raw["account_id"].to_pylist() == ["u1"]


def test_run_with_format_writes_layers_and_cohort_layers(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", str(FIXTURES / "ranked_likes.csv"), "--out",
                                      str(out), "--format", "generic"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parameters"]["format"] == "generic"
    assert set(manifest["projection"]["layers"]) == {"engage", "like@order"}
    layers = pd.read_csv(out / "cohort_layers.csv")
    assert layers[["layer", "edges", "ties"]].values.tolist() == [["like@order", 1, 2]]
    edges = pd.read_parquet(out / "edges.parquet")
    assert edges["layers"].tolist() == ['["like@order"]']


def test_cli_wrong_format_exits_1(tmp_path):
    result = CliRunner().invoke(app, ["run", str(FIXTURES / "cnt_sample.csv"), "--out",
                                      str(tmp_path / "x"), "--format", "ira"])
    assert result.exit_code == 1
    assert "--format ira needs column(s)" in result.output
