"""Cold wall time of theory commands (target: `symtheory check-loss rll` under 1 s on a 2-core machine).

Each command runs in a fresh interpreter, as a user types it; the table gives min / median / max over
--repeats runs and whether torch was imported (it must not be). ``--phases`` adds a second table: where the
cold time of ``check-loss rll`` goes (interpreter start, imports, typer's option parsing, the proof, printing,
interpreter exit), timed inside fresh processes that run the command as the executable does, so one can tell
our code from our dependencies.

    python benchmarks/cold_start.py [--repeats 7] [--phases [--entry main]]
"""

from __future__ import annotations

import argparse
import json
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


def timed_run(command: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    """Wall seconds of COMMAND in a fresh process (output captured as text; a failure raises), and its result."""
    start = time.perf_counter()
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return time.perf_counter() - start, result


PHASES_PROBE = """
import json, sys, time
start = time.perf_counter()
import symtheory.cli.app as cli_app
cli = time.perf_counter()
import sympy
sympy_done = time.perf_counter()
try:
    import typer._adapters  # what typer loads to coerce a command's options (pydantic, in recent typer)
except ImportError:
    pass
typer_done = time.perf_counter()
import symtheory.analysis as analysis
theory = time.perf_counter()
proof = []
analyse = analysis.analyse_builtin
def timed(*args, **kwargs):
    begin = time.perf_counter()
    try:
        return analyse(*args, **kwargs)
    finally:
        proof.append(time.perf_counter() - begin)
analysis.analyse_builtin = timed
try:
    getattr(cli_app, ENTRY)(["check-loss", "rll"])
except SystemExit:
    pass
done = time.perf_counter()
sys.stderr.write(json.dumps({"cli": cli - start, "sympy": sympy_done - cli, "typer": typer_done - sympy_done,
                             "theory": theory - typer_done, "proof": sum(proof),
                             "command": done - theory - sum(proof)}))
"""
PHASE_LABELS = {
    "interpreter": "python start-up (python -c pass)",
    "cli": "import symtheory.cli.app (typer, rich)",
    "sympy": "import sympy",
    "typer": "typer's option coercion (pydantic)",
    "theory": "import symtheory.analysis and its modules",
    "proof": "analyse_builtin('rll'), cold",
    "command": "parsing, printing (the rest of the command)",
    "exit": "interpreter exit",
}


def phase_medians(repeats: int, entry: str = "run") -> dict[str, float]:
    """Median seconds of each phase of a cold ``check-loss rll`` over REPEATS fresh processes; ``exit`` is a
    process's wall time less its start-up (a bare interpreter's median) and the phases timed inside it.
    ENTRY is the function of ``symtheory.cli.app`` that runs the command (``main`` skips the exit-time
    ``gc.freeze()`` of ``run``, the executable's entry)."""
    code = f"ENTRY = {entry!r}\n" + PHASES_PROBE
    bare, inside, walls = [], [], []
    for _ in range(repeats):
        bare.append(timed_run([sys.executable, "-c", "pass"])[0])
        seconds, probe = timed_run([sys.executable, "-c", code])
        walls.append(seconds)
        inside.append(json.loads(probe.stderr.strip().splitlines()[-1]))
    phases = {"interpreter": statistics.median(bare)}
    phases.update({key: statistics.median(p[key] for p in inside) for key in inside[0]})
    phases["exit"] = statistics.median(w - sum(p.values()) for w, p in zip(walls, inside)) - phases["interpreter"]
    phases["total"] = statistics.median(walls)
    return phases


def print_phases(phases: dict[str, float], entry: str) -> None:
    """The phase table: median seconds and share of the median wall time."""
    print(f"\nwhere a cold `symtheory check-loss rll` spends its time (medians; entry symtheory.cli.app.{entry})\n")
    print(f"{'phase':<46} {'s':>6} {'share':>6}")
    for key, label in PHASE_LABELS.items():
        print(f"{label:<46} {phases[key]:6.3f} {phases[key] / phases['total']:6.0%}")
    print(f"{'wall time of the whole process':<46} {phases['total']:6.3f}")


def time_command(argv: list[str], repeats: int) -> tuple[list[float], bool]:
    """Wall times of ``symtheory ARGV`` in fresh processes, and whether torch got imported."""
    exe = shutil.which("symtheory") or os.path.join(os.path.dirname(sys.executable), "symtheory")
    times = [timed_run([exe, *argv])[0] for _ in range(repeats)]
    probe = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True)
    return times, "TORCH_IMPORTED=True" in probe.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--phases", action="store_true", help="also time the phases of a cold check-loss rll")
    parser.add_argument("--entry", choices=("run", "main"), default="run",
                        help="entry the phases run through: run (the executable's) or main (no exit-time gc.freeze)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {args.repeats} runs each\n")
    print(f"{'command':<40} {'min s':>7} {'median s':>9} {'max s':>7}  torch imported")
    for argv in COMMANDS:
        times, torch_imported = time_command(argv, args.repeats)
        label = "symtheory " + " ".join(argv)
        print(f"{label:<40} {min(times):7.3f} {statistics.median(times):9.3f} {max(times):7.3f}  {torch_imported}")
    if args.phases:
        print_phases(phase_medians(args.repeats, args.entry), args.entry)


if __name__ == "__main__":
    main()
