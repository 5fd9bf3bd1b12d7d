"""Mutation-found gaps, theory side: a single violation fails the Theorem 1 verdict, the reported theory intercept
is C eta/(K-1), the Ghosh bound uses the family maximum, the affine fit reports its residual, the Ghosh condition
is strict, and the K = 2 and slightly-asymmetric symmetry cases."""

from __future__ import annotations

import numpy as np
import pytest

from symtheory import noise_matrices as nm
from symtheory.loss_facts import loss_facts
from symtheory.noise_settings import settings_for
from symtheory.rank_stats import Agreement, affine_fit
from symtheory.ranking import RankingConfig, _verdict, verify_ranking


def _agree(concordant, discordant, groups_second, n=4, tied_first=0, tied_second=0):
    pairs = n * (n - 1) // 2
    return Agreement(n, pairs, concordant, discordant, tied_first, tied_second, 0, groups_second)


@pytest.mark.parametrize("regime, agree, ok", [
    ("below", _agree(5, 1, 4), False),        # one swapped pair below the threshold refutes Theorem 1
    ("above", _agree(1, 5, 4), False),        # one pair kept above the threshold: not reversed
    ("at", _agree(0, 0, 2, tied_second=5), False),  # two distinct noisy risks at eta = (K-1)/K: not tied
])
def test_a_single_violation_makes_the_verdict_fail(regime, agree, ok):
    facts = loss_facts("mae", 4)
    text, as_predicted = _verdict(facts, regime, agree, True, None, 0.1)
    assert as_predicted is ok, text


def test_reported_theory_intercept_is_c_eta_over_k_minus_1():
    k, eta = 4, 0.3
    config = RankingConfig(classes=k, classifiers=30, support=40, losses=("mae", "rll"), mc_samples=0)
    report = verify_ranking(settings_for([str(eta)], k), config, np.random.default_rng(0))
    for loss in ("mae", "rll"):
        r = report.result(loss)
        c = loss_facts(loss, k).constant
        assert r.theory_slope == pytest.approx(1 - eta * k / (k - 1), rel=1e-12)
        assert r.theory_intercept == pytest.approx(c * eta / (k - 1), rel=1e-12)
        assert r.fit.intercept == pytest.approx(r.theory_intercept, rel=1e-9)


def test_ghosh_bound_without_a_proved_sup_uses_the_family_maximum():
    k = 10
    config = RankingConfig(classes=k, classifiers=60, support=80, losses=("nce",), label_rule="deterministic",
                           mc_samples=0)
    report = verify_ranking(settings_for(["0.3"], k, "pair-flip"), config, np.random.default_rng(1))
    r = report.result("nce")
    assert r.loss.supremum is None and r.ghosh.bound_source == "family maximum"
    # nce takes values near 1 at a confident wrong prediction, far above C/(K-1) = 1/9
    assert r.ghosh.bounded is False and "L > C/(K-1)" in r.ghosh.failing()


def test_affine_fit_reports_the_residual_of_a_curve():
    fit = affine_fit(np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 4.0]))
    assert fit.slope == pytest.approx(2.0) and fit.intercept == pytest.approx(-1 / 3)
    assert fit.max_residual == pytest.approx(2 / 3) and fit.relative_residual == pytest.approx(1 / 6)


@pytest.mark.parametrize("matrix", [nm.pair_flip(0.5, 10), nm.symmetric(0.9, 10)])
def test_ghosh_condition_is_strict_at_equality(matrix):
    assert nm.ghosh_condition(matrix).holds is False


def test_a_loss_symmetric_only_at_k_2_is_proved_there():
    from symtheory.analysis import analyse_expression

    result = analyse_expression("(p - 1/2)**3", classes=2).symmetry
    assert (result.verdict, result.constant) == ("proved", 0)


def test_a_slightly_asymmetric_loss_is_refuted_not_unknown():
    from symtheory.analysis import analyse_expression

    result = analyse_expression("1 - p + log(1 + p)/10**6").symmetry
    assert result.verdict == "refuted" and result.counterexample.difference > 0
