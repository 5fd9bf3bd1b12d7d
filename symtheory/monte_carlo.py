"""Monte Carlo risks from sampled (x, y, y~), with standard errors: the finite-sample side of Theorem 1.

m pairs (x_i, y_i) are drawn iid from D and each clean label is corrupted through T (y~_i ~ T[y_i, .])
with one shared uniform per example, so the noisy samples of different T are coupled. The sampled risk
R_m(h) = (1/m) sum_i L(h(x_i), y~_i) = sum_{x,y} (N[x,y]/m) L(h(x), y) with counts N, and its standard
error is sqrt((mean of L^2 - R_m^2) / (m - 1)).
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


def sampled_risk(first: np.ndarray, second: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(R_m, standard error) from the sample means of L and L^2 over m examples."""
    variance = np.maximum(second - first**2, 0.0) * size / max(size - 1, 1)
    return first, np.sqrt(variance / size)


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


def monte_carlo_check(size: int, exact_clean: np.ndarray, exact_noisy: np.ndarray,
                      clean_moments: tuple[np.ndarray, np.ndarray], noisy_moments: tuple[np.ndarray, np.ndarray],
                      rtol: float = RTOL) -> MonteCarloCheck:
    """Compare sampled risks (from first and second moments) with the exact ones, and their rankings."""
    clean, clean_se = sampled_risk(*clean_moments, size)
    noisy, noisy_se = sampled_risk(*noisy_moments, size)
    zc, zn = _z(clean, clean_se, exact_clean), _z(noisy, noisy_se, exact_noisy)
    within = float(np.mean((np.abs(zc) <= Z_LIMIT) & (np.abs(zn) <= Z_LIMIT)))
    return MonteCarloCheck(size, float(np.max(np.abs(zc))), float(np.max(np.abs(zn))), within,
                           agreement(clean, noisy, rtol), agreement(exact_clean, noisy, rtol))
