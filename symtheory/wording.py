"""Counted nouns in messages: '1 run', '16 runs', '3,200 epochs'."""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    """``n`` with thousands separators and ``word``, plural unless n is 1: '1 epoch', '2 epochs'."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"
