"""S2 — "R_eta(h) = C eta/(K-1) + (1 - eta K/(K-1)) R(h) ... Since eta < (K-1)/K, we have
(1 - eta K/(K-1)) > 0" (Patel & Sastry 2021, proof of Theorem 1).

Checked for symbolic K and eta with the constant C of every loss the registry proves symmetric: the
derivation closes exactly; at K = 2..6 the relation also follows from the noise model with explicit losses
L_1..L_K constrained only by sum_j L_j = C (not from the derivation's own regrouping); and the slope's only root is eta = (K-1)/K with a negative derivative, so the
slope is positive iff eta < (K-1)/K.
"""

from __future__ import annotations

import sympy as sp

from symtheory.analysis import analyse_builtin
from symtheory.expr import K
from symtheory.registry import LOSSES
from symtheory.risk import ETA, NOISE_MODEL_KS, derive_risk_relation

from symtheory.paper_checks.claim import ClaimResult, verdict_of

CLAIM = "S2"
STATEMENT = "affine risk relation holds for every symmetric loss (symbolic K, eta); slope > 0 iff eta < (K-1)/K"
TOLERANCE = "exact (symbolic)"


def check() -> ClaimResult:
    """Derive the relation with each proved constant; check the threshold and the slope's sign change."""
    checked, ok = [], True
    for name in LOSSES:
        symmetry = analyse_builtin(name).symmetry
        if symmetry.verdict != "proved":
            continue
        relation = derive_risk_relation(symmetry.constant)
        threshold_ok = sp.cancel(relation.threshold - (K - 1) / K) == 0
        decreasing = sp.cancel(sp.diff(relation.slope, ETA) + K / (K - 1)) == 0
        from_noise = all(relation.from_noise_model.values())
        ok &= relation.verified and threshold_ok and decreasing and from_noise
        checked.append(name)
    ks = sorted(NOISE_MODEL_KS)
    measured = f"relation derived and closed exactly for {len(checked)} symmetric losses ({', '.join(checked)}); " \
               f"and read off the noise model with explicit losses L_1..L_K (sum = C) at K = {ks[0]}..{ks[-1]}; " \
               f"slope root eta = (K-1)/K, d slope/d eta = -K/(K-1)"
    return ClaimResult(CLAIM, STATEMENT, measured, TOLERANCE, verdict_of(ok and bool(checked)), {"losses": checked})
