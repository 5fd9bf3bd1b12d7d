"""Theorem 1 checked numerically (symtheory.ranking): the three regimes, swaps for cce/mse, MC, ERM."""

from __future__ import annotations

import numpy as np
import pytest

from symtheory import noise_matrices as nm
from symtheory.classifiers import KINDS
from symtheory.finite_risk import compile_losses, risk_sums
from symtheory.loss_facts import loss_facts
from symtheory.monte_carlo import monte_carlo_check
from symtheory.noise_settings import settings_for
from symtheory.ranking import RankingConfig, symmetric_noisy_risk, verify_ranking
from symtheory.registry import LOSSES
from symtheory.risk import affine_intercept, affine_slope

K = 10
BELOW, AT, ABOVE = 0, 1, 2
SYMMETRIC = [n for n in LOSSES if loss_facts(n, K).symmetric]
NOT_SYMMETRIC = [n for n in LOSSES if n not in SYMMETRIC]


@pytest.fixture(scope="module")
def report():
    """The default run: K = 10, 200 classifiers, 1000 points, seed 0, eta in {0.6, 0.9, 0.95}."""
    return verify_ranking(settings_for(["0.6", "0.9", "0.95"], K), RankingConfig(), np.random.default_rng(0))


def test_symmetry_comes_from_the_prover_and_covers_the_paper_losses():
    assert {"mae", "rll", "zero-one", "nmse"} <= set(SYMMETRIC)
    assert {"cce", "mse"} <= set(NOT_SYMMETRIC)


@pytest.mark.parametrize("loss", SYMMETRIC)
def test_symmetric_losses_keep_the_ranking_below_threshold(report, loss):
    r = report.result(loss, BELOW)
    assert r.setting.regime() == "below"
    assert r.agreement.tau == 1.0
    assert r.agreement.discordant == 0
    assert r.worst is None and r.as_predicted is True


@pytest.mark.parametrize("loss", ["cce", "mse"])
def test_cce_and_mse_swap_a_named_pair_below_threshold(report, loss):
    r = report.result(loss, BELOW)
    assert r.agreement.discordant > 0
    w = r.worst
    assert r.clean[w.better] < r.clean[w.worse] and r.noisy[w.better] > r.noisy[w.worse]
    assert r.worst_names[0].startswith(tuple(KINDS)) and f"#{w.better} " in r.worst_names[0]
    first = report.first_swaps[loss]
    assert first.eta < report.threshold and first.pair is not None and not first.all_at_once


@pytest.mark.parametrize("loss", SYMMETRIC)
def test_symmetric_losses_tie_at_threshold(report, loss):
    r = report.result(loss, AT)
    assert r.setting.regime() == "at"
    assert r.agreement.groups_second == 1 and r.agreement.tau is None
    assert r.noisy_spread < 1e-13
    assert r.noisy.mean() == pytest.approx(loss_facts(loss, K).constant / K, rel=1e-12)


@pytest.mark.parametrize("loss", SYMMETRIC)
def test_symmetric_losses_reverse_above_threshold(report, loss):
    r = report.result(loss, ABOVE)
    assert r.setting.regime() == "above"
    assert r.agreement.tau == -1.0 and r.agreement.concordant == 0


@pytest.mark.parametrize("loss", SYMMETRIC)
@pytest.mark.parametrize("setting", [BELOW, ABOVE])
def test_affine_fit_matches_the_risk_relation(report, loss, setting):
    r = report.result(loss, setting)
    eta, c = r.setting.eta, loss_facts(loss, K).constant
    assert r.fit.slope == pytest.approx(affine_slope(eta, K), abs=1e-10)
    assert r.fit.intercept == pytest.approx(affine_intercept(c, eta, K), abs=1e-10 * c)
    assert r.fit.relative_residual < 1e-13


@pytest.mark.parametrize("loss", SYMMETRIC)
def test_first_swap_of_symmetric_losses_is_the_threshold(report, loss):
    first = report.first_swaps[loss]
    assert first.eta == pytest.approx(report.threshold, abs=1e-6)
    assert first.all_at_once and first.kept == 0


def test_noisy_risk_is_affine_in_eta_for_every_loss(report):
    """R_eta = R + eta (S - K R)/(K-1) (used by the first-swap search) equals the direct finite sum."""
    fns = compile_losses(LOSSES, K)
    dist, family = report.distribution, report.family
    n = dist.support
    weights = np.stack([dist.label_weights(), np.broadcast_to(dist.weights[:, None], (n, K)),
                        dist.label_weights(nm.symmetric(0.37, K))], axis=-1)
    for name, sums in risk_sums(family, fns, weights).items():
        clean, label_sum, direct = sums.first.T
        assert np.allclose(symmetric_noisy_risk(clean, label_sum, 0.37, K), direct, rtol=1e-12, atol=0), name


@pytest.mark.parametrize("loss", list(LOSSES))
def test_monte_carlo_risks_agree_with_exact_ones(report, loss):
    for setting in (BELOW, ABOVE):
        mc = report.result(loss, setting).monte_carlo
        assert mc.samples == 10_000
        assert mc.within >= 0.95
        assert max(mc.max_z_clean, mc.max_z_noisy) < 5.0


def test_a_sample_whose_losses_are_all_equal_is_judged_by_the_exact_standard_error():
    # zero-one risk 0.998: all 500 sampled labels misclassified (probability 0.37) gives R_m = 1 with a sample
    # variance of 0; the exact variance R(1 - R) gives se = 0.0020 and z = 1.0, well within 3 s.e.
    exact = np.array([0.998, 0.5])
    sampled = np.array([1.0, 0.52])
    mc = monte_carlo_check(500, exact, exact, sampled, sampled, (exact, exact))
    assert mc.max_z_clean == pytest.approx(0.002 / np.sqrt(0.998 * 0.002 / 500))
    assert mc.within == 1.0


def test_monte_carlo_z_stays_finite_at_many_classes():
    # At K = 50 many classifiers' zero-one risk is near 1; their sampled risk is often exactly 1.
    config = RankingConfig(classes=50, classifiers=20, support=30, losses=("zero-one", "mae"), mc_samples=500)
    report = verify_ranking(settings_for(["0.5"], 50), config, np.random.default_rng(0))
    for result in report.results:
        assert max(result.monte_carlo.max_z_clean, result.monte_carlo.max_z_noisy) < 6.0, result.loss


def test_a_noisy_ranking_all_tied_within_rtol_is_not_called_kept_or_reversed():
    # rtol 0.05 ties every noisy risk of mae at K = 4 just below and just above (K-1)/K = 0.75: nothing is
    # kept or reversed there to see, whatever the theory predicts.
    config = RankingConfig(classes=4, classifiers=20, support=30, losses=("mae",), mc_samples=0, rtol=0.05)
    report = verify_ranking(settings_for(["0.74", "0.76"], 4), config, np.random.default_rng(0))
    for result in report.results:
        assert result.agreement.groups_second == 1 and result.agreement.tied_first < result.agreement.pairs
        assert (result.verdict, result.as_predicted) == ("R_eta all tied (within rtol): ranking not resolved", None)


def test_finite_sample_ranking_is_only_approximately_kept(report):
    mc = report.result("rll", BELOW).monte_carlo
    assert 0.8 < mc.sampled.tau < 1.0


def test_same_seed_same_risks_whatever_the_threads():
    settings = settings_for(["0.3"], 4)
    config = RankingConfig(classes=4, classifiers=70, support=50, losses=("rll", "cce"), mc_samples=500)
    one = verify_ranking(settings, config, np.random.default_rng(7), workers=1)
    two = verify_ranking(settings, config, np.random.default_rng(7), workers=2)
    other = verify_ranking(settings, config, np.random.default_rng(8), workers=2)
    for a, b, c in zip(one.results, two.results, other.results):
        assert np.array_equal(a.clean, b.clean) and np.array_equal(a.noisy, b.noisy)
        assert a.monte_carlo.to_dict() == b.monte_carlo.to_dict()
        assert not np.array_equal(a.clean, c.clean)


def test_erm_noisy_minimizer_for_symmetric_and_nonsymmetric_losses():
    """Symmetric losses: the population minimizers agree, so noisy ERM often picks a clean-ERM minimizer.
    cce, mse: the noisy population minimizer is another classifier, and noisy ERM goes there."""
    config = RankingConfig(classifiers=120, support=300, losses=("rll", "mae", "cce", "mse"), mc_samples=0,
                           erm_samples=2000, erm_seeds=10)
    rep = verify_ranking(settings_for(["0.2"], K), config, np.random.default_rng(3))
    for loss in ("rll", "mae"):
        r = rep.result(loss)
        assert r.minimizer_kept
        assert r.erm.seeds == 10 and r.erm.same >= 0.5 and r.erm.noisy_best > 0.0
    for loss in ("cce", "mse"):
        r = rep.result(loss)
        assert not r.minimizer_kept
        assert r.erm.same == 0.0 and r.erm.noisy_best == 0.0 and r.erm.noisy_excess > 10 * r.erm.clean_excess


def test_erm_result_counts_seeds():
    from symtheory.erm import erm_result

    population = np.array([0.1, 0.2, 0.3])
    clean = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]])
    noisy = np.array([[0.0, 5.0], [1.0, 5.0], [2.0, 0.0]])
    e = erm_result(population, clean, noisy, samples=10)
    assert (e.same, e.noisy_best, e.clean_best) == (0.5, 0.5, 0.5)
    assert e.noisy_excess == pytest.approx(0.1) and e.clean_excess == pytest.approx(0.05)


def test_class_conditional_noise_and_the_ghosh_condition():
    config = RankingConfig(classifiers=150, support=400, losses=("mae", "zero-one", "rll", "cce"),
                           label_rule="deterministic", mc_samples=0)
    rep = verify_ranking(settings_for(["0.3", "0.6"], K, "pair-flip"), config, np.random.default_rng(1))
    holds, fails = rep.settings
    assert nm.ghosh_condition(holds.matrix).holds and not nm.ghosh_condition(fails.matrix).holds
    for loss in ("mae", "zero-one"):
        kept = rep.result(loss, 0)
        assert kept.ghosh.applies and kept.minimizer_kept and kept.as_predicted is True
        assert kept.ghosh.bound_source == "proved sup"
        changed = rep.result(loss, 1)
        assert not changed.ghosh.applies and not changed.minimizer_kept
        memorizer = int(np.argmin(changed.noisy))
        assert KINDS[rep.family.kinds[memorizer]] == "flip-posterior"
    rll = rep.result("rll", 0)
    assert rll.ghosh.failing() == ["L > C/(K-1)"] and rll.ghosh.bound_source == "proved sup"
    assert rll.loss.supremum == pytest.approx(np.log(11) + np.log((0.1 + 1 / (K - 1)) / 0.1), rel=1e-12)


def test_bad_config_is_bad_input():
    from symtheory.errors import BadInput

    with pytest.raises(BadInput):
        RankingConfig(classes=1).validated()
    with pytest.raises(BadInput):
        RankingConfig(losses=("nope",)).validated()
    with pytest.raises(BadInput):
        settings_for(["1.2"], K)


def test_settings_whose_rates_round_alike_keep_their_own_results():
    config = RankingConfig(classes=3, classifiers=40, support=60, losses=("mae",), mc_samples=0, erm_seeds=0)
    report = verify_ranking(settings_for(["2/3", "0.6666667"], 3), config, np.random.default_rng(0))
    at, above = report.result("mae", 0), report.result("mae", 1)
    assert at.setting.regime() == "at" and above.setting.regime() == "above"
    assert above.agreement.tau == pytest.approx(-1) and at is not above


@pytest.mark.parametrize("eta", ["0.3", "1"])
def test_a_family_tied_in_clean_risk_is_neither_kept_nor_reversed(eta):
    from symtheory.user_loss import UserLoss

    config = RankingConfig(classes=3, classifiers=6, support=5, losses=(), mc_samples=0, expressions=(UserLoss("1"),))
    r = verify_ranking(settings_for([eta], 3), config, np.random.default_rng(0)).result("expr")
    assert r.loss.symmetric and r.agreement.tau is None and r.fit.slope is None
    assert r.verdict == "R all tied, so is R_eta" and r.as_predicted is True
