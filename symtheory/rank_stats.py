"""Comparing two rankings of the same classifiers in O(n log n): ties, Kendall's tau-b, swapped pairs.

Ties are decided with a stated tolerance: values are sorted and consecutive values at most
``rtol * max|value|`` apart share a tie group (single linkage). The default rtol = 1e-12 is float64
resolution with a margin: each risk here sums n K ~ 1e4 non-negative terms, and at eta = (K-1)/K, where
every noisy risk is C/K exactly, the computed ones spread by at most ~3e-15 of their size. A smaller
real difference cannot be resolved; near eta = (K-1)/K the noisy differences are the clean ones times
b = 1 - eta K/(K-1), so a few pairs may be distinct in one ranking and tied in the other ('unresolved').
A pair is *swapped* (discordant) when the two rankings order it strictly and oppositely;
tau-b = (concordant - discordant) / sqrt((n0 - n1)(n0 - n2)) with n0 = n(n-1)/2 and n1, n2 the pairs
tied in each ranking (Kendall 1945); it is undefined when one ranking is all tied. No n x n matrix is
ever built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

RTOL = 1e-12


def tie_tolerance(values: np.ndarray, rtol: float = RTOL) -> float:
    """rtol * max|value|: two values closer than this count as tied."""
    scale = float(np.max(np.abs(values))) if len(values) else 0.0
    return rtol * scale


def tie_ranks(values: np.ndarray, rtol: float = RTOL) -> np.ndarray:
    """Dense integer ranks 0, 1, ...: sorted neighbours within the tolerance share a rank."""
    values = np.asarray(values, dtype=float)
    order = np.argsort(values, kind="stable")
    steps = np.diff(values[order]) > tie_tolerance(values, rtol)
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[order] = np.concatenate([[0], np.cumsum(steps)])
    return ranks


def tied_pairs(ranks: np.ndarray) -> int:
    """sum over tie groups of t(t-1)/2, i.e. the number of tied pairs."""
    counts = np.unique(ranks, return_counts=True)[1].astype(object)
    return int(sum(c * (c - 1) // 2 for c in counts))


def count_inversions(sequence: np.ndarray) -> int:
    """#{i < j : s_i > s_j} for non-negative integers, by a bottom-up merge sort (O(n log^2 n), vectorized).

    At each level, sorted blocks are paired; for each element of a right block, the number of larger
    elements of its left block is found with one searchsorted over keys (pair index, value).
    """
    s = np.asarray(sequence, dtype=np.int64)
    n = len(s)
    if n < 2:
        return 0
    span = int(s.max()) + 1
    index = np.arange(n)
    total = 0
    width = 1
    while width < n:
        block = index // width
        pair = block // 2
        right = (block % 2) == 1
        keys = pair * span + s
        left_keys = keys[~right]
        right_keys = keys[right]
        right_pair = pair[right]
        at_most = np.searchsorted(left_keys, right_keys, side="right")
        left_end = np.searchsorted(left_keys, (right_pair + 1) * span, side="left")
        total += int((left_end - at_most).sum())
        s = np.sort(keys) - pair * span
        width *= 2
    return total


@dataclass
class Agreement:
    """How two rankings of the same n classifiers agree: pair counts and Kendall's tau-b."""

    classifiers: int
    pairs: int
    concordant: int
    discordant: int
    tied_first: int
    tied_second: int
    tied_both: int
    groups_second: int

    @property
    def unresolved(self) -> int:
        """Pairs tied in one ranking but not in the other."""
        return self.tied_first + self.tied_second - 2 * self.tied_both

    @property
    def tau(self) -> float | None:
        """Kendall's tau-b; None when either ranking is entirely tied."""
        d1, d2 = self.pairs - self.tied_first, self.pairs - self.tied_second
        if d1 == 0 or d2 == 0:
            return None
        numerator = self.concordant - self.discordant
        if d1 == d2 and abs(numerator) == d1:
            return float(np.sign(numerator))
        return numerator / math.sqrt(d1 * d2)

    def to_dict(self) -> dict:
        """JSON-ready counts and tau."""
        return {"tau": self.tau, "classifiers": self.classifiers, "pairs": self.pairs,
                "concordant": self.concordant, "discordant": self.discordant, "tied_clean": self.tied_first,
                "tied_noisy": self.tied_second, "tied_both": self.tied_both, "unresolved": self.unresolved,
                "distinct_noisy_values": self.groups_second}


def agreement(first: np.ndarray, second: np.ndarray, rtol: float = RTOL) -> Agreement:
    """Pair counts between the rankings by ``first`` and by ``second`` (ties within rtol), O(n log n)."""
    a, b = tie_ranks(first, rtol), tie_ranks(second, rtol)
    n = len(a)
    order = np.lexsort((b, a))
    discordant = count_inversions(b[order])
    pairs = n * (n - 1) // 2
    t1, t2 = tied_pairs(a), tied_pairs(b)
    t12 = tied_pairs(a * (int(b.max()) + 1) + b)
    concordant = pairs - t1 - t2 + t12 - discordant
    return Agreement(n, pairs, concordant, discordant, t1, t2, t12, int(b.max()) + 1)


def swap_detector(first: np.ndarray, rtol: float = RTOL) -> Callable[[np.ndarray], bool]:
    """A test 'is some pair swapped between the ranking by ``first`` and by ``second``?' for many ``second``.

    The first ranking is sorted once; each call ranks ``second`` (ties within rtol, as in :func:`agreement`)
    and asks whether some element's second rank is below the largest second rank of a strictly
    earlier first-tie group: O(n log n) per call, with no pair counting.
    """
    a = tie_ranks(first, rtol)
    order = np.argsort(a, kind="stable")
    starts = np.flatnonzero(np.diff(a[order], prepend=-1))
    group_of = np.cumsum(np.diff(a[order], prepend=-1) > 0) - 1

    def swapped(second: np.ndarray) -> bool:
        b = tie_ranks(second, rtol)[order]
        before = np.maximum.accumulate(np.maximum.reduceat(b, starts))
        earlier = np.concatenate([[-1], before[:-1]])[group_of]
        return bool(np.any(b < earlier))

    return swapped


@dataclass
class SwappedPair:
    """Two classifiers that the rankings order oppositely: ``better`` has the lower first value."""

    better: int
    worse: int
    first_better: float
    first_worse: float
    second_better: float
    second_worse: float

    @property
    def gap(self) -> float:
        """first_worse - first_better > 0: what trusting the second ranking costs on the first."""
        return self.first_worse - self.first_better

    def to_dict(self, names: list[str] | None = None) -> dict:
        """JSON-ready, with the classifiers' names when given."""
        out = {"better": self.better, "worse": self.worse, "clean_better": self.first_better,
               "clean_worse": self.first_worse, "noisy_better": self.second_better,
               "noisy_worse": self.second_worse, "clean_gap": self.gap}
        if names is not None:
            out["better_name"], out["worse_name"] = names[0], names[1]
        return out


def worst_swap(first: np.ndarray, second: np.ndarray, rtol: float = RTOL) -> SwappedPair | None:
    """The swapped pair with the largest first-value gap, or None if no pair is swapped.

    Among pairs (i, j) with first_i < first_j and second_i > second_j (both beyond the tie tolerance),
    maximize first_j - first_i. Sweep in first order: for each j the best partner is the earliest i
    (lowest first value) whose second rank exceeds j's, found by a binary search in the running maximum
    of second ranks; O(n log n).
    """
    first = np.asarray(first, dtype=float)
    second = np.asarray(second, dtype=float)
    a, b = tie_ranks(first, rtol), tie_ranks(second, rtol)
    order = np.lexsort((b, a))
    a_sorted, b_sorted = a[order], b[order]
    running_max = np.maximum.accumulate(b_sorted)
    partner = np.searchsorted(running_max, b_sorted, side="right")
    valid = partner < np.arange(len(order))
    partner = np.minimum(partner, len(order) - 1)
    valid &= a_sorted[partner] < a_sorted
    if not valid.any():
        return None
    gaps = np.where(valid, first[order] - first[order[partner]], -np.inf)
    j = int(np.argmax(gaps))
    i, k = int(order[partner[j]]), int(order[j])
    return SwappedPair(i, k, float(first[i]), float(first[k]), float(second[i]), float(second[k]))


@dataclass
class AffineFit:
    """Least-squares line second = intercept + slope * first, with its residuals (slope None: undefined)."""

    intercept: float
    slope: float | None
    max_residual: float
    relative_residual: float

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"intercept": self.intercept, "slope": self.slope, "max_residual": self.max_residual,
                "relative_residual": self.relative_residual}


def affine_fit(first: np.ndarray, second: np.ndarray, rtol: float = RTOL) -> AffineFit:
    """Fit second = a + b first by least squares (centred); residual max|second - a - b first|.

    The relative residual divides by max|second|: about 1e-16 when second is exactly affine in first. Both are
    scaled to max 1 before the products, so risks of 1e-300 (whose squares underflow) fit as well as risks of 1.
    When the first values are all tied (within rtol * max|first|, as in :func:`tie_ranks`) no line through
    them has a defined slope: b is None, a is the mean of second and the residual its largest deviation.
    """
    x = np.asarray(first, dtype=float)
    y = np.asarray(second, dtype=float)
    xc, yc = x - x.mean(), y - y.mean()
    if not tie_ranks(x, rtol).any():
        slope, fitted = None, 0.0
    else:
        x_scale, y_scale = float(np.max(np.abs(xc))), float(np.max(np.abs(yc))) or 1.0
        u, w = xc / x_scale, yc / y_scale
        slope = float(u @ w) / float(u @ u) * (y_scale / x_scale)
        fitted = slope * xc
    intercept = float(y.mean() - (slope or 0.0) * x.mean())
    residual = float(np.max(np.abs(yc - fitted)))
    scale = float(np.max(np.abs(y)))
    return AffineFit(intercept, slope, residual, residual / scale if scale > 0 else 0.0)
