"""CPU training throughput (images/s) by torch intra-op thread count, on an idle and on a busy machine.

torch uses as many intra-op threads as the machine has cores. When other processes hold those cores, the
threads of one op wait on each other; fewer threads can then be faster. This measures the harness's own
train step (:func:`symtheory.empirical.train.make_train_step`, as ``symtheory train --device cpu`` runs it)
for each thread count, with 0 and then ``--busy`` background processes spinning on a core each:

    python benchmarks/cpu_threads.py                          # mlp and resnet18, threads 1 and all cores
    python benchmarks/cpu_threads.py --archs mlp --threads 1,2,4 --busy 2

The answer decides ``symtheory train --threads N``: rounds alternate between the thread counts and the
fastest round of each counts.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch

from symtheory.empirical.networks import ARCHITECTURES


sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_throughput  # noqa: E402  (the sibling benchmark's data and train-step runner)


def _spin() -> None:
    while True:
        pass


@contextmanager
def busy_cores(count: int) -> Iterator[None]:
    """``count`` processes spinning on a core each for the block (the 'busy machine')."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    workers = [context.Process(target=_spin, daemon=True) for _ in range(count)]
    for worker in workers:
        worker.start()
    try:
        time.sleep(0.5 if workers else 0)
        yield
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.join()


def measure(arch: str, threads: list[int], args: argparse.Namespace) -> dict[int, float]:
    """Images per second of the harness's train step at each thread count (fastest of the rounds)."""
    data, _ = train_throughput.get_data(train_throughput.DATASET_FOR[arch], args.data_dir, args.images)
    device = torch.device("cpu")
    runner = train_throughput.ours_runner(arch, data, device, args.batch_size)
    best = {n: float("inf") for n in threads}
    for n in threads:
        torch.set_num_threads(n)
        runner(args.warmup)
    for _ in range(args.repeats):
        for n in threads:
            torch.set_num_threads(n)
            best[n] = min(best[n], runner(args.steps))
    return {n: args.steps * args.batch_size / seconds for n, seconds in best.items()}


def _positive_ints(text: str) -> list[int]:
    values = [int(v) for v in text.split(",")]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas, got {text!r}")
    return values


def main() -> None:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", default="mlp,resnet18", help=f"comma-separated, of {', '.join(ARCHITECTURES)}")
    parser.add_argument("--threads", type=_positive_ints, default=sorted({1, cores}),
                        help=f"comma-separated thread counts (default 1 and the core count, {cores})")
    parser.add_argument("--busy", type=int, default=cores,
                        help="background spinning processes of the busy case (default: one per core)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds; the fastest round counts")
    parser.add_argument("--images", type=int, default=2048, help="training images held (first N of the set)")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    archs = args.archs.split(",")
    unknown = [a for a in archs if a not in ARCHITECTURES]
    if unknown:
        parser.error(f"unknown architecture {unknown[0]!r}; choices: {', '.join(ARCHITECTURES)}")
    if args.busy < 0:
        parser.error("--busy must be >= 0")

    rows = []
    for busy in (0, args.busy) if args.busy else (0,):
        with busy_cores(busy):
            for arch in archs:
                rates = measure(arch, args.threads, args)
                rows.append((arch, busy, rates))
                print(f"  measured {arch} with {busy} busy processes", flush=True)

    print(f"\nCPU train-step throughput (images/s) by torch threads, batch {args.batch_size}, best of "
          f"{args.repeats} rounds of {args.steps} steps after {args.warmup} warm-up steps; {cores} cores; "
          f"torch {torch.__version__}")
    columns = [f"{n} thread{'s' if n > 1 else ''}" for n in args.threads]
    header = f"| {'arch':<15}| {'busy processes':>14} | " + " | ".join(f"{c:>10}" for c in columns) + \
        f" | {'best':>10} |"
    print(header)
    print("|" + "|".join("-" * len(c) for c in header.split("|")[1:-1]) + "|")
    for arch, busy, rates in rows:
        best = max(rates, key=rates.get)
        cells = " | ".join(f"{rates[n]:>10.0f}" for n in args.threads)
        print(f"| {arch:<15}| {busy:>14} | {cells} | {f'{best} thread' + ('s' if best > 1 else ''):>10} |")


if __name__ == "__main__":
    main()
