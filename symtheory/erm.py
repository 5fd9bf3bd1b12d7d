"""Empirical risk minimization over a finite hypothesis class, with clean and with noisy labels.

For each seed a training set of m pairs is drawn from D and its labels are corrupted through T
(:func:`symtheory.monte_carlo.draw_labels`). h_clean minimizes the empirical risk on the clean labels,
h_noisy on the noisy ones (lowest index among ties within the tie tolerance). Theorem 1 (Patel & Sastry
2021) says that for symmetric losses and eta < (K-1)/K the *population* minimizers agree; on a finite
sample they agree only as often as sampling error allows, which is what this measures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symtheory.rank_stats import RTOL, tie_tolerance


def minimizers(risks: np.ndarray, rtol: float = RTOL) -> np.ndarray:
    """Boolean mask of the classifiers whose risk is within the tie tolerance of the minimum."""
    return risks <= risks.min() + tie_tolerance(risks, rtol)


@dataclass
class ErmResult:
    """Over seeds: how often h_noisy is a clean-ERM minimizer, and how good h_noisy and h_clean are.

    ``same``: share of seeds where h_noisy minimizes the clean empirical risk too;
    ``noisy_best`` / ``clean_best``: share where h_noisy / h_clean minimizes the population clean risk;
    ``noisy_excess`` / ``clean_excess``: mean of R(h) - min R over seeds (population clean risk).
    """

    seeds: int
    samples: int
    same: float
    noisy_best: float
    clean_best: float
    noisy_excess: float
    clean_excess: float

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"seeds": self.seeds, "samples": self.samples, "noisy_erm_equals_clean_erm": self.same,
                "noisy_erm_is_population_best": self.noisy_best, "clean_erm_is_population_best": self.clean_best,
                "noisy_erm_excess_clean_risk": self.noisy_excess, "clean_erm_excess_clean_risk": self.clean_excess}


def erm_result(population: np.ndarray, clean: np.ndarray, noisy: np.ndarray, samples: int,
               rtol: float = RTOL) -> ErmResult:
    """Summarize ERM over seeds: ``clean`` and ``noisy`` are empirical risks of shape (H, seeds)."""
    best = minimizers(population, rtol)
    same, noisy_best, clean_best, noisy_excess, clean_excess = [], [], [], [], []
    for s in range(clean.shape[1]):
        h_clean = int(np.argmax(minimizers(clean[:, s], rtol)))
        h_noisy = int(np.argmax(minimizers(noisy[:, s], rtol)))
        same.append(bool(minimizers(clean[:, s], rtol)[h_noisy]))
        noisy_best.append(bool(best[h_noisy]))
        clean_best.append(bool(best[h_clean]))
        noisy_excess.append(population[h_noisy] - population.min())
        clean_excess.append(population[h_clean] - population.min())
    return ErmResult(clean.shape[1], samples, float(np.mean(same)), float(np.mean(noisy_best)),
                     float(np.mean(clean_best)), float(np.mean(noisy_excess)), float(np.mean(clean_excess)))
