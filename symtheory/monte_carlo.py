"""Monte Carlo risks from sampled (x, y, y~), with standard errors: the finite-sample side of Theorem 1.

m pairs (x_i, y_i) are drawn iid from D and each clean label is corrupted through T (y~_i ~ T[y_i, .])
with one shared uniform per example, so the noisy samples of different T are coupled. The sampled risk
R_m(h) = (1/m) sum_i L(h(x_i), y~_i) = sum_{x,y} (N[x,y]/m) L(h(x), y) with counts N, and its standard
error is sqrt(Var(L)/m) with the exact variance Var(L) = E[L^2] - R^2 under D (not the sample's own
variance, which is 0 whenever every sampled loss is equal: an ordinary event for a 0-1 risk near 0 or 1,
and one that made z = (R_m - R)/se explode).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from symtheory.distributions import FiniteDistribution, noisy_labels
from symtheory.rank_stats import RTOL, Agreement, agreement

Z_LIMIT = 3.0


def label_frequencies(x: np.ndarray, labels: np.ndarray, support: int, classes: int) -> np.ndarray:
    """N[x, y]/m: the empirical joint distribution of sampled pairs, shape (n, K)."""
    counts = np.zeros((support, classes))
    np.add.at(counts, (x, labels), 1.0)
    return counts / len(x)


@dataclass
class LabelSample:
    """m sampled support indices, their clean labels, and one noisy label vector per noise matrix."""

    x: np.ndarray
    clean: np.ndarray
    noisy: list[np.ndarray]

    def frequencies(self, support: int, classes: int) -> np.ndarray:
        """(n, K, 1 + S): the clean empirical joint, then one per noise matrix."""
        cols = [label_frequencies(self.x, self.clean, support, classes)]
        cols += [label_frequencies(self.x, y, support, classes) for y in self.noisy]
        return np.stack(cols, axis=-1)


def draw_labels(distribution: FiniteDistribution, matrices: Sequence[np.ndarray], size: int,
                rng: np.random.Generator) -> LabelSample:
    """Draw m pairs (x, y) from D and corrupt y through each T with shared uniforms."""
    x, y = distribution.sample(size, rng)
    u = rng.random(size)
    return LabelSample(x, y, [noisy_labels(y, t, u) for t in matrices])


def standard_error(exact_first: np.ndarray, exact_second: np.ndarray, size: int) -> np.ndarray:
    """sqrt((E[L^2] - R^2)/m): the standard error of an m-sample mean of L, from its exact moments under D."""
    return np.sqrt(np.maximum(exact_second - exact_first**2, 0.0) / size)


@dataclass
class MonteCarloCheck:
    """Sampled versus exact risks for one loss and one noise matrix.

    z = (R_m - R)/se per classifier; ``within`` is the share of classifiers with |z| <= 3 on both the
    clean and the noisy side (expected about 0.99 for independent normal errors); ``sampled`` compares
    the ranking by sampled clean risk with the ranking by sampled noisy risk, the finite-sample version
    of Theorem 1 (below 1 even for symmetric losses, because of sampling error).
    """

    samples: int
    max_z_clean: float
    max_z_noisy: float
    within: float
    sampled: Agreement
    noisy_vs_exact: Agreement

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"samples": self.samples, "max_abs_z_clean": self.max_z_clean, "max_abs_z_noisy": self.max_z_noisy,
                "share_within_3_se": self.within, "tau_sampled_clean_vs_sampled_noisy": self.sampled.tau,
                "swaps_sampled": self.sampled.discordant, "tau_exact_clean_vs_sampled_noisy": self.noisy_vs_exact.tau}


def _z(estimate: np.ndarray, se: np.ndarray, exact: np.ndarray) -> np.ndarray:
    diff = estimate - exact
    scale = np.maximum(se, 1e-12 * np.maximum(np.abs(exact), 1.0))
    return np.where(np.abs(diff) <= 1e-12 * np.maximum(np.abs(exact), 1.0), 0.0, diff / scale)


def monte_carlo_check(size: int, exact_clean: np.ndarray, exact_noisy: np.ndarray, sampled_clean: np.ndarray,
                      sampled_noisy: np.ndarray, exact_second: tuple[np.ndarray, np.ndarray],
                      rtol: float = RTOL) -> MonteCarloCheck:
    """Compare sampled risks R_m with the exact ones R, z = (R_m - R)/sqrt(Var(L)/m) (``exact_second``: E[L^2]
    under the clean and the noisy labels), and the rankings they give."""
    zc = _z(sampled_clean, standard_error(exact_clean, exact_second[0], size), exact_clean)
    zn = _z(sampled_noisy, standard_error(exact_noisy, exact_second[1], size), exact_noisy)
    within = float(np.mean((np.abs(zc) <= Z_LIMIT) & (np.abs(zn) <= Z_LIMIT)))
    return MonteCarloCheck(size, float(np.max(np.abs(zc))), float(np.max(np.abs(zn))), within,
                           agreement(sampled_clean, sampled_noisy, rtol), agreement(exact_clean, sampled_noisy, rtol))
