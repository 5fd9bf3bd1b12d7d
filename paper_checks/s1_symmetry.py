"""S1 — "There are other losses that satisfy the symmetry condition, e.g., 0–1 loss, mean absolute value of
error (MAE) ... It is easy to verify that neither CCE nor MSE satisfy the symmetry condition." and "The loss
function RLL satisfies the symmetry condition" (Patel & Sastry 2021, Sec. 3); normalized MSE is symmetric
with C = 1 (Sec. 3, Fig. 5).

Checked exactly with sympy: rll, mae, zero-one and nmse proved with C = K log((alpha+1)/alpha), 2(K-1), K-1
and 1; cce and mse refuted with a concrete g where the label sum differs.
"""

from __future__ import annotations

import sympy as sp

from symtheory.analysis import analyse_builtin
from symtheory.expr import K, param_symbol

from symtheory.paper_checks.claim import ClaimResult, verdict_of

CLAIM = "S1"
STATEMENT = "rll, mae, zero-one, nmse are symmetric (C as in docs/claims.md); cce and mse are not (concrete g shown)"
TOLERANCE = ("exact (symbolic equality of C; counterexample sums differ exactly when rational, else by > 1e-20 "
             "at 40 digits)")
EXPECTED_CONSTANTS = {
    "rll": K * sp.log((param_symbol("alpha") + 1) / param_symbol("alpha")),
    "mae": 2 * (K - 1),
    "zero-one": K - 1,
    "nmse": sp.Integer(1),
}


def check() -> ClaimResult:
    """Run the symbolic checks and compare the constants exactly."""
    parts, ok, details = [], True, {}
    for name, expected in EXPECTED_CONSTANTS.items():
        result = analyse_builtin(name).symmetry
        same = result.verdict == "proved" and sp.expand_log(sp.expand(result.constant - expected), force=True) == 0
        ok &= same
        parts.append(f"{name}: {result.verdict}, C = {sp.sstr(result.constant)}")
        details[name] = {"verdict": result.verdict, "constant": sp.sstr(result.constant), "scope": result.scope}
    for name in ("cce", "mse"):
        result = analyse_builtin(name, classes=10).symmetry
        ce = result.counterexample
        refuted = result.verdict == "refuted" and ce is not None and ce.difference > 1e-20
        ok &= refuted
        parts.append(f"{name}: {result.verdict}" + (f" (sums {sp.sstr(ce.sum_a)} vs {sp.sstr(ce.sum_b)})" if ce else ""))
        details[name] = {"verdict": result.verdict,
                         "g_a": [sp.sstr(x) for x in ce.point_a] if ce else None,
                         "g_b": [sp.sstr(x) for x in ce.point_b] if ce else None,
                         "difference": ce.difference if ce else None}
    return ClaimResult(CLAIM, STATEMENT, "; ".join(parts), TOLERANCE, verdict_of(ok), details)
