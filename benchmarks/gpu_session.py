"""Everything a lent GPU should measure for the fused grid (issue 6), as one device call within a deadline.

A GPU is lent to some sessions only, for minutes, so this script is prepared and tested here on the CPU,
and on the GPU it runs unattended, leaving every figure it took under $OUT even when it is cut short.

Here, once (copies MNIST and the real CIFAR-10 subset, 29 MB, into the git-ignored .gpu/data):

    python benchmarks/gpu_session.py --stage-data ../shared/data

On the device machine (the device tool: carry [".gpu"], timeout_s 560; the default deadline is 480 s, which
with the machine's start fits one session's 15 minutes of device time):

    python3 benchmarks/gpu_session.py

Steps, each logged to $OUT/<step>.log, with exit codes and seconds in $OUT/session.json:

1. stage: the package copied from this checkout as its pyproject maps it (symtheory, symtheory.empirical,
   ...) into a temporary site folder on PYTHONPATH -- no pip, no network (the GPU image has torch, sympy,
   typer, rich and pytest);
2. env: nvidia-smi and the versions of torch, CUDA, cuDNN, triton;
3. grid-speed: ``benchmarks/grid_speed.py --device cuda --budget B --out $OUT/grid_speed.json`` (the
   table of the issue: (a), (b) and the default fused variant of every network first, then the other
   variants as the budget allows; B leaves about 220 s for what follows);
4. gpu-tests: ``pytest -m gpu`` -- fused runs equal separate runs on CUDA (with the defaults, and with the
   loop layout under the cudagraphs backend), and the single-run bf16 / channels_last path;
5. fused-grid: the cifar10-resnet32 preset's 16 runs for 2 epochs on the CIFAR-10 subset through
   ``symtheory grid --fused`` -- the real trainer end to end; its epoch seconds go into session.json.

``--device cpu`` runs the same steps at toy sizes (the plumbing check the tests make).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGED_DATA = REPO / ".gpu" / "data"
DATA_PARTS = ("MNIST/raw", "cifar-10-partial")
VERSIONS = ("torch", "torchvision", "triton", "sympy", "numpy", "typer", "rich", "pytest")


def stage_data(source: Path, target: Path = STAGED_DATA) -> list[Path]:
    """Copy the datasets the GPU steps read (MNIST raw files, the CIFAR-10 subset) from ``source``."""
    copied = []
    for part in DATA_PARTS:
        src = source / part
        if not src.is_dir():
            raise SystemExit(f"gpu_session: {src} not found; pass the shared data folder (../shared/data)")
        dst = target / part
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst)
        copied.append(dst)
    return copied


def stage_package(site: Path, repo: Path = REPO) -> Path:
    """Lay the checkout out under ``site`` as the installed package (pyproject's package-dir mapping)."""
    mapping = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    for package in sorted(mapping, key=lambda name: name.count(".")):
        target = site.joinpath(*package.split("."))
        shutil.copytree(repo / mapping[package], target, ignore=shutil.ignore_patterns("__pycache__"))
    return site


class Session:
    """Runs the steps in order, each within what is left of the deadline, recording each in session.json."""

    def __init__(self, out: Path, deadline: float, env: dict[str, str]):
        self.out, self.deadline, self.env = out, deadline, env
        self.start = time.monotonic()
        self.record: dict = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "deadline_seconds": deadline,
                             "host": platform.node(), "python": sys.version.split()[0], "steps": []}

    def left(self) -> float:
        return self.deadline - (time.monotonic() - self.start)

    def save(self) -> None:
        self.record["seconds"] = round(time.monotonic() - self.start, 1)
        (self.out / "session.json").write_text(json.dumps(self.record, indent=2) + "\n")

    def step(self, name: str, argv: list[str], timeout: float, minimum: float = 20) -> int | None:
        """Run ``argv`` with output to $OUT/<name>.log and its tail printed; None if too little time is left."""
        timeout = min(timeout, self.left() - 5)
        entry = {"step": name, "command": " ".join(argv)}
        self.record["steps"].append(entry)
        if timeout < minimum:
            entry.update(status="skipped", reason=f"{self.left():.0f} s left of the deadline")
            self.save()
            print(f"== {name}: skipped ({entry['reason']})", flush=True)
            return None
        print(f"== {name} (at most {timeout:.0f} s): {entry['command']}", flush=True)
        began = time.monotonic()
        log = self.out / f"{name}.log"
        with log.open("w") as handle:
            try:
                code = subprocess.run(argv, stdout=handle, stderr=subprocess.STDOUT, env=self.env, cwd=REPO,
                                      timeout=timeout).returncode
                entry["status"] = "ok" if code == 0 else "failed"
            except subprocess.TimeoutExpired:
                code = 124
                entry["status"] = "timed out"
        entry.update(returncode=code, seconds=round(time.monotonic() - began, 1))
        self.save()
        tail = log.read_text(errors="replace").splitlines()[-25:]
        print("\n".join(tail), flush=True)
        print(f"== {name}: {entry['status']} (rc {code}, {entry['seconds']} s)", flush=True)
        return code


def fused_grid_epochs(runs: Path) -> dict:
    """Per run: the fused epochs' wall seconds and final J1 / J2 (all runs share the epoch times)."""
    summary = {}
    for metrics in sorted(runs.glob("*/metrics.jsonl")):
        rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
        summary[metrics.parent.name] = {"epoch_seconds": [round(r["seconds"], 2) for r in rows],
                                        "j1": rows[-1]["j1"] if rows else None, "j2": rows[-1]["j2"] if rows else None}
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage-data", type=Path, metavar="SHARED_DATA",
                        help="copy the datasets from SHARED_DATA into .gpu/data and stop (run this here)")
    parser.add_argument("--deadline", type=float, default=480, help="seconds for all steps (default 480)")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (toy sizes: a plumbing check)")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu-session-out")),
                        help="where results go (default $OUT)")
    parser.add_argument("--data-dir", type=Path, default=STAGED_DATA, help="dataset root (default .gpu/data)")
    parser.add_argument("--skip", default="", help="comma-separated steps to leave out (gpu-tests, grid-speed, fused-grid)")
    args = parser.parse_args(argv)
    if args.stage_data:
        for path in stage_data(args.stage_data):
            print(f"staged {path.relative_to(REPO)}")
        return 0
    if args.device not in ("cuda", "cpu"):
        parser.error(f"--device must be cuda or cpu, not {args.device!r}")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="symtheory-gpu-"))
    site = stage_package(work / "site")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               SYMTHEORY_DATA=str(args.data_dir.resolve()), PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1",
               PYTHONSAFEPATH="1")  # never the checkout's own symtheory/ folder from the working directory
    session = Session(args.out, args.deadline, env)
    session.record.update(device=args.device, staged_package=str(site))
    py = sys.executable
    cpu = args.device == "cpu"

    versions = ("import importlib.metadata as md, json, symtheory, torch\n"
                "v = {}\n"
                f"for name in {VERSIONS!r}:\n"
                "    try: v[name] = md.version(name)\n"
                "    except md.PackageNotFoundError: v[name] = 'missing'\n"
                "v['symtheory_from'] = symtheory.__file__\n"
                "v['cuda'] = torch.version.cuda; v['cudnn'] = torch.backends.cudnn.version()\n"
                "v['gpu'] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None\n"
                "print(json.dumps(v))\n")
    if session.step("env", [py, "-c", versions], 120) == 0:
        session.record["versions"] = json.loads((args.out / "env.log").read_text().strip().splitlines()[-1])
        session.save()
    if shutil.which("nvidia-smi"):
        session.step("nvidia-smi", ["nvidia-smi"], 30, minimum=5)

    if "grid-speed" not in skip:
        speed = [py, "benchmarks/grid_speed.py", "--device", args.device, "--out", str(args.out / "grid_speed.json")]
        if cpu:
            speed += ["--steps", "1", "--warmup", "1", "--replicas", "2", "--images", "64", "--models", "resnet32",
                      "--variants", "vmap,loop"]
        budget = max(30.0, session.left() - 220)
        session.step("grid-speed", speed + ["--budget", f"{budget:.0f}"], session.left() - 110)
    if "gpu-tests" not in skip:
        session.step("gpu-tests", [py, "-m", "pytest", "-m", "gpu", "-p", "no:cacheprovider", "-rs",
                                   "tests/test_fused.py", "tests/test_train.py"], 150)
    if "fused-grid" not in skip:
        runs = work / "runs"
        grid = [py, "-m", "symtheory", "grid", "--fused", "--epochs", "2", "--device", args.device,
                "--data-dir", str(args.data_dir), "--out", str(runs), "--json"]
        grid += (["--losses", "cce,rll", "--etas", "0.4", "--subset", "128"] if cpu else
                 ["--preset", "cifar10-resnet32", "--dataset", "cifar10-subset", "--checkpoint-every", "2"])
        session.step("fused-grid", grid, session.left() - 5, minimum=45)
        session.record["fused_grid"] = fused_grid_epochs(runs)
        session.save()
    failed = [s["step"] for s in session.record["steps"] if s.get("status") not in ("ok", "skipped")]
    print(f"session: {session.record['seconds']} s; results in {args.out}; "
          + (f"not ok: {', '.join(failed)}" if failed else "every step that ran passed"), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
