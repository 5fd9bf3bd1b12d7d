"""Finite families of classifiers h: x -> g(x) in the open simplex, on a finite distribution's support.

Four kinds, so that the ranked classifiers differ in accuracy and in confidence:

* ``random``: g = softmax(s u), u iid uniform with unit variance per (x, k), s log-uniform (s -> 0 is
  uniform output, large s is confident and arbitrary);
* ``linear``: g = softmax(c x (W* + sigma E)), a perturbed teacher (small sigma: close to the truth);
* ``posterior``: g proportional to ((1 - lam) p(.|x) + lam/K)^(1/t): the true posterior smoothed and
  tempered (near-optimal ones, over- and under-confident ones; lam = eta K/(K-1), t = 1 is the
  symmetric-noise posterior);
* ``flip-posterior``: g proportional to ((1 - lam) p(.|x) + lam p(.-1|x))^(1/t): the posterior moved
  toward the next class (lam = eta, t = 1 is the pair-flip noisy posterior; lam -> 1 predicts the
  flipped labels, i.e. a classifier that memorized pair-flipped labels).

Every output is floored at FLOOR: g <- (g + FLOOR)/(1 + K FLOOR), so log-losses stay finite.
Outputs are generated block by block (never all at once); a block's outputs depend only on the family's
parameters, its entropy and the block index, so results do not depend on the order or the thread count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symtheory.distributions import FiniteDistribution
from symtheory.errors import BadInput

KINDS = ("random", "linear", "posterior", "flip-posterior")
SHARES = (0.3, 0.3, 0.25, 0.15)
FLOOR = 1e-12
BLOCK = 32
SCALE_RANGE = (0.05, 20.0)
TEMPERATURE_RANGE = (0.05, 20.0)
TEACHER_NOISE_RANGE = (0.05, 3.0)


def _rows_view(out: np.ndarray, rows: np.ndarray) -> np.ndarray | None:
    """out[rows] as a view when the rows are consecutive (they are: kinds are laid out in runs), else None."""
    if rows[-1] - rows[0] + 1 == rows.size:
        return out[rows[0]:rows[-1] + 1]
    return None


def _log_uniform(rng: np.random.Generator, low: float, high: float, size: int) -> np.ndarray:
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


def kind_counts(size: int, shares=SHARES) -> list[int]:
    """How many classifiers of each kind: size * share, rounded down, the remainder to the first kinds."""
    counts = [int(size * s) for s in shares]
    for i in range(size - sum(counts)):
        counts[i % len(counts)] += 1
    return counts


@dataclass(frozen=True)
class ClassifierFamily:
    """H classifiers on a distribution's support, described by per-classifier parameters."""

    distribution: FiniteDistribution
    kinds: np.ndarray
    scale: np.ndarray
    mix: np.ndarray
    perturbation: np.ndarray
    entropy: int
    block_size: int = BLOCK

    def __len__(self) -> int:
        return len(self.kinds)

    def blocks(self) -> list[tuple[int, int]]:
        """Index ranges [start, stop) of at most ``block_size`` classifiers."""
        return [(s, min(s + self.block_size, len(self))) for s in range(0, len(self), self.block_size)]

    def logits(self, block: int) -> np.ndarray:
        """Logits z with g = softmax(z) for one block of classifiers, float32, shape (B, n, K)."""
        start, stop = self.blocks()[block]
        dist = self.distribution
        n, k = dist.support, dist.classes
        out = np.empty((stop - start, n, k), dtype=np.float32)
        kinds = self.kinds[start:stop]
        for j, name in enumerate(KINDS):
            rows = np.flatnonzero(kinds == j)
            if rows.size == 0:
                continue
            part = _rows_view(out, rows)
            idx = start + rows
            scale = self.scale[idx, None, None]
            if name == "random":
                rng = np.random.default_rng([self.entropy, block])
                if part is None:
                    u = rng.random((rows.size, n, k), dtype=np.float32)
                else:
                    u = rng.random((rows.size, n, k), dtype=np.float32, out=part)
                u -= np.float32(0.5)
                u *= (scale * np.sqrt(12.0)).astype(np.float32)
            elif name == "linear":
                weights = (scale * (dist.teacher + self.perturbation[idx])).astype(np.float32)
                u = np.matmul(dist.features.astype(np.float32)[None], weights, out=part)
            else:
                other = 1.0 / k if name == "posterior" else np.roll(dist.posterior, 1, axis=1)
                lam = self.mix[idx, None, None].astype(np.float32)
                u = np.multiply(1 - lam, dist.posterior.astype(np.float32), out=part)
                u += lam * np.float32(other)
                np.maximum(u, np.float32(1e-30), out=u)
                np.log(u, out=u)
                u *= (1.0 / scale).astype(np.float32)
            if part is None:
                out[rows] = u
        return out

    def outputs(self, block: int) -> np.ndarray:
        """g[k, b, x]: the floored softmax of one block's logits, class-major, float64, shape (K, B, n).

        Class-major so that every operation over the K classes (max, sum, normalization) runs along long
        contiguous rows; g[:, b, x] sums to 1.
        """
        z = np.ascontiguousarray(self.logits(block).transpose(2, 0, 1))
        k = z.shape[0]
        z -= np.maximum.reduce(z, axis=0)
        np.exp(z, out=z)
        g = z.astype(np.float64)
        total = g.sum(axis=0)
        total *= 1.0 + k * FLOOR
        np.divide(1.0, total, out=total)
        g *= total
        g += FLOOR / (1.0 + k * FLOOR)
        return g

    def describe(self, i: int) -> str:
        """A short name with the classifier's parameters, e.g. ``posterior#150 (smoothing 0.2, temp. 0.8)``."""
        kind = KINDS[self.kinds[i]]
        if kind == "random":
            detail = f"logit scale {self.scale[i]:.3g}"
        elif kind == "linear":
            detail = f"teacher noise {self.mix[i]:.3g}, logit scale {self.scale[i]:.3g}"
        elif kind == "posterior":
            detail = f"smoothing {self.mix[i]:.3g}, temperature {self.scale[i]:.3g}"
        else:
            detail = f"flip {self.mix[i]:.3g}, temperature {self.scale[i]:.3g}"
        return f"{kind}#{i} ({detail})"

    def to_dict(self) -> dict:
        """JSON-ready description: size and how many of each kind."""
        return {"classifiers": len(self), "kinds": {name: int((self.kinds == j).sum()) for j, name in enumerate(KINDS)},
                "floor": FLOOR}


def make_family(distribution: FiniteDistribution, size: int, rng: np.random.Generator) -> ClassifierFamily:
    """Draw the parameters of ``size`` classifiers of the four kinds (shares SHARES) from ``rng``."""
    if size < 2:
        raise BadInput(f"ranking needs at least 2 classifiers, got {size}")
    counts = kind_counts(size)
    kinds = np.repeat(np.arange(len(KINDS)), counts)
    scale = np.empty(size)
    mix = np.zeros(size)
    dims, k = distribution.teacher.shape
    perturbation = np.zeros((size, dims, k))
    for j, name in enumerate(KINDS):
        idx = np.flatnonzero(kinds == j)
        if name == "random":
            scale[idx] = _log_uniform(rng, *SCALE_RANGE, idx.size)
        elif name == "linear":
            mix[idx] = _log_uniform(rng, *TEACHER_NOISE_RANGE, idx.size)
            scale[idx] = distribution.sharpness * _log_uniform(rng, 0.1, 10.0, idx.size)
            perturbation[idx] = mix[idx, None, None] * rng.standard_normal((idx.size, dims, k))
        else:
            mix[idx] = rng.uniform(0.0, 1.0, idx.size)
            scale[idx] = _log_uniform(rng, *TEMPERATURE_RANGE, idx.size)
    entropy = int(rng.integers(2**62))
    return ClassifierFamily(distribution, kinds, scale, mix, perturbation, entropy)
