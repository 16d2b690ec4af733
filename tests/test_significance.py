from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from graphs.significance import bh_q_values, expected_ties, tie_p_values


def test_bh_matches_scipy_when_all_tests_are_given():
    p = np.random.default_rng(0).uniform(size=50) ** 3
    np.testing.assert_allclose(bh_q_values(p), stats.false_discovery_control(p))


def test_bh_of_tied_p_values_does_not_depend_on_their_order():
    """Many ties, as the discrete Poisson tails give: the q-values are exactly those of the
    stable sort, and equal within each tie."""
    rng = np.random.default_rng(1)
    p = rng.choice(np.array([1e-9, 1e-5, 0.003, 0.04, 0.2, 1.0]), size=20_000)
    order = np.argsort(p, kind="stable")
    ranked = p[order] * 10**6 / np.arange(1, p.size + 1)
    expected = np.empty_like(p)
    expected[order] = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    q = bh_q_values(p, n_tests=10**6)
    np.testing.assert_array_equal(q, expected)
    assert all(np.unique(q[p == v]).size == 1 for v in np.unique(p))


def test_bh_with_more_tests_is_never_less_conservative():
    p = np.array([1e-4, 0.02, 0.5])
    assert (bh_q_values(p, n_tests=100) >= bh_q_values(p)).all()


def test_expected_ties_are_symmetric_and_scale_with_crowds():
    one = expected_ties(np.array([4.0]), np.array([2.0]), np.array([10.0]), np.array([6.0]), 100)
    other = expected_ties(np.array([2.0]), np.array([4.0]), np.array([6.0]), np.array([10.0]), 100)
    assert one == other == (2 * 10 + 4 * 6) / 200


def test_p_values_fall_as_observed_rises():
    p = tie_p_values(np.array([1, 2, 5]), np.array([0.5, 0.5, 0.5]))
    assert p[0] > p[1] > p[2] and p[0] == pytest.approx(1 - np.exp(-0.5))


def test_tie_p_values_equal_scipy_poisson_tail():
    rng = np.random.default_rng(0)
    observed = rng.integers(0, 60, 5000)
    expected = rng.exponential(5.0, 5000)
    expected[:10] = 0.0
    assert np.array_equal(tie_p_values(observed, expected),
                          stats.poisson.sf(observed - 1, np.maximum(expected, 1e-12)))


@pytest.mark.parametrize("block", [1, 3, 1 << 20])
def test_bh_in_place_and_in_blocks_is_the_plain_formula(block, monkeypatch):
    """The same floats as the whole-array formula (ranks divided a block at a time), with
    ties, NaN and more tests than p-values."""
    import graphs.significance as significance

    monkeypatch.setattr(significance, "RANK_BLOCK", block)
    rng = np.random.default_rng(block)
    for trial in range(40):
        p = rng.random(int(rng.integers(0, 60))) ** int(rng.integers(1, 12))
        if p.size and trial % 3 == 0:
            p[rng.integers(0, p.size, p.size // 3)] = p[0]
        if p.size and trial % 5 == 0:
            p[0] = np.nan
        n_tests = None if trial % 2 else p.size + int(rng.integers(0, 100))
        m = max(n_tests or p.size, p.size)
        order = np.argsort(p)
        plain = np.minimum.accumulate((p[order] * m / np.arange(1, p.size + 1))[::-1])[::-1]
        expected = np.empty_like(plain)
        expected[order] = plain.clip(max=1.0)
        np.testing.assert_array_equal(bh_q_values(p, n_tests=n_tests), expected)
