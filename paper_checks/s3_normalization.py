"""S3 — "Given a bounded loss function we can satisfy the symmetry condition by 'normalizing' it ... CCE loss
is unbounded and hence normalization would not turn it into a symmetric loss. However, we can normalize MSE
loss." (Patel & Sastry 2021, Sec. 3).

Two parts, reported separately:
* S3: normalizing each bounded positive loss of the registry (mse, mae, rll, ...) gives a symmetric loss
  with C = 1 (checked exactly), and cce is unbounded (a sequence g^(n) with L -> oo is exhibited).
* S3-cce: "normalization would not turn [CCE] into a symmetric loss". On the open simplex every g_j < 1,
  so sum_s -log g_s > 0 and -log g_k / sum_s -log g_s is well defined, lies in (0, 1) and sums to 1 over
  the labels: the normalized CCE (NCE, Ma et al. 2020) IS symmetric. The check measures this; if sympy
  proves it, the paper's remark does not hold on the open simplex (it fails only on its boundary, where
  CCE is infinite).
"""

from __future__ import annotations

import sympy as sp

from symtheory.analysis import normalization_report

from symtheory.paper_checks.claim import ClaimResult, verdict_of

BOUNDED_POSITIVE = ("mse", "mae", "rll")
TOLERANCE = "exact (symbolic)"


def check() -> list[ClaimResult]:
    """Both parts of S3."""
    parts, ok, details = [], True, {}
    for name in BOUNDED_POSITIVE:
        report = normalization_report(name)
        good = report["base_bounded"] is True and report["normalized_verdict"] == "proved" \
            and report["normalized_constant"] == 1
        ok &= good
        parts.append(f"{name}: bounded, normalized C = {sp.sstr(report['normalized_constant'])}")
        details[name] = {"bounded": report["base_bounded"], "normalized": report["normalized_verdict"]}
    cce = normalization_report("cce")
    cce_unbounded = cce["base_bounded"] is False
    ok &= cce_unbounded
    parts.append(f"cce: unbounded along {cce['unbounded_along']}")
    main = ClaimResult("S3", "normalizing a bounded positive loss makes it symmetric (C = 1); cce is unbounded",
                       "; ".join(parts), TOLERANCE, verdict_of(ok), details)
    nce_symmetric = cce["normalized_verdict"] == "proved" and cce["normalized_constant"] == 1
    measured = (f"normalized cce (NCE) on the open simplex: {cce['normalized_verdict']}"
                + (f", C = {sp.sstr(cce['normalized_constant'])}, values in (0, 1)" if nce_symmetric else ""))
    remark = ClaimResult("S3-cce", "cce cannot be normalized into a symmetric (bounded) loss", measured, TOLERANCE,
                         verdict_of(not nce_symmetric),
                         {"normalized_verdict": cce["normalized_verdict"],
                          "normalized_constant": sp.sstr(cce["normalized_constant"])})
    return [main, remark]
