"""The registry of losses: the single place where each loss is defined.

Every entry carries its parameters with their domains, the sympy form L(g, k) for K classes written in the
vocabulary of :mod:`symtheory.expr`, the math and the citation. The torch forms (``symtheory.empirical``)
attach to the same entry by name and are tested against the sympy form; the numeric module evaluates the
same form with numpy. Whether an entry is symmetric is never written here: :mod:`symtheory.symmetry` proves
or refutes it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Mapping

import sympy as sp

from symtheory.errors import BadInput
from symtheory.exact_numbers import exact_number
from symtheory.expr import K, P, Q, SumOther, param_symbol
from symtheory.forms import LossForm


@dataclass(frozen=True)
class Param:
    """A loss parameter and its domain (lower, upper), with open or closed ends; None is unbounded."""

    name: str
    default: str
    lower: str | None = "0"
    upper: str | None = None
    lower_open: bool = True
    upper_open: bool = True
    integer: bool = False
    symbolic: bool = True
    meaning: str = ""

    @property
    def domain(self) -> str:
        """The domain in interval notation, e.g. ``alpha in (0, inf)``."""
        lo = "-inf" if self.lower is None else self.lower
        hi = "inf" if self.upper is None else self.upper
        left = "(" if self.lower is None or self.lower_open else "["
        right = ")" if self.upper is None or self.upper_open else "]"
        kind = "integer " if self.integer else ""
        return f"{self.name} {kind}in {left}{lo}, {hi}{right}"

    def admits(self, value: sp.Expr) -> bool:
        """Whether an exact value (a number, or an expression in other positive parameters) lies in the
        domain; an expression only where the domain is every positive real, a number only when sympy can
        decide each end."""
        if not value.is_number:
            return (value.is_positive is True and self.lower == "0" and self.upper is None
                    and not self.integer)
        if value.is_extended_real is not True or (self.integer and value.is_integer is not True):
            return False
        checks = []
        if self.lower is not None:
            low = sp.Rational(Fraction(self.lower))
            checks.append(value > low if self.lower_open else value >= low)
        if self.upper is not None:
            high = sp.Rational(Fraction(self.upper))
            checks.append(value < high if self.upper_open else value <= high)
        return all(c is sp.true for c in checks)

    def value(self, text: str | int | float | Fraction) -> sp.Rational:
        """Parse and check a user value exactly (0.1 -> 1/10); raise BadInput outside the domain."""
        frac = exact_number(text, f"parameter {self.name}")
        if self.integer and frac.denominator != 1:
            raise BadInput(f"parameter {self.name} must be an integer, got {text}")
        low_bad = self.lower is not None and (
            frac < Fraction(self.lower) or (self.lower_open and frac == Fraction(self.lower))
        )
        high_bad = self.upper is not None and (
            frac > Fraction(self.upper) or (self.upper_open and frac == Fraction(self.upper))
        )
        if low_bad or high_bad:
            raise BadInput(f"parameter {self.name}={text} is outside its domain: {self.domain}")
        return sp.Rational(frac.numerator, frac.denominator)


@dataclass(frozen=True)
class LossSpec:
    """One loss: its name, parameters, symbolic builder, math and citation."""

    name: str
    title: str
    math: str
    citation: str
    build: Callable[[Mapping[str, sp.Expr]], LossForm]
    params: tuple[Param, ...] = ()
    differentiable: bool = True
    in_paper: bool = False
    aliases: tuple[str, ...] = field(default=())

    def param(self, name: str) -> Param:
        """The parameter called ``name``; BadInput listing the valid ones otherwise."""
        for p in self.params:
            if p.name == name:
                return p
        valid = ", ".join(p.name for p in self.params) or "none"
        raise BadInput(f"loss {self.name!r} has no parameter {name!r} (its parameters: {valid})")

    def resolve_params(self, given: Mapping[str, object] | None = None, symbolic: bool = True) -> dict[str, sp.Expr]:
        """Parameter values: the given ones checked exactly; the others a positive symbol or the default."""
        given = dict(given or {})
        values: dict[str, sp.Expr] = {}
        for name, raw in given.items():
            values[name] = self.param(name).value(raw)
        for p in self.params:
            if p.name not in values:
                values[p.name] = param_symbol(p.name) if (symbolic and p.symbolic) else p.value(p.default)
        return values

    def defaults(self) -> dict[str, sp.Rational]:
        """Every parameter at its default value."""
        return {p.name: p.value(p.default) for p in self.params}

    def form(self, given: Mapping[str, object] | None = None, symbolic: bool = True) -> LossForm:
        """The sympy form of L(g, k) with the given (else symbolic or default) parameters."""
        return self.build(self.resolve_params(given, symbolic))

    def torch_form(self):
        """The torch implementation attached to this entry (imports torch; None if not differentiable)."""
        if not self.differentiable:
            return None
        module = importlib.import_module("symtheory.empirical.losses")
        return module.TORCH_LOSSES.get(self.name)


def _cce(g_k: sp.Expr) -> sp.Expr:
    return -sp.log(g_k)


def _mse() -> sp.Expr:
    return (1 - P) ** 2 + SumOther(Q**2)


def _rce(a: sp.Expr) -> sp.Expr:
    return a * (1 - P)


def _mae() -> sp.Expr:
    return (1 - P) + SumOther(Q)


ALPHA_RLL = Param("alpha", "1/10", meaning="offset inside the logs; the authors' code uses 0.1 (0.01, 0.45 in comments)")
CLIP_A = Param("A", "4", meaning="RCE's clip: log 0 is taken as -A (Wang et al. use A = 4)")
WEIGHT_ALPHA = Param("alpha", "1", meaning="weight of the first term")
WEIGHT_BETA = Param("beta", "1", meaning="weight of the second term")

_ENTRIES: tuple[LossSpec, ...] = (
    LossSpec(
        "cce", "categorical cross entropy", "L(g, k) = -log g_k",
        "Patel & Sastry 2021, Sec. 2 (CCE)",
        lambda v: LossForm(separable=_cce(P)), in_paper=True, aliases=("ce",),
    ),
    LossSpec(
        "mse", "mean squared error", "L(g, k) = sum_i (g_i - e^k_i)^2 = (1 - g_k)^2 + sum_{j!=k} g_j^2",
        "Patel & Sastry 2021, Sec. 2 (MSE)",
        lambda v: LossForm(separable=_mse()), in_paper=True,
    ),
    LossSpec(
        "mae", "mean absolute error", "L(g, k) = sum_i |g_i - e^k_i| = (1 - g_k) + sum_{j!=k} g_j = 2(1 - g_k)",
        "Ghosh, Kumar & Sastry 2017 (AAAI); Patel & Sastry 2021, Sec. 3",
        lambda v: LossForm(separable=_mae()), in_paper=True,
    ),
    LossSpec(
        "rll", "robust log loss",
        "L(g, k) = log((alpha+1)/alpha) - log(alpha + g_k) + sum_{j!=k} log(alpha + g_j)/(K-1)",
        "Kumar & Sastry 2018 (IEEE SMC); Patel & Sastry 2021, Sec. 2 (RLL)",
        lambda v: LossForm(
            separable=sp.log((v["alpha"] + 1) / v["alpha"]) - sp.log(v["alpha"] + P)
            + SumOther(sp.log(v["alpha"] + Q)) / (K - 1)
        ),
        params=(ALPHA_RLL,), in_paper=True,
    ),
    LossSpec(
        "zero-one", "0-1 loss", "L(g, k) = 1[argmax_i g_i != k] (ties to the lowest index)",
        "Patel & Sastry 2021, Sec. 3",
        lambda v: LossForm(zero_one=sp.Integer(1)), differentiable=False, in_paper=True,
    ),
    LossSpec(
        "nmse", "normalized mean squared error", "L(g, k) = MSE(g, k) / sum_s MSE(g, s)",
        "Patel & Sastry 2021, Sec. 3 (normalization, Fig. 5)",
        lambda v: LossForm(normalized=((sp.Integer(1), _mse()),)), in_paper=True,
    ),
    LossSpec(
        "gce", "generalized cross entropy", "L(g, k) = (1 - g_k^q)/q",
        "Zhang & Sabuncu 2018 (NeurIPS)",
        lambda v: LossForm(separable=(1 - P ** v["q"]) / v["q"]),
        params=(Param("q", "7/10", upper="1", upper_open=False, meaning="q -> 0 gives CCE, q = 1 gives MAE/2"),),
    ),
    LossSpec(
        "sce", "symmetric cross entropy", "L(g, k) = alpha CE(g, k) + beta RCE(g, k), RCE = A(1 - g_k)",
        "Wang et al. 2019 (ICCV)",
        lambda v: LossForm(separable=v["alpha"] * _cce(P) + v["beta"] * _rce(v["A"])),
        params=(Param("alpha", "1/10", meaning="weight of CE"), Param("beta", "1", meaning="weight of RCE"), CLIP_A),
    ),
    LossSpec(
        "rce", "reverse cross entropy", "L(g, k) = -sum_i g_i log e^k_i with log 0 := -A, i.e. A(1 - g_k)",
        "Wang et al. 2019 (ICCV)",
        lambda v: LossForm(separable=_rce(v["A"])), params=(CLIP_A,),
    ),
    LossSpec(
        "nce", "normalized cross entropy", "L(g, k) = log g_k / sum_s log g_s",
        "Ma et al. 2020 (ICML), normalized losses",
        lambda v: LossForm(normalized=((sp.Integer(1), _cce(P)),)),
    ),
    LossSpec(
        "nfl", "normalized focal loss",
        "L(g, k) = FL(g, k) / sum_s FL(g, s), FL(g, k) = -(1 - g_k)^gamma log g_k",
        "Ma et al. 2020 (ICML); focal loss: Lin et al. 2017 (ICCV)",
        lambda v: LossForm(normalized=((sp.Integer(1), -(1 - P) ** v["gamma"] * sp.log(P)),)),
        params=(Param("gamma", "1/2", lower_open=False, meaning="focusing parameter"),),
    ),
    LossSpec(
        "nce+rce", "active-passive loss NCE+RCE", "L = alpha NCE + beta RCE",
        "Ma et al. 2020 (ICML), APL",
        lambda v: LossForm(separable=v["beta"] * _rce(v["A"]), normalized=((v["alpha"], _cce(P)),)),
        params=(WEIGHT_ALPHA, WEIGHT_BETA, CLIP_A),
    ),
    LossSpec(
        "nce+mae", "active-passive loss NCE+MAE", "L = alpha NCE + beta MAE",
        "Ma et al. 2020 (ICML), APL",
        lambda v: LossForm(separable=v["beta"] * _mae(), normalized=((v["alpha"], _cce(P)),)),
        params=(WEIGHT_ALPHA, WEIGHT_BETA),
    ),
    LossSpec(
        "taylor-ce", "Taylor cross entropy", "L(g, k) = sum_{i=1..order} (1 - g_k)^i / i",
        "Feng et al. 2020 (IJCAI)",
        lambda v: LossForm(separable=sp.Add(*[(1 - P) ** i / i for i in range(1, int(v["order"]) + 1)])),
        params=(Param("order", "2", lower="1", lower_open=False, upper="1000", upper_open=False, integer=True,
                      symbolic=False, meaning="number of Taylor terms; order 1 is MAE/2"),),
    ),
)

LOSSES: dict[str, LossSpec] = {spec.name: spec for spec in _ENTRIES}
_ALIASES = {alias: spec.name for spec in _ENTRIES for alias in spec.aliases}


def get_loss(name: str) -> LossSpec:
    """The registry entry for ``name`` (case-insensitive, aliases allowed); BadInput listing the known ones."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in LOSSES:
        raise BadInput(f"unknown loss {name!r}; known losses: {', '.join(LOSSES)}")
    return LOSSES[key]


def loss_names(differentiable_only: bool = False) -> list[str]:
    """Names of the registry's losses, in registry order."""
    return [n for n, s in LOSSES.items() if s.differentiable or not differentiable_only]
