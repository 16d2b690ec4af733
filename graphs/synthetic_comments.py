"""A synthetic world with a comment farm: templated text, no shared likes.

Built on :func:`graphs.synthetic.synthetic_logs` (organic users, viral posts, fandoms; its
like farms are switched off). A pool of farm accounts runs comment campaigns: each campaign
has one template, and part of the pool posts it — one slot word varied — within
``campaign_hours``, each account on a *different* random post. The farm therefore never
co-engages a target and is invisible to the engagement layer; only the text layer (near-
duplicate comments, :mod:`graphs.text_layer`) ties it. Organic accounts comment too, with
their own words. Comment texts are ``post_text`` rows whose ``target_id`` is the text; the
comment itself is also a ``comment`` row on the post.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from graphs.synthetic import SyntheticLogs, synthetic_logs

_SYLLABLES = "ka lo mi ren sa to vu ne ri da po che lan mor tis bel gu fa".split()


def comment_farm_logs(*, seed: int = 0, n_organic: int = 600, farm_size: int = 20,
                      n_campaigns: int = 8, campaign_share: tuple[float, float] = (0.5, 0.8),
                      campaign_hours: float = 1.0, organic_commenters: float = 0.3,
                      **overrides: Any) -> SyntheticLogs:
    """Return synthetic logs with one comment farm (group ``comment_farm``) and its labels.

    Parameters
    ----------
    seed : int
        Seed of everything random.
    n_organic, **overrides
        Passed to :func:`graphs.synthetic.synthetic_logs` (with ``n_farms=0``; viral posts
        default to 30–100 likers, in scale with the small default population).
    farm_size : int
        Accounts in the comment farm.
    n_campaigns : int
        Templated campaigns; each uses ``campaign_share`` of the pool within
        ``campaign_hours`` hours.
    organic_commenters : float
        Share of organic accounts that write 1–3 comments of their own.

    Examples
    --------
    >>> logs = comment_farm_logs(seed=1, n_organic=200, farm_size=8, n_campaigns=3)
    >>> int((logs.labels["group"] == "comment_farm").sum())
    8
    >>> sorted(logs.interactions["action"].unique())[:3]
    ['comment', 'follow', 'like']
    """
    if farm_size < 2 or n_campaigns < 1:
        raise ValueError("farm_size must be ≥ 2 and n_campaigns ≥ 1")
    overrides = {"viral_size": (30, 100), **overrides}
    base = synthetic_logs(scenario="medium", seed=seed, n_organic=n_organic, n_farms=0,
                          **overrides)
    rng = np.random.default_rng(seed + 7919)
    vocab = _vocabulary(rng, 600)
    farm = np.array([f"{rng.choice(vocab)}{rng.integers(10**7, 10**8)}" for _ in range(farm_size)])
    start = base.interactions["timestamp"].min().floor("D")
    days = max((base.interactions["timestamp"].max() - start).days, 1)
    posts = base.posts["target_id"].to_numpy()
    starts = start + pd.to_timedelta(np.floor(rng.uniform(0, days * 86400, n_campaigns)),
                                     unit="s")
    rows = [_campaign(rng, vocab, farm, posts, when, campaign_share, campaign_hours)
            for when in starts]
    rows.append(_organic_comments(rng, vocab, base.labels, posts, start, days, organic_commenters))
    comments = pd.concat(rows, ignore_index=True)
    interactions = pd.concat([base.interactions, comments], ignore_index=True).sort_values(
        ["timestamp", "account_id", "target_id", "action"], ignore_index=True)
    created = start - pd.Timedelta(days=30) + pd.to_timedelta(rng.uniform(0, 2 * 86400, farm_size),
                                                              unit="s")
    accounts = pd.concat([base.accounts, pd.DataFrame({"account_id": farm,
                                                       "created_at": created.floor("s")})])
    labels = pd.concat([base.labels, pd.DataFrame({"account_id": farm, "label": "farm",
                                                   "group": "comment_farm"})])
    return SyntheticLogs(interactions, base.posts,
                         accounts.sort_values("account_id", ignore_index=True),
                         labels.sort_values("account_id", ignore_index=True))


def _vocabulary(rng: np.random.Generator, n: int) -> np.ndarray:
    words = {"".join(rng.choice(_SYLLABLES, rng.integers(2, 4))) for _ in range(4 * n)}
    return np.array(sorted(words))[:n]


def _campaign(rng, vocab, farm, posts, start, share, hours) -> pd.DataFrame:
    template = list(rng.choice(vocab, 16))
    size = max(2, int(round(rng.uniform(*share) * len(farm))))
    members = rng.choice(farm, size, replace=False)
    texts = []
    for _ in members:
        words = list(template)
        words[rng.integers(0, len(words))] = str(rng.choice(vocab))
        texts.append(" ".join(words).capitalize() + rng.choice(["!", "!!", " :)", "."]))
    when = start + pd.to_timedelta(np.floor(rng.uniform(0, hours * 3600, size)), unit="s")
    return _comment_rows(members, rng.choice(posts, size, replace=False), texts, when)


def _organic_comments(rng, vocab, labels, posts, start, days, share) -> pd.DataFrame:
    organic = labels.loc[labels["label"] == "organic", "account_id"].to_numpy()
    writers = rng.choice(organic, int(share * len(organic)), replace=False)
    writers = np.repeat(writers, rng.integers(1, 4, len(writers)))
    texts = [" ".join(rng.choice(vocab, rng.integers(6, 20))).capitalize() for _ in writers]
    when = start + pd.to_timedelta(np.floor(rng.uniform(0, days * 86400, len(writers))), unit="s")
    return _comment_rows(writers, rng.choice(posts, len(writers)), texts, when)


def _comment_rows(accounts, posts, texts, when) -> pd.DataFrame:
    when = pd.DatetimeIndex(when).as_unit("ns")
    on_post = pd.DataFrame({"account_id": accounts, "target_id": posts, "action": "comment",
                            "timestamp": when})
    text = pd.DataFrame({"account_id": accounts, "target_id": texts, "action": "post_text",
                         "timestamp": when})
    return pd.concat([on_post, text], ignore_index=True)
