"""Exact numbers from user text: a decimal or a fraction becomes a rational, within a size limit.

``0.1`` is 1/10 exactly (never the binary float 0.1000000000000000055...), and ``1/3`` is 1/3. Sizes are
capped at :data:`MAX_DIGITS` digits so that a typo such as ``1e999999999`` is refused at once instead of
building a billion-digit integer.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction

from symtheory.errors import BadInput

MAX_DIGITS = 100


def exact_number(text: str | int | float | Fraction, what: str) -> Fraction:
    """The rational that ``text`` writes: ``"0.1"`` -> 1/10, ``"1/3"``, ``"2.5e-3"`` -> 1/400.

    ``what`` names the value in errors. BadInput when it is not a finite number, divides by zero, or its
    numerator or denominator would need more than MAX_DIGITS digits.
    """
    if isinstance(text, Fraction):
        return _capped(text, text, what)
    written = str(text).strip()
    parts = written.split("/")
    if len(parts) > 2:
        raise BadInput(f"{what}: {written!r} is not a number")
    numerator, *rest = (_decimal(part, written, what) for part in parts)
    if rest and rest[0] == 0:
        raise BadInput(f"{what}: {written!r} divides by zero")
    return _capped(numerator / rest[0] if rest else numerator, written, what)


def check_integer_size(value: int, what: str) -> int:
    """``value`` itself when it has at most MAX_DIGITS digits; BadInput otherwise."""
    if abs(value) >= 10**MAX_DIGITS:
        raise BadInput(f"{what}: a number with more than {MAX_DIGITS} digits")
    return value


def _decimal(part: str, written: str, what: str) -> Fraction:
    try:
        value = Decimal(part.strip())
    except InvalidOperation:
        raise BadInput(f"{what}: {written!r} is not a number") from None
    if not value.is_finite():
        raise BadInput(f"{what}: {written!r} is not a number")
    sign, digits, exponent = value.as_tuple()
    if len(digits) + max(exponent, 0) > MAX_DIGITS or -exponent > MAX_DIGITS:
        raise BadInput(f"{what}: {written!r} has more than {MAX_DIGITS} digits")
    return Fraction(value)


def _capped(value: Fraction, written, what: str) -> Fraction:
    if abs(value.numerator) >= 10**MAX_DIGITS or value.denominator >= 10**MAX_DIGITS:
        raise BadInput(f"{what}: {str(written)!r} has more than {MAX_DIGITS} digits")
    return value
