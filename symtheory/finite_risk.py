"""Risks of every classifier of a family as finite sums, for many label distributions in one pass.

A label distribution on the support is a weight array W[x, y] (W = w_x p(y|x) for the clean risk,
w_x (p(.|x) T)_y for the noisy risk, counts/m for an empirical risk). Then sum_{x,y} W[x, y] L(h(x), y)
is a dot product with the loss matrix M[y, h, x] = L(h(x), y) (:func:`symtheory.evaluate.compile_loss_matrix`,
class-major), so one evaluation of M per chunk of classifiers serves every W as a column of one matrix product.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

import numpy as np

from symtheory.blas_threads import single_threaded_blas
from symtheory.classifiers import ClassifierFamily
from symtheory.evaluate import class_major_backend, compile_loss_matrix
from symtheory.registry import get_loss

CHUNK_ENTRIES = 1 << 16


def compile_losses(names: Iterable[str], classes: int) -> dict[str, Callable]:
    """name -> vectorized g[k, ...] -> L(g, k) (class-major) for K classes, each loss at its registry defaults."""
    backend = class_major_backend()
    out = {}
    for name in names:
        spec = get_loss(name)
        out[spec.name] = compile_loss_matrix(spec.form(symbolic=False), classes, backend)
    return out


def default_workers() -> int:
    """Threads for the block loop: the CPUs this process may use (numpy releases the GIL in its loops)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


@dataclass
class RiskSums:
    """first[h, c] = sum_{x,y} W[x, y, c] L(h(x), y); second[h, c] the same with L^2 (or None).

    ``largest[h]`` = max_{x,y} L(h(x), y), the largest loss value each classifier takes on the support.
    """

    first: np.ndarray
    second: np.ndarray | None
    largest: np.ndarray


def risk_sums(family: ClassifierFamily, losses: Mapping[str, Callable], weights: np.ndarray,
              square_weights: np.ndarray | None = None, workers: int | None = None,
              progress: Callable[[int], None] | None = None) -> dict[str, RiskSums]:
    """For each loss, sum_{x,y} W[x, y, c] L(h(x), y) for every classifier h and column c.

    ``weights`` has shape (n, K, c); ``square_weights`` (n, K, c2) asks for sums of L^2 too (for
    standard errors). Work is split into the family's blocks, run on ``workers`` threads (each with a
    single-threaded BLAS); within a block, losses are evaluated on chunks of about CHUNK_ENTRIES loss values,
    whose temporaries stay in cache and are recycled by the allocator; ``progress`` is called with the number
    of classifiers each finished block covered.
    """
    n, k = family.distribution.support, family.distribution.classes
    by_class = np.ascontiguousarray(weights.transpose(1, 0, 2))
    by_class_sq = None if square_weights is None else np.ascontiguousarray(square_weights.transpose(1, 0, 2))
    size = len(family)
    chunk = max(1, CHUNK_ENTRIES // (n * k))
    out = {name: RiskSums(np.empty((size, by_class.shape[-1])),
                          None if by_class_sq is None else np.empty((size, by_class_sq.shape[-1])), np.empty(size))
           for name in losses}

    def run(block: int) -> int:
        start, stop = family.blocks()[block]
        with single_threaded_blas():
            outputs = family.outputs(block)
            for lo in range(0, stop - start, chunk):
                g = outputs[:, lo:lo + chunk]
                rows = slice(start + lo, start + lo + g.shape[1])
                for name, matrix in losses.items():
                    values = matrix(g)
                    out[name].first[rows] = np.matmul(values, by_class).sum(axis=0)
                    out[name].largest[rows] = values.max(axis=(0, 2))
                    if by_class_sq is not None:
                        out[name].second[rows] = np.matmul(np.square(values), by_class_sq).sum(axis=0)
        return stop - start

    blocks = range(len(family.blocks()))
    workers = workers or default_workers()
    if workers == 1:
        for b in blocks:
            done = run(b)
            if progress:
                progress(done)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for done in pool.map(run, blocks):
                if progress:
                    progress(done)
    return out
