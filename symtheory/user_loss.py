"""A user's loss expression as a loss of the numeric checks (``verify-ranking --expr``): parsed without eval,
every parameter bound to a number, analysed at one K like a registry loss."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Mapping, Sequence

from symtheory.errors import BadInput

if TYPE_CHECKING:
    from symtheory.forms import LossForm
    from symtheory.loss_facts import LossFacts

USER_LOSS_NAME = "expr"
"""The name a user's expression carries in tables and JSON (the expression itself is shown beside it)."""


@dataclass(frozen=True)
class UserLoss:
    """The expression text (see :mod:`symtheory.parser`) and its parameter values as given (name, text)."""

    text: str
    params: tuple[tuple[str, str], ...] = ()
    name: str = USER_LOSS_NAME

    def form(self, classes: int) -> "LossForm":
        """L(g, k) at K = ``classes`` with the parameters bound, refused (BadInput) unless defined on the open
        simplex or when a parameter has no value; no symmetry proof is run for it."""
        return _prepared(self, classes).form

    def facts(self, classes: int) -> "LossFacts":
        """The symmetry verdict, C and the exact sup at K = ``classes``, as for a registry loss
        (:func:`symtheory.loss_facts.loss_facts`)."""
        import sympy as sp

        from symtheory.loss_facts import LossFacts

        analysis = _analysis(self, classes)
        constant = supremum = None
        if analysis.symmetry.verdict == "proved" and analysis.symmetry.constant is not None:
            constant = float(sp.sympify(analysis.symmetry.constant))
        if analysis.bounds.bounded and analysis.bounds.upper_exact:
            supremum = float(sp.sympify(analysis.bounds.upper))
        return LossFacts(self.name, analysis.symmetry.verdict, constant, dict(self.params), supremum)

    def depends_on_g(self, classes: int) -> bool:
        """Whether L(g, k) varies on the open simplex (a constant loss has no gradient to train with): it is
        written with g, and its exact values at a few points and labels of the simplex
        (:func:`~symtheory.symmetry.candidate_points`) are not all equal (:func:`~symtheory.symmetry.numbers_differ`;
        ``sum_all(q)`` is 1)."""
        from symtheory.evaluate import exact_form_loss
        from symtheory.expr import P, SumOther
        from symtheory.symmetry import candidate_points, numbers_differ, resolved_value

        form = self.form(classes)
        separable = form.separable
        if not (form.normalized or form.zero_one != 0 or P in separable.free_symbols or separable.has(SumOther)):
            return False
        values = [resolved_value(exact_form_loss(form, point, k)) for point in candidate_points(classes)
                  for k in dict.fromkeys(point.index(v) for v in point)]
        return any(numbers_differ(v, values[0]) is not None for v in values[1:])

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"name": self.name, "expression": self.text, "parameters": dict(self.params)}


def expression_texts(texts: Sequence[str]) -> list[str]:
    """--expr's values with their whitespace made canonical (:func:`~symtheory.parser.normalize_expression`);
    BadInput for an empty one, or two that parse to the same expression ('1-p' and '(1 - p)')."""
    from symtheory.parser import normalize_expression, parse_loss_expression

    texts = [normalize_expression(text) for text in texts]
    if any(not text for text in texts):
        raise BadInput("the loss expression (--expr) is empty")
    seen: dict = {}
    for text in texts:
        parsed = parse_loss_expression(text)
        if parsed in seen:
            if seen[parsed] == text:
                raise BadInput(f"--expr {text!r} is given twice")
            raise BadInput(f"--expr {seen[parsed]!r} and {text!r} are the same loss; give it once")
        seen[parsed] = text
    return texts


def user_losses(texts: Sequence[str], params: Mapping[str, str] | None = None) -> tuple[UserLoss, ...]:
    """Users' expressions (see :func:`expression_texts`) as UserLosses named 'expr' when there is one, 'expr1',
    'expr2', ... when there are several, each with the given parameters (name -> exact text) that it has;
    BadInput for a parameter that none of them has."""
    from symtheory.analysis import expression_parameters

    texts = expression_texts(texts)
    given = dict(params or {})
    names = [expression_parameters(text) for text in texts]
    for name in given:
        if not any(name in having for having in names):
            raise BadInput(f"--param {name}: no --expr has such a parameter (theirs: "
                           f"{', '.join(sorted(set().union(*names))) or 'none'})")
    label = (lambda i: USER_LOSS_NAME) if len(texts) == 1 else (lambda i: f"{USER_LOSS_NAME}{i + 1}")
    return tuple(UserLoss(text, tuple(sorted((k, v) for k, v in given.items() if k in having)), label(i))
                 for i, (text, having) in enumerate(zip(texts, names)))


@lru_cache(maxsize=None)
def _prepared(loss: UserLoss, classes: int):
    from symtheory.analysis import prepare_expression

    ready = prepare_expression(loss.text, dict(loss.params), classes)
    missing = sorted(str(s) for s in ready.form.free_parameters())
    if missing:
        raise BadInput(f"give every parameter of --expr a value for numeric work: --param {missing[0]}=VALUE "
                       f"(its parameters without one: {', '.join(missing)})")
    return ready


@lru_cache(maxsize=None)
def _analysis(loss: UserLoss, classes: int):
    from symtheory.analysis import analyse_prepared

    return analyse_prepared(_prepared(loss, classes), classes)
