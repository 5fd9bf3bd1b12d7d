"""Prove or refute symmetry: is sum_{j=1..K} L(g, j) a constant C on the open simplex?

(Patel & Sastry 2021, Sec. 3, Definition; Ghosh, Kumar & Sastry 2017.) For a loss affine in its sums over
the other classes, L(g, k) = a(g_k) + sum_m c_m sum_{j != k} f_m(g_j), the label sum is
sum_i phi(g_i) with phi(t) = a(t) + (K-1) sum_m c_m f_m(t). If phi'' = 0 then phi(t) = c0 + c1 t and
the sum is K c0 + c1 for every K: symmetry for symbolic K. For K >= 3 the converse holds too (vary two
coordinates with a fixed total), so phi'' != 0 refutes symmetry; a concrete rational g is then exhibited.
Normalized pieces sum to their weight exactly; the 0-1 piece sums to K-1 (one argmax).
"""

from __future__ import annotations

import functools
import math
import sys
from dataclasses import dataclass, field
from typing import Literal, Sequence

import sympy as sp

from symtheory.bounds import piecewise_affine, sign_on_unit, strictly_positive
from symtheory.evaluate import compile_loss_matrix, exact_label_sum, is_finite_real
from symtheory.exact_numbers import MAX_DIGITS
from symtheory.expr import K, K_MINUS_2, P, Q, T, ProofVariable, derivative
from symtheory.forms import LossForm
from symtheory.reduce import affine_in_sums, is_zero, reduce_expr, tidy
from symtheory.steps import Step
from symtheory.time_limit import GIVE_UP, TimeLimitExceeded, time_limit

Verdict = Literal["proved", "refuted", "unknown"]
DEFAULT_K_RANGE = (2, 8)
COUNTEREXAMPLE_CLASSES = (3, 4, 2, 5, 6, 7, 8)
"""The K a counterexample is sought at for symbolic K, in order (a loss may be symmetric at K = 3 alone)."""
SPOT_CHECK_CLASSES = (3, 4)
"""The K of the numeric spot check of an unknown verdict for symbolic K."""
SPOT_CHECK_SECONDS = 10.0
VANISHING_SECONDS = 5.0
SPOT_CHECK_ROUNDING = 1e4


@dataclass
class Counterexample:
    """Two points of the simplex (exact rationals) where sum_j L(g, j) differs."""

    classes: int
    point_a: tuple[sp.Rational, ...]
    sum_a: sp.Expr
    point_b: tuple[sp.Rational, ...]
    sum_b: sp.Expr
    difference: float
    parameters: dict[str, sp.Expr]


@dataclass
class SymmetryResult:
    """Verdict with its scope (which K), the constant C when proved, the steps and any counterexample.

    ``vanishing``: when the verdict is not 'proved', the parameter values at which phi'' (or, at K = 2, the
    derivative of phi(t) + phi(1-t)) vanishes for every t; ``special``: those among them where a proof
    holds (filled by :func:`symtheory.analysis.prove_special_cases`).
    """

    verdict: Verdict
    scope: str
    constant: sp.Expr | None = None
    steps: list[Step] = field(default_factory=list)
    counterexample: Counterexample | None = None
    numeric_check: str | None = None
    vanishing: list[dict[sp.Symbol, sp.Expr]] = field(default_factory=list)
    special: list["SpecialCase"] = field(default_factory=list)


@dataclass
class SpecialCase:
    """A loss not symmetric in general, proved symmetric at these parameter values (GCE at q = 1 is MAE/...)."""

    parameters: dict[sp.Symbol, sp.Expr]
    result: SymmetryResult


def candidate_points(classes: int) -> list[tuple[sp.Rational, ...]]:
    """A few exact points of the open simplex: the centre, and points with one or two large coordinates (at
    K = 2 six points, so that a sum constant at three of them by chance is still refuted)."""
    r = sp.Rational
    rest = lambda head: [(sp.Integer(1) - sum(head)) / (classes - len(head))] * (classes - len(head))  # noqa: E731
    heads = [[], [r(1, 2)], [r(9, 10)], [r(1, 10)], [r(1, 3)], [r(3, 4)], [r(1, 2), r(1, 3)], [r(3, 5), r(1, 4)]]
    points = []
    for head in heads:
        if len(head) < classes:
            point = tuple(head + rest(head))
            if point not in points:
                points.append(point)
    return points


EVALF_MAX_DIGITS = MAX_DIGITS + 100
"""The working precision (digits) sympy may rise to for a label sum whose terms cancel: (1 - 2**-q)/q with
q = 1e-180 needs some 220 digits for 40 right ones; a parameter has at most MAX_DIGITS digits."""


def resolved_value(value: sp.Expr) -> sp.Expr | None:
    """An exact real number to 40 significant digits: itself when rational, else sympy's evalf, raised to a
    working precision of up to EVALF_MAX_DIGITS only when the default does not resolve it; None when that
    fails too (a number that is 0 but not visibly, as log(6) - log(2) - log(3))."""
    if value.is_Rational:
        return value
    for more in (None, EVALF_MAX_DIGITS):
        number = value.evalf(40) if more is None else value.evalf(40, maxn=more)
        if number == 0 or (number.is_Float and number.is_comparable and number._prec >= 53):
            return number
    return None


def numbers_differ(x: sp.Expr | None, y: sp.Expr | None) -> sp.Expr | None:
    """|x - y| for two resolved values (:func:`resolved_value`) that differ: exactly, when both are rational,
    else by more than 1e-20 of the larger; None when they do not, or when either is unresolved."""
    if x is None or y is None:
        return None
    if x.is_Rational and y.is_Rational:
        return abs(x - y) if x != y else None
    gap = abs(x - y)
    return gap if gap > sp.Float("1e-20") * max(abs(x), abs(y)) else None


def _near_miss(x: sp.Expr | None, y: sp.Expr | None) -> bool:
    """Two resolved values apart by less than :func:`numbers_differ` asks, but by more than their own 40-digit
    rounding (1e-35 of the larger): worth the exact difference."""
    return x is not None and y is not None and abs(x - y) > sp.Float("1e-35") * max(abs(x), abs(y))


def exact_gap(x: sp.Expr, y: sp.Expr) -> sp.Expr | None:
    """|x - y| of two exact numbers, evaluated as one expression (sympy's evalf raises its working precision
    until the difference itself has 40 right digits, :func:`resolved_value`); None when that does not show it
    nonzero. 2 + e^-50/3 and 2 + 0.815 e^-50 differ by 9.3e-23, below the 1e-20 relative of
    :func:`numbers_differ`."""
    gap = resolved_value(x - y)
    return abs(gap) if gap is not None and gap != 0 else None


def find_counterexample(form: LossForm, classes: int, defaults: dict[sp.Symbol, sp.Expr],
                        exact_differences: bool = False) -> Counterexample | None:
    """Two rational points whose label sums, both real, differ (:func:`numbers_differ`, or :func:`exact_gap` for
    a near miss, or for every pair with ``exact_differences``, when the loss is already known not symmetric and
    only a witness is wanted): the pair that differs most."""
    concrete = form.subs({K: classes, **defaults})
    sums = [(pt, exact_label_sum(concrete, pt)) for pt in candidate_points(classes)]
    sums = [(pt, s) for pt, s in sums if is_finite_real(s)]
    values = [resolved_value(s) for _, s in sums]
    best = None
    for i in range(len(sums)):
        for j in range(i + 1, len(sums)):
            gap = numbers_differ(values[i], values[j])
            if gap is None and (exact_differences or _near_miss(values[i], values[j])):
                gap = exact_gap(sums[i][1], sums[j][1])
            if gap is not None and (best is None or gap > best[2]):
                best = (sums[i], sums[j], gap)
    if best is None:
        return None
    (pa, sa), (pb, sb), gap = best
    return Counterexample(classes, pa, sa, pb, sb, float(gap),
                          {str(k): v for k, v in defaults.items()})


def numeric_spot_check(form: LossForm, classes: int, defaults: dict, samples: int = 64,
                       seed: int = 0) -> tuple[float, float]:
    """(max - min of sum_j L(g, j), the scale) over random Dirichlet points (float64). The scale is the
    largest sum over the loss's additive terms of |term| (max |L| when it has one term), so that terms that
    cancel to nothing are judged by their own size. For a symmetric loss the spread is rounding error, a few
    K eps of the scale (see :func:`spot_check_note`)."""
    import numpy as np

    concrete = form.subs({K: classes, **defaults})
    g = np.random.default_rng(seed).dirichlet(np.ones(classes), size=samples)
    terms = sp.Add.make_args(sp.sympify(concrete.separable))
    with np.errstate(all="ignore"):
        matrix = compile_loss_matrix(concrete, classes)(g)
        sums = matrix.sum(axis=-1)
        scale = np.abs(matrix)
        if len(terms) > 1:
            rest = LossForm(normalized=concrete.normalized, zero_one=concrete.zero_one)
            scale = sum((np.abs(compile_loss_matrix(LossForm(separable=t), classes)(g)) for t in terms),
                        np.abs(compile_loss_matrix(rest, classes)(g)))
        return float(sums.max() - sums.min()), float(np.max(scale))


def spot_check_note(spread: float, scale: float, classes: int, parameters: dict | None = None) -> str:
    """The spot check in words: consistent with symmetry when the spread of the label sums is within rounding,
    SPOT_CHECK_ROUNDING K eps of the largest |L| (relative, so neither a loss of tiny values, p**1000, nor one
    offset by a large constant hides a varying sum); inconclusive when float64 cannot represent the values.
    ``parameters``: the stand-in values the check used, named in it (a symmetric case among them would read as
    support for the whole family)."""
    shown = "".join(f", {k}={sp.sstr(v)}" for k, v in sorted((parameters or {}).items(), key=lambda kv: str(kv[0])))
    head = f"numeric spot check at K={classes}{shown}, 64 random points: "
    if not (math.isfinite(spread) and math.isfinite(scale)) or scale == 0:
        return head + "inconclusive (the loss's values are 0, infinite or nan in float64; not a proof)"
    tolerance = SPOT_CHECK_ROUNDING * classes * sys.float_info.epsilon * scale
    verdict = "consistent with" if spread <= tolerance else "against"
    return (head + f"spread of sum_j L = {spread:.3g}, rounding allows {tolerance:.3g} ({verdict} symmetry; "
            "not a proof)")


def _normalized_steps(form: LossForm, n_classes) -> tuple[bool, list[Step]]:
    steps, ok = [], True
    for weight, base in form.normalized:
        reason = _denominator_nonzero(base, n_classes)
        head = f"normalized piece w b(g,k) / sum_s b(g,s) with b(g,k) = {sp.sstr(base)}: its sum over k is w"
        if reason:
            steps.append(Step(f"{head} exactly, since the denominator is {reason}; w =", weight))
            continue
        total = _parameter_normalizer(base, n_classes)
        ok &= total is not None
        steps.append(Step(f"{head} wherever the denominator, the constant {sp.sstr(total)} (b is itself symmetric), "
                          "is not 0 (a condition on the parameters); w =" if total is not None else
                          f"{head} wherever the denominator is not 0, which is not shown; w =", weight))
    return ok, steps


def _parameter_normalizer(base: sp.Expr, n_classes) -> sp.Expr | None:
    """sum_s b(g, s) when it is a constant in K and the parameters (b symmetric) with a parameter in it:
    (p - a)/sum_all(q - a) has 1 - K a, so the loss is defined, whatever g, exactly where a != 1/K."""
    total = normalizer_sum(base, n_classes)
    return total if total is not None and total.free_symbols - {K} else None


def normalizer_conditions(form: LossForm, n_classes=K) -> list:
    """:class:`symtheory.domain.Condition` 'divisor != 0' on each normalized piece's denominator that is a
    constant in K and the parameters not shown nonzero: like 1/(a - 1), a condition on the parameters that a
    proof's scope must name ((p - a)/sum_all(q - a): a != 1/K)."""
    from symtheory.domain import Condition

    return [Condition("divisor", total) for _, base in form.subs({K: n_classes}).normalized
            if _denominator_nonzero(base, n_classes) is None
            and (total := _parameter_normalizer(base, n_classes)) is not None]


def _denominator_nonzero(base: sp.Expr, n_classes) -> str | None:
    """Why sum_s b(g, s) is never 0 on the open simplex (> 0, or a constant that is 0 at no integer K >= 2), or
    None if that cannot be shown."""
    if strictly_positive(base, n_classes):
        return "> 0 on the open simplex (each b(g, s) > 0 there)"
    decomposition = affine_in_sums(base)
    if decomposition is not None:
        phi = decomposition.phi(n_classes)
        sign = sign_on_unit(phi)
        if sign is not None:
            return (f"sum_i phi(g_i) with phi(t) = {sp.sstr(sp.factor_terms(phi))} {'>' if sign == 1 else '<'} 0 at every t in "
                    f"(0, 1), so {'> 0' if sign == 1 else '< 0'} on the open simplex")
    total = normalizer_sum(base, n_classes)
    why = None if total is None else _never_zero(total)
    return f"the constant {sp.sstr(total)}{why} (b is itself symmetric)" if why else None


def _never_zero(total: sp.Expr) -> str | None:
    """Why a constant sum_s b(g, s) is 0 at no integer K >= 2 (' > 0', ' < 0, never 0', ...), else None."""
    constant = total.subs(K, K_MINUS_2 + 2)
    if constant.is_positive:
        return " > 0"
    if constant.is_negative:
        return " < 0, never 0"
    if total.free_symbols == {K} and _first_zero_k(total) is None:
        return ", 0 at no integer K >= 2"
    return None


def constant_normalizer(base: sp.Expr, n_classes=K) -> sp.Expr | None:
    """sum_s b(g, s) when it is a constant that is 0 at no integer K >= 2 (b symmetric, no parameters): the
    normalized piece w b(g,k)/sum_s b(g,s) is then the separable w b(g,k)/constant (p/sum_all(q) = p); else None."""
    if not base.free_symbols <= {P, Q, K}:
        return None
    total = normalizer_sum(base, n_classes)
    return total if total is not None and _never_zero(total) else None


@functools.lru_cache(maxsize=256)
def normalizer_sum(base: sp.Expr, n_classes=K) -> sp.Expr | None:
    """sum_s b(g, s) of a normalized piece's b when b is itself symmetric (a constant in K and the parameters,
    proved as for a loss), else None. Cached: the domain check, the proof, its scope and the bounds all ask."""
    inner = check_symmetry(LossForm(separable=base), None if n_classes == K else int(n_classes))
    return sp.sympify(inner.constant) if inner.verdict == "proved" else None


def normalizer_zero_at(base: sp.Expr) -> int | None:
    """The first integer K >= 2 at which the normalizing sum sum_s b(g, s), a constant in K alone, is 0 (the
    loss b(g,k)/sum_s b(g,s) is then undefined on the whole simplex: (p - 1/2)/sum_all(q - 1/2) at K = 2);
    None when b has parameters, is > 0, is not symmetric, or its sum is 0 at no integer K >= 2."""
    if not base.free_symbols <= {P, Q, K} or strictly_positive(base):
        return None
    total = normalizer_sum(base)
    if total is None or total.free_symbols != {K}:
        return None
    first = _first_zero_k(total)
    return None if first is None or first is False else int(first)


def _first_zero_k(total: sp.Expr) -> int | None | bool:
    """:func:`symtheory.domain.first_failing_k` of 'total != 0': an integer K, None (never 0), False (undecided)."""
    from symtheory.domain import Condition, first_failing_k

    return first_failing_k(Condition("divisor", total))


def _zero_one_steps(form: LossForm) -> list[Step]:
    if form.zero_one == 0:
        return []
    return [Step("0-1 piece: exactly one label is the argmax (ties to the lowest index), so "
                 "sum_k 1[argmax g != k] = K - 1; contribution", form.zero_one * (K - 1))]


def check_symmetry(form: LossForm, classes: int | None = None,
                   defaults: dict[sp.Symbol, sp.Expr] | None = None,
                   k_range: tuple[int, int] = DEFAULT_K_RANGE,
                   alternates: Sequence[dict[sp.Symbol, sp.Expr]] = ()) -> SymmetryResult:
    """Is sum_j L(g, j) = C on the open simplex? For symbolic K (classes=None) or one concrete K.

    ``defaults`` gives numbers for symbolic parameters, used only for counterexamples and spot checks;
    ``alternates`` are further values a counterexample may use when the defaults give none (a stand-in
    value where the loss happens to be symmetric, log(a) p**2 at a = 1).
    """
    defaults = defaults or {}
    n_classes = K if classes is None else sp.Integer(classes)
    form = form.subs({K: n_classes})
    scope = "every K >= 2" if classes is None else f"K = {classes}"
    norm_ok, steps = _normalized_steps(form, n_classes)
    steps += _zero_one_steps(form)
    constant_rest = sp.Add(*[w for w, _ in form.normalized]) + form.zero_one * (n_classes - 1)
    decomposition = affine_in_sums(form.separable)
    if decomposition is None:
        return _concrete_range(form, classes, defaults, k_range, steps, alternates)
    phi = decomposition.phi(n_classes)
    steps.append(Step("separable piece: L = a(g_k) + sum_m c_m sum_{j != k} f_m(g_j) with a(g_k) =",
                      decomposition.a))
    for c, f in decomposition.terms:
        steps.append(Step(f"  c = {sp.sstr(c)}, f(g_j) =", f))
    steps.append(Step(f"sum_k L(g, k) = sum_i phi(g_i) with phi({T}) = a({T}) + (K-1) sum_m c_m f_m({T}) =", phi))
    if classes == 2:
        residual = derivative(phi + phi.subs(T, 1 - T), T)
        steps.append(Step(f"K = 2: sum = phi({T}) + phi(1-{T}); its derivative in {T} is", reduce_expr(residual)))
    else:
        residual = derivative(phi, T, 2)
        steps.append(Step(f"phi''({T}) reduces to", reduce_expr(residual)))
    zero = is_zero(residual)
    affine = None
    if classes != 2 and zero is True:
        c1 = reduce_expr(derivative(phi, T))
        c0 = reduce_expr(phi - c1 * T)
        affine = None if T in c0.free_symbols or T in c1.free_symbols else (c0, c1)
    if (zero is not True or (classes != 2 and affine is None)) and phi.has(sp.Min, sp.Max, sp.Abs):
        pieces = piecewise_affine(phi)
        if pieces is not None:
            zero, affine = True, pieces[:2]
            steps.append(Step(f"phi is c0 + c1 {T} on each of the {pieces[2]} pieces of (0, 1) between the points "
                              "where the arguments of a min or max are equal or that of an abs is 0, the same c0 "
                              "and c1 on each; phi is continuous, so that holds on all of (0, 1)"))
    if zero is True:
        if classes == 2 and affine is None:
            separable_c = reduce_expr(phi + phi.subs(T, 1 - T)).subs(T, sp.Rational(1, 2))
        else:
            if affine is None:
                return _unknown(form, classes, defaults, scope, steps, f"phi is not reducible to c0 + c1 {T}")
            c0, c1 = affine
            steps.append(Step(f"so phi({T}) = c0 + c1 {T} with c0 =", tidy(c0)))
            steps.append(Step("and c1 =", tidy(c1)))
            separable_c = n_classes * tidy(c0) + tidy(c1)
            steps.append(Step("sum_i phi(g_i) = K c0 + c1 sum_i g_i = K c0 + c1 =", separable_c))
        if not norm_ok:
            return _unknown(form, classes, defaults, scope, steps, "a normalizing denominator not shown nonzero")
        constant = _present(separable_c + constant_rest)
        steps.append(Step(f"hence sum_j L(g, j) = C for {scope}, C =", constant))
        return SymmetryResult("proved", scope, constant, steps)
    vanishing = _vanishing_within(residual, form.free_parameters())
    if classes == 2:
        vanishing += [v for v in _vanishing_within(derivative(phi, T, 2), form.free_parameters()) if v not in vanishing]
    free = form.free_parameters()
    trials = _stand_in_trials(free, defaults, alternates)
    if not free <= {s for s, _ in trials[0]}:
        trials = []
    found = _first_counterexample(form, classes, trials, exact_differences=zero is False)
    if found is None and zero is False and free and trials:
        found = _first_counterexample(form, classes, _trials_off_the_roots(residual, free, trials))
    if found is None and zero is None and free and trials:
        found = _first_counterexample(form, classes, [_all_at(free, value) for value in OFF_ROOT_VALUES])
    if found is not None:
        ce_classes, ce = found
        tested = f"the derivative of phi({T}) + phi(1-{T})" if classes == 2 else "phi''"
        why = (f"{tested} is not 0, so the label sum varies" if zero is False else
               f"{tested} was not reduced, but the label sum differs between two points")
        steps.append(Step(f"{why}; concrete counterexample at K = {ce_classes}"
                          + (f" with {', '.join(f'{k}={v}' for k, v in ce.parameters.items())}"
                             if ce.parameters else "")))
        scope_ce = f"K = {ce_classes}" if classes else f"general K (counterexample at K = {ce_classes})"
        return SymmetryResult("refuted", scope_ce, None, steps, counterexample=ce, vanishing=vanishing)
    why = ("the residual is not 0, but no two points were found whose label sums differ by more than the "
           "evaluation's rounding" if zero is False else "sympy could not reduce the residual")
    result = _unknown(form, classes, defaults, scope, steps, why)
    result.vanishing = vanishing
    return result


OFF_ROOT_VALUES = (sp.Rational(7, 5), sp.Rational(5, 2), sp.Rational(1, 3), sp.Integer(5))
"""Tried for every parameter at once when phi'' vanishes at each of the stand-in values tried before them:
(a-1)(a-2)(2a-1)(a-3) p**2 + 1 - p is symmetric at exactly a = 1, 2, 1/2 and 3; and when phi'' was not
reduced, or L is not affine in its sums: min(p, a) + max(1 - p, a) is symmetric at each of 1, 2, 1/2 and 3."""


def _stand_in_trials(free: set[sp.Symbol], defaults: dict[sp.Symbol, sp.Expr],
                     alternates: Sequence[dict[sp.Symbol, sp.Expr]]) -> list[tuple]:
    """The values of the free parameters a counterexample is sought at, as sorted (symbol, value) pairs: the
    defaults, then each alternate in their place, without repeats."""
    missing = {s: v for s, v in defaults.items() if s in free}
    trials = [missing] + [{s: alternate.get(s, v) for s, v in missing.items()} for alternate in alternates]
    return list(dict.fromkeys(tuple(sorted(t.items(), key=sp.default_sort_key)) for t in trials))


def _all_at(parameters: set[sp.Symbol], value: sp.Expr) -> tuple:
    """Every parameter at one value, as sorted (symbol, value) pairs (a trial of OFF_ROOT_VALUES)."""
    return tuple(sorted(((s, value) for s in parameters), key=sp.default_sort_key))


def _first_counterexample(form: LossForm, classes: int | None, trials: list,
                          exact_differences: bool = False) -> tuple[int, Counterexample] | None:
    """(K, counterexample) for the first K (``classes``, or each of COUNTEREXAMPLE_CLASSES) and trial of
    parameter values at which :func:`find_counterexample` finds one; None if none does."""
    for ce_classes in ([classes] if classes else COUNTEREXAMPLE_CLASSES):
        for trial in trials:
            ce = find_counterexample(form, ce_classes, dict(trial), exact_differences)
            if ce is not None:
                return ce_classes, ce
    return None


def _trials_off_the_roots(residual: sp.Expr, parameters: set[sp.Symbol], trials: list) -> list:
    """The first assignment of one OFF_ROOT_VALUES value to every parameter at which the residual is not 0,
    when it is 0 at every trial so far (none of which can then give a counterexample); else none."""
    if any(is_zero(residual.subs(dict(t))) is not True for t in trials):
        return []
    for value in OFF_ROOT_VALUES:
        trial = _all_at(parameters, value)
        if is_zero(residual.subs(dict(trial))) is False:
            return [trial]
    return []


def _vanishing_within(residual: sp.Expr, parameters: set[sp.Symbol]) -> list[dict[sp.Symbol, sp.Expr]]:
    """:func:`vanishing_parameter_values` within VANISHING_SECONDS; none found when it runs out or sympy
    gives up, so the verdict it accompanies is never lost to it."""
    if not parameters:
        return []
    try:
        with time_limit(VANISHING_SECONDS) as limit:
            return vanishing_parameter_values(residual, parameters)
    except TimeLimitExceeded as exc:
        if not limit.ran_out(exc):
            raise
        return []
    except GIVE_UP:
        return []


def vanishing_parameter_values(residual: sp.Expr, parameters: set[sp.Symbol]) -> list[dict[sp.Symbol, sp.Expr]]:
    """Parameter values that make the residual (phi'' or its K = 2 analogue) 0 for every t: the roots of its
    factors that hold parameters only (not t or K), each solved for its first parameter, so 2 log(a) gives
    a = 1 and (1 - q) t**(q-2) gives q = 1. Candidates only: each is proved on its own."""
    if not parameters:
        return []
    found: list[dict[sp.Symbol, sp.Expr]] = []
    for factor in sp.Mul.make_args(sp.factor(reduce_expr(residual))):
        base = factor.base if factor.is_Pow and factor.exp.is_positive else factor
        symbols = base.free_symbols
        if not symbols or not symbols <= parameters:
            continue
        solve_for = min(symbols, key=lambda s: s.name)
        for root in sp.solve(base, solve_for):
            if root.is_extended_real and {solve_for: root} not in found:
                found.append({solve_for: root})
    return found


def _present(constant: sp.Expr) -> sp.Expr:
    """A closed form for C: polynomial parts factored (or, with fewer terms or shorter, collected by parameter
    with factored coefficients: A beta (K - 1) + alpha), logs kept as K log(...) rather than combined; or, when
    shorter, the logs expanded where sympy shows that valid and their coefficients factored
    (log(10**(4 K)/10000) + 1 -> 4 (K - 1) log(10) + 1)."""
    constant = sp.expand(constant, log=False, deep=False)
    if not constant.has(sp.log):
        parameters = sorted(constant.free_symbols - {K}, key=str)
        factored = sp.factor(constant)
        numerator, denominator = sp.fraction(factored)
        forms = [factored, sp.factor(-numerator) / sp.factor(-denominator)]
        if parameters:
            forms.append(sp.collect(sp.expand(constant), parameters, func=sp.factor))
        return min(forms, key=lambda form: (len(sp.Add.make_args(form)), len(sp.sstr(form))))
    expanded = sp.expand(sp.expand_log(constant))
    collected = sp.collect(expanded, sorted(expanded.atoms(sp.log), key=sp.default_sort_key), func=sp.factor)
    return min((constant, collected), key=lambda form: len(sp.sstr(form)))


def gave_up(form: LossForm, classes: int | None, defaults: dict[sp.Symbol, sp.Expr], why: str) -> SymmetryResult:
    """Verdict unknown for a proof cut short (time or recursion limit), with a numeric spot check at the given
    K, or at each K of SPOT_CHECK_CLASSES for symbolic K, when it finishes within SPOT_CHECK_SECONDS."""
    scope = "every K >= 2" if classes is None else f"K = {classes}"
    return _unknown(form, classes, defaults, scope, [], why)


def _unknown(form, classes, defaults, scope, steps, why) -> SymmetryResult:
    steps.append(Step(f"{why}: verdict unknown"))
    values = {s: v for s, v in defaults.items() if s in form.free_parameters()}
    if set(values) != form.free_parameters():
        return SymmetryResult("unknown", scope, None, steps, numeric_check="no numeric spot check: parameters without values")
    notes = []
    try:
        with time_limit(SPOT_CHECK_SECONDS) as limit:
            for n in ([classes] if classes else SPOT_CHECK_CLASSES):
                notes.append(spot_check_note(*numeric_spot_check(form, n, values), n, values))
                if "consistent with" not in notes[-1]:
                    break
    except TimeLimitExceeded as exc:
        if not limit.ran_out(exc):
            raise
        if not notes:
            return SymmetryResult("unknown", scope, None, steps,
                                  numeric_check=f"no numeric spot check: it did not finish in {SPOT_CHECK_SECONDS:g} s")
    except GIVE_UP as exc:
        if not notes:
            return SymmetryResult("unknown", scope, None, steps,
                                  numeric_check=f"no numeric spot check: it failed ({type(exc).__name__})")
    return SymmetryResult("unknown", scope, None, steps, numeric_check="; ".join(notes))


def _concrete_range(form, classes, defaults, k_range, steps, alternates=()) -> SymmetryResult:
    """Losses not affine in their sums: prove each K in a range with explicit coordinates g_1..g_K; C is one
    value when it is the same for each K, else the tuple of C at K = k_range[0], ..., k_range[1]. For symbolic
    K, a K where neither a proof nor a counterexample is found does not stop the search at the next K. A
    counterexample is sought at the defaults, then at the alternates and OFF_ROOT_VALUES (min(p, a) +
    max(1 - p, a) is symmetric at each of a = 1, 2, 1/2, 3)."""
    free = form.free_parameters()
    trials = _stand_in_trials(free, defaults, alternates)
    if free and free <= {s for s, _ in trials[0]}:
        trials = list(dict.fromkeys(trials + [_all_at(free, value) for value in OFF_ROOT_VALUES]))
    ks = [classes] if classes else list(range(k_range[0], k_range[1] + 1))
    constants, undecided = {}, []
    for kk in ks:
        coords = [ProofVariable(f"g{i}", positive=True) for i in range(1, kk)]
        point = list(coords) + [1 - sum(coords)]
        total = exact_label_sum(form.subs({K: kk}), point)
        gradient = [is_zero(sp.diff(total, c)) for c in coords]
        if all(g is True for g in gradient):
            constants[kk] = tidy(reduce_expr(total.subs({c: sp.Rational(1, kk) for c in coords})))
            continue
        ce = next((found for trial in trials if (found := find_counterexample(form, kk, dict(trial))) is not None),
                  None)
        if ce is not None:
            steps.append(Step(f"K = {kk}: the label sum has a nonzero gradient; counterexample found"))
            scope = f"K = {kk}" if classes else f"general K (counterexample at K = {kk})"
            return SymmetryResult("refuted", scope, None, steps, counterexample=ce)
        if classes:
            return _unknown(form, kk, defaults, f"K = {kk}", steps, f"K = {kk}: gradient not reducible")
        undecided.append(kk)
    if undecided:
        return _unknown(form, None, defaults, "every K >= 2", steps, f"K = {', '.join(map(str, undecided))}: the "
                        "gradient of the label sum was not reduced, and no counterexample was found")
    scope = f"K = {ks[0]}" if len(ks) == 1 else f"each K in {ks[0]}..{ks[-1]} (not for all K)"
    steps.append(Step(f"with explicit coordinates, every partial derivative of sum_j L vanishes for {scope}"))
    distinct = set(constants.values())
    if len(distinct) > 1:
        listed = ", ".join(f"K = {kk}: {sp.sstr(c)}" for kk, c in constants.items())
        steps.append(Step(f"C depends on K ({listed}); C is the tuple of these, in that order"))
    constant = distinct.pop() if len(distinct) == 1 else sp.Tuple(*constants.values())
    return SymmetryResult("proved", scope, constant, steps)
