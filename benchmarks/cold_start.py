"""Cold wall time of theory commands (target: `symtheory check-loss rll` under 1 s on a 2-core machine).

Each command runs in a fresh interpreter, as a user types it; the table gives min / median / max over
--repeats runs and whether torch was imported (it must not be).

    python benchmarks/cold_start.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

COMMANDS = [
    ["check-loss", "rll"],
    ["check-loss", "mse", "--classes", "10"],
    ["prove-risk"],
    ["--help"],
]
PROBE = ("import sys, runpy; sys.argv = ['symtheory'] + sys.argv[1:]\n"
         "try:\n    runpy.run_module('symtheory', run_name='__main__')\n"
         "except SystemExit:\n    pass\n"
         "sys.stderr.write('TORCH_IMPORTED=%s' % ('torch' in sys.modules))\n")


def time_command(argv: list[str], repeats: int) -> tuple[list[float], bool]:
    """Wall times of ``symtheory ARGV`` in fresh processes, and whether torch got imported."""
    exe = shutil.which("symtheory") or os.path.join(os.path.dirname(sys.executable), "symtheory")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([exe, *argv], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    probe = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True)
    return times, "TORCH_IMPORTED=True" in probe.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {args.repeats} runs each\n")
    print(f"{'command':<40} {'min s':>7} {'median s':>9} {'max s':>7}  torch imported")
    for argv in COMMANDS:
        times, torch_imported = time_command(argv, args.repeats)
        label = "symtheory " + " ".join(argv)
        print(f"{label:<40} {min(times):7.3f} {statistics.median(times):9.3f} {max(times):7.3f}  {torch_imported}")


if __name__ == "__main__":
    main()
