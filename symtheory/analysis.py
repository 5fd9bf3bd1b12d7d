"""One call that answers everything about a loss: symmetry (with C), boundedness and normalization."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import sympy as sp

from symtheory.bounds import SEQUENCE_INDEX, BoundsResult, form_bounds, separable_bounds
from symtheory.domain import (
    Condition, check_domain, domain_note, parameter_conditions, shown as condition_shown, shown_point,
)
from symtheory.errors import BadInput
from symtheory.evaluate import exact_form_loss, is_finite_real, losses_by_value
from symtheory.expr import K, P, Q, param_symbol, parameters_named, sum_other_nodes
from symtheory.forms import LossForm
from symtheory.parser import bind_parameters, parse_loss_expression, parse_with_guards
from symtheory.recognize import loss_form
from symtheory.registry import LossSpec, Param, get_loss
from symtheory.steps import Step
from symtheory.symmetry import (
    DEFAULT_K_RANGE, SpecialCase, SymmetryResult, candidate_points, check_symmetry, gave_up, normalizer_conditions,
    normalizer_sum, normalizer_zero_at,
)
from symtheory.time_limit import DEFAULT_TIME_LIMIT, GIVE_UP, time_limit

STAND_IN_VALUES = (sp.Integer(1), sp.Integer(2), sp.Rational(1, 2), sp.Integer(3))
"""Values a user's symbolic parameters take in counterexamples and spot checks, rotated so that parameters
differ in each trial (a loss symmetric only where a = b is still refuted)."""
MAX_SPECIAL_CASES = 4
MAX_CLASSES = 10_000


@dataclass
class LossAnalysis:
    """What the toolkit proves about one loss for symbolic K or one concrete K."""

    name: str
    title: str
    math: str
    citation: str
    parameters: dict[str, str]
    classes: int | None
    form: LossForm
    symmetry: SymmetryResult
    bounds: BoundsResult

    def to_dict(self, latex: bool = False) -> dict:
        """JSON-ready summary (exact expressions as strings, or LaTeX); a proof variable that a parameter names
        is printed primed (t')."""
        with parameters_named(self.parameters):
            return self._to_dict(latex)

    def _to_dict(self, latex: bool) -> dict:
        show = (lambda e: None if e is None else (sp.latex(e) if latex else sp.sstr(e)))  # noqa: E731
        sym, bd = self.symmetry, self.bounds
        ce = sym.counterexample
        return {
            "loss": self.name,
            "title": self.title,
            "math": self.math,
            "citation": self.citation,
            "parameters": self.parameters,
            "classes": self.classes if self.classes is not None else "symbolic",
            "symmetric": sym.verdict,
            "scope": sym.scope,
            "constant": show(sym.constant),
            "counterexample": None if ce is None else {
                "classes": ce.classes,
                "g_a": [show(x) for x in ce.point_a], "sum_a": show(ce.sum_a),
                "g_b": [show(x) for x in ce.point_b], "sum_b": show(ce.sum_b),
                "difference": ce.difference if math.isfinite(ce.difference) else None,
                "difference_text": _difference_text(ce),
                "parameters": {k: show(v) for k, v in ce.parameters.items()},
            },
            "numeric_check": sym.numeric_check,
            "symmetric_at": [{"parameters": {str(k): show(v) for k, v in case.parameters.items()},
                              "scope": case.result.scope, "constant": show(case.result.constant),
                              "steps": [st.as_dict(latex) for st in case.result.steps]} for case in sym.special],
            "bounded": bd.bounded,
            "lower_bound": show(bd.lower),
            "upper_bound": show(bd.upper),
            "lower_bound_exact": bd.lower_exact,
            "upper_bound_exact": bd.upper_exact,
            "unbounded_along": bd.sequence,
            "unbounded_index": str(SEQUENCE_INDEX),
            "unbounded_limit": show(bd.sequence_limit),
            "symmetry_steps": [s.as_dict(latex) for s in sym.steps],
            "bounds_steps": [s.as_dict(latex) for s in bd.steps],
        }


def _difference_text(ce) -> str:
    """How much a counterexample's two label sums differ, to 6 digits: beyond float64 as sympy writes it
    (9.48918e+433), and as 'more than 1e+308' past a million binary digits, where writing it out would take
    minutes or fail (exp(exp(exp(10))))."""
    if math.isfinite(ce.difference):
        return f"{ce.difference:.6g}"
    value = sp.Abs(ce.sum_a - ce.sum_b).evalf(6)
    if value.is_Float and abs(value._mpf_[2] + value._mpf_[3]) > 10**6:
        return "more than 1e+308"
    return sp.sstr(value)


def parse_param_options(options: list[str] | None, alpha: str | None = None) -> dict[str, str]:
    """``["alpha=0.1", "q=1/2"]`` -> {"alpha": "0.1", "q": "1/2"}; BadInput on malformed items and on a name
    given twice. ``alpha``: an --alpha flag's value, the same as alpha=VALUE (BadInput when given both ways)."""
    out: dict[str, str] = {}
    for item in options or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise BadInput(f"--param expects name=value, got {item!r}")
        if name.strip() in out:
            raise BadInput(f"--param {name.strip()} is given twice ({out[name.strip()]} and {value.strip()}); give it once")
        out[name.strip()] = value.strip()
    if alpha is not None:
        if "alpha" in out:
            raise BadInput("give alpha once: --alpha or --param alpha=..., not both")
        out["alpha"] = alpha
    return out


def check_classes(classes: int | None) -> None:
    """K must be an integer in 2..MAX_CLASSES (the proof for symbolic K covers every K; a concrete K costs
    time in proportion to K)."""
    if classes is not None and classes < 2:
        raise BadInput(f"the number of classes K must be at least 2, got {classes}")
    if classes is not None and classes > MAX_CLASSES:
        raise BadInput(f"--classes {classes} is more than {MAX_CLASSES}; the proof for symbolic K (without "
                       "--classes) covers every K")


def analyse_form(name, title, math, citation, form: LossForm, parameters: dict[str, str],
                 classes: int | None, defaults: Mapping[sp.Symbol, sp.Expr],
                 seconds: float | None = DEFAULT_TIME_LIMIT, domains: Mapping[sp.Symbol, Param] | None = None,
                 alternates: Sequence[dict[sp.Symbol, sp.Expr]] = (),
                 unshown: Sequence[Condition] = ()) -> LossAnalysis:
    """Run the symmetry proof and the bounds on an already-built form, each within ``seconds`` (None: no
    limit); a part that runs out is reported unknown, never guessed. A loss refuted in general is then
    proved at the parameter values (within ``domains``) where its phi'' vanishes, each within ``seconds``.
    ``unshown``: domain conditions (:mod:`symtheory.domain`) not shown on the open simplex; a proof is then
    only of sum_j L = C where L is defined, and the verdict is unknown."""
    with parameters_named(parameters):
        check_classes(classes)
        n_classes = K if classes is None else sp.Integer(classes)
        try:
            with time_limit(seconds):
                symmetry = check_symmetry(form, classes, dict(defaults), alternates=alternates)
        except GIVE_UP as exc:
            symmetry = gave_up(form, classes, dict(defaults), _why_given_up(exc, seconds))
        symmetry.special = prove_special_cases(form, classes, symmetry.vanishing, domains or {}, defaults, seconds,
                                               unshown)
        if symmetry.verdict == "proved" and unshown:
            _not_shown_defined(symmetry, unshown)
        if symmetry.verdict == "proved":
            _restrict_scope(symmetry, parameter_restrictions(form, domains or {}, seconds, n_classes))
        try:
            with time_limit(seconds):
                bounds = form_bounds(form.subs({K: n_classes}), n_classes)
        except GIVE_UP as exc:
            bounds = BoundsResult(None, steps=[Step(_why_given_up(exc, seconds) + ": boundedness unknown")])
        return LossAnalysis(name, title, math, citation, parameters, classes, form, symmetry, bounds)


def prove_special_cases(form: LossForm, classes: int | None, vanishing: Sequence[dict[sp.Symbol, sp.Expr]],
                        domains: Mapping[sp.Symbol, Param], defaults: Mapping[sp.Symbol, sp.Expr],
                        seconds: float | None = DEFAULT_TIME_LIMIT,
                        unshown: Sequence[Condition] = ()) -> list[SpecialCase]:
    """Where a loss is symmetric within its family: each parameter value at which phi'' vanishes for every t
    (at most MAX_SPECIAL_CASES, each in its parameter's domain, the loss finite there and every condition of
    ``unshown`` shown there) proved on its own, within ``seconds``; the proved ones (GCE (1 - g_k^q)/q at
    q = 1: C = K - 1, Patel & Sastry 2021 Sec. 3)."""
    proved = []
    ordered = sorted(vanishing, key=lambda values: [_value_key(values[s]) for s in sorted(values, key=str)])
    for assignment in ordered[:MAX_SPECIAL_CASES]:
        if not all(symbol in domains and domains[symbol].admits(value) for symbol, value in assignment.items()):
            continue
        if not _shown_at(unshown, assignment, seconds):
            continue
        special = form.subs(assignment)
        if not _finite_at_candidates(special, classes or 3):
            continue
        rest = {s: v for s, v in defaults.items() if s not in assignment}
        try:
            with time_limit(seconds):
                result = check_symmetry(special, classes, rest)
        except GIVE_UP:
            continue
        if result.verdict == "proved":
            proved.append(SpecialCase(dict(assignment), result))
    return proved


def parameter_restrictions(form: LossForm, domains: Mapping[sp.Symbol, Param],
                           seconds: float | None = DEFAULT_TIME_LIMIT, n_classes: sp.Expr = K) -> list[str]:
    """The parameter values a proof for symbolic parameters must leave out, as text: where a divisor in the
    parameters (and K, not g) vanishes within their domains ((1 - p)/(a - 1): 'a != 1'; p/(K - a): 'a != K'),
    and where a log argument or a fractional power's base in them is not shown positive
    ((1 - p) log(a - 1): 'a - 1 > 0'), and where a normalizing denominator, a constant in them, vanishes
    ((p - a)/sum_all(q - a): 'a != 1/K'). Within ``seconds``; a divisor sympy cannot solve is given as the
    condition itself."""
    restrictions: list[str] = []
    try:
        with time_limit(seconds):
            for condition in parameter_conditions(form) + normalizer_conditions(form, n_classes):
                for text in _restriction_texts(condition, domains):
                    if text not in restrictions:
                        restrictions.append(text)
    except GIVE_UP:
        restrictions.append("the parameter values where its other conditions hold (not all could be checked)")
    return restrictions


def _restriction_texts(condition: Condition, domains: Mapping[sp.Symbol, Param]) -> list[str]:
    quantity = condition.quantity
    if condition.kind != "divisor":
        relation = ">=" if condition.kind == "base" else ">"
        return [f"{sp.sstr(quantity)} {relation} 0"]
    solve_for = min(quantity.free_symbols - {K} or quantity.free_symbols, key=lambda s: s.name)
    try:
        roots = sp.solve(quantity, solve_for)
    except GIVE_UP:
        return [f"{sp.sstr(quantity)} != 0"]
    return [f"{sp.sstr(solve_for)} != {sp.sstr(root)}" for root in roots
            if solve_for not in domains or domains[solve_for].admits(root)]


def _value_key(value: sp.Expr) -> tuple:
    """Sort key: real numbers by value, first; other expressions after them, in sympy's order."""
    value = sp.sympify(value)
    if value.is_number and value.is_extended_real:
        return (0, float(value), ())
    return (1, 0.0, sp.default_sort_key(value))


def _shown_at(conditions: Sequence[Condition], assignment: Mapping[sp.Symbol, sp.Expr],
              seconds: float | None) -> bool:
    try:
        with time_limit(seconds):
            return all(condition_shown(condition.subs(assignment)) for condition in conditions)
    except GIVE_UP:
        return False


def _not_shown_defined(symmetry: SymmetryResult, unshown: Sequence[Condition]) -> None:
    """A proof of sum_j L = C that holds only where L is defined, with a condition for that not shown on the
    open simplex, is no proof: the verdict becomes unknown, with C named in its step."""
    symmetry.steps.append(Step(domain_note(unshown) + f" (C = {sp.sstr(symmetry.constant)} where it is "
                               "defined): verdict unknown"))
    symmetry.verdict, symmetry.constant = "unknown", None
    symmetry.numeric_check = "no numeric spot check: the identity is proved where the loss is defined"


def _restrict_scope(symmetry: SymmetryResult, restrictions: list[str]) -> None:
    if not restrictions:
        return
    shown = ", ".join(restrictions)
    symmetry.scope += f", for {shown} (elsewhere the loss is undefined)"
    symmetry.steps.append(Step(f"the loss is defined, whatever g, only for parameters with {shown}; the proof "
                               "holds for every such value"))


def _finite_at_candidates(form: LossForm, classes: int) -> bool:
    """L(g, k) is a finite real number at the candidate points of K = ``classes`` for every label."""
    for point in candidate_points(classes):
        for k in range(classes):
            value = exact_form_loss(form.subs({K: classes}), point, k)
            if not is_finite_real(value):
                return False
    return True


def _why_given_up(exc: BaseException, seconds: float | None) -> str:
    if isinstance(exc, RecursionError):
        return "gave up: the expression is too deep for sympy (recursion limit)"
    if isinstance(exc, OverflowError):
        return "gave up: a number overflowed in sympy (OverflowError)"
    if isinstance(exc, (ArithmeticError, NotImplementedError)):
        detail = " ".join(str(exc).split())[:120]
        return f"gave up: sympy could not do it ({type(exc).__name__}{': ' + detail if detail else ''})"
    return f"gave up after {seconds:g} s (time limit)"


def analyse_builtin(name: str, params: Mapping[str, str] | None = None, classes: int | None = None,
                    seconds: float | None = DEFAULT_TIME_LIMIT) -> LossAnalysis:
    """Analyse a registry loss; parameters not given stay symbolic (their defaults serve counterexamples)."""
    spec: LossSpec = get_loss(name)
    given = dict(params or {})
    form = spec.form(given, symbolic=True)
    defaults = {param_symbol(k): v for k, v in spec.defaults().items() if k not in given}
    shown = {p.name: (given.get(p.name) or f"symbolic (default {p.default})") if p.symbolic
             else given.get(p.name, p.default) for p in spec.params}
    domains = {param_symbol(p.name): p for p in spec.params}
    return analyse_form(spec.name, spec.title, spec.math, spec.citation, form, shown, classes, defaults, seconds,
                        domains)


@dataclass(frozen=True)
class PreparedExpression:
    """A user's expression parsed, bound and checked to be defined on the open simplex, as its LossForm, with
    what the proof needs besides: the parameters as shown, stand-in values (first trial and alternates),
    the domain conditions not shown, and each parameter's domain."""

    text: str
    form: LossForm
    shown: dict[str, str]
    defaults: dict[sp.Symbol, sp.Expr]
    alternates: list[dict[sp.Symbol, sp.Expr]]
    unshown: list[Condition]
    domains: dict[sp.Symbol, Param]


def prepare_expression(text: str, params: Mapping[str, str] | None = None, classes: int | None = None,
                       seconds: float | None = DEFAULT_TIME_LIMIT) -> PreparedExpression:
    """Parse a user's loss expression without eval (see :mod:`symtheory.parser`), bind the given parameters
    and K, and refuse it (BadInput) unless it is a finite real number on the open simplex; no proof yet."""
    expr, guards = parse_with_guards(text)
    given = dict(params or {})
    names = _parameter_names(expr)
    unknown = set(given) - names
    if unknown:
        raise BadInput(f"--param {sorted(unknown)[0]}: the expression has no such parameter "
                       f"(its parameters: {', '.join(sorted(names)) or 'none'})")
    values = {param_symbol(n): Param(n, "1").value(v) for n, v in given.items()}
    check_classes(classes)
    if classes is not None:
        values[K] = sp.Integer(classes)
    try:
        expr = bind_parameters(expr, values)
        guards = [bind_parameters(guard, values) for guard in guards]
    except BadInput as exc:
        bound = ", ".join(f"{'K' if s == K else s} = {sp.sstr(v)}" for s, v in values.items())
        raise BadInput(f"{exc} (at {bound})") from None
    try:
        check_defined(expr, classes, seconds)
        zero_over_zero = None
    except UndefinedAtPoint as exc:
        if not exc.value.has(sp.nan):
            raise
        zero_over_zero = exc
    symbolic = [param_symbol(n) for n in sorted(names - set(given))]
    trials = [{s: STAND_IN_VALUES[(i + j) % len(STAND_IN_VALUES)] for i, s in enumerate(symbolic)}
              for j in range(len(STAND_IN_VALUES))]
    stand_ins = ", ".join(sp.sstr(v) for v in STAND_IN_VALUES)
    shown = {n: given.get(n, f"symbolic in (0, inf) (counterexamples try {stand_ins})") for n in sorted(names)}
    form = loss_form(expr, K if classes is None else sp.Integer(classes))
    if classes is None:
        try:
            with time_limit(seconds):
                _check_no_zero_normalizer(form)
        except GIVE_UP:
            pass  # not shown 0 at an integer K in time: the proof then shows its denominator nonzero, or is unknown
    unshown = check_domain(expr, form, classes, trials if symbolic else [], seconds, guards)
    if zero_over_zero is not None:
        raise zero_over_zero
    domains = {param_symbol(n): Param(n, "1") for n in names}
    return PreparedExpression(text, form, shown, trials[0], trials[1:], unshown, domains)


def analyse_expression(text: str, params: Mapping[str, str] | None = None, classes: int | None = None,
                       seconds: float | None = DEFAULT_TIME_LIMIT) -> LossAnalysis:
    """Analyse a user's loss expression (see :func:`prepare_expression`): symmetry proof and bounds."""
    return analyse_prepared(prepare_expression(text, params, classes, seconds), classes, seconds)


def analyse_prepared(ready: PreparedExpression, classes: int | None = None,
                     seconds: float | None = DEFAULT_TIME_LIMIT) -> LossAnalysis:
    """The symmetry proof and bounds of an expression already prepared for the same K."""
    return analyse_form("expression", "user-defined loss", ready.text, "", ready.form, ready.shown, classes,
                        ready.defaults, seconds, ready.domains, ready.alternates, ready.unshown)


class UndefinedAtPoint(BadInput):
    """L(g, k) is not a finite real number at a point :func:`check_defined` tried; ``value`` is what it is."""

    def __init__(self, message: str, value: sp.Expr):
        super().__init__(message)
        self.value = value


def check_defined(expr: sp.Expr, classes: int | None = None, seconds: float | None = DEFAULT_TIME_LIMIT) -> None:
    """BadInput (:class:`UndefinedAtPoint`) when L(g, k) is not a finite real number at one of a few exact
    points of the open simplex, where every loss must be defined: the points with one or two large coordinates
    of the given K (K = 3 for symbolic K), and for symbolic K also the centre for each K in 2..8. Skipped past
    ``seconds``. A 0/0 there (nan) is raised by :func:`prepare_expression` only after the checks that name
    its divisor or K ((p - 1/2)/sum_all(q - 1/2): "undefined at K = 2")."""
    checks = [(classes or 3, point) for point in candidate_points(classes or 3)]
    if classes is None:
        checks += [(n, (sp.Rational(1, n),) * n) for n in range(DEFAULT_K_RANGE[0], DEFAULT_K_RANGE[1] + 1)]
    try:
        with time_limit(seconds):
            if classes is None:
                _check_no_pole_in_k(expr)
            for n, point in checks:
                for k, value in losses_by_value(expr, point):
                    if not is_finite_real(value):
                        raise UndefinedAtPoint(f"the loss is not a finite real number at g = ({shown_point(point)}), "
                                               f"k = {k + 1} (K = {n}): it is {sp.sstr(value)}; a loss must be "
                                               "defined on the whole open simplex", value)
    except GIVE_UP:
        return


def _check_no_pole_in_k(expr: sp.Expr) -> None:
    """BadInput when a divisor that depends on K alone vanishes at an integer K >= 2 (p/(K - 9)): the loss is
    undefined there, so no claim for every K >= 2 can hold."""
    for node in sp.preorder_traversal(expr):
        if node.is_Pow and node.exp.is_negative and node.base.free_symbols == {K}:
            for root in sp.solve(node.base, K):
                if root.is_integer and root >= 2:
                    raise BadInput(f"the loss is undefined at K = {root}: it divides by {sp.sstr(node.base)}, "
                                   "which is 0 there; give --classes for the K you mean")


def _check_no_zero_normalizer(form: LossForm) -> None:
    """BadInput when a normalized piece's denominator sum_s b(g, s) is a constant in K that is 0 at an integer
    K >= 2 ((p - 1/2)/sum_all(q - 1/2): 1 - K/2, 0 at K = 2): the loss is undefined on the whole simplex there."""
    for _, base in form.normalized:
        first = normalizer_zero_at(base)
        if first is not None:
            raise BadInput(f"the loss is undefined at K = {first}: its normalizing denominator sum_s b(g, s) with "
                           f"b(g, k) = {sp.sstr(base)} is {sp.sstr(normalizer_sum(base))}, which is 0 there; "
                           "give --classes for the K you mean")


def expression_parameters(text: str) -> set[str]:
    """The parameter names of a user's loss expression: every name but p, q and K (parsed without eval)."""
    return _parameter_names(parse_loss_expression(text))


def _parameter_names(expr: sp.Expr) -> set[str]:
    return {str(s) for s in _all_symbols(expr)} - {str(P), str(Q), str(K)}


def _all_symbols(expr: sp.Expr) -> set[sp.Symbol]:
    syms = set(expr.free_symbols)
    for node in sum_other_nodes(expr):
        syms |= node.args[0].free_symbols
    return syms


def normalization_report(name: str, classes: int | None = None) -> dict:
    """Paper Sec. 3: Lbar = L / sum_s L is symmetric with C = 1 when L is bounded and positive.

    Reports L's boundedness, whether Lbar's denominator is > 0, and the symmetry proof of Lbar.
    """
    spec = get_loss(name)
    form = spec.form(symbolic=True)
    if form.normalized or form.zero_one != 0:
        raise BadInput(f"{spec.name} is not a plain separable loss; normalize its base loss instead")
    n_classes = K if classes is None else sp.Integer(classes)
    base_bounds = separable_bounds(form.separable.subs(K, n_classes), n_classes)
    normalized = LossForm(normalized=((sp.Integer(1), form.separable),))
    symmetry = check_symmetry(normalized, classes)
    return {"loss": spec.name, "base_bounded": base_bounds.bounded, "base_lower": base_bounds.lower,
            "base_upper": base_bounds.upper, "unbounded_along": base_bounds.sequence,
            "normalized_verdict": symmetry.verdict, "normalized_constant": symmetry.constant,
            "normalized_steps": symmetry.steps}
