"""What the theory says of each loss an experiment trained, for the report beside its measured curves.

Patel & Sastry 2021, Theorem 1: a symmetric loss (sum_j L(g, j) = C on the simplex) keeps the clean risk's
ranking of classifiers under symmetric noise for eta < (K-1)/K. Each loss row of a report gets the verdict
that ``symtheory check-loss LOSS --classes K`` gives at the data's K, with its parameters as trained: proved
(with C), refuted or unknown, and its bounds on the simplex.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

REPORT_TIME_LIMIT = 10.0
"""Seconds each part of a loss's analysis (symmetry, bounds) may take in a report before it is 'unknown'."""


@dataclass(frozen=True)
class LossTheory:
    """A loss's verdict at K classes: 'proved', 'refuted' or 'unknown'; C when proved; its bounds in words."""

    classes: int
    symmetric: str
    constant: str | None
    bounds: str


def loss_theory(train: Mapping[str, Any], classes: int, seconds: float = REPORT_TIME_LIMIT) -> LossTheory:
    """The symmetry verdict, C and bounds of a run's loss (a config.json 'train' record: the registry's loss
    with its parameters, or a user's expression) at K = ``classes``, as check-loss derives them."""
    from symtheory.empirical.config import exact_param_text

    from symtheory.errors import BadInput

    params = tuple(sorted((k, exact_param_text(k, v)) for k, v in (train.get("loss_params") or {}).items()))
    try:
        return _theory(str(train["loss"]), train.get("loss_expr"), params, int(classes), seconds)
    except BadInput as exc:
        return LossTheory(int(classes), f"not analysed ({exc})", None, "-")


@lru_cache(maxsize=None)
def _theory(loss: str, expression: str | None, params: tuple[tuple[str, str], ...], classes: int,
            seconds: float) -> LossTheory:
    import sympy as sp

    from symtheory.analysis import analyse_builtin, analyse_expression
    from symtheory.bounds import bound_exactness

    if expression is not None:
        analysis = analyse_expression(expression, dict(params), classes, seconds)
    else:
        analysis = analyse_builtin(loss, dict(params), classes, seconds)
    symmetry, bounds = analysis.symmetry, analysis.bounds
    constant = sp.sstr(symmetry.constant) if symmetry.verdict == "proved" and symmetry.constant is not None else None
    if bounds.bounded:
        shown = (f"{sp.sstr(bounds.lower)} <= L <= {sp.sstr(bounds.upper)} "
                 f"({bound_exactness(bounds.lower_exact, bounds.upper_exact)})")
    elif bounds.bounded is False:
        shown = "unbounded" + (f" (L -> {sp.sstr(bounds.sequence_limit)})" if bounds.sequence_limit is not None else "")
    else:
        shown = "unknown"
    verdict = f"unknown (within {seconds:g} s)" if symmetry.verdict == "unknown" else symmetry.verdict
    return LossTheory(classes, verdict, constant, shown)
