"""Exact numbers from user text: a decimal or a fraction becomes a rational, within a size limit.

``0.1`` is 1/10 exactly (never the binary float 0.1000000000000000055...), and ``1/3`` is 1/3. Only plain
ASCII decimals are read (``-2.5e-3``; a fraction's denominator unsigned), and sizes are capped at
:data:`MAX_DIGITS` digits, so that a typo such as ``1e999999999`` is refused at once instead of building a
billion-digit integer.
"""

from __future__ import annotations

import re
from fractions import Fraction

from symtheory.errors import BadInput

MAX_DIGITS = 1000
_DECIMAL = re.compile(r"(?P<sign>[+-]?)(?P<int>[0-9]*)(?:\.(?P<frac>[0-9]*))?(?:[eE](?P<exp>[+-]?[0-9]+))?",
                      re.ASCII)
_SHOWN = 40


def exact_number(text: str | int | float | Fraction, what: str) -> Fraction:
    """The rational that ``text`` writes: ``"0.1"`` -> 1/10, ``"1/3"``, ``"-2.5e-3"`` -> -1/400.

    ``what`` names the value in errors. BadInput when it is not a finite number written so, divides by zero,
    or its numerator or denominator would need more than MAX_DIGITS digits.
    """
    if isinstance(text, Fraction):
        return _capped(text, str(text), what)
    written = str(text).strip()
    numerator, slash, denominator = written.partition("/")
    value = _decimal(numerator, written, what)
    if slash:
        if denominator.strip()[:1] in ("+", "-"):
            raise BadInput(f"{what}: {shown(written)} is not a number")
        divisor = _decimal(denominator, written, what)
        if divisor == 0:
            raise BadInput(f"{what}: {shown(written)} divides by zero")
        value = value / divisor
    return _capped(value, written, what)


def check_integer_size(value: int, what: str) -> int:
    """``value`` itself when it has at most MAX_DIGITS digits; BadInput otherwise."""
    if abs(value) >= 10**MAX_DIGITS:
        raise BadInput(f"{what}: a number with more than {MAX_DIGITS} digits")
    return value


def shown(text: str) -> str:
    """``text`` quoted for an error line, cut to a readable length."""
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "...")


def _decimal(part: str, written: str, what: str) -> Fraction:
    match = _DECIMAL.fullmatch(part.strip())
    if match is None or not (match["int"] or match["frac"]):
        raise BadInput(f"{what}: {shown(written)} is not a number")
    frac = match["frac"] or ""
    digits = (match["int"] + frac).lstrip("0")
    if not digits:
        return Fraction(0)
    exponent_text = (match["exp"] or "0").lstrip("+-").lstrip("0") or "0"
    if len(exponent_text) > 12:
        raise BadInput(f"{what}: {shown(written)} has more than {MAX_DIGITS} digits")
    significant = digits.rstrip("0")
    exponent = int(exponent_text) * (-1 if (match["exp"] or "").startswith("-") else 1)
    exponent += len(digits) - len(significant) - len(frac)
    digits = significant
    if len(digits) + max(exponent, 0) > MAX_DIGITS or -exponent > MAX_DIGITS:
        raise BadInput(f"{what}: {shown(written)} has more than {MAX_DIGITS} digits")
    value = Fraction(int(digits)) * Fraction(10) ** exponent
    return -value if match["sign"] == "-" else value


def _capped(value: Fraction, written: str, what: str) -> Fraction:
    if abs(value.numerator) >= 10**MAX_DIGITS or value.denominator >= 10**MAX_DIGITS:
        raise BadInput(f"{what}: {shown(written)} has more than {MAX_DIGITS} digits")
    return value
