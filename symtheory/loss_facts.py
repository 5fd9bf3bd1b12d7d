"""What the symbolic side proves about a registry loss at a concrete K, as plain numbers for numeric work."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from symtheory.analysis import analyse_builtin
from symtheory.expr import K, param_symbol
from symtheory.registry import get_loss


@dataclass(frozen=True)
class LossFacts:
    """The symmetry verdict (proved / refuted / unknown), C when proved and sup L over the simplex when it is
    proved exact (floats, at the defaults)."""

    name: str
    verdict: str
    constant: float | None
    parameters: dict
    supremum: float | None = None

    @property
    def symmetric(self) -> bool:
        """True only when symmetry is proved (sum_j L(g, j) = C on the simplex)."""
        return self.verdict == "proved"

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"loss": self.name, "symmetric": self.verdict, "constant": self.constant,
                "supremum": self.supremum, "parameters": self.parameters}


@lru_cache(maxsize=None)
def loss_facts(name: str, classes: int) -> LossFacts:
    """Symmetry of a registry loss for K = classes (symtheory.symmetry), C evaluated at its defaults."""
    spec = get_loss(name)
    analysis = analyse_builtin(spec.name, None, classes)
    defaults = spec.defaults()
    values = {param_symbol(k): v for k, v in defaults.items()}
    constant = supremum = None
    if analysis.symmetry.verdict == "proved" and analysis.symmetry.constant is not None:
        constant = float(sp.sympify(analysis.symmetry.constant).subs(values).subs(K, classes))
    if analysis.bounds.bounded and analysis.bounds.upper_exact:
        supremum = float(sp.sympify(analysis.bounds.upper).subs(values).subs(K, classes))
    return LossFacts(spec.name, analysis.symmetry.verdict, constant, {k: str(v) for k, v in defaults.items()},
                     supremum)
