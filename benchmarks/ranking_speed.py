"""Time and memory of the exact-risk ranking check at scale (default: 10^4 classifiers x 10^3 points x K = 10).

Usage: .venv/bin/python benchmarks/ranking_speed.py [--classifiers 10000] [--support 1000] [--classes 10]
       [--losses all|cce,rll] [--workers N]

Rows: generating the classifier outputs alone; per loss, the exact clean and noisy (symmetric, eta = 0.6)
risks of every classifier, outputs included ('risks', wall clock; 'CPU', process CPU time of all threads,
which a busy machine inflates less) and net of the output generation ('loss only'), then the ranking
statistics (tau, swaps, worst pair, affine fit, first-swap bisection); last, all losses in one pass over
the family, as `verify-ranking` does it. Peak memory: tracemalloc's peak of Python/numpy
allocations during the all-loss pass, and the process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc

import numpy as np

from symtheory.classifiers import make_family
from symtheory.distributions import make_distribution
from symtheory.finite_risk import compile_losses, default_workers, risk_sums
from symtheory.noise_matrices import symmetric
from symtheory.rank_stats import affine_fit, agreement, worst_swap
from symtheory.ranking import first_swap
from symtheory.registry import LOSSES

ETA = 0.6


def _clock(fn):
    """(wall seconds, process CPU seconds (user + system, all threads), fn())."""
    start, cpu = time.perf_counter(), os.times()
    value = fn()
    end = os.times()
    return time.perf_counter() - start, (end.user - cpu.user) + (end.system - cpu.system), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifiers", type=int, default=10_000)
    parser.add_argument("--support", type=int, default=1_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--losses", default="all")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    names = list(LOSSES) if args.losses == "all" else args.losses.split(",")
    workers = args.workers or default_workers()
    k = args.classes

    rng = np.random.default_rng(args.seed)
    dist = make_distribution(args.support, k, rng)
    family = make_family(dist, args.classifiers, rng)
    n = dist.support
    weights = np.stack([dist.label_weights(), np.broadcast_to(dist.weights[:, None], (n, k)),
                        dist.label_weights(symmetric(ETA, k))], axis=-1)
    entries = args.classifiers * n * k
    print(f"{args.classifiers} classifiers x {n} support points x K = {k} = {entries:.3g} loss values per loss; "
          f"{workers} worker thread(s); load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")

    gen, gen_cpu, _ = _clock(lambda: risk_sums(family, {}, weights, workers=workers))
    rows = [("classifier outputs (softmax, floor)", gen, gen_cpu, None, None)]
    for name in names:
        fns = compile_losses([name], k)
        t_risk, cpu_risk, sums = _clock(lambda: risk_sums(family, fns, weights, workers=workers))
        first = sums[next(iter(fns))].first
        clean, label_sum, noisy = first[:, 0], first[:, 1], first[:, 2]

        def stats():
            agreement(clean, noisy)
            worst_swap(clean, noisy)
            affine_fit(clean, noisy)
            return first_swap(clean, label_sum, k)

        t_stats, _, _ = _clock(stats)
        rows.append((name, t_risk, cpu_risk, t_risk - gen, t_stats))

    fns = compile_losses(names, k)
    tracemalloc.start()
    t_all, cpu_all, _ = _clock(lambda: risk_sums(family, fns, weights, workers=workers))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"{'step':38s} {'risks [s]':>10s} {'CPU [s]':>8s} {'loss only [s]':>14s} {'ranking stats [s]':>18s}")
    for label, total, cpu, net, st in rows:
        print(f"{label:38s} {total:10.2f} {cpu:8.2f} {('-' if net is None else f'{net:.2f}'):>14s} "
              f"{('-' if st is None else f'{st:.3f}'):>18s}")
    print(f"{f'all {len(names)} losses in one pass':38s} {t_all:10.2f} {cpu_all:8.2f}")
    print(f"peak memory: tracemalloc {peak / 2**20:.0f} MiB during the all-loss pass; max RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
