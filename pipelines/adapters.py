"""Input adapters: platform exports → the raw interaction table, with layers.

Every adapter returns :class:`Adapted`: the raw table that
:func:`graphs.interactions.validated_interactions` takes (``source, line, account_id,
target_id, action, timestamp`` as text), the layer of each action, and the actions whose
"timestamp" is a rank (likes without timestamps). Posted texts are rows with action
``post_text`` and the text itself as ``target_id``; shared links are rows with action
``share_url`` and the link as ``target_id`` — :func:`graphs.multiplex.typed_layers` turns
them into near-duplicate groups and normalised URLs after validation, so every row goes
through the same typing, rejection and row accounting. ``--format auto`` sniffs each file
from its columns; a format that does not fit a file is an InputError.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from graphs.url_layer import urls_in_text
from pipelines.adapters_twitter import first_json_object, twitter_v2_file
from pipelines.ingest import (
    RAW_SCHEMA,
    REJECT_SCHEMA,
    InputError,
    csv_header,
    file_format,
    read_interactions,
)

FORMATS = ("generic", "twitter-v2", "cnt", "coortweet", "crowdtangle", "ira")
SIGNATURES = {  # columns that identify a format (besides generic's account_id … timestamp)
    "cnt": {"message_id", "user_id", "repost_id", "reply_id", "message", "timestamp"},
    "coortweet": {"object_id", "account_id", "content_id", "timestamp_share"},
    "crowdtangle": {"Post Created", "Link", "Message"},
    "ira": {"author_id", "content", "publish_date", "post_type"},
}
RAW = tuple(RAW_SCHEMA.names)
_TZ = {"UTC": "+00:00", "GMT": "+00:00", "EST": "-05:00", "EDT": "-04:00", "CST": "-06:00",
       "CDT": "-05:00", "MST": "-07:00", "MDT": "-06:00", "PST": "-08:00", "PDT": "-07:00",
       "CET": "+01:00", "CEST": "+02:00", "BST": "+01:00"}


class Adapted(NamedTuple):
    raw: pa.Table
    parse_rejects: pa.Table
    layer_of: dict[str, str]
    """Action → layer name; actions not listed belong to the ``engage`` layer."""
    order_actions: frozenset[str]
    """Actions whose timestamp column holds a rank (order-only likes)."""


def sniffed_format(path: Path) -> str:
    """Guess a file's format from its columns (or first JSON object); InputError if none fits."""
    if path.suffix.lower() in (".rda", ".rdata", ".rds"):
        return "coortweet"
    if _is_json(path):
        first = first_json_object(path)
        if {"account_id", "target_id", "action"} <= set(first):
            return "generic"
        if {"data", "text", "author_id"} & set(first):
            return "twitter-v2"
        raise InputError(f"{path}: cannot tell the format of this JSON (keys: "
                         f"{', '.join(sorted(first)[:12])}); pass --format")
    header = _header(path)
    for fmt, needed in SIGNATURES.items():
        if needed <= header:
            return fmt
    if {"account_id", "target_id", "action"} <= header and header & {"timestamp", "rank"}:
        return "generic"
    if {"account_id", "post_id", "timestamp"} <= header and _object_columns(header):
        return "coortweet"
    raise InputError(f"{path}: cannot tell the format from its columns "
                     f"({', '.join(sorted(header)[:12])}); expected one of {', '.join(FORMATS)} "
                     "or map columns in the config's [columns] table with --format generic")


def read_inputs(paths: Sequence[Path], columns: Mapping[str, str], fmt: str = "auto") -> Adapted:
    """Read every file through its adapter and concatenate the results."""
    if fmt != "auto" and fmt not in FORMATS:
        raise InputError(f"--format: unknown format {fmt!r} (expected auto, {', '.join(FORMATS)})")
    parts = []
    for path in paths:
        chosen = fmt
        if fmt == "auto":
            chosen = "generic" if columns else _sniffed_or_generic(path)
        parts.append(_ADAPTERS[chosen](path, columns))
    return Adapted(
        raw=pa.concat_tables([p.raw for p in parts]),
        parse_rejects=pa.concat_tables([p.parse_rejects for p in parts]),
        layer_of={k: v for p in parts for k, v in p.layer_of.items()},
        order_actions=frozenset().union(*(p.order_actions for p in parts)),
    )


def plain_logs(paths: Sequence[Path], columns: Mapping[str, str], fmt: str = "auto") -> bool:
    """Whether every file is a log of the generic format with timestamps (no ``rank``
    column) in CSV, Parquet or JSON Lines: such files need no adapter, and
    :func:`pipelines.ingest.streamed_interactions` types them as it scans them.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "log.csv"
    >>> _ = path.write_text("account_id,target_id,action,timestamp\\nu,p,like,1\\n")
    >>> plain_logs([path], {}), plain_logs([path], {}, fmt="cnt")
    (True, False)
    """
    if fmt not in ("auto", "generic"):
        return False
    for path in paths:
        try:
            file_format(path)
        except InputError:
            return False
        chosen = "generic" if fmt == "generic" or columns else _sniffed_or_generic(path)
        if chosen != "generic" or (not _is_json(path) and "rank" in _header(path)):
            return False
    return True


def _sniffed_or_generic(path: Path) -> str:
    """A CSV nothing recognises is read as generic, whose error names the missing column."""
    try:
        return sniffed_format(path)
    except InputError:
        if _is_json(path):
            raise
        return "generic"


def _is_json(path: Path) -> bool:
    return any(path.name.lower().endswith(s) for s in (".json", ".jsonl", ".ndjson",
                                                       ".jsonl.gz", ".json.gz"))


def _header(path: Path) -> set[str]:
    """Column names of a CSV/TSV (with our delimiter sniffing) or Parquet file."""
    if path.name.lower().endswith(".parquet"):
        try:
            return set(pq.read_schema(path).names)
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"{path}: cannot read as Parquet ({exc})") from exc
    return set(csv_header(path)[0])


def _read(path: Path, *, nrows: int | None = None, fmt: str = "") -> pd.DataFrame:
    sep = "\t" if ".tsv" in path.name.lower() else ","
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, sep=sep, nrows=nrows)
    except (OSError, ValueError, UnicodeDecodeError, EOFError) as exc:
        raise InputError(f"{path}: cannot read as {fmt or 'CSV'} ({exc})") from exc


def _checked(path: Path, fmt: str, frame: pd.DataFrame, needed: set[str]) -> pd.DataFrame:
    missing = sorted(needed - set(frame.columns))
    if missing:
        guess = _guess(frame.columns)
        hint = f"; the file looks like '{guess}'" if guess and guess != fmt else ""
        raise InputError(f"{path}: --format {fmt} needs column(s) {', '.join(missing)} "
                         f"(found: {', '.join(list(frame.columns)[:12])}){hint}")
    return frame


def _guess(found) -> str | None:
    return next((f for f, needed in SIGNATURES.items() if needed <= set(found)), None)


def _table(path: Path, names: Sequence[str], **cols) -> pd.DataFrame:
    frame = pd.DataFrame(cols)
    frame.insert(0, "source", str(path))
    return frame[list(names)].astype({c: str for c in names if c != "line"})


def _adapted(parts: list[pd.DataFrame], layer_of=None, order=()) -> Adapted:
    raw = pd.concat(parts, ignore_index=True).astype({"line": "int64"})
    return Adapted(
        raw=pa.Table.from_pandas(raw[list(RAW)], preserve_index=False),
        parse_rejects=REJECT_SCHEMA.empty_table(),
        layer_of=dict(layer_of or {}), order_actions=frozenset(order))


def _generic(path: Path, columns: Mapping[str, str]) -> Adapted:
    header = _header(path) if not _is_json(path) else set()
    if "rank" not in header:
        raw = read_interactions([path], columns)
        return Adapted(raw.raw, raw.parse_rejects, {}, frozenset())
    frame = _checked(path, "generic", _read(path), {"account_id", "target_id", "action"})
    stamp = frame["timestamp"] if "timestamp" in frame else pd.Series("", index=frame.index)
    untimed = stamp.str.strip().eq("") & frame["rank"].str.strip().ne("")
    action = frame["action"].str.strip().str.lower()
    action = action.where(~untimed, action + "@order")
    raw = _table(path, RAW, line=frame.index + 2, account_id=frame["account_id"],
                 target_id=frame["target_id"], action=action,
                 timestamp=stamp.where(~untimed, frame["rank"]))
    ordered = set(action[untimed])
    return _adapted([raw], layer_of={a: a for a in ordered}, order=ordered)


def _cnt(path: Path, columns: Mapping[str, str]) -> Adapted:
    f = _checked(path, "cnt", _read(path, fmt="cnt"), SIGNATURES["cnt"])
    line = f.index + 2
    parts = []
    for column, action in (("repost_id", "retweet"), ("reply_id", "reply")):
        has = f[column].str.strip() != ""
        parts.append(_table(path, RAW, line=line[has], account_id=f.loc[has, "user_id"],
                            target_id="tweet:" + f.loc[has, column], action=action,
                            timestamp=f.loc[has, "timestamp"]))
    own = f["repost_id"].str.strip() == ""
    parts.append(_table(path, RAW, line=line[own], account_id=f.loc[own, "user_id"],
                        target_id=f.loc[own, "message"], action="post_text",
                        timestamp=f.loc[own, "timestamp"]))
    links = f.loc[own, ["user_id", "timestamp", "urls"]].assign(
        line=line[own], url=f.loc[own, "urls"].str.split()).explode("url").dropna()
    parts.append(_table(path, RAW, line=links["line"], account_id=links["user_id"],
                        target_id=links["url"], action="share_url",
                        timestamp=links["timestamp"]))
    return _adapted(parts, {"retweet": "retweet", "reply": "reply"})


def _coortweet(path: Path, columns: Mapping[str, str]) -> Adapted:
    f = _rda(path) if path.suffix.lower() in (".rda", ".rdata", ".rds") else _read(path)
    if "object_id" in f.columns:
        f = _checked(path, "coortweet", f, SIGNATURES["coortweet"])
        raw = _table(path, RAW, line=f.index + 2, account_id=f["account_id"],
                     target_id=f["object_id"], action="share", timestamp=f["timestamp_share"])
        return _adapted([raw])
    f = _checked(path, "coortweet", f, {"account_id", "timestamp"})
    kinds = _object_columns(f.columns)
    if not kinds:
        raise InputError(f"{path}: --format coortweet needs object_id or <kind>_id columns")
    parts = []
    for column in kinds:
        kind = column.removesuffix("_id")
        has = f[column].str.strip() != ""
        parts.append(_table(path, RAW, line=f.index[has] + 2, account_id=f.loc[has, "account_id"],
                            target_id=f"{kind}:" + f.loc[has, column], action=kind,
                            timestamp=f.loc[has, "timestamp"]))
    return _adapted(parts, layer_of={c.removesuffix("_id"): c.removesuffix("_id") for c in kinds})


def _object_columns(columns) -> list[str]:
    """CooRTweet's wide table: every ``<kind>_id`` column but the account and post ids."""
    return [c for c in columns if c.endswith("_id") and c not in ("account_id", "post_id")]


def _rda(path: Path) -> pd.DataFrame:
    import pyreadr

    try:
        frames = pyreadr.read_r(str(path))
    except (pyreadr.custom_errors.PyreadrError, OSError) as exc:
        raise InputError(f"{path}: cannot read as R data ({exc})") from exc
    if not frames:
        raise InputError(f"{path}: no data frame in this R file")
    frame = next(iter(frames.values()))
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_float_dtype(values):
            out[column] = values.map(lambda v: "" if pd.isna(v) else repr(float(v)))
        else:
            out[column] = values.astype(object).where(values.notna(), "").astype(str)
    return out


def _crowdtangle(path: Path, columns: Mapping[str, str]) -> Adapted:
    f = _checked(path, "crowdtangle", _read(path, fmt="crowdtangle"), SIGNATURES["crowdtangle"])
    who = next((c for c in ("Facebook Id", "User Name", "Page Name") if c in f.columns), None)
    if who is None:
        raise InputError(f"{path}: --format crowdtangle needs 'Facebook Id', 'User Name' or "
                         "'Page Name'")
    when = f["Post Created"].str.strip().map(_with_offset)
    final = f["Final Link"] if "Final Link" in f.columns else pd.Series("", index=f.index)
    link = final.where(final.str.strip() != "", f["Link"])
    has = link.str.strip() != ""
    urls = _table(path, RAW, line=f.index[has] + 2, account_id=f.loc[has, who],
                  target_id=link[has], action="share_url", timestamp=when[has])
    said = f["Message"].str.strip() != ""
    texts = _table(path, RAW, line=f.index[said] + 2, account_id=f.loc[said, who],
                   target_id=f.loc[said, "Message"], action="post_text", timestamp=when[said])
    return _adapted([urls, texts])


def _with_offset(stamp: str) -> str:
    head, _, zone = stamp.rpartition(" ")
    return f"{head}{_TZ[zone]}" if head and zone in _TZ else stamp


def _ira(path: Path, columns: Mapping[str, str]) -> Adapted:
    f = _checked(path, "ira", _read(path, fmt="ira"), SIGNATURES["ira"])
    line, text = f.index + 2, f["content"]
    rt = f["post_type"].str.strip().str.upper() == "R"
    retweets = _table(path, RAW, line=line[rt], account_id=f.loc[rt, "author_id"],
                      target_id="rt:" + text[rt].map(_text_key), action="retweet",
                      timestamp=f.loc[rt, "publish_date"])
    own = f.loc[~rt].assign(line=line[~rt])
    parts = [retweets]
    for action, prefix, pattern in (("hashtag", "hashtag:", r"#(\w+)"),
                                    ("mention", "user:", r"@(\w+)")):
        found = own.assign(tag=own["content"].str.findall(pattern)).explode("tag").dropna(
            subset=["tag"])
        parts.append(_table(path, RAW, line=found["line"], account_id=found["author_id"],
                            target_id=prefix + found["tag"].str.lower(), action=action,
                            timestamp=found["publish_date"]))
    tags = own["content"].str.findall(r"#(\w+)").map(lambda t: " ".join(t).lower())
    seq = own.assign(target=("hashtags:" + tags).where(tags.str.contains(" "), ""),
                     action="hashtag_seq")
    links = own.assign(target=own["content"].map(urls_in_text), action="share_url")
    for frame in (own.assign(target=own["content"], action="post_text"), seq,
                  links.explode("target").dropna(subset=["target"])):
        frame = frame.loc[frame["target"] != ""]
        parts.append(_table(path, RAW, line=frame["line"], account_id=frame["author_id"],
                            target_id=frame["target"], action=frame["action"],
                            timestamp=frame["publish_date"]))
    return _adapted(parts, {a: a for a in ("retweet", "hashtag", "mention", "hashtag_seq")})


def _text_key(text: str) -> str:
    return hashlib.sha1(" ".join(text.lower().split()).encode()).hexdigest()[:16]


def _twitter_v2(path: Path, columns: Mapping[str, str]) -> Adapted:
    raw, rejects = twitter_v2_file(path)
    return Adapted(
        raw=pa.Table.from_pandas(raw.assign(source=str(path))[list(RAW)], preserve_index=False),
        parse_rejects=pa.Table.from_pylist([{"source": str(path), **r} for r in rejects],
                                           schema=REJECT_SCHEMA),
        layer_of={a: a for a in ("retweet", "quote", "reply", "hashtag", "hashtag_seq", "mention",
                                 "like@order")},
        order_actions=frozenset({"like@order"}))


_ADAPTERS = {"generic": _generic, "cnt": _cnt, "coortweet": _coortweet,
             "crowdtangle": _crowdtangle, "ira": _ira, "twitter-v2": _twitter_v2}
