"""Twitter/X API v2 JSON Lines → interaction, text and URL rows.

Each line is either one tweet object (``id, author_id, created_at, text,
referenced_tweets, entities``) or a response page ``{"data": [...], "includes": ...}`` as
written by collectors such as twarc2, which add ``"__twarc": {"url": ...}``. Pages of the
``/2/tweets/:id/liking_users`` endpoint carry no like times; their users become order-only
``like@order`` rows whose "timestamp" is the position in the list (the API lists the most
recent liker first, so position 0 is the latest like).
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pandas as pd

from pipelines.ingest import InputError

_LIKING = re.compile(r"/2/tweets/(\d+)/liking_users")
_REFERENCE = {"retweeted": "retweet", "quoted": "quote", "replied_to": "reply"}

Rows = list[dict[str, object]]


def first_json_object(path: Path) -> dict:
    """The first non-empty line of a JSON Lines file as an object (for format sniffing)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            line = next((text for text in fh if text.strip()), "")
        obj = json.loads(line) if line else None
    except (OSError, UnicodeDecodeError, EOFError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read the first JSON line ({exc})") from exc
    if not isinstance(obj, dict):
        raise InputError(f"{path}: empty file or first line is not a JSON object")
    return obj


def twitter_v2_file(path: Path) -> tuple[pd.DataFrame, Rows]:
    """Read a v2 JSON Lines file (optionally gzipped): raw rows (``line, account_id,
    target_id, action, timestamp`` as text) and rejected lines (``line, reason, raw``)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise InputError(f"{path}: cannot read as JSON Lines ({exc})") from exc
    raw, rejects = twitter_v2_rows(lines)
    if not raw and not rejects:
        raise InputError(f"{path}: --format twitter-v2 found no tweets or liking users")
    columns = ["line", "account_id", "target_id", "action", "timestamp"]
    return pd.DataFrame(raw, columns=columns).astype({"line": "int64"}), rejects


def twitter_v2_rows(lines: list[str]) -> tuple[Rows, Rows]:
    """Return (interaction rows, rejected lines) of a v2 JSONL file.

    Rows carry ``line, account_id, target_id, action, timestamp``; posted texts are
    ``post_text`` rows and links ``share_url`` rows with the text or link as ``target_id``;
    rejects carry ``line, reason, raw``.
    """
    raw: Rows = []
    rejects: Rows = []
    position: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            rejects.append({"line": number, "reason": "invalid JSON line", "raw": line[:500]})
            continue
        if not isinstance(obj, dict):
            rejects.append({"line": number, "reason": "not a JSON object", "raw": line[:500]})
            continue
        liked = _LIKING.search(str(obj.get("__twarc", {}).get("url", "")))
        items = obj["data"] if isinstance(obj.get("data"), list) else [obj.get("data", obj)]
        for item in items:
            if not isinstance(item, dict):
                continue
            if liked:
                tweet = liked.group(1)
                rank = position.get(tweet, 0)
                position[tweet] = rank + 1
                raw.append(_row(number, item.get("id"), f"tweet:{tweet}", "like@order", -rank))
            else:
                _tweet(number, item, raw)
    return raw, rejects


def _row(line: int, account, target: str, action: str, timestamp) -> dict[str, object]:
    return {"line": line, "account_id": "" if account is None else str(account),
            "target_id": target, "action": action,
            "timestamp": "" if timestamp is None else str(timestamp)}


def _tweet(line: int, tweet: dict, raw: Rows) -> None:
    author, when = tweet.get("author_id"), tweet.get("created_at")
    kinds = {r.get("type"): r.get("id") for r in tweet.get("referenced_tweets") or []
             if isinstance(r, dict)}
    for kind, action in _REFERENCE.items():
        if kind in kinds:
            raw.append(_row(line, author, f"tweet:{kinds[kind]}", action, when))
    if "retweeted" in kinds:
        return  # the text, hashtags and links of a retweet belong to the original author
    entities = tweet.get("entities") or {}
    tags = [str(tag.get("tag", "")).lower() for tag in entities.get("hashtags") or []]
    raw += [_row(line, author, f"hashtag:{tag}", "hashtag", when) for tag in tags]
    if len(tags) > 1:
        raw.append(_row(line, author, "hashtags:" + " ".join(tags), "hashtag_seq", when))
    for user in entities.get("mentions") or []:
        raw.append(_row(line, author, f"user:{str(user.get('username', '')).lower()}",
                        "mention", when))
    for link in entities.get("urls") or []:
        url = link.get("unwound_url") or link.get("expanded_url") or link.get("url")
        if url:
            raw.append(_row(line, author, str(url), "share_url", when))
    if tweet.get("text"):
        raw.append(_row(line, author, str(tweet["text"]), "post_text", when))
