"""Label noise drawn once from a seed: symmetric, pair-flip, or a user transition matrix.

Symmetric noise (Patel & Sastry 2021, Sec. 3): y~ = y with probability 1 - eta, else each of the other K-1
classes with probability eta/(K-1). Pair flip: y~ = (y + 1) mod K with probability eta. A transition matrix
T (row-stochastic, T[i, j] = P(y~ = j | y = i)) gives the general case. Draws come from numpy's PCG64
seeded by (seed, 1), never from global state. For symmetric and pair noise the flip decision is u_n < eta
with the same uniforms u_n at every eta, so for one seed the examples flipped at a smaller eta are a subset
of those flipped at a larger one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from symtheory.empirical.run_dir import atomic_write
from symtheory.errors import BadInput

NOISE_KINDS = ("symmetric", "pair", "matrix")
NOISE_STREAM = 1


@dataclass(frozen=True)
class NoisyLabels:
    """Clean and given (noisy) training labels, and the transition matrix they were drawn from."""

    clean: np.ndarray
    noisy: np.ndarray
    matrix: np.ndarray
    kind: str
    eta: float | None

    @property
    def flipped(self) -> np.ndarray:
        """Mask of the examples whose given label differs from the clean one."""
        return self.noisy != self.clean

    @property
    def flip_rate(self) -> float:
        """The realised share of flipped labels (expected: eta for symmetric and pair noise)."""
        return float(self.flipped.mean()) if self.clean.size else 0.0

    @property
    def sha256(self) -> str:
        return labels_sha256(self.noisy)

    def describe(self) -> dict:
        """A JSON-ready record (for config.json and summary.json)."""
        return {
            "kind": self.kind,
            "eta": self.eta,
            "num_flipped": int(self.flipped.sum()),
            "realised_flip_rate": self.flip_rate,
            "expected_flip_rate": expected_flip_rate(self.matrix, self.clean),
            "noisy_labels_sha256": self.sha256,
        }


def labels_sha256(labels: np.ndarray) -> str:
    """SHA-256 of the labels as little-endian int64 bytes."""
    return hashlib.sha256(np.asarray(labels, dtype="<i8").tobytes()).hexdigest()


def check_eta(eta: float) -> float:
    """eta as a float in [0, 1); BadInput otherwise."""
    try:
        value = float(eta)
    except (TypeError, ValueError):
        raise BadInput(f"eta must be a number in [0, 1), got {eta!r}") from None
    if not 0.0 <= value < 1.0:
        raise BadInput(f"eta must be in [0, 1), got {eta}")
    return value


def symmetric_matrix(eta: float, num_classes: int) -> np.ndarray:
    """T = (1 - eta) I + eta/(K-1) (1 - I)."""
    eta = check_eta(eta)
    off = np.full((num_classes, num_classes), eta / (num_classes - 1))
    np.fill_diagonal(off, 1.0 - eta)
    return off


def pair_matrix(eta: float, num_classes: int) -> np.ndarray:
    """T = (1 - eta) I + eta P, P the cyclic shift i -> i+1 mod K."""
    eta = check_eta(eta)
    return (1.0 - eta) * np.eye(num_classes) + eta * np.roll(np.eye(num_classes), 1, axis=1)


def validate_matrix(matrix: np.ndarray, num_classes: int, source: str = "transition matrix") -> np.ndarray:
    """A K x K row-stochastic float matrix (entries in [0, 1], rows summing to 1 within 1e-6); BadInput otherwise."""
    t = np.asarray(matrix, dtype=np.float64)
    if t.shape != (num_classes, num_classes):
        raise BadInput(f"{source} must be {num_classes}x{num_classes} for {num_classes} classes, got shape {t.shape}")
    if not np.all(np.isfinite(t)) or t.min() < 0 or t.max() > 1:
        raise BadInput(f"{source} entries must be probabilities in [0, 1]")
    sums = t.sum(1)
    bad = np.flatnonzero(np.abs(sums - 1) > 1e-6)
    if bad.size:
        raise BadInput(f"{source} is not row-stochastic: row {bad[0]} sums to {sums[bad[0]]:.6g}, not 1")
    return t / sums[:, None]


def read_matrix_csv(path: str | Path, num_classes: int) -> np.ndarray:
    """A transition matrix from a CSV file of K rows of K numbers, decimals or fractions (no header; see
    :func:`symtheory.noise_matrices.read_csv`); validated."""
    from symtheory.noise_matrices import read_csv

    return validate_matrix(read_csv(path), num_classes, f"noise matrix {path}")


def expected_flip_rate(matrix: np.ndarray, clean: np.ndarray) -> float:
    """The expected share of flipped labels, mean_n (1 - T[y_n, y_n])."""
    return float(np.mean(1.0 - np.diag(matrix)[clean])) if clean.size else 0.0


def _uniforms(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, NOISE_STREAM])
    return rng.random(n), rng.random(n)


def make_noisy_labels(clean: np.ndarray, num_classes: int, seed: int, kind: str = "symmetric",
                      eta: float | None = 0.0, matrix: np.ndarray | None = None) -> NoisyLabels:
    """Draw the given labels from the clean ones.

    symmetric: flip iff u < eta, to (y + 1 + floor(v (K-1))) mod K, uniform over the other K-1 classes.
    pair: flip iff u < eta, to (y + 1) mod K. matrix: y~ = the first j with cumsum(T[y])_j > u.
    """
    y = np.asarray(clean, dtype=np.int64)
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise BadInput(f"clean labels must lie in 0..{num_classes - 1}")
    u, v = _uniforms(y.shape[0], seed)
    if kind == "symmetric":
        t = symmetric_matrix(eta, num_classes)
        offset = 1 + np.minimum((v * (num_classes - 1)).astype(np.int64), num_classes - 2)
        noisy = np.where(u < eta, (y + offset) % num_classes, y)
    elif kind == "pair":
        t = pair_matrix(eta, num_classes)
        noisy = np.where(u < eta, (y + 1) % num_classes, y)
    elif kind == "matrix":
        if matrix is None:
            raise BadInput("noise kind 'matrix' needs a transition matrix (--noise-matrix FILE.csv)")
        t = validate_matrix(matrix, num_classes)
        cumulative = np.cumsum(t, axis=1)
        last_possible = num_classes - 1 - np.argmax(t[:, ::-1] > 0, axis=1)
        noisy = np.minimum((u[:, None] >= cumulative[y]).sum(1), last_possible[y])
        eta = None
    else:
        raise BadInput(f"unknown noise kind {kind!r}; choices: {', '.join(NOISE_KINDS)}")
    return NoisyLabels(y, noisy.astype(np.int64), t, kind, None if eta is None else float(eta))


def save_labels(path: str | Path, labels: NoisyLabels, train_indices: np.ndarray) -> None:
    """labels.npz, written atomically: clean, noisy, train_indices (positions in the dataset's training
    split as loaded: the full split, or the 5,000 images of cifar10-subset), matrix, kind, eta."""
    arrays = dict(clean=labels.clean, noisy=labels.noisy, train_indices=np.asarray(train_indices, dtype=np.int64),
                  matrix=labels.matrix, kind=np.array(labels.kind),
                  eta=np.array(np.nan if labels.eta is None else labels.eta))
    atomic_write(path, lambda handle: np.savez(handle, **arrays))


def load_labels(path: str | Path) -> tuple[NoisyLabels, np.ndarray]:
    """The labels and training indices saved by :func:`save_labels`."""
    with np.load(Path(path)) as z:
        eta = float(z["eta"])
        labels = NoisyLabels(z["clean"].astype(np.int64), z["noisy"].astype(np.int64), z["matrix"],
                             str(z["kind"]), None if np.isnan(eta) else eta)
        return labels, z["train_indices"].astype(np.int64)
