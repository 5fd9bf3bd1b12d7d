"""Where a user's loss is defined: the conditions it needs on the open simplex, shown, refuted, or left open.

A loss must be a finite real number at every g of the open simplex (0 < g_j < 1, sum_j g_j = 1) and for every
K in scope. Each logarithm needs its argument > 0, each non-integer power a base >= 0 (> 0 when the exponent
may be negative), each division a divisor != 0. Conditions on subexpressions that depend on g (p, or q inside
a sum) or on K are collected from the loss's :class:`~symtheory.forms.LossForm` (a normalized piece's
denominator is the symmetry proof's concern, :func:`symtheory.symmetry._denominator_nonzero`) and

* shown for every point of the open simplex by writing g_k = 1/(1+u), g_j = 1/(1+v) with u, v > 0, K = k2 + 2
  with k2 >= 0 an integer, parameters positive (as :func:`symtheory.recognize.resolve_on_simplex` does) -- a
  relaxation, since u and v are independent there, so what it shows holds on the simplex;
* or refuted: at a concrete point of the simplex (coordinates near 0 or 1, or at a root of the quantity) for
  a condition free of symbolic parameters, or one shown to fail near an edge of the simplex whatever their
  values; for a condition in K alone, at the first integer K >= 2 where it fails. The input is then refused;
* or neither: the condition is returned, and a proof of symmetry holds only where the loss is defined.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import sympy as sp

from symtheory.errors import BadInput
from symtheory.evaluate import exact_loss, is_finite_real, losses_by_value
from symtheory.expr import K, K_MINUS_2, P, Q, U, ProofVariable, SumOther, sum_other_nodes
from symtheory.forms import LossForm
from symtheory.time_limit import GIVE_UP, time_limit

V = ProofVariable("v", positive=True)
"""An other-class probability g_j in (0, 1) is written 1/(1 + V)."""
_K_REAL = sp.Symbol("K", real=True)
K_SCAN = 200
"""Integers K = 2..K_SCAN are tried one by one when sympy cannot solve a condition in K alone."""
EDGE_VALUES = (sp.Rational(1, 10**6), sp.Rational(1, 1000), sp.Rational(1, 20), sp.Rational(1, 2),
               sp.Rational(999, 1000), 1 - sp.Rational(1, 10**6))
"""Coordinates tried, with the other coordinates equal, when looking for a point where a condition fails."""
SEARCH_CLASSES = (3, 2, 4, 5, 6, 7, 8)
"""The K tried for that search when K is symbolic."""
_G_SYMBOLS = {P, Q, K}


@dataclass(frozen=True)
class Condition:
    """A condition the loss needs: ``kind`` 'log' (quantity > 0), 'base' (>= 0), 'base_positive' (> 0) or
    'divisor' (!= 0), on ``quantity``, a subexpression in p, q (inside a sum), K and the parameters."""

    kind: str
    quantity: sp.Expr

    def text(self) -> str:
        """The condition in words: 'log argument p - a > 0'."""
        shown = sp.sstr(self.quantity)
        return {"log": f"log argument {shown} > 0", "base": f"power base {shown} >= 0",
                "base_positive": f"power base {shown} > 0", "divisor": f"divisor {shown} != 0"}[self.kind]

    def fails_at(self, value: sp.Expr) -> bool:
        """The quantity's concrete ``value`` breaks the condition (or is itself not a finite real number)."""
        value = sp.sympify(value)
        if not is_finite_real(value):
            return True
        if self.kind == "divisor":
            return is_exactly_zero(value)
        if self.kind == "base":
            return bool(value.is_negative)
        return bool(value.is_nonpositive)

    def subs(self, mapping: Mapping) -> "Condition":
        """The condition at parameter values."""
        return Condition(self.kind, self.quantity.subs(mapping))


def is_exactly_zero(value: sp.Expr) -> bool:
    """A concrete number is 0, shown by sympy's own test or, for algebraic numbers such as a root
    1/2 - sqrt(5)/10 put back into the polynomial it solves, by simplifying it."""
    if value.is_zero is not None:
        return bool(value.is_zero)
    return value.equals(0) is True


def domain_conditions(form: LossForm) -> list[Condition]:
    """The conditions a loss needs for L(g, k) to be a finite real number: log argument > 0, non-integer power
    base >= 0 (> 0 if the exponent can be negative), divisor != 0, for each such subexpression that depends on
    g or K (sum bodies included; a normalized piece's denominator is left to the symmetry proof; one in K and
    the parameters but not g is a :func:`parameter_conditions` one)."""
    found: list[Condition] = []
    exprs = [sp.sympify(form.separable), sp.sympify(form.zero_one)]
    exprs += [sp.sympify(x) for pair in form.normalized for x in pair]
    for node in _nodes(exprs):
        for condition in _node_conditions(node):
            if condition not in found and not _in_parameters(condition.quantity):
                found.append(condition)
    return found


def _nodes(exprs: Iterable[sp.Expr]) -> Iterable[sp.Basic]:
    """Every node, inner ones first (a failing log argument is named before the power of that log), sum bodies
    included."""
    pending = list(exprs)
    while pending:
        expr = pending.pop(0)
        for node in sp.postorder_traversal(expr):
            if isinstance(node, SumOther):
                pending.append(node.args[0])
            yield node


def _depends(expr: sp.Expr) -> bool:
    return bool(expr.free_symbols & _G_SYMBOLS) or expr.has(SumOther)


def _in_parameters(expr: sp.Expr) -> bool:
    """``expr`` has a parameter and no g (p, q, a sum over classes); it may have K."""
    return bool(expr.free_symbols - {K}) and not (expr.free_symbols & {P, Q}) and not expr.has(SumOther)


def parameter_conditions(form: LossForm) -> list[Condition]:
    """The conditions on subexpressions in the parameters (and K, but no g) that are not shown for every
    positive value and integer K >= 2: log(a - 1) needs a - 1 > 0, 1/(a - 1) needs a != 1, p/(K - a) needs
    a != K. They do not depend on g, so the loss is defined on the whole simplex or nowhere: it is, and a
    proof holds, for the parameter values (and K) that meet them."""
    found: list[Condition] = []
    exprs = [sp.sympify(form.separable), sp.sympify(form.zero_one)]
    exprs += [sp.sympify(x) for pair in form.normalized for x in pair]
    for node in _nodes(exprs):
        for condition in _node_conditions(node, _in_parameters):
            if not shown(condition) and condition not in found:
                found.append(condition)
    return found


def _node_conditions(node: sp.Basic, depends=_depends) -> list[Condition]:
    if isinstance(node, sp.log) and depends(node):
        return [Condition("log", node.args[0])]
    if not (node.is_Pow and depends(node)):
        return []
    base, exponent = node.base, node.exp
    if exponent.is_integer:
        return [Condition("divisor", base)] if exponent.is_negative else []
    if exponent.is_nonnegative:
        return [Condition("base", base)]
    return [Condition("base_positive", base)]


def on_simplex(expr: sp.Expr) -> sp.Expr:
    """``expr`` with g_k = 1/(1+u), g_j = 1/(1+v) (u, v > 0), K = k2 + 2 (k2 >= 0): facts about the result
    hold on the open simplex for every K >= 2. A sum over the other classes with body a + b q is
    (K-1) a + b (1 - g_k) exactly; any other becomes a symbol carrying the sign shown for its body."""
    mapping = {}
    for node in sum_other_nodes(expr):
        body = node.args[0]
        coefficients = sp.Poly(body, Q).all_coeffs() if _affine_in_q(body) else None
        if coefficients is not None:
            slope, intercept = (coefficients if len(coefficients) == 2 else [sp.Integer(0), coefficients[0]])
            mapping[node] = (K - 1) * intercept + slope * (1 - P)
        else:
            mapping[node] = _sign_symbol(on_simplex(body))
    substituted = sp.sympify(expr).xreplace(mapping)
    return substituted.subs({P: 1 / (1 + U), Q: 1 / (1 + V), K: K_MINUS_2 + 2})


def _affine_in_q(body: sp.Expr) -> bool:
    if body.has(SumOther) or P in body.free_symbols:
        return False
    try:
        return sp.Poly(body, Q).degree() <= 1
    except sp.PolynomialError:
        return False


def _sign_symbol(body: sp.Expr) -> sp.Symbol:
    """A symbol standing for a sum over the K - 1 >= 1 other classes of ``body``, with the sign shown for it."""
    if body.is_positive:
        return sp.Dummy("s", positive=True)
    if body.is_negative:
        return sp.Dummy("s", negative=True)
    if body.is_nonnegative:
        return sp.Dummy("s", nonnegative=True)
    if body.is_nonpositive:
        return sp.Dummy("s", nonpositive=True)
    return sp.Dummy("s", real=True)


def _sign(expr: sp.Expr) -> tuple[bool | None, bool | None, bool | None]:
    """(is_positive, is_nonnegative, is_nonzero) of an expression in u, v, k2 and positive parameters, asked
    of it as it is, of its numerator and denominator expanded, and factored."""
    forms = [expr]
    together = sp.together(expr)
    numerator, denominator = sp.fraction(together)
    forms.append(sp.expand(numerator) / sp.expand(denominator))
    forms.append(sp.factor(together))
    positive = nonnegative = nonzero = None
    for form in forms:
        positive = positive or form.is_positive
        nonnegative = nonnegative or form.is_nonnegative
        nonzero = nonzero or form.is_nonzero
        if form.is_negative:
            return False, False, True
    return positive, nonnegative or positive, nonzero or positive


def shown(condition: Condition) -> bool:
    """The condition holds at every point of the open simplex, for every K >= 2 and positive parameters."""
    positive, nonnegative, nonzero = _sign(on_simplex(condition.quantity))
    return bool({"log": positive, "base": nonnegative, "base_positive": positive, "divisor": nonzero}[condition.kind])


def guard_conditions(guards: Sequence[sp.Expr], known: Sequence[Condition]) -> list[tuple[Condition, sp.Expr]]:
    """The conditions of the parser's guards (each log, power and division as written,
    :func:`symtheory.parser.parse_with_guards`) that the loss as evaluated no longer shows (not in ``known``),
    each with its guard. A divisor with a sum over classes in it is left out, as a normalized piece's denominator
    is (:func:`normalizer_conditions`, the symmetry proof)."""
    found: list[tuple[Condition, sp.Expr]] = []
    for guard in guards:
        for condition in _node_conditions(guard):
            if condition in known or _in_parameters(condition.quantity) or any(c == condition for c, _ in found):
                continue
            if condition.kind == "divisor" and condition.quantity.has(SumOther):
                continue
            found.append((condition, guard))
    return found


def check_domain(expr: sp.Expr, form: LossForm, classes: int | None,
                 trials: Sequence[Mapping[sp.Symbol, sp.Expr]], seconds: float | None,
                 guards: Sequence[sp.Expr] = ()) -> list[Condition]:
    """The loss's conditions (:func:`domain_conditions`, and those of the ``guards`` evaluation dropped,
    :func:`guard_conditions`) that are neither shown nor refuted, within ``seconds`` (those not reached stay
    unshown). BadInput, with a point of the simplex (or a K), for one refuted. ``expr`` is the loss as parsed,
    ``trials`` values for its symbolic parameters (the stand-ins)."""
    conditions = domain_conditions(form)
    written = guard_conditions(guards, conditions)
    checks = [(c, None) for c in conditions] + written
    unshown = [c for c, _ in checks]
    try:
        with time_limit(seconds):
            for condition, guard in checks:
                if shown(condition):
                    unshown.remove(condition)
                    continue
                if classes is None and _in_k_alone(condition.quantity):
                    if _check_k_alone(condition):
                        unshown.remove(condition)
                    continue
                _refute(expr, condition, classes, trials, guard)
            for condition in normalizer_conditions(form):
                _refute(expr, condition, classes, trials)
    except GIVE_UP:
        pass
    return unshown


def normalizer_conditions(form: LossForm) -> list[Condition]:
    """sum_s b(g, s) != 0 for each normalized piece whose b is written in g_k alone: not to be shown here (the
    symmetry proof shows it or leaves its verdict unknown), but a point where it fails makes the loss 0/0 or
    a division by 0 there (log(2 p)/sum_all(log(2 q)) at the centre of K = 2), and the loss is refused."""
    return [Condition("divisor", base + SumOther(base.subs(P, Q))) for _, base in form.normalized
            if not sp.sympify(base).has(SumOther) and P in sp.sympify(base).free_symbols]


def _in_k_alone(quantity: sp.Expr) -> bool:
    return K in quantity.free_symbols and not (quantity.free_symbols & {P, Q}) and not quantity.has(SumOther)


def _check_k_alone(condition: Condition) -> bool:
    """True when a condition in K (and no parameter) holds at every integer K >= 2; BadInput at the first
    integer K >= 2 where it fails; False when neither is decided."""
    if condition.quantity.free_symbols != {K}:
        return False
    first = first_failing_k(condition)
    if first is None:
        return True
    if first is False:
        return False
    value = condition.quantity.subs(K, first)
    raise BadInput(f"the loss is undefined at K = {first}: {condition.text()} fails there (it is "
                   f"{sp.sstr(sp.simplify(value))}); give --classes for the K you mean")


def first_failing_k(condition: Condition) -> int | None | bool:
    """The first integer K >= 2 at which a condition in K alone fails (log(9 - K): 9), None when it holds at
    every integer K >= 2, False when that cannot be decided (sympy does not solve it and K = 2..K_SCAN pass)."""
    quantity = condition.quantity.subs(K, _K_REAL)
    relation = {"log": quantity <= 0, "base": quantity < 0, "base_positive": quantity <= 0,
                "divisor": sp.Eq(quantity, 0)}[condition.kind]
    try:
        failing = sp.solveset(relation, _K_REAL, sp.Interval(2, sp.oo))
    except (NotImplementedError, ValueError, TypeError):
        failing = None
    if failing is not None and failing.is_empty:
        return None
    if isinstance(failing, sp.FiniteSet):
        integers = sorted(int(x) for x in failing if x.is_integer)
        return integers[0] if integers else None
    if failing is not None and not isinstance(failing, sp.ConditionSet):
        start = sp.ceiling(failing.inf)
        if start.is_Integer:
            for n in range(int(start), int(start) + 3):
                if failing.contains(n) is sp.true:
                    return n
    for n in range(2, K_SCAN + 1):
        if condition.fails_at(condition.quantity.subs(K, n)):
            return n
    return False


def _refute(expr: sp.Expr, condition: Condition, classes: int | None,
            trials: Sequence[Mapping[sp.Symbol, sp.Expr]], guard: sp.Expr | None = None) -> None:
    """BadInput when the condition fails at a concrete point of the simplex where the loss is then not a finite
    real number; only for a condition free of symbolic parameters, or one that fails near an edge of the
    simplex for every value of them. With a ``guard`` (a subexpression of the loss as written that evaluation
    dropped, :func:`guard_conditions`) the guard is evaluated in place of the loss, and the message says so."""
    if guard is not None:
        expr = SumOther(guard) if Q in guard.free_symbols else guard
    symbolic = condition.quantity.free_symbols - _G_SYMBOLS
    edge = _fails_near_edge(condition) if symbolic else None
    if symbolic and edge is None:
        return
    names = ", ".join(sorted(s.name for s in symbolic))
    why = f"{condition.text()} fails there" + (f" (and {edge} for every {names} > 0)" if edge else "")
    for n in ([classes] if classes else SEARCH_CLASSES):
        for trial in (trials or [{}]):
            values = {s: v for s, v in trial.items() if s in expr.free_symbols}
            bound_expr = expr.subs({**values, K: n})
            for point in _points(condition.subs(values), n):
                for k, loss in losses_by_value(bound_expr, point):
                    if not _breaks(condition.subs(values), point, k, n):
                        continue
                    divides_by_zero = condition.kind == "divisor"
                    if divides_by_zero or not is_finite_real(loss):
                        at = "".join(f", {sp.sstr(s)} = {sp.sstr(v)}" for s, v in sorted(
                            values.items(), key=lambda item: item[0].name))
                        value = "a division by 0" if divides_by_zero else sp.sstr(loss)
                        subject = f"it is {value}"
                        if guard is not None:
                            written = (f"sum over the other classes of {sp.sstr(guard)}" if Q in guard.free_symbols
                                       else sp.sstr(guard))
                            subject = f"as written, its {written} is {value} there (sympy would simplify it away)"
                        raise BadInput(f"the loss is not a finite real number at g = ({shown_point(point)}), "
                                       f"k = {k + 1} (K = {n}{at}): {subject}; {why}; a loss must be defined on the "
                                       "whole open simplex")
            if not symbolic:
                break
    if edge:
        raise BadInput(f"the loss is not a finite real number on the whole open simplex: {condition.text()} "
                       f"fails {edge} for every {names} > 0")


def _fails_near_edge(condition: Condition) -> str | None:
    """Where (g_k -> 0, g_j -> 1, ...) the quantity tends to a value that breaks the condition strictly for
    every K >= 2 and positive parameters, so that it fails at points of the simplex near there whatever they
    are; None if no edge shows that (and always for a divisor)."""
    quantity = condition.quantity
    if condition.kind == "divisor" or quantity.has(SumOther):
        return None
    variables = quantity.free_symbols & {P, Q}
    if len(variables) != 1:
        return None
    [variable] = variables
    name = "g_k" if variable == P else "some g_j (j != k)"
    for end in (0, 1):
        value = quantity.subs(variable, end)
        if value.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
            continue
        if _sign(-value.subs(K, K_MINUS_2 + 2))[0]:
            return f"as {name} -> {end}, where it tends to {sp.sstr(value)}"
    return None


def _points(condition: Condition, n: int) -> list[tuple[sp.Expr, ...]]:
    """Points of the simplex for K = n with one coordinate c and the others equal: c near 0 or 1, and at each
    root in (0, 1) of the quantity when it is a function of one coordinate, or on that line (a normalizing
    sum, :func:`_on_line`) (exactly, irrational roots included) and on either side of it (by 1e-4, or half the
    way to 0 or 1 when the root is closer)."""
    values = list(EDGE_VALUES)
    quantity = _on_line(condition.quantity.subs(K, n), n)
    variables = quantity.free_symbols
    if len(variables) == 1 and variables <= {P, Q} and not quantity.has(SumOther):
        [variable] = variables
        try:
            roots = sp.solveset(quantity, variable, sp.Interval.open(0, 1))
        except (NotImplementedError, ValueError, TypeError):
            roots = sp.S.EmptySet
        if isinstance(roots, sp.FiniteSet):
            for root in list(roots)[:4]:
                if not root.is_real:
                    continue
                near = root if root.is_Rational else sp.Rational(str(sp.N(root, 12)))
                step = min(sp.Rational(1, 10**4), near / 2, (1 - near) / 2)
                values += [root, near - step, near + step]
    points = []
    for c in values:
        if 0 < c < 1:
            rest = (1 - c) / (n - 1)
            point = (c,) + (rest,) * (n - 1)
            if point not in points:
                points.append(point)
    return points


def _on_line(quantity: sp.Expr, n: int) -> sp.Expr:
    """A quantity in g_k with sums over the other classes of bodies in g_j alone (a normalizing sum
    sum_s b(g, s)), on the line of the points g_k = p, each other g_j = (1 - p)/(n - 1) of :func:`_points`: each
    sum becomes (n - 1) body((1 - p)/(n - 1)), so its roots in p can be solved for, when that is a rational
    function of p (solveset can take seconds on exp, log or a max of a cubic); other quantities as given."""
    nodes = quantity.atoms(SumOther)
    if not nodes or not all(node.args[0].free_symbols & {P, Q} <= {Q} for node in nodes):
        return quantity
    rest = (1 - P) / (n - 1)
    on_line = quantity.xreplace({node: (n - 1) * node.args[0].subs(Q, rest) for node in nodes})
    return on_line if on_line.is_rational_function(P) else quantity


def _breaks(condition: Condition, point: tuple[sp.Expr, ...], k: int, n: int) -> bool:
    """The condition (at concrete parameters) fails for label k at ``point``: in g_k, or in some g_j, j != k,
    for a quantity inside a sum."""
    quantity = condition.quantity.subs(K, n)
    sums = {node: sp.Dummy() for node in quantity.atoms(SumOther)}
    bare = quantity.xreplace(sums)
    if Q in bare.free_symbols:
        others = [point[j] for j in range(n) if j != k]
        back = {dummy: node for node, dummy in sums.items()}
        return any(condition.fails_at(exact_loss(bare.xreplace(back), point, k, q=x))
                   for x in dict.fromkeys(others))
    return condition.fails_at(exact_loss(quantity, point, k))


def shown_point(point: tuple[sp.Expr, ...]) -> str:
    """A point written out, elided past 10 coordinates."""
    if len(point) <= 10:
        return ", ".join(sp.sstr(x) for x in point)
    return ", ".join(sp.sstr(x) for x in point[:3]) + f", ..., {sp.sstr(point[-1])}"


def domain_note(conditions: Sequence[Condition]) -> str:
    """The step that keeps a proof from standing when conditions were not shown."""
    listed = [c.text() for c in conditions]
    joined = listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " and " + listed[-1]
    return (f"the identity holds where L is defined, but {joined} {'was' if len(listed) == 1 else 'were'} not "
            "shown on the open simplex")
