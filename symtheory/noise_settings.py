"""Which noise a ranking run compares against: symmetric noise at given rates, or class-conditional T.

For symmetric noise the affine relation R_eta = C eta/(K-1) + (1 - eta K/(K-1)) R (Patel & Sastry
2021, Theorem 1 and its proof) splits the rates into three regimes around (K-1)/K; any other T is
'class-conditional', where Ghosh, Kumar & Sastry 2017 (AAAI), Theorem 3 gives a sufficient condition.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

import numpy as np

from symtheory import noise_matrices as nm
from symtheory.errors import BadInput
from symtheory.exact_numbers import exact_number

REGIME_TEXT = {
    "below": "eta < (K-1)/K: Theorem 1 applies; symmetric losses keep the ranking (tau = 1)",
    "at": "eta = (K-1)/K: the theorem's condition fails; slope 0, every classifier has noisy risk C/K (all tied)",
    "above": "eta > (K-1)/K: the theorem's condition fails; slope < 0, symmetric losses reverse the ranking (tau = -1)",
    "class-conditional": "class-conditional noise: Theorem 1 does not apply; Ghosh et al. 2017 (Thm. 3) "
                         "keeps the risk minimizer if T[i,i] > T[i,j] (deterministic labels, R(f*) = 0)",
}
AT_TOLERANCE = 1e-12
NEAR_SYMMETRIC = 1e-6
"""A matrix file within this of symmetric noise (entries rounded, 0.3333333333) is named as nearly symmetric."""


@dataclass(frozen=True)
class NoiseSetting:
    """One noise matrix with its label, kind, (for symmetric noise) its exact rate, and the rate the command
    named (``named_rate``: for every named kind, pair-flip and asymmetric too; None for a matrix file)."""

    label: str
    kind: str
    matrix: np.ndarray
    rate: Fraction | None
    named_rate: Fraction | None = None

    @property
    def eta(self) -> float | None:
        """The symmetric rate as a float, or None for class-conditional noise."""
        return None if self.rate is None else float(self.rate)

    @property
    def shown_eta(self) -> float | None:
        """The rate a reader knows the setting by: the named rate of a named kind, else the symmetric rate a
        matrix file was recognised to have, else None."""
        rate = self.named_rate if self.named_rate is not None else self.rate
        return None if rate is None else float(rate)

    def regime(self) -> str:
        """below / at / above (K-1)/K for symmetric noise (compared exactly), else class-conditional."""
        if self.rate is None:
            return "class-conditional"
        diff = self.rate - nm.threshold(self.matrix.shape[0])
        if abs(diff) <= AT_TOLERANCE:
            return "at"
        return "below" if diff < 0 else "above"

    def to_dict(self) -> dict:
        """JSON-ready: label, kind, eta (:attr:`shown_eta`), regime, the matrix, and the Ghosh et al. condition."""
        return {"label": self.label, "kind": self.kind, "eta": self.shown_eta, "regime": self.regime(),
                "regime_text": REGIME_TEXT[self.regime()], "matrix": self.matrix.tolist(),
                "ghosh_condition": nm.ghosh_condition(self.matrix).to_dict()}


def parse_rate(text: str | float | Fraction) -> Fraction:
    """An exact rate from text ('0.6', '9/10'); BadInput unless it is a number in [0, 1]."""
    rate = exact_number(text, "eta")
    if not 0 <= rate <= 1:
        raise BadInput(f"the noise rate eta must lie in [0, 1], got {text}")
    return rate


def settings_for(rates: Sequence[Fraction | float | str], classes: int, kind: str = "symmetric") -> list[NoiseSetting]:
    """One setting per rate for a named kind (symmetric, pair-flip, asymmetric)."""
    nm.check_classes(classes)
    out = []
    for raw in rates:
        rate = parse_rate(raw)
        matrix = nm.named(kind, float(rate), classes)
        exact = rate if kind == "symmetric" else _detected_rate(matrix)
        out.append(NoiseSetting(f"{kind} eta={rate_text(rate)}", kind, matrix, exact, rate))
    return out


def rate_text(rate: Fraction) -> str:
    """A rate written exactly: as a decimal when it has one (3/5 -> 0.6, 6666667/10**7 -> 0.6666667; with
    more than 6 zeros after the point in scientific notation, 10**-400 -> 1e-400), else as a fraction (2/3),
    so two different rates never read alike."""
    denominator, twos, fives = rate.denominator, 0, 0
    while denominator % 2 == 0:
        denominator, twos = denominator // 2, twos + 1
    while denominator % 5 == 0:
        denominator, fives = denominator // 5, fives + 1
    if denominator != 1:
        return f"{rate.numerator}/{rate.denominator}"
    places = max(twos, fives)
    digits = str(rate.numerator * 10**places // rate.denominator).rjust(places + 1, "0")
    whole, fraction = digits[:len(digits) - places], digits[len(digits) - places:].rstrip("0")
    zeros = len(fraction) - len(fraction.lstrip("0"))
    if whole == "0" and zeros > 6:
        significant = fraction[zeros:]
        return significant[0] + ("." + significant[1:] if len(significant) > 1 else "") + f"e-{zeros + 1}"
    return whole + ("." + fraction if fraction else "")


def setting_from_matrix(matrix: np.ndarray, classes: int, label: str) -> NoiseSetting:
    """A setting for a user's matrix (validated); symmetric noise is recognised and gets its rate."""
    t = nm.validate(matrix, classes)
    rate = _detected_rate(t)
    shown = label if rate is None else f"{label} (symmetric, eta={rate_text(rate)})"
    near = nm.symmetric_rate(t, atol=NEAR_SYMMETRIC) if rate is None else None
    if near is not None:
        near_rate = Fraction(near).limit_denominator(1000)
        deviation = float(np.max(np.abs(t - nm.symmetric(float(near_rate), classes))))
        shown = (f"{label} (class-conditional: it differs by {deviation:.0e} from symmetric noise at eta="
                 f"{rate_text(near_rate)}; write its entries exactly, e.g. 1/3, for symmetric noise)")
    return NoiseSetting(shown, "matrix", t, rate)


def _detected_rate(matrix: np.ndarray) -> Fraction | None:
    eta = nm.symmetric_rate(matrix)
    if eta is None:
        return None
    return Fraction(eta).limit_denominator(10**9)
