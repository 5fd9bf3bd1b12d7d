"""Targeted simplification and exact zero tests (no blind ``simplify()``)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import sympy as sp

from symtheory.expr import K, P, Q, SumOther, T, sum_other_nodes


def reduce_expr(expr: sp.Expr) -> sp.Expr:
    """expand_log (positive symbols), expand, together, cancel: the steps the proofs are allowed to use."""
    expr = sp.expand_log(sp.sympify(expr), force=True)
    return sp.cancel(sp.together(sp.expand(expr)))


def tidy(expr: sp.Expr) -> sp.Expr:
    """A readable form of an already-proved constant: logs combined, factored."""
    expr = sp.logcombine(sp.expand_log(sp.sympify(expr), force=True), force=True)
    return sp.factor_terms(sp.factor(expr)) if not expr.has(sp.log) else sp.factor_terms(expr)


def is_zero(expr: sp.Expr, trials: int = 12, seed: int = 0) -> bool | None:
    """True if the expression reduces to 0; False if it reduces to a constant sympy shows nonzero, or is nonzero at
    some exact random point; else None.

    The nonzero test evaluates at rational points with 40 digits (t in (0,1), parameters > 0, K >= 3).
    """
    reduced = reduce_expr(expr)
    if reduced == 0:
        return True
    if reduced.is_number and reduced.is_zero is False:
        return False
    rng = random.Random(seed)
    symbols = sorted(reduced.free_symbols, key=str)
    for _ in range(trials):
        point = {}
        for s in symbols:
            if s == K:
                point[s] = sp.Integer(rng.randint(3, 12))
            elif s in (T, P, Q):
                point[s] = sp.Rational(rng.randint(1, 999), 1000)
            else:
                point[s] = sp.Rational(rng.randint(1, 3000), 1000)
        value = reduced.subs(point).evalf(40)
        if value.is_number and value.is_finite is not False and abs(value) > sp.Float("1e-25"):
            return False
    return None


@dataclass(frozen=True)
class AffineInSums:
    """L = a(g_k) + sum_m c_m * sum_{j != k} f_m(g_j), with constants c_m."""

    a: sp.Expr
    terms: tuple[tuple[sp.Expr, sp.Expr], ...]

    def phi(self, n_classes: sp.Expr) -> sp.Expr:
        """phi(t) = a(t) + (K-1) sum_m c_m f_m(t): sum_k L(g, k) = sum_i phi(g_i)."""
        return self.a.subs(P, T) + (n_classes - 1) * sp.Add(*[c * f.subs(Q, T) for c, f in self.terms])


def affine_in_sums(expr: sp.Expr) -> AffineInSums | None:
    """Split a separable loss into a(g_k) and constant multiples of sums over the other classes, or None."""
    expr = sp.sympify(expr)
    nodes = sum_other_nodes(expr)
    slots = [sp.Dummy(f"s{i}") for i in range(len(nodes))]
    outer = expr.xreplace(dict(zip(nodes, slots)))
    coefficients = [sp.diff(outer, s) for s in slots]
    banned = {P, *slots}
    if any(c.free_symbols & banned or c.has(SumOther) for c in coefficients):
        return None
    a = outer.subs({s: 0 for s in slots})
    rest = outer - a - sp.Add(*[c * s for c, s in zip(coefficients, slots)])
    if rest != 0 and reduce_expr(rest) != 0:
        return None
    if a.has(SumOther):
        return None
    return AffineInSums(a=a, terms=tuple((c, n.args[0]) for c, n in zip(coefficients, nodes)))
