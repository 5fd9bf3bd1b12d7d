"""The prepared GPU call (benchmarks/gpu_session.py) works without an install and leaves its results.

It runs on a machine where the package is not installed: the staged tree must hold every subpackage (each
module found there, not through this checkout's editable install), and a whole session at toy sizes on
the CPU must run every step and record it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from test_benchmarks import load_script


@pytest.fixture(scope="module")
def session():
    return load_script("gpu_session")


def test_staged_package_imports_every_subpackage_from_the_staged_tree(session, tmp_path):
    site = session.stage_package(tmp_path / "site")
    code = ("import sys, symtheory, symtheory.cli.app, symtheory.empirical.fused, symtheory.paper_checks.suite\n"
            "for m in ('symtheory', 'symtheory.cli.app', 'symtheory.empirical.fused', 'symtheory.paper_checks.suite'):\n"
            "    assert sys.modules[m].__file__.startswith(sys.argv[1]), sys.modules[m].__file__\n"
            "print('ok')\n")
    env = dict(os.environ, PYTHONPATH=str(site), PYTHONSAFEPATH="1")
    done = subprocess.run([sys.executable, "-c", code, str(site)], capture_output=True, text=True, env=env,
                          cwd=session.REPO, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr
    assert not list(site.rglob("__pycache__"))


def test_stage_data_names_a_missing_folder(session, tmp_path):
    with pytest.raises(SystemExit, match="MNIST/raw not found"):
        session.stage_data(tmp_path / "nothing", tmp_path / "target")


def test_a_cpu_session_runs_every_step_and_records_it(session, data_dir, tmp_path):
    out = tmp_path / "out"
    code = session.main(["--device", "cpu", "--out", str(out), "--data-dir", str(data_dir), "--deadline", "400"])
    record = json.loads((out / "session.json").read_text())
    steps = {s["step"]: s for s in record["steps"]}
    assert code == 0, steps
    assert {"env", "gpu-tests", "grid-speed", "fused-grid"} <= set(steps)
    assert all(s["status"] == "ok" for s in steps.values()), steps
    assert record["versions"]["symtheory_from"].startswith(record["staged_package"])
    speed = json.loads((out / "grid_speed.json").read_text())
    assert set(speed["models"][0]["modes"]) == {"a-baseline", "b-fast", "c-fused:vmap", "c-fused:loop"}
    assert sorted(record["fused_grid"]) == ["cce-eta0.4-seed0", "rll-eta0.4-seed0"]
    assert all(len(run["epoch_seconds"]) == 2 for run in record["fused_grid"].values())
    assert "3 skipped" in (out / "gpu-tests.log").read_text()


def test_a_session_skips_what_its_deadline_cannot_hold(session, tmp_path):
    out = tmp_path / "out"
    code = session.main(["--device", "cpu", "--out", str(out), "--deadline", "15", "--skip", "gpu-tests"])
    steps = {s["step"]: s for s in json.loads((out / "session.json").read_text())["steps"]}
    assert code == 0
    assert "gpu-tests" not in steps
    assert steps["fused-grid"]["status"] == "skipped" and "left of the deadline" in steps["fused-grid"]["reason"]
