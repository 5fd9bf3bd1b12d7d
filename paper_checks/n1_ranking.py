"""N1 — Theorem 1: "given any two classifiers h1 and h2, if R(h1) < R(h2), then R_eta(h1) < R_eta(h2) and
vice versa" for a symmetric loss and eta < (K-1)/K (Patel & Sastry 2021, Sec. 3); and "It is easy to
verify that neither CCE nor MSE satisfy the symmetry condition" — so their rankings can swap.

Measured on a random finite distribution (K = 10, 1000 support points, 200 classifiers of four kinds,
exact finite-sum risks): below the threshold every symmetric loss keeps the clean ranking (Kendall tau = 1,
no swapped pair); at eta = (K-1)/K every classifier's noisy risk ties; above it the ranking is exactly
reversed (tau = -1); cce and mse swap some pair at an eta below the threshold, named by the check.
"""

from __future__ import annotations

import numpy as np

from symtheory.noise_settings import settings_for
from symtheory.ranking import RankingConfig, verify_ranking

from symtheory.paper_checks.claim import ClaimResult, verdict_of

CLAIM = "N1"
STATEMENT = ("symmetric losses: ranking by R equals ranking by R_eta for eta < (K-1)/K, all tied at it, "
             "reversed above; cce and mse swap a pair at some eta < (K-1)/K")
RATES = ("0.6", "0.9", "0.95")
MAX_TIED_SPREAD = 1e-12
TOLERANCE = (f"K=10, 200 classifiers: tau = 1 and 0 swaps at eta 0.6; relative spread of R_eta <= "
             f"{MAX_TIED_SPREAD:g} at 0.9; tau = -1 at 0.95; cce/mse: first swap at eta < 0.9")


def check(seed: int = 0, classifiers: int = 200, support: int = 1000) -> ClaimResult:
    """Run the three regimes for every registry loss and compare with the theorem."""
    settings = settings_for(RATES, 10)
    config = RankingConfig(classes=10, classifiers=classifiers, support=support, mc_samples=0)
    report = verify_ranking(settings, config, np.random.default_rng(seed))
    threshold = report.threshold
    ok, worst = True, {"below_tau": 1.0, "at_spread": 0.0, "above_tau": -1.0, "below_swaps": 0}
    symmetric = sorted({r.loss.name for r in report.results if r.loss.symmetric})
    for name in symmetric:
        below, at, above = (report.result(name, i) for i in range(3))
        ok &= below.agreement.tau == 1.0 and below.agreement.discordant == 0
        ok &= at.noisy_spread <= MAX_TIED_SPREAD
        ok &= above.agreement.tau == -1.0 or (above.agreement.concordant == 0 and above.agreement.discordant > 0)
        worst["below_tau"] = min(worst["below_tau"], below.agreement.tau or 0.0)
        worst["below_swaps"] = max(worst["below_swaps"], below.agreement.discordant)
        worst["at_spread"] = max(worst["at_spread"], at.noisy_spread)
        worst["above_tau"] = max(worst["above_tau"], above.agreement.tau if above.agreement.tau is not None else 1.0)
    swaps = {}
    for name in ("cce", "mse"):
        first = report.first_swaps[name]
        found = first.eta is not None and first.eta < threshold and first.pair is not None
        ok &= found
        swaps[name] = first.to_dict()
    parts = [f"{len(symmetric)} symmetric losses: min tau at 0.6 = {worst['below_tau']:g}, "
             f"max swaps = {worst['below_swaps']}; max spread at 0.9 = {worst['at_spread']:.2g}; "
             f"max tau at 0.95 = {worst['above_tau']:g}"]
    for name, first in swaps.items():
        pair = first["pair"]
        names = f" ({pair['better_name']} vs {pair['worse_name']})" if pair else ""
        parts.append(f"{name}: first swap at eta = {first['eta']:.3g}{names}" if first["eta"] is not None
                     else f"{name}: no swap found")
    return ClaimResult(CLAIM, STATEMENT, "; ".join(parts), TOLERANCE, verdict_of(ok),
                       {"symmetric": symmetric, "worst": worst, "first_swaps": swaps})
