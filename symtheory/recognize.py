"""Bring a user's loss expression into the form the proofs understand, so that its proof is exact and quick.

Absolute values whose argument has a fixed sign on the open simplex are resolved: |1 - g_k| = 1 - g_k, so
the L1 distance to the one-hot label, ``abs(1-p) + sum_other(abs(q))``, proves like MAE.

A term c * N(g, k) / D(g) whose denominator is the label sum of its numerator, D = sum_s N(g, s), is a
normalized piece (Patel & Sastry 2021, Sec. 3; Ma et al. 2020): it sums to exactly c over the K labels
wherever D != 0. Written by hand, e.g. ``log(p)/sum_all(log(q))`` (NCE), such a term is not affine in its
sums over classes, and the explicit-coordinates proof of it does not finish; as a normalized piece of a
:class:`~symtheory.forms.LossForm` it is proved at once for every K.
"""

from __future__ import annotations

import sympy as sp

from symtheory.bounds import strictly_positive
from symtheory.expr import K, K_MINUS_2, P, Q, T, U, ProofVariable, SumOther, derivative, sum_other_nodes
from symtheory.forms import LossForm
from symtheory.reduce import affine_in_sums, is_zero
from symtheory.time_limit import GIVE_UP, time_limit


_V = ProofVariable("v", positive=True)
_MAX_ABS_ROUNDS = 8


def loss_form(expr: sp.Expr, n_classes: sp.Expr = K) -> LossForm:
    """The LossForm of a separable expression (absolute values resolved first) for K = ``n_classes`` (the
    symbol K, or the number the expression was bound to): each term c N / sum_s N(g, s) becomes the
    normalized piece (c, N), with N's sign chosen so that N > 0 when -N is shown positive
    (c N/sum N = c (-N)/sum(-N)); the other terms stay separable."""
    separable, pieces = [], []
    for term in sp.Add.make_args(resolve_on_simplex(sp.sympify(expr))):
        piece = normalized_piece(term, n_classes)
        if piece is None:
            separable.append(term if affine_in_sums(term) is not None else fold_linear_sums(term, n_classes))
        else:
            pieces.append(piece)
    return LossForm(separable=sp.Add(*separable), normalized=tuple(pieces))


def fold_linear_sums(term: sp.Expr, n_classes: sp.Expr = K) -> sp.Expr:
    """``term`` with each sum over the other classes of a body linear in g_j replaced by its value on the
    simplex, sum_{j != k} (c g_j + d) = c (1 - g_k) + d (K - 1), when that makes the term affine in its
    remaining sums (p sum_all(q) is p; (1 - p)/sum_all(q) is 1 - p); otherwise ``term`` unchanged."""
    folded = {}
    for node in sum_other_nodes(term):
        body = node.args[0]
        if P in body.free_symbols or derivative(body, Q, 2) != 0:
            continue
        slope = derivative(body, Q)
        folded[node] = slope * (1 - P) + body.subs(Q, 0) * (n_classes - 1)
    if not folded:
        return term
    result = sp.sympify(term).xreplace(folded)
    return result if affine_in_sums(result) is not None else term


def resolve_on_simplex(expr: sp.Expr) -> sp.Expr:
    """|x|, min and max resolved wherever the open simplex (0 < g_j < 1, K >= 2) fixes them: |x| -> x or -x
    when x has a fixed sign, min(x, y, ...) -> the argument no greater than every other (max: no smaller),
    each shown by writing g = 1/(1+u) with u > 0; the others are kept."""
    for _ in range(_MAX_ABS_ROUNDS):
        resolved = {}
        for node in expr.atoms(sp.Abs):
            inside = _on_simplex(node.args[0])
            if inside is not None and (inside.is_positive or inside.is_negative):
                resolved[node] = node.args[0] if inside.is_positive else -node.args[0]
        for node in expr.atoms(sp.Min, sp.Max):
            chosen = _extreme_argument(node)
            if chosen is not None:
                resolved[node] = chosen
        if not resolved:
            return expr
        expr = expr.xreplace(resolved)
    return expr


def _on_simplex(x: sp.Expr) -> sp.Expr | None:
    """x with g_k = 1/(1+u) and every other g_j = 1/(1+v), u, v > 0 free, so that a sign sympy shows for it
    holds on the open simplex; None when that is not sound.

    It is sound for x = F(g_k, S) with one sum S = sum_{j != k} f(g_j): as g_j runs over (0, 1) on its own,
    S takes exactly the values (K-1) f(v) does (f is continuous, so its range is an interval). Several
    distinct sums are merged into one when x is affine in them (sum_m c_m S_m = sum_{j != k} sum_m c_m f_m);
    otherwise setting every g_j to one v would test only the diagonal of their joint range, so None."""
    if len(sum_other_nodes(x)) > 1:
        parts = affine_in_sums(x)
        if parts is None:
            return None
        x = parts.a + SumOther(sp.Add(*[c * f for c, f in parts.terms]))
    return sp.together(x.subs({P: 1 / (1 + U), Q: 1 / (1 + _V)}).subs(K, K_MINUS_2 + 2))


def _extreme_argument(node: sp.Expr) -> sp.Expr | None:
    """The argument of a min (max) shown no greater (no smaller) than each other one on the open simplex."""
    sign = 1 if isinstance(node, sp.Min) else -1
    for candidate in node.args:
        gaps = [_on_simplex(sign * (other - candidate)) for other in node.args if other != candidate]
        if all(gap is not None and gap.is_nonnegative for gap in gaps):
            return candidate
    return None


def normalized_piece(term: sp.Expr, n_classes: sp.Expr = K) -> tuple[sp.Expr, sp.Expr] | None:
    """(c, N) when ``term`` is c * N / sum_s N(g, s), with c free of g and finite for every K in scope (each
    K >= 2 for the symbol K; c may be 0 at some parameter value, log(a) p/sum_all(q), where the piece is 0);
    None otherwise."""
    # exact: exp(-a p) stays in the numerator, not 1/exp(a p); then each factor 1/D with a sum, taking the rest
    # as the numerator, where D's own numerator is not 1 (1/(p+a)/sum_all(1/(q+a)) has 1 over (p+a) D)
    splits = [sp.fraction(term, exact=exact) for exact in (False, True)]
    splits += [(term * f.base, f.base) for f in sp.Mul.make_args(term)
               if f.is_Pow and f.exp == -1 and f.base.has(SumOther)]
    for numerator, denominator in splits:
        weight_num, base = _split(numerator)
        weight_den, total = _split(denominator)
        ratio = None if total is None or base is None else _label_sum_ratio(total, base, n_classes)
        if ratio is not None:
            break
    else:
        return None
    weight = weight_num / (weight_den * ratio)
    if not (_finite_nonzero(ratio) and _finite(weight)):
        return None
    if _negative_body(base):
        base = -base
    return weight, base


ORIENTATION_SECONDS = 5.0
"""How long :func:`normalized_piece` may look for the sign of a body: sympy's solveset can run for minutes
((abs(p-1/3)**(2/3) + (p-1/2)**2 - 1/40) as a body ran past 5 minutes), and parsing has no other limit."""


def _negative_body(base: sp.Expr) -> bool:
    """The body is shown < 0 on the open simplex, not > 0 (then -b/sum_s(-b) is written with b > 0), within
    :data:`ORIENTATION_SECONDS`; False when that is not shown in time."""
    try:
        with time_limit(ORIENTATION_SECONDS):
            return not strictly_positive(base) and strictly_positive(-base)
    except GIVE_UP:
        return False


def _split(expr: sp.Expr) -> tuple[sp.Expr, sp.Expr | None]:
    """(the factors free of g, the factors that depend on g), or (expr, None) when none depends on g."""
    factors = sp.Mul.make_args(expr)
    varying = [f for f in factors if _depends_on_g(f)]
    if not varying:
        return expr, None
    return sp.Mul(*[f for f in factors if not _depends_on_g(f)]), sp.Mul(*varying)


def _depends_on_g(expr: sp.Expr) -> bool:
    return P in expr.free_symbols or expr.has(SumOther)


def _finite_nonzero(value: sp.Expr) -> bool:
    """value is a finite nonzero number for every K >= 2 (shown with K = k2 + 2, k2 >= 0 an integer)."""
    numerator, denominator = _fraction_for_every_k(value)
    return bool(numerator.is_nonzero and denominator.is_nonzero)


def _finite(value: sp.Expr) -> bool:
    """value is a finite number for every K >= 2 and positive parameters (its denominator is shown nonzero)."""
    _, denominator = _fraction_for_every_k(value)
    return bool(denominator.is_nonzero)


def _fraction_for_every_k(value: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """(numerator, denominator) of value with K = k2 + 2, so that sympy's sign facts hold for every K >= 2."""
    return sp.fraction(sp.together(sp.sympify(value).subs(K, K_MINUS_2 + 2)))


def _label_sum_ratio(total: sp.Expr, base: sp.Expr, n_classes: sp.Expr = K) -> sp.Expr | None:
    """The constant r with total = r sum_s base(g, s), or None. base's label sum is sum_i phi(g_i); total must
    be sum_i psi(g_i) (its own-class part and its other-class part the same function) with psi = r phi,
    checked as identities in t."""
    base_parts, total_parts = affine_in_sums(base), affine_in_sums(total)
    if base_parts is None or total_parts is None or not total_parts.terms:
        return None
    phi = base_parts.phi(n_classes)
    own = total_parts.a.subs(P, T)
    others = sp.Add(*[c * f.subs(Q, T) for c, f in total_parts.terms])
    ratio = sp.cancel(own / phi) if is_zero(phi) is False else None
    if ratio is None or T in ratio.free_symbols or ratio == 0:
        return None
    return ratio if is_zero(own - ratio * phi) is True and is_zero(others - ratio * phi) is True else None
