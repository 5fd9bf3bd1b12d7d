"""Ranking statistics (symtheory.rank_stats) against brute force and scipy, and their O(n log n) scale."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import kendalltau

from symtheory.rank_stats import affine_fit, agreement, count_inversions, swap_detector, tie_ranks, worst_swap


def brute_pairs(a, b):
    conc = disc = 0
    for i, j in itertools.combinations(range(len(a)), 2):
        s = np.sign(a[i] - a[j]) * np.sign(b[i] - b[j])
        conc += s > 0
        disc += s < 0
    return conc, disc


def brute_worst(a, b):
    best = None
    for i, j in itertools.permutations(range(len(a)), 2):
        if a[i] < a[j] and b[i] > b[j] and (best is None or a[j] - a[i] > best[0]):
            best = (a[j] - a[i], i, j)
    return best


@pytest.mark.parametrize("n", [1, 2, 7, 64, 301])
def test_count_inversions_matches_brute_force(n):
    rng = np.random.default_rng(n)
    seq = rng.integers(0, max(n // 3, 1), n)
    expected = sum(seq[i] > seq[j] for i, j in itertools.combinations(range(n), 2))
    assert count_inversions(seq) == expected


@pytest.mark.parametrize("seed", range(4))
def test_agreement_matches_brute_force_and_scipy_with_ties(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 15, 120).astype(float)
    b = a + rng.integers(-3, 4, 120)
    agree = agreement(a, b)
    conc, disc = brute_pairs(a, b)
    assert (agree.concordant, agree.discordant) == (conc, disc)
    assert agree.tau == pytest.approx(kendalltau(a, b).statistic, abs=1e-12)


def test_tau_is_exactly_one_and_minus_one_for_monotone_maps_with_ties():
    a = np.repeat(np.arange(50.0), 3)
    assert agreement(a, 0.2 + 0.3 * a).tau == 1.0
    reversed_ = agreement(a, 5.0 - 0.01 * a)
    assert reversed_.tau == -1.0 and reversed_.concordant == 0 and reversed_.tied_both == 50 * 3


def test_tie_ranks_use_the_relative_tolerance():
    values = np.array([1.0, 1.0 + 1e-13, 1.0 + 1e-9, 2.0])
    assert tie_ranks(values, rtol=1e-12).tolist() == [0, 0, 1, 2]
    assert tie_ranks(values, rtol=1e-15).tolist() == [0, 1, 2, 3]


def test_all_tied_second_ranking_has_undefined_tau():
    agree = agreement(np.arange(10.0), np.full(10, 3.0) + 1e-16 * np.arange(10))
    assert agree.tau is None and agree.groups_second == 1 and agree.discordant == 0


@pytest.mark.parametrize("seed", range(5))
def test_worst_swap_is_the_discordant_pair_with_the_largest_first_gap(seed):
    rng = np.random.default_rng(seed)
    a = np.round(rng.random(40), 2)
    b = np.round(a + rng.normal(0, 0.2, 40), 2)
    gap, i, j = brute_worst(a, b)
    found = worst_swap(a, b, rtol=0.0)
    assert found.gap == pytest.approx(gap)
    assert a[found.better] < a[found.worse] and b[found.better] > b[found.worse]


def test_worst_swap_none_when_rankings_agree():
    a = np.linspace(0, 1, 30)
    assert worst_swap(a, 3 * a + 1) is None


def test_affine_fit_recovers_line_and_residual():
    x = np.linspace(0.1, 2.0, 25)
    fit = affine_fit(x, 0.7 - 0.25 * x)
    assert fit.slope == pytest.approx(-0.25, abs=1e-14) and fit.intercept == pytest.approx(0.7, abs=1e-14)
    assert fit.relative_residual < 1e-14
    bumped = affine_fit(x, 0.7 - 0.25 * x + np.where(np.arange(25) == 3, 0.1, 0.0))
    assert bumped.max_residual > 0.05


def test_affine_fit_of_risks_whose_squares_underflow():
    # differences of 1e-300 square to 0 in float64: the fit used to divide by zero
    x = np.linspace(0.1, 2.0, 25) * 1e-300
    fit = affine_fit(x, 0.25 * x + 3e-301)
    assert fit.slope == pytest.approx(0.25, rel=1e-12) and fit.relative_residual < 1e-12


def test_ten_thousand_classifiers_match_scipy():
    rng = np.random.default_rng(0)
    n = 10_000
    a = rng.random(n)
    b = a + rng.normal(0, 0.1, n)
    agree = agreement(a, b)
    swap = worst_swap(a, b)
    expected_disc = round((agree.pairs - kendalltau(a, b).statistic * agree.pairs) / 2)
    assert agree.pairs == n * (n - 1) // 2
    assert agree.discordant == expected_disc
    assert swap is not None and b[swap.better] > b[swap.worse]


@pytest.mark.parametrize("seed", range(4))
def test_swap_detector_agrees_with_pair_counts(seed):
    rng = np.random.default_rng(seed)
    for trial in range(150):
        n = int(rng.integers(2, 40))
        a = rng.integers(0, 6, n).astype(float)
        b = a * 2 + 1 if trial % 3 == 0 else rng.integers(0, 6, n).astype(float)
        assert swap_detector(a)(b) == (agreement(a, b).discordant > 0)


def test_affine_fit_has_no_slope_when_the_first_values_all_tie():
    x = np.full(12, 0.4) + np.linspace(0, 1e-15, 12)
    y = 0.3 + np.linspace(0.0, 0.01, 12)
    fit = affine_fit(x, y)
    assert fit.slope is None
    assert fit.intercept == pytest.approx(y.mean(), abs=1e-15)
    assert fit.max_residual == pytest.approx(0.005, rel=1e-9)
    assert affine_fit(np.linspace(0, 1, 12), y).slope == pytest.approx(0.01, rel=1e-9)
