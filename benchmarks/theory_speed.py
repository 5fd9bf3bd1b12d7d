"""Seconds of a whole check-loss analysis (symmetry proof, constant, bounds) per loss, in one warm process.

Each case runs with sympy's cache cleared first, under check-loss's default time limit unless --time-limit
says otherwise; the table gives min / median over --repeats runs, the verdict and whether bounds were found,
so that a speed-up that costs a result shows as one. Cases: every registry loss at its defaults, taylor-ce at
growing orders (a polynomial of that degree), and user expressions of the kinds docs/your-own-loss.md shows.

    python benchmarks/theory_speed.py [--repeats 3] [--cases taylor-ce:100,rll] [--time-limit 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass

EXPRESSIONS = {
    "expr:rll": "log((a+1)/a) - log(a+p) + sum_other(log(a+q))/(K-1)",
    "expr:nce": "log(p)/sum_all(log(q))",
    "expr:l1": "abs(1-p) + sum_other(abs(q))",
    "expr:kink": "abs(p - 1/2) - 3/2*(p - 9/20)**2",
    "expr:p**1000": "p**1000",
}
TAYLOR_ORDERS = (10, 30, 100)


@dataclass
class Timing:
    """One case's seconds over the repeats and what the analysis found."""

    case: str
    seconds: list[float]
    verdict: str
    bounded: str


def default_cases() -> list[str]:
    """Every registry loss, taylor-ce at TAYLOR_ORDERS, then the expressions."""
    from symtheory.registry import LOSSES

    return list(LOSSES) + [f"taylor-ce:{n}" for n in TAYLOR_ORDERS] + list(EXPRESSIONS)


def analyse(case: str, seconds: float | None):
    """The analysis of a case: NAME, NAME:ORDER (taylor-ce's order) or an expr:... key of EXPRESSIONS."""
    from symtheory.analysis import analyse_builtin, analyse_expression

    if case in EXPRESSIONS:
        return analyse_expression(EXPRESSIONS[case], seconds=seconds)
    name, _, order = case.partition(":")
    return analyse_builtin(name, {"order": order} if order else None, seconds=seconds)


def time_case(case: str, repeats: int, seconds: float | None) -> Timing:
    """Wall seconds of ``repeats`` analyses of ``case``, each from an empty sympy cache."""
    from sympy.core.cache import clear_cache

    times, result = [], None
    for _ in range(repeats):
        clear_cache()
        start = time.perf_counter()
        result = analyse(case, seconds)
        times.append(time.perf_counter() - start)
    bounds = result.bounds
    bounded = "unknown" if bounds is None or bounds.bounded is None else ("yes" if bounds.bounded else "no")
    return Timing(case, times, result.symmetry.verdict, bounded)


def table(timings: list[Timing]) -> str:
    """The timings as a fixed-width table."""
    lines = [f"{'case':<16} {'min s':>8} {'median s':>9} {'verdict':>9} {'bounded':>8}"]
    for t in timings:
        lines.append(f"{t.case:<16} {min(t.seconds):>8.2f} {statistics.median(t.seconds):>9.2f} "
                     f"{t.verdict:>9} {t.bounded:>8}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per case (default 3)")
    parser.add_argument("--cases", default=None, help="comma-separated cases (default: all; see the docstring)")
    parser.add_argument("--time-limit", type=float, default=None,
                        help="seconds per analysis (default: check-loss's own default)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    known = default_cases()
    args.cases = known if args.cases is None else [c.strip() for c in args.cases.split(",") if c.strip()]
    for case in args.cases:
        name = case.partition(":")[0]
        if case not in known and not (name == "taylor-ce" and case.partition(":")[2].isdigit()):
            parser.error(f"unknown case {case!r}; known: {', '.join(known)} (or taylor-ce:ORDER)")
    return args


def main(argv: list[str] | None = None) -> list[Timing]:
    from symtheory.analysis import DEFAULT_TIME_LIMIT

    args = parse_args(argv)
    seconds = DEFAULT_TIME_LIMIT if args.time_limit is None else args.time_limit
    timings = []
    for case in args.cases:
        timings.append(time_case(case, args.repeats, seconds))
        print(f"  {case}: {min(timings[-1].seconds):.2f} s", file=sys.stderr, flush=True)
    print(f"check-loss analysis, warm process, sympy cache cleared per run, time limit {seconds:g} s")
    print(table(timings))
    return timings


if __name__ == "__main__":
    main()
