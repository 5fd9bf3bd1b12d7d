"""Time and memory of the exact-risk ranking check at scale (default: 10^4 classifiers x 10^3 points x K = 10).

Usage: .venv/bin/python benchmarks/ranking_speed.py [--classifiers 10000] [--support 1000] [--classes 10]
       [--losses all|cce,rll] [--workers N] [--repeat 3] [--target 2.0]

One table row per loss, each figure the median (and the best) of --repeat runs, wall clock:
  risks          the exact clean, label-sum and noisy (symmetric, eta = 0.6) risks of every classifier,
                 generating the classifier outputs included (the first row times that generation alone);
  ranking stats  Kendall tau and swapped pairs, the worst swapped pair, the affine fit and the first-swap
                 bisection, i.e. everything `verify-ranking` reports for one loss and one eta;
  total          risks + ranking stats;
  end to end     `verify_ranking()` itself for this loss alone (drawing the distribution and the family,
                 compiling the loss from its sympy form, its symmetry facts, then all of the above): the
                 figure the target (--target, seconds) is checked against, in the last column.
Then all losses in one pass over the family (as `verify-ranking --loss all` does it; repeat // 2 runs), and
peak memory: tracemalloc's peak of Python/numpy allocations during that pass (a separate, untimed run, since
tracing slows allocation) and the process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import time
import tracemalloc

import numpy as np

from symtheory.classifiers import make_family
from symtheory.distributions import make_distribution
from symtheory.finite_risk import compile_losses, default_workers, risk_sums
from symtheory.noise_matrices import symmetric
from symtheory.noise_settings import settings_for
from symtheory.rank_stats import affine_fit, agreement, worst_swap
from symtheory.ranking import RankingConfig, first_swap, verify_ranking
from symtheory.registry import LOSSES

ETA = 0.6


def _timed(fn, repeat: int) -> tuple[float, float]:
    """(median, best) wall seconds of ``repeat`` calls of fn()."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def _fmt(pair: tuple[float, float]) -> str:
    return f"{pair[0]:.2f} ({pair[1]:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifiers", type=int, default=10_000)
    parser.add_argument("--support", type=int, default=1_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--losses", default="all")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--target", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    names = list(LOSSES) if args.losses == "all" else args.losses.split(",")
    workers = args.workers or default_workers()
    k, repeat = args.classes, args.repeat

    rng = np.random.default_rng(args.seed)
    dist = make_distribution(args.support, k, rng)
    family = make_family(dist, args.classifiers, rng)
    n = dist.support
    weights = np.stack([dist.label_weights(), np.broadcast_to(dist.weights[:, None], (n, k)),
                        dist.label_weights(symmetric(ETA, k))], axis=-1)
    print(f"{args.classifiers} classifiers x {n} support points x K = {k} = {args.classifiers * n * k:.3g} loss "
          f"values per loss; {workers} worker thread(s); {os.cpu_count()} CPUs ({platform.processor() or 'cpu'}), "
          f"load average {os.getloadavg()[0]:.2f} at start; numpy {np.__version__}; median (best) of {repeat} runs")

    outputs = _timed(lambda: risk_sums(family, {}, weights, workers=workers), repeat)
    header = (f"{'loss':12s} {'risks [s]':>12s} {'ranking stats [s]':>18s} {'total [s]':>12s} "
              f"{'end to end [s]':>15s}  under {args.target:g} s?")
    rows = [f"{'(outputs)':12s} {_fmt(outputs):>12s}"]
    for name in names:
        fns = compile_losses([name], k)
        risks = _timed(lambda: risk_sums(family, fns, weights, workers=workers), repeat)
        first = risk_sums(family, fns, weights, workers=workers)[name].first
        clean, label_sum, noisy = first[:, 0], first[:, 1], first[:, 2]

        def stats():
            agreement(clean, noisy)
            worst_swap(clean, noisy)
            affine_fit(clean, noisy)
            first_swap(clean, label_sum, k)

        ranking = _timed(stats, repeat)
        total = (risks[0] + ranking[0], risks[1] + ranking[1])
        config = RankingConfig(classes=k, classifiers=args.classifiers, support=args.support, losses=(name,),
                               mc_samples=0)
        end = _timed(lambda: verify_ranking(settings_for([str(ETA)], k), config, np.random.default_rng(args.seed),
                                            workers=workers), repeat)
        verdict = "yes" if end[0] < args.target else "NO"
        rows.append(f"{name:12s} {_fmt(risks):>12s} {_fmt(ranking):>18s} {_fmt(total):>12s} {_fmt(end):>15s}  {verdict}")

    fns = compile_losses(names, k)
    every_runs = max(1, repeat // 2)
    every = _timed(lambda: risk_sums(family, fns, weights, workers=workers), every_runs)
    tracemalloc.start()
    risk_sums(family, fns, weights, workers=workers)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(header)
    print("\n".join(rows))
    print(f"all {len(names)} losses in one pass over the family: risks {_fmt(every)} s "
          f"(median (best) of {every_runs} run(s))")
    print(f"peak memory: tracemalloc {peak / 2**20:.0f} MiB during the all-loss pass; max RSS {rss:.0f} MiB; "
          f"load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
