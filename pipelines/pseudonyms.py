"""Pseudonyms for accounts outside flagged cohorts, for shareable outputs.

A pseudonym is ``anon_`` + the first 16 hex digits of HMAC-SHA256(key, account id): the
same account gets the same pseudonym everywhere in one run, and in every run that uses
the same key. Without a configured ``pseudonym_key`` a random key is drawn per run and
never written anywhere, so the pseudonyms cannot be linked to ids or across runs; the
manifest records only that pseudonymisation was on and the key's origin.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import NamedTuple

import pandas as pd

PREFIX = "anon_"


def new_key() -> bytes:
    """A random 32-byte key for one run."""
    return secrets.token_bytes(32)


def pseudonym(account_id: str, key: bytes) -> str:
    """Stable keyed pseudonym of one account id.

    Examples
    --------
    >>> pseudonym("alice", b"k")
    'anon_ec631a55bb81f5b9'
    >>> pseudonym("alice", b"k") == pseudonym("alice", b"k") != pseudonym("alice", b"j")
    True
    """
    digest = hmac.new(key, str(account_id).encode("utf-8", "surrogatepass"), hashlib.sha256)
    return PREFIX + digest.hexdigest()[:16]


def pseudonymised(frame: pd.DataFrame, *, keep: set[str], key: bytes) -> pd.DataFrame:
    """A copy of a table with account ids outside ``keep`` replaced by pseudonyms.

    Handles ``account_id`` and the pair columns ``account_a``/``account_b``; after
    renaming, each pair is swapped where needed so that ``account_a < account_b`` still
    holds, together with every other ``*_a``/``*_b`` column (times, actions).

    Parameters
    ----------
    frame : DataFrame
        ``memberships``, ``co_engagement_edges``, ``edge_evidence`` or another table
        with those columns.
    keep : set of str
        Account ids shown as they are (the flagged accounts).
    key : bytes
        HMAC key.

    Returns
    -------
    DataFrame
    """
    out = frame.copy()
    for column in ("account_id", "account_a", "account_b"):
        if column in out.columns:
            ids = out[column].astype(str)
            out[column] = ids.where(ids.isin(keep), ids.map(lambda a: pseudonym(a, key)))
    if {"account_a", "account_b"} <= set(out.columns):
        swap = (out["account_a"] > out["account_b"]).to_numpy()
        pairs = [(c, c[:-2] + "_b") for c in out.columns
                 if c.endswith("_a") and c[:-2] + "_b" in out.columns]
        for col_a, col_b in pairs:
            a, b = out[col_a].copy(), out[col_b].copy()
            out.loc[swap, col_a] = b[swap]
            out.loc[swap, col_b] = a[swap]
    return out


class Shareable(NamedTuple):
    """The tables that leave the run, and a note for the manifest."""

    memberships: pd.DataFrame
    edges: pd.DataFrame
    evidence: pd.DataFrame
    rejected: pd.DataFrame
    note: dict


def shareable_tables(
    *,
    memberships: pd.DataFrame,
    edges: pd.DataFrame,
    evidence: pd.DataFrame,
    rejected: pd.DataFrame,
    flagged_accounts: pd.DataFrame,
    enabled: bool,
    key: str = "",
) -> Shareable:
    """Tables for the outputs: unchanged, or with accounts outside flagged cohorts renamed.

    When ``enabled``, ``memberships``, ``edges`` and ``evidence`` go through
    :func:`pseudonymised` (flagged accounts keep their ids) and the ``raw`` text of
    rejected rows is withheld (it holds account ids). ``key`` is the configured
    ``pseudonym_key``; empty means a random key for this run only.
    """
    if not enabled:
        return Shareable(memberships, edges, evidence, rejected, {"enabled": False})
    secret = key.encode("utf-8") if key else new_key()
    keep = set(flagged_accounts["account_id"].astype(str))
    withheld = rejected.assign(raw="(withheld: pseudonymised run)") if len(rejected) else rejected
    note = {"enabled": True, "method": "HMAC-SHA256, first 16 hex digits, prefix anon_",
            "key": "pseudonym_key from the configuration" if key else "random, this run only",
            "kept_accounts": len(keep)}
    return Shareable(pseudonymised(memberships, keep=keep, key=secret),
                     pseudonymised(edges, keep=keep, key=secret),
                     pseudonymised(evidence, keep=keep, key=secret), withheld, note)
