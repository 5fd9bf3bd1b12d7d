"""Boundedness of a loss on the open simplex: bounds when bounded, a sequence g^(n) when not.

A symmetric loss with L >= 0 is bounded, 0 <= L(g, k) <= sum_j L(g, j) = C (Patel & Sastry 2021, Sec. 3,
where losses are nonnegative), so an unbounded nonnegative loss (CCE) can never be symmetric; a loss of both
signs can be both (-log g_k + sum_{j!=k} log(g_j)/(K-1): C = 0, unbounded). The bounds given are valid on the whole open simplex. A bound is marked exact (the infimum or
supremum) when it is shown to be: always for a loss of g_k alone; when a simplex vertex attains the bound in
the limit; and for a(g_k) + sum_{j!=k} F(g_j) with F convex or concave, by reducing to the extreme points of
each face g_k = t (Jensen, or a convex function peaking at a vertex).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from itertools import combinations, product

import sympy as sp
from sympy.calculus.util import continuous_domain

from symtheory.expr import K, K_MINUS_2, P, Q, T, U, ProofVariable
from symtheory.expr import derivative as derivative_of
from symtheory.forms import LossForm
from symtheory.reduce import affine_in_sums, is_zero, reduce_expr
from symtheory.steps import Step

SEQUENCE_INDEX = ProofVariable("n", positive=True, integer=True)
"""n of the sequence g^(n) along which an unbounded loss diverges (g_k = 1/n, ...)."""


@dataclass
class Range:
    """The range of a one-variable function on t in (0, 1); ``strict`` when it is strictly monotone;
    ``interior`` the values at the points inside (0, 1) where an extreme may sit (critical points, kinks,
    min/max crossings) and at the middle of each piece between them (() when strictly monotone), None when not
    known: on each piece f is strictly monotone or constant, so f > 0 on all of (0, 1) iff its end limits are
    >= 0 and each of these values is > 0."""

    lower: sp.Expr
    upper: sp.Expr
    strict: bool = False
    interior: tuple | None = None


def interval_range(f: sp.Expr) -> Range | None:
    """inf and sup of f(t) over t in (0, 1), from the sign of f' and the one-sided limits; None if unknown,
    and for an f (of t alone) not continuous on all of (0, 1), where a pole or gap would escape that."""
    f = sp.sympify(f)
    if T not in f.free_symbols:
        return Range(f, f, interior=(f,))
    if f.free_symbols == {T} and not _continuous_on_unit(f):
        return None
    if f.has(sp.Min, sp.Max):
        scale, g = f.as_independent(T, as_Add=False)
        sign = sp.sympify(scale).subs(K, K_MINUS_2 + 2)
        inner = _min_max_range(g) if g.free_symbols == {T} and (sign.is_positive or sign.is_negative) else None
        if inner is None:
            return None
        interior = tuple(scale * v for v in inner.interior)
        if sign.is_positive:
            return Range(scale * inner.lower, scale * inner.upper, interior=interior)
        return Range(scale * inner.upper, scale * inner.lower, interior=interior)
    kinks = nonsmooth_points(f)
    if kinks is None:
        return None
    derivative = reduce_expr(derivative_of(f, T))
    if derivative == 0:
        value = f.subs(T, sp.Rational(1, 2))
        return Range(value, value, interior=(value,))
    at_zero, at_one = one_sided_limit(f, 0), one_sided_limit(f, 1)
    ends_defined = not (at_zero.has(sp.nan, sp.zoo) or at_one.has(sp.nan, sp.zoo))
    if T not in derivative.free_symbols and not kinks and ends_defined:
        strict = is_zero(derivative) is False
        return Range(sp.Min(at_zero, at_one), sp.Max(at_zero, at_one), strict=strict, interior=() if strict else None)
    sign = polynomial_sign(derivative)
    if sign is None:
        on_unit = on_unit_interval(derivative)
        sign = 1 if on_unit.is_positive else -1 if on_unit.is_negative else None
    if sign == 1:
        return Range(at_zero, at_one, strict=True, interior=())
    if sign == -1:
        return Range(at_one, at_zero, strict=True, interior=())
    try:
        critical = sp.solveset(derivative, T, sp.Interval.open(0, 1))
    except (NotImplementedError, ValueError, TypeError):
        return None
    if isinstance(critical, sp.FiniteSet) and all(c.is_number and c.is_real for c in critical):
        inside = [f.subs(T, c) for c in set(critical) | kinks] + piece_middles(f, set(critical) | kinks)
        if any(v.has(sp.nan, sp.zoo) for v in [at_zero, at_one] + inside):
            return None
        return Range(sp.Min(at_zero, at_one, *inside), sp.Max(at_zero, at_one, *inside), interior=tuple(inside))
    return None


def piece_middles(f: sp.Expr, points: set[sp.Expr]) -> list[sp.Expr]:
    """f at the middle of each piece of (0, 1) between the given points (real numbers): where f may be
    constant on a piece rather than strictly monotone, its value there."""
    ordered = [sp.Integer(0)] + sorted(points, key=lambda c: sp.N(c, 50)) + [sp.Integer(1)]
    return [f.subs(T, (lo + hi) / 2) for lo, hi in zip(ordered, ordered[1:])]


def sign_on_unit(f: sp.Expr) -> int | None:
    """+1 when f(t) > 0 at every t in (0, 1), -1 when f(t) < 0 there, for every K >= 2 and positive parameters
    (:attr:`Range.interior`: its end limits >= 0 and its values there > 0 suffice); None when neither is
    shown."""
    rng = interval_range(f)
    if rng is None or rng.interior is None:
        return None

    def holds(value: sp.Expr, relation: str) -> bool:
        return bool(getattr(sp.sympify(value).subs(K, K_MINUS_2 + 2), relation))

    for sign, end, bound, inside in ((1, rng.lower, "is_extended_nonnegative", "is_positive"),
                                     (-1, rng.upper, "is_extended_nonpositive", "is_negative")):
        if holds(end, bound) and all(holds(v, inside) for v in rng.interior):
            return sign
    return None


def polynomial_sign(f: sp.Expr) -> int | None:
    """+1 or -1 when f is a polynomial in t with rational coefficients and no root in (0, 1) (Sturm's count of
    the roots in [0, 1], less those at its ends), the sign it then keeps there; None otherwise. Exact, and fast
    where t = 1/(1+u) would expand (1+u)**99."""
    if f.free_symbols != {T} or not f.is_polynomial(T):
        return None
    poly = sp.Poly(f, T)
    if poly.domain != sp.QQ and poly.domain != sp.ZZ:
        return None
    at_ends = sum(1 for end in (0, 1) if poly.eval(end) == 0)
    if poly.count_roots(0, 1) - at_ends != 0:
        return None
    return 1 if poly.eval(sp.Rational(1, 2)) > 0 else -1


def nonsmooth_points(f: sp.Expr) -> set[sp.Expr] | None:
    """The points of (0, 1) where f(t) may have no derivative though it is continuous -- the kink of |h(t)| and
    the cusp of h(t)**e (e not an integer) where h(t) = 0 -- which an extreme can sit on with f' nowhere 0
    (|t - 1/2| - 3/2 (t - 9/20)**2 is least at t = 1/2); None when they are not a finite set of numbers."""
    heads = [a.args[0] for a in f.atoms(sp.Abs, sp.sign, sp.Heaviside)]
    heads += [a.base for a in f.atoms(sp.Pow) if not a.exp.is_integer]
    return roots_on_unit([h for h in heads if T in h.free_symbols and not on_unit_interval(h).is_positive])


def roots_on_unit(equations: list[sp.Expr]) -> set[sp.Expr] | None:
    """The roots in (0, 1) of each h(t) = 0 (one that reduces to 0 skipped); None when any root set is not a
    finite set of numbers, or sympy cannot solve it."""
    points: set[sp.Expr] = set()
    for equation in equations:
        if reduce_expr(equation) == 0:
            continue
        try:
            found = sp.solveset(equation, T, sp.Interval.open(0, 1))
        except (NotImplementedError, ValueError, TypeError):
            return None
        if found is sp.S.EmptySet:
            continue
        if not (isinstance(found, sp.FiniteSet) and all(c.is_number for c in found)):
            return None
        points |= set(found)
    return points


def piecewise_affine(f: sp.Expr) -> tuple[sp.Expr, sp.Expr, int] | None:
    """(c0, c1, pieces) when f(t), continuous on (0, 1) with min, max or abs in it (not nested, their
    arguments numbers at each t), is c0 + c1 t on every piece of (0, 1) between the points where two arguments
    of a min/max are equal or an abs's argument is 0: then f = c0 + c1 t on all of (0, 1), by continuity at
    those points (max(t, 1/2) + min(t, 1/2) = t + 1/2); None otherwise."""
    nodes = list(f.atoms(sp.Min, sp.Max, sp.Abs))
    if not nodes or any(arg.has(sp.Min, sp.Max, sp.Abs) for node in nodes for arg in node.args):
        return None
    equations = [node.args[0] for node in nodes if isinstance(node, sp.Abs)]
    equations += [x - y for node in nodes if not isinstance(node, sp.Abs) for x, y in combinations(node.args, 2)]
    breaks = roots_on_unit(equations)
    if breaks is None or not all(b.is_real for b in breaks):
        return None
    edges = [sp.Integer(0)] + sorted(breaks, key=float) + [sp.Integer(1)]
    found: list[tuple[sp.Expr, sp.Expr]] = []
    for lo, hi in zip(edges, edges[1:]):
        middle = (lo + hi) / 2
        chosen = {}
        for node in nodes:
            values = [arg.subs(T, middle) for arg in node.args]
            if not all(v.is_number and v.is_real for v in values):
                return None
            active = _active_argument(node, values)
            if active is None:
                return None
            chosen[node] = active
        branch = f.xreplace(chosen)
        c1 = reduce_expr(derivative_of(branch, T))
        c0 = reduce_expr(branch - c1 * T)
        if T in c0.free_symbols or T in c1.free_symbols:
            return None
        found.append((c0, c1))
    first = found[0]
    if any(is_zero(c0 - first[0]) is not True or is_zero(c1 - first[1]) is not True for c0, c1 in found[1:]):
        return None
    return first[0], first[1], len(found)


def _active_argument(node: sp.Expr, values: list[sp.Expr]) -> sp.Expr | None:
    """What a min, max or abs equals at a point where its arguments take ``values``: the argument that wins
    (abs: its argument or minus it); None when sympy cannot order the values (log(3) against log(3/2) + log(2))."""
    try:
        if isinstance(node, sp.Abs):
            return node.args[0] if bool(values[0] >= 0) else -node.args[0]
        return node.args[values.index(node.func(*values))]
    except (TypeError, ValueError):
        return None


def on_unit_interval(f: sp.Expr) -> sp.Expr:
    """f(t) with t = 1/(1+u), u > 0 (so t runs over (0, 1)) and K = k2 + 2, k2 >= 0, over one denominator, for
    sympy to read its sign; cancelled only when the uncancelled form's sign is unknown (cancelling expands
    (1+u)**999 of t**999 into a polynomial whose sign sympy takes minutes to miss)."""
    together = sp.together(f.subs({T: 1 / (1 + U), K: K_MINUS_2 + 2}))
    if together.is_zero:
        return sp.S.Zero
    if together.is_positive or together.is_negative:
        return together
    return sp.cancel(together)


def _min_max_range(f: sp.Expr) -> Range | None:
    """inf and sup over (0, 1) of a continuous f(t) with min/max in it (not nested): f is smooth between the
    points where two arguments of a min or max are equal, so its extremes are among those points, the critical
    points of each branch (f with each min/max replaced by one of its arguments; a constant branch has none) and
    the one-sided limits at 0 and 1; None when any of these point sets is not a finite set of numbers. Between
    two such points f is strictly monotone or constant (a constant branch), so ``interior`` holds the value at
    the middle of each piece too: max(0, -(1-t)**2 (t+2)) is 0 on all of (0, 1), not > 0."""
    nodes = list(f.atoms(sp.Min, sp.Max))
    if len(nodes) > 3 or any(arg.has(sp.Min, sp.Max) for node in nodes for arg in node.args):
        return None
    kinks = nonsmooth_points(f)
    if kinks is None:
        return None
    equations = [x - y for node in nodes for x, y in combinations(node.args, 2)]
    branches = [f.xreplace(dict(zip(nodes, choice))) for choice in product(*(node.args for node in nodes))]
    crossings = roots_on_unit(equations + [derivative_of(branch, T) for branch in branches])
    if crossings is None:
        return None
    points = kinks | crossings
    if not all(c.is_number and c.is_real for c in points):
        return None
    inside = [f.subs(T, c) for c in points] + piece_middles(f, points)
    values = [one_sided_limit(f, 0), one_sided_limit(f, 1)] + inside
    if any(v.has(sp.nan, sp.zoo) or not v.is_number for v in values):
        return None
    return Range(sp.Min(*values), sp.Max(*values), interior=tuple(inside))


def _continuous_on_unit(f: sp.Expr) -> bool:
    """f(t), in t alone, is continuous at every t in (0, 1) (sympy's continuous_domain; False if it cannot
    tell)."""
    try:
        return continuous_domain(f, T, sp.Interval.open(0, 1)) == sp.Interval.open(0, 1)
    except (NotImplementedError, ValueError, TypeError):
        return False


def limit_of(f: sp.Expr, var: sp.Symbol, point: sp.Expr, direction: str) -> sp.Expr:
    """lim f as var -> point (sympy's direction '+' or '-'). A min or max of arguments whose limits all exist in
    the extended reals tends to the min or max of those limits; nan (unknown) where sympy cannot take the limit
    of another expression holding a min or max (its limit of max(t, 1/(1-t)) at 1 is 1, not oo)."""
    if isinstance(f, (sp.Min, sp.Max)):
        ends = [limit_of(arg, var, point, direction) for arg in f.args]
        known = all(v.is_extended_real and not v.has(sp.AccumBounds, sp.Limit, sp.nan, sp.zoo) for v in ends)
        return f.func(*ends) if known else sp.nan  # sin(1/t) at 0 has no limit: sympy gives AccumBounds(-1, 1)
    if f.has(sp.Min, sp.Max):
        return sp.nan
    return sp.limit(f, var, point, direction)


def one_sided_limit(f: sp.Expr, end: int) -> sp.Expr:
    """lim f(t) as t -> end from inside (0, 1): direct substitution when it is finite (or, with symbolic K, when
    nothing infinite or undefined appears in it: an elementary function is continuous where it is defined),
    else :func:`limit_of`."""
    try:
        value = f.subs(T, end)
    except (TypeError, ValueError):
        value = sp.nan  # max(t, 1/(1-t)) at 1 is max(1, zoo)
    if value.is_finite or (value.is_finite is None and not value.has(sp.oo, -sp.oo, sp.zoo, sp.nan)):
        return value
    return limit_of(f, T, end, "+" if end == 0 else "-")


@dataclass
class BoundsResult:
    """Whether L is bounded on the open simplex; bounds, or a sequence along which L diverges."""

    bounded: bool | None
    lower: sp.Expr | None = None
    upper: sp.Expr | None = None
    sequence: str | None = None
    sequence_limit: sp.Expr | None = None
    steps: list[Step] = field(default_factory=list)
    lower_exact: bool = False
    upper_exact: bool = False


def _is_infinite(x: sp.Expr) -> bool:
    return x in (sp.oo, -sp.oo, sp.zoo) or x.has(sp.oo, -sp.oo, sp.zoo)


def _fold_linear_sums(decomposition):
    a = decomposition.a
    kept = []
    for c, f in decomposition.terms:
        poly = sp.Poly(f, Q) if f.is_polynomial(Q) else None
        if poly is not None and poly.degree() <= 1:
            slope, intercept = (poly.all_coeffs() + [0])[:2] if poly.degree() == 1 else (0, poly.all_coeffs()[0])
            a = a + c * (slope * (1 - P) + (K - 1) * intercept)
        else:
            kept.append((c, f))
    return a, kept


def separable_bounds(expr: sp.Expr, n_classes: sp.Expr = K) -> BoundsResult:
    """Bounds of a(g_k) + sum_m c_m sum_{j!=k} f_m(g_j): range of a plus (K-1) times the range of each c_m f_m.

    Sums of a linear f over the other classes are folded in exactly: sum_{j != k} g_j = 1 - g_k.
    """
    decomposition = affine_in_sums(expr)
    if decomposition is None:
        return BoundsResult(None, steps=[Step("the loss is not affine in its sums over classes: no bound derived")])
    a, terms = _fold_linear_sums(decomposition)
    a = a.subs(K, n_classes)
    pieces = [(f"a({T}) = L at g_k = {T}", a.subs(P, T), sp.Integer(1))]
    pieces += [(f"(K-1) x c f({T}) for the sum of {sp.sstr(f)}", (c * f.subs(Q, T)).subs(K, n_classes), n_classes - 1)
               for c, f in terms]
    lower, upper, steps, divergent = sp.Integer(0), sp.Integer(0), [], None
    for label, fn, multiplicity in pieces:
        rng = interval_range(fn)
        if rng is None:
            return BoundsResult(None, steps=steps + [Step(f"could not find the range of {label}", fn)])
        steps.append(Step(f"range over {T} in (0,1) of {label}: [{sp.sstr(rng.lower)}, {sp.sstr(rng.upper)}]", fn))
        lower, upper = lower + multiplicity * rng.lower, upper + multiplicity * rng.upper
        if divergent is None and (_is_infinite(rng.lower) or _is_infinite(rng.upper)):
            divergent = (label, fn)
    lower, upper = _tidy_bound(lower), _tidy_bound(upper)
    if divergent is not None:
        result = _unbounded(expr, divergent[0], divergent[1], n_classes, steps)
        result.lower, result.upper = lower, upper
        return result
    if not terms:
        steps.append(Step("L depends on g_k alone, which takes every value in (0,1): the bounds are its inf and sup"))
        return BoundsResult(True, lower, upper, steps=steps, lower_exact=True, upper_exact=True)
    result = BoundsResult(True, lower, upper, steps=steps)
    a_t, sum_part = pieces[0][1], sp.Add(*[fn for _, fn, _ in pieces[1:]])
    _vertex_refinement(result, a_t, sum_part, n_classes)
    if not (result.lower_exact and result.upper_exact):
        _face_refinement(result, a_t, sum_part, n_classes)
    return result


def face_profiles(a: sp.Expr, sum_part: sp.Expr, n_classes: sp.Expr = K) -> tuple[sp.Expr, sp.Expr]:
    """L restricted to g_k = t at the two extreme points of its face: the other classes equal,
    a(t) + (K-1) F((1-t)/(K-1)), and one other class holding all of 1 - t, a(t) + F(1-t) + (K-2) F(0+)."""
    spread = a + (n_classes - 1) * sum_part.subs(T, (1 - T) / (n_classes - 1))
    corner = a + sum_part.subs(T, 1 - T) + (n_classes - 2) * one_sided_limit(sum_part, 0)
    return spread, corner


def _face_refinement(result: BoundsResult, a: sp.Expr, sum_part: sp.Expr, n_classes: sp.Expr) -> None:
    """Exact inf and sup when F = sum_m c_m f_m has a known curvature: with g_k = t fixed, sum_{j!=k} F(g_j)
    over the face sum g_j = 1 - t is extreme where the others are equal (Jensen) or at a corner of the face
    (a convex function peaks at a vertex); what is left is a range over t in (0, 1)."""
    sign = curvature_sign(sum_part)
    if sign is None:
        return
    spread, corner = face_profiles(a, sum_part, n_classes)
    shape = {1: "convex", -1: "concave", 0: "affine"}[sign]
    sup_profile, inf_profile = {1: (corner, spread), -1: (spread, corner), 0: (spread, spread)}[sign]
    for side, profile in (("upper", sup_profile), ("lower", inf_profile)):
        if getattr(result, f"{side}_exact"):
            continue
        rng = interval_range(profile)
        value = None if rng is None else _tidy_bound(rng.upper if side == "upper" else rng.lower)
        if value is None or _is_infinite(value) or value.has(sp.Min, sp.Max):
            continue
        setattr(result, side, value)
        setattr(result, f"{side}_exact", True)
        where = "the other classes equal" if profile is spread else "one other class holding 1 - g_k"
        result.steps.append(Step(f"F is {shape}, so at g_k = {T} the {'sup' if side == 'upper' else 'inf'} over the "
                                 f"other classes is at {where}; its {'sup' if side == 'upper' else 'inf'} over {T} "
                                 f"in (0,1) is {sp.sstr(value)}", profile))


def curvature_sign(f: sp.Expr) -> int | None:
    """+1 if f'' >= 0 on (0, 1) (convex), -1 if f'' <= 0 (concave), 0 if f'' = 0 (affine); None if unknown."""
    on_unit = on_unit_interval(derivative_of(f, T, 2))
    if on_unit == 0:
        return 0
    if on_unit.is_nonnegative:
        return 1
    if on_unit.is_nonpositive:
        return -1
    return None


def vertex_values(a: sp.Expr, sum_part: sp.Expr, n_classes: sp.Expr = K) -> tuple[sp.Expr, sp.Expr]:
    """Limits of L = a(g_k) + sum_{j!=k} F(g_j) at the simplex's vertices: g = e_k gives a(1) + (K-1) F(0),
    g = e_j (j != k) gives a(0) + F(1) + (K-2) F(0)."""
    f0, f1 = one_sided_limit(sum_part, 0), one_sided_limit(sum_part, 1)
    own = one_sided_limit(a, 1) + (n_classes - 1) * f0
    other = one_sided_limit(a, 0) + f1 + (n_classes - 2) * f0
    return _tidy_bound(own), _tidy_bound(other)


def _vertex_refinement(result: BoundsResult, a: sp.Expr, sum_part: sp.Expr, n_classes: sp.Expr) -> None:
    """Mark a bound exact when a vertex of the simplex attains it in the limit (a bound that some limit of L
    reaches is its inf or sup)."""
    own, other = vertex_values(a, sum_part, n_classes)
    if _is_infinite(own) or _is_infinite(other):
        return
    values = f"L(e_k) = {sp.sstr(own)}, L(e_j) = {sp.sstr(other)}"
    for side in ("lower", "upper"):
        bound = getattr(result, side)
        if any(_same(bound, v) for v in (own, other)):
            setattr(result, f"{side}_exact", True)
            result.steps.append(Step(f"the {side} bound is approached at a vertex ({values}), so it is the "
                                     f"{'inf' if side == 'lower' else 'sup'}", bound))


def _same(x: sp.Expr, y: sp.Expr) -> bool:
    difference = sp.expand(sp.expand_log(x - y, force=True))
    return difference == 0 or sp.cancel(sp.together(difference)) == 0


def _tidy_bound(x: sp.Expr) -> sp.Expr:
    """A bound in a short closed form; what K >= 2 decides is decided (0**(K - 1) is 0)."""
    x = sp.sympify(x).subs(K, K_MINUS_2 + 2).subs(K_MINUS_2, K - 2)
    if _is_infinite(x):
        big = sp.Symbol("_big", positive=True)
        finite = x.subs({-sp.oo: -big}).subs({sp.oo: big}).subs(K, K_MINUS_2 + 2)
        if finite.is_positive:
            return sp.oo
        if finite.is_negative:
            return -sp.oo
        return sp.oo if sp.limit(x, sp.Symbol("_never"), 0) == sp.oo or x.has(sp.oo) and not x.has(-sp.oo) else x
    if not x.has(sp.log):
        return sp.factor(x)
    combined = sp.logcombine(sp.expand_log(sp.expand(x), force=True), force=True)
    return combined.replace(sp.log, lambda arg: sp.log(sp.factor(arg)))


def _unbounded(expr, label, fn, n_classes, steps) -> BoundsResult:
    from symtheory.evaluate import exact_loss

    classes = int(n_classes) if sp.sympify(n_classes).is_number else 3
    at_zero = _is_infinite(one_sided_limit(fn, 0))
    eps = 1 / SEQUENCE_INDEX if at_zero else 1 - 1 / SEQUENCE_INDEX
    if label.startswith("a("):
        point = [eps] + [(1 - eps) / (classes - 1)] * (classes - 1)
        description = f"K={classes}, g_k = {sp.sstr(eps)}, the other classes (1 - g_k)/(K-1) each, label k = 1"
    elif not at_zero:
        point = [(1 - eps) / (classes - 1), eps] + [(1 - eps) / (classes - 1)] * (classes - 2)
        description = (f"K={classes}, g_2 = {sp.sstr(eps)}, " + ("g_k = 1 - g_2" if classes == 2 else
                       "the other classes (1 - g_2)/(K-1) each") + ", label k = 1")
    elif classes == 2:
        point = [1 - eps, eps]
        description = f"K=2, g_k = {sp.sstr(1 - eps)}, g_2 = {sp.sstr(eps)}, label k = 1"
    else:
        point = [sp.Rational(1, 2), eps / 2] + [(sp.Rational(1, 2) - eps / 2) / (classes - 2)] * (classes - 2)
        description = f"K={classes}, g_k = 1/2, g_2 = {sp.sstr(eps / 2)}, the rest equal, label k = 1"
    value = exact_loss(expr.subs(K, classes), point, 0)
    limit = limit_of(value, SEQUENCE_INDEX, sp.oo, "-")
    steps.append(Step(f"{label} is unbounded; along g^({SEQUENCE_INDEX}): {description}, L -> {limit}", value))
    return BoundsResult(False if _is_infinite(limit) else None, sequence=description, sequence_limit=limit, steps=steps)


def form_bounds(form: LossForm, n_classes: sp.Expr = K) -> BoundsResult:
    """Bounds of a whole LossForm: the separable piece (with each normalized piece whose denominator is a
    nonzero constant c folded in as w b(g,k)/c), [0, w] for each other normalized piece whose base is >= 0 or <= 0
    (wherever its denominator is not 0, b(g,k)/sum_s b(g,s) is then in [0, 1]),
    [0, w] for the 0-1 piece."""
    form, folded = _fold_constant_normalizers(form, n_classes)
    result = separable_bounds(form.separable, n_classes)
    if result.bounded is not True:
        return replace(result, steps=folded + list(result.steps))
    lower, upper, steps = result.lower, result.upper, folded + list(result.steps)
    if not form.normalized and form.zero_one == 0:
        return replace(result, steps=steps)
    for weight, base in form.normalized:
        base_bounds = separable_bounds(base, n_classes)
        nonneg = base_bounds.lower is not None and sp.sympify(base_bounds.lower).is_extended_nonnegative
        nonpos = base_bounds.upper is not None and sp.sympify(base_bounds.upper).is_extended_nonpositive
        if not (nonneg or nonpos):
            return BoundsResult(None, steps=steps + [Step("normalized piece: base not shown of one sign", base)])
        steps.append(Step(f"normalized piece with weight {sp.sstr(weight)}: base {'>=' if nonneg else '<='} 0, so "
                          "b(g,k)/sum_s b(g,s) lies in [0, 1] and the piece in [0, weight]"))
        lower, upper = lower + sp.Min(0, weight), upper + sp.Max(0, weight)
    if form.zero_one != 0:
        steps.append(Step("0-1 piece lies in [0, weight]"))
        lower, upper = lower + sp.Min(0, form.zero_one), upper + sp.Max(0, form.zero_one)
    constant_rest = result.lower_exact and result.upper_exact and sp.simplify(result.lower - result.upper) == 0
    exact = constant_rest and not form.normalized
    if exact:
        steps.append(Step("the rest is constant and the 0-1 piece takes both its values: the bounds are exact"))
    return BoundsResult(True, lower, upper, steps=steps, lower_exact=exact, upper_exact=exact)


def _fold_constant_normalizers(form: LossForm, n_classes: sp.Expr) -> tuple[LossForm, list[Step]]:
    """``form`` with each normalized piece whose sum_s b(g, s) is a nonzero constant c
    (:func:`symtheory.symmetry.constant_normalizer`) moved into the separable piece as w b(g,k)/c."""
    from symtheory.symmetry import constant_normalizer

    separable, kept, steps = form.separable, [], []
    for weight, base in form.normalized:
        total = constant_normalizer(base, n_classes)
        if total is None:
            kept.append((weight, base))
            continue
        separable += weight * base / total
        steps.append(Step(f"normalized piece with b(g,k) = {sp.sstr(base)}: sum_s b(g,s) is the nonzero constant "
                          f"{sp.sstr(total)}, so the piece is the separable w b(g,k)/({sp.sstr(total)}) with w =", weight))
    return replace(form, separable=separable, normalized=tuple(kept)), steps


def strictly_positive(base: sp.Expr, n_classes: sp.Expr = K) -> bool:
    """base(g, k) > 0 on the open simplex: a(t) > 0 on (0, 1) (:func:`sign_on_unit`), sum terms >= 0."""
    decomposition = affine_in_sums(base)
    if decomposition is None:
        return False
    a, terms = _fold_linear_sums(decomposition)
    if sign_on_unit(a.subs(K, n_classes).subs(P, T)) != 1:
        return False
    for c, f in terms:
        rng = interval_range((c * f.subs(Q, T)).subs(K, n_classes))
        if rng is None or not sp.sympify(rng.lower).is_extended_nonnegative:
            return False
    return True


def bound_exactness(lower_exact: bool, upper_exact: bool) -> str:
    """Which of the printed bounds are the infimum / supremum of L, in words (check-loss, report)."""
    if lower_exact and upper_exact:
        return "inf and sup"
    if lower_exact:
        return "inf; the upper bound may not be tight"
    if upper_exact:
        return "sup; the lower bound may not be tight"
    return "valid bounds, not shown tight"
