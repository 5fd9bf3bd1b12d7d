"""Synthetic finite distributions D over n support points x_1..x_n and K classes.

D puts probability w_x on x and draws the clean label from a posterior p(y|x) (deterministic labels are
one-hot posteriors). Under a noise matrix T the noisy label has posterior p(.|x) T, so every risk is a
finite sum: R(h) = sum_x w_x sum_y p(y|x) L(h(x), y) (Patel & Sastry 2021, Sec. 3, with D finite).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symtheory.errors import BadInput
from symtheory.noise_matrices import check_classes

LABEL_RULES = ("posterior", "deterministic")


@dataclass(frozen=True)
class FiniteDistribution:
    """Support points (features), their probabilities w, the clean posterior p(y|x) and its teacher.

    ``teacher`` is the weight matrix W* with p(.|x) = softmax(sharpness * x W*) before any one-hot rule;
    structured classifiers perturb it.
    """

    features: np.ndarray
    weights: np.ndarray
    posterior: np.ndarray
    label_rule: str
    teacher: np.ndarray
    sharpness: float

    @property
    def support(self) -> int:
        """n, the number of support points."""
        return len(self.weights)

    @property
    def classes(self) -> int:
        """K, the number of classes."""
        return self.posterior.shape[1]

    def label_weights(self, matrix: np.ndarray | None = None) -> np.ndarray:
        """P(x, y~) = w_x (p(.|x) T)_y~, shape (n, K); the clean joint P(x, y) when T is None."""
        post = self.posterior if matrix is None else self.posterior @ matrix
        return self.weights[:, None] * post

    def sample(self, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``size`` iid pairs (x, y) from D: support indices and clean labels."""
        x = rng.choice(self.support, size=size, p=self.weights)
        y = sample_rows(self.posterior[x], rng.random(size))
        return x, y

    def to_dict(self) -> dict:
        """JSON-ready description (sizes and the Bayes accuracy, not the arrays)."""
        return {"support": self.support, "classes": self.classes, "features": self.features.shape[1],
                "label_rule": self.label_rule, "bayes_accuracy": float(self.weights @ self.posterior.max(axis=1))}


def sample_rows(probabilities: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw: for each row r, the first index whose cumulative probability exceeds u_r."""
    cdf = np.cumsum(probabilities, axis=1)
    cdf[:, -1] = np.inf
    return (uniforms[:, None] >= cdf).sum(axis=1)


def noisy_labels(labels: np.ndarray, matrix: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Corrupt clean labels through T: y~ ~ T[y, .], driven by given uniforms (so draws can be coupled)."""
    return sample_rows(matrix[labels], uniforms)


def softmax(logits: np.ndarray) -> np.ndarray:
    """softmax over the last axis, computed stably."""
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def make_distribution(support: int, classes: int, rng: np.random.Generator, label_rule: str = "posterior",
                      dims: int = 5, sharpness: float = 2.0) -> FiniteDistribution:
    """x ~ N(0, I_d), w ~ Dirichlet(1), p(y|x) = softmax(sharpness * x W*) for a Gaussian teacher W*.

    ``label_rule='deterministic'`` replaces p(.|x) by the one-hot vector of its argmax (y = f*(x)).
    """
    check_classes(classes)
    if support < 1:
        raise BadInput(f"the number of support points must be at least 1, got {support}")
    if label_rule not in LABEL_RULES:
        raise BadInput(f"unknown label rule {label_rule!r}; known: {', '.join(LABEL_RULES)}")
    features = rng.standard_normal((support, dims))
    weights = rng.dirichlet(np.ones(support))
    teacher = rng.standard_normal((dims, classes))
    posterior = softmax(sharpness * features @ teacher)
    if label_rule == "deterministic":
        posterior = np.eye(classes)[posterior.argmax(axis=1)]
    return FiniteDistribution(features, weights, posterior, label_rule, teacher, sharpness)
