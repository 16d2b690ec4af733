"""Edge significance under a time-aware configuration null.

Null model: each account keeps its number of actions, each action keeps its *crowd*
(how many other actions fall in the same target's window around it), and the accounts
behind actions are otherwise independent. An action of ``a`` with crowd ``c`` then meets a
given action of ``b`` in its window with probability ``(c - 1) / N``, so the expected number of
ties between ``a`` and ``b`` is ``λ = (n_b · C_a + n_a · C_b) / (2N)`` with ``n`` the number of
actions and ``C`` the summed crowds (minus one each) of an account. The observed number of
distinct shared targets is compared with a Poisson(λ) tail; Benjamini–Hochberg controls the
false discovery rate across all candidate pairs.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def expected_ties(n_a: np.ndarray, n_b: np.ndarray, crowd_a: np.ndarray, crowd_b: np.ndarray,
                  n_actions: int) -> np.ndarray:
    """Expected number of in-window ties of each pair under the null (λ above).

    >>> expected_ties(np.array([10]), np.array([10]), np.array([50.0]), np.array([50.0]), 1000)
    array([0.5])
    """
    return (n_b * crowd_a + n_a * crowd_b) / (2.0 * max(n_actions, 1))


def tie_p_values(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """P(X ≥ observed) for X ~ Poisson(expected).

    >>> tie_p_values(np.array([0, 3]), np.array([0.5, 0.5])).round(4).tolist()
    [1.0, 0.0144]
    """
    observed = np.asarray(observed)
    tail = special.pdtrc(np.maximum(observed - 1, 0), np.maximum(expected, 1e-12))
    return np.where(observed <= 0, 1.0, tail)  # scipy.stats.poisson.sf(observed - 1, ...)


RANK_BLOCK = 1 << 20
"""Ranks divided at a time by :func:`bh_q_values`."""


def bh_q_values(p_values: np.ndarray, n_tests: int | None = None, *,
                out: np.ndarray | None = None) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values).

    ``n_tests`` may exceed ``len(p_values)`` when only a subset of the tests is at hand;
    ranks are then taken within the subset, which can only raise q (conservative).
    ``out``: the array the q-values are written into and returned (one of every test less
    in memory: the projection's are over a file).

    >>> bh_q_values(np.array([0.01, 0.04, 0.03]), n_tests=3).round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    p = np.asarray(p_values, dtype=float)
    m = max(n_tests or p.size, p.size)
    if p.size == 0:
        return p if out is None else out
    # any sort: tied p-values get one q-value whichever ranks they take (the running
    # minimum from the top rank of the tie down); the default sort is ≈ 4× the stable one
    order = np.argsort(p)
    ranked = p[order]  # then in place: at 100M rows each array is one of 31M edges
    ranked *= m
    for start in range(0, p.size, RANK_BLOCK):  # / rank, without an array of every rank
        stop = min(start + RANK_BLOCK, p.size)
        ranked[start:stop] /= np.arange(start + 1, stop + 1)
    backwards = ranked[::-1]
    np.minimum.accumulate(backwards, out=backwards)
    np.minimum(ranked, 1.0, out=ranked)
    q = np.empty_like(ranked) if out is None else out
    q[order] = ranked
    return q
