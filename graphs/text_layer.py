"""The text layer: near-duplicate posts (templated comments, copy-paste) via MinHash LSH.

Texts are normalised (lower case, links, ``@handles`` and punctuation removed, whitespace
collapsed), cut into word shingles, and sketched with datasketch's MinHash; an LSH index
finds the pairs whose estimated Jaccard similarity reaches ``threshold``, and the connected
components of those pairs become the layer's targets (``text:<group>``). Two accounts are
then tied, like on any target, when both posted a text of the same group within the layer's window.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd

_LINK = re.compile(r"https?://\S+|www\.\S+|@\w+", re.IGNORECASE)
_PUNCT = re.compile(r"[^\w\s#]")
_SPACE = re.compile(r"\s+")


def normalized_text(text: str) -> str:
    """Lower-case ``text``, drop links, ``@handles`` and punctuation, collapse whitespace.

    >>> normalized_text("  Great,   POST @bob https://t.co/x !!")
    'great post'
    """
    return _SPACE.sub(" ", _PUNCT.sub(" ", _LINK.sub(" ", str(text).lower()))).strip()


def shingles(text: str, *, k: int = 2) -> set[bytes]:
    """Word ``k``-shingles of a normalised text (the whole text when it is shorter).

    >>> sorted(shingles("a b c"))
    [b'a b', b'b c']
    """
    words = text.split()
    if len(words) <= k:
        return {" ".join(words).encode()}
    return {" ".join(words[i:i + k]).encode() for i in range(len(words) - k + 1)}


def near_duplicate_groups(texts: pd.Series, *, threshold: float = 0.7, num_perm: int = 64,
                          shingle: int = 2, seed: int = 0) -> np.ndarray:
    """Group texts whose estimated Jaccard similarity reaches ``threshold``.

    Parameters
    ----------
    texts : pandas.Series
        Raw texts; they are normalised with :func:`normalized_text`.
    threshold : float
        LSH similarity threshold in (0, 1].
    num_perm : int
        MinHash permutations (more: more accurate, slower).
    shingle : int
        Words per shingle.
    seed : int
        Seed of the MinHash permutations.

    Returns
    -------
    numpy.ndarray
        One group number per text (0..); texts of one group are near-duplicates, directly or
        through a chain of near-duplicates. Identical normalised texts always share a group;
        empty texts get their own group each.

    Examples
    --------
    >>> near_duplicate_groups(pd.Series([
    ...     "Amazing product, everyone should buy it now from this shop",
    ...     "amazing product, everyone should buy it now from this shop!!",
    ...     "I had soup for lunch"])).tolist()
    [0, 0, 1]
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold: expected a number in (0, 1], got {threshold}")
    # here, not at the top: datasketch imports scipy.integrate and asyncio (≈ 0.3 s at every
    # start), and only runs with a text layer need them
    from datasketch import MinHash, MinHashLSH
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    norm = texts.astype(str).map(normalized_text).to_numpy()
    unique, inverse = np.unique(norm, return_inverse=True)
    sketches = MinHash.bulk([shingles(t, k=shingle) for t in unique], num_perm=num_perm,
                            seed=seed)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    with lsh.insertion_session() as session:
        for i, sketch in enumerate(sketches):
            if unique[i]:
                session.insert(i, sketch, check_duplication=False)
    rows, cols = [], []
    for i, sketch in enumerate(sketches):
        if unique[i]:
            found = [j for j in lsh.query(sketch) if j != i]
            rows += [i] * len(found)
            cols += found
    n = len(unique)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    return _first_order(component[inverse])


def _first_order(labels: np.ndarray) -> np.ndarray:
    """Relabel so that groups are numbered in order of first appearance."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    return rank[inverse]


def text_posts(texts: pd.DataFrame, *, threshold: float = 0.7, num_perm: int = 64,
               shingle: int = 2, seed: int = 0, action: str = "post_text") -> pd.DataFrame:
    """Turn ``account_id, text, timestamp`` rows into interactions on near-duplicate groups.

    Returns ``account_id, target_id, action, timestamp``; ``target_id`` is ``text:`` and the
    first 16 hex digits of the SHA-1 of the group's first normalised text, so the same
    template gets the same id in every run. Parameters as in :func:`near_duplicate_groups`.

    Examples
    --------
    >>> t = pd.Timestamp("2026-11-01", tz="UTC")
    >>> rows = text_posts(pd.DataFrame({"account_id": ["a", "b"], "timestamp": [t, t],
    ...     "text": ["Free followers at my page", "free followers at my page!"]}))
    >>> rows["target_id"].nunique(), rows["action"].iloc[0]
    (1, 'post_text')
    """
    for column in ("account_id", "text", "timestamp"):
        if column not in texts.columns:
            raise ValueError(f"text table: missing column '{column}'")
    group = near_duplicate_groups(texts["text"], threshold=threshold, num_perm=num_perm,
                                  shingle=shingle, seed=seed)
    norm = texts["text"].astype(str).map(normalized_text).to_numpy()
    _, first = np.unique(group, return_index=True)
    names = np.array(["text:" + hashlib.sha1(norm[i].encode()).hexdigest()[:16] for i in first])
    return pd.DataFrame({"account_id": texts["account_id"].to_numpy(),
                         "target_id": names[group] if len(group) else [],
                         "action": action, "timestamp": texts["timestamp"].to_numpy()})
