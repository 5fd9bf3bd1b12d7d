"""The affine risk relation under symmetric label noise, derived step by step (Patel & Sastry 2021, Thm. 1).

R_eta(h) = C eta/(K-1) + (1 - eta K/(K-1)) R(h) for a symmetric loss with constant C. The slope
b = 1 - eta K/(K-1) is positive for eta < (K-1)/K (ranking preserved), zero at eta = (K-1)/K (every
classifier has the same noisy risk) and negative above (ranking reversed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from symtheory.expr import K
from symtheory.steps import Step

ETA = sp.Symbol("eta", nonnegative=True)
C = sp.Symbol("C", positive=True)
R = sp.Symbol("R")
L_TRUE = sp.Symbol("L_y")


@dataclass
class RiskRelation:
    """The derived relation, its slope and intercept, the threshold and the three regimes."""

    noisy_risk: sp.Expr
    slope: sp.Expr
    intercept: sp.Expr
    threshold: sp.Expr
    regimes: list[tuple[str, str]]
    steps: list[Step] = field(default_factory=list)
    verified: bool = False
    from_noise_model: dict[int, bool] = field(default_factory=dict)


def affine_slope(eta, classes):
    """b = 1 - eta K/(K-1), the slope of R_eta against R (plain numbers or sympy expressions)."""
    return 1 - eta * classes / (classes - 1)


def affine_intercept(constant, eta, classes):
    """a = C eta/(K-1), the intercept of R_eta against R."""
    return constant * eta / (classes - 1)


NOISE_MODEL_KS = (2, 3, 4, 5, 6)
"""The K at which a relation for symbolic K is also checked from the noise model with explicit labels."""


def holds_from_noise_model(constant: sp.Expr, classes: int) -> bool:
    """At K = ``classes``, with the losses L_1..L_K of one point tied only by sum_j L_j = C: for every clean label
    y, E[L_noisy] = (1 - eta) L_y + eta/(K-1) sum_{j != y} L_j equals C eta/(K-1) + (1 - eta K/(K-1)) L_y
    exactly -- the relation read off the noise model itself, not from the derivation's regrouping."""
    k = int(classes)
    value = sp.sympify(constant).subs(K, k)
    losses = sp.symbols(f"L1:{k + 1}")
    for y in range(k):
        expected = sum(((1 - ETA) if j == y else ETA / (k - 1)) * losses[j] for j in range(k))
        claimed = affine_intercept(value, ETA, k) + affine_slope(ETA, k) * losses[y]
        tied = k - 1 if y != k - 1 else 0
        constraint = {losses[tied]: value - sum(losses[j] for j in range(k) if j != tied)}
        if sp.cancel(sp.expand((expected - claimed).subs(constraint))) != 0:
            return False
    return True


def derive_risk_relation(constant: sp.Expr = C, n_classes: sp.Expr = K) -> RiskRelation:
    """Derive R_eta = C eta/(K-1) + (1 - eta K/(K-1)) R symbolically, checking each equality exactly."""
    eta, k = ETA, n_classes
    others = sp.Symbol("S_other")
    steps = [
        Step("R_eta(h) = E_X E_{y|X} E_{y~|X,y} L(h(X), y~)  (tower rule)"),
        Step("noise: y~ = y w.p. 1-eta, each i != y w.p. eta/(K-1); inner expectation =",
             (1 - eta) * L_TRUE + eta / (k - 1) * others),
    ]
    inner = (1 - eta) * L_TRUE + eta / (k - 1) * (constant - L_TRUE)
    steps.append(Step("symmetry: S_other = sum_{i != y} L(h(X), i) = C - L(h(X), y), so the inner expectation =",
                      inner))
    outer = inner.subs(L_TRUE, R)
    steps.append(Step("it is affine in L(h(X), y); taking E_X E_{y|X} replaces L(h(X), y) by R(h):", outer))
    claimed = affine_intercept(constant, eta, k) + affine_slope(eta, k) * R
    verified = sp.cancel(sp.together(outer - claimed)) == 0
    steps.append(Step(f"collecting terms in R (checked exactly: difference expands to {0 if verified else 'NONZERO'}):",
                      claimed))
    slope = affine_slope(eta, k)
    threshold = sp.solve(sp.Eq(slope, 0), eta)[0]
    derivative = sp.diff(slope, eta)
    steps.append(Step("slope b(eta) = 1 - eta K/(K-1) vanishes only at eta =", threshold))
    steps.append(Step("db/deta = -K/(K-1) < 0 for K >= 2, so b > 0 below the threshold and b < 0 above:", derivative))
    tied = min((sp.factor(sp.cancel(constant / k)), constant / k), key=lambda form: len(sp.sstr(form)))
    regimes = [
        (f"0 <= eta < {sp.sstr(threshold)}",
         "b > 0: R(h1) < R(h2) iff R_eta(h1) < R_eta(h2) (ranking preserved, Theorem 1)"),
        (f"eta = {sp.sstr(threshold)}", f"b = 0: R_eta(h) = C/K = {sp.sstr(tied)} for every h (all classifiers tied)"
         if constant != C else "b = 0: R_eta(h) = C/K for every h (all classifiers tied)"),
        (f"{sp.sstr(threshold)} < eta <= 1",
         "b < 0: R(h1) < R(h2) iff R_eta(h1) > R_eta(h2) (ranking reversed)"),
    ]
    ks = NOISE_MODEL_KS if not sp.sympify(k).is_number else (int(k),)
    from_noise = {kk: holds_from_noise_model(constant, kk) for kk in ks}
    shown = f"K = {ks[0]}..{ks[-1]}" if len(ks) > 1 else f"K = {ks[0]}"
    steps.append(Step(f"checked from the noise model at {shown}, with explicit losses L_1..L_K tied only by "
                      f"sum_j L_j = C: E[L(h(X), y~) | y] = a + b L_y for every y: "
                      f"{'yes' if all(from_noise.values()) else 'NO at K = ' + str([kk for kk, v in from_noise.items() if not v])}"))
    return RiskRelation(claimed, slope, affine_intercept(constant, eta, k), threshold, regimes, steps, verified,
                        from_noise)
