"""The benchmark scripts import and run: the GPU grid benchmark end to end on a tiny CPU setting.

Only consistency is asserted here (the table's ratios and projections follow from its own timings);
speed itself is measured by running the scripts, never by a test.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script is executed
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["cold_start", "ranking_speed", "train_throughput", "grid_speed", "theory_speed",
                                  "cpu_threads"])
def test_script_imports_and_has_main(name):
    assert callable(load_script(name).main)


def test_cold_start_phases_add_up_to_the_wall_time():
    cold_start = load_script("cold_start")
    phases = cold_start.phase_medians(1)
    assert set(phases) == set(cold_start.PHASE_LABELS) | {"total"}
    assert sum(phases[key] for key in cold_start.PHASE_LABELS) == pytest.approx(phases["total"], rel=1e-9)
    assert phases["proof"] > 0 and phases["sympy"] > 0


def assert_refused(script: str, argv: list[str], message: str) -> None:
    """The benchmark script exits 2 with ``message`` on its last stderr line (argparse's usage error)."""
    result = subprocess.run([sys.executable, str(BENCHMARKS / script), *argv], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert message in result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("argv,message", [
    (["--entry", "nope"], "argument --entry: invalid choice: 'nope'"),
    (["--repeats", "0"], "--repeats must be at least 1, got 0"),
])
def test_cold_start_refuses_bad_arguments(argv, message):
    assert_refused("cold_start.py", argv, message)


def test_cpu_threads_names_the_fastest_thread_count_of_each_row(data_dir):
    done = subprocess.run([sys.executable, str(BENCHMARKS / "cpu_threads.py"), "--archs", "mlp", "--threads", "1,2",
                           "--busy", "1", "--steps", "1", "--warmup", "0", "--repeats", "1", "--images", "256",
                           "--data-dir", str(data_dir)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [line.split("|")[1:-1] for line in done.stdout.splitlines() if line.startswith("| mlp")]
    assert [int(r[1]) for r in rows] == [0, 1]
    for row in rows:
        rates = {1: float(row[2]), 2: float(row[3])}
        assert min(rates.values()) > 0
        assert row[4].strip() == ("1 thread" if rates[1] > rates[2] else "2 threads")


@pytest.mark.parametrize("argv,message", [
    (["--threads", "0,1"], "expected positive integers separated by commas, got '0,1'"),
    (["--archs", "vgg"], "unknown architecture 'vgg'"),
    (["--busy", "-1"], "--busy must be >= 0"),
])
def test_cpu_threads_refuses_bad_arguments(argv, message):
    assert_refused("cpu_threads.py", argv, message)


def test_grid_speed_runs_on_cpu_and_its_figures_agree(tmp_path, capsys):
    grid_speed = load_script("grid_speed")
    out = tmp_path / "results.json"
    grid_speed.main(["--device", "cpu", "--steps", "1", "--warmup", "0", "--replicas", "2",
                     "--models", "resnet32", "--images", "64", "--variants", "vmap,loop", "--out", str(out)])
    data = json.loads(out.read_text())
    assert "grid speed on CPU" in capsys.readouterr().out
    assert "| resnet32 " in out.with_suffix(".md").read_text()
    assert data["command"].startswith("python benchmarks/grid_speed.py --device cpu --steps 1 ")
    assert f"command: `{data['command']}`" in out.with_suffix(".md").read_text()
    (model,) = data["models"]
    modes = model["modes"]
    assert set(modes) == {"a-baseline", "b-fast", "c-fused:vmap", "c-fused:loop"}
    assert modes["c-fused:vmap"]["runs"] == modes["c-fused:loop"]["runs"] == 2
    assert "R=2, loop, eager" in modes["c-fused:loop"]["note"]
    per_epoch = {m: t["per_model_epoch_seconds"] for m, t in modes.items()}
    assert all(v > 0 for v in per_epoch.values())
    best = min(("c-fused:vmap", "c-fused:loop"), key=per_epoch.get)
    assert model["best_fused"] == best
    assert model["ratio_a_c"] == pytest.approx(per_epoch["a-baseline"] / per_epoch[best], rel=1e-9)
    assert model["ratio_b_c"] == pytest.approx(per_epoch["b-fast"] / per_epoch[best], rel=1e-9)
    assert model["steps_per_epoch"] == -(-50_000 // 16)
    fused = modes[best]
    assert model["grid_seconds"][best] == pytest.approx(8 * 200 * fused["epoch_seconds"] + fused["warmup_seconds"])
    assert data["grid_total_seconds"]["c-fused (best variant per network)"] == model["grid_seconds"][best]
    assert data["skipped"] == []


def test_grid_speed_times_the_trainers_default_layout_first():
    import torch

    from symtheory.empirical.fused import default_layout

    grid_speed = load_script("grid_speed")
    for variants, device in zip(grid_speed.DEFAULT_VARIANTS, ("cuda", "cpu")):
        _, options = grid_speed.parse_variant(variants.split(",")[0])
        assert options.layout == default_layout(torch.device(device)), (device, variants)


def test_grid_speed_plans_what_the_ratios_need_first_and_honours_its_budget(tmp_path):
    grid_speed = load_script("grid_speed")
    args = grid_speed.parse_args(["--device", "cpu", "--models", "resnet32,resnet18", "--variants", "vmap,loop"])
    order = [(m[0], mode) for m, mode in grid_speed.plan(args)]
    assert order == [("resnet32", "a-baseline"), ("resnet32", "b-fast"), ("resnet32", "c-fused:vmap"),
                     ("resnet18", "a-baseline"), ("resnet18", "b-fast"), ("resnet18", "c-fused:vmap"),
                     ("resnet32", "c-fused:loop"), ("resnet18", "c-fused:loop")]
    out = tmp_path / "cut.json"
    result = grid_speed.main(["--device", "cpu", "--models", "resnet32", "--modes", "c", "--budget", "0",
                              "--out", str(out)])
    skipped = ["resnet32 c-fused:loop", "resnet32 c-fused:vmap"]  # the CPU's default variants
    assert result.models == [] and result.skipped == skipped
    assert json.loads(out.read_text())["skipped"] == skipped


@pytest.mark.parametrize("argv,message", [
    (["--variants", "scan"], "unknown fused layout 'scan'"),
    (["--variants", "vmap+fastest"], "unknown compile mode 'fastest'"),
    (["--models", "vgg"], "unknown model or mode: vgg"),
])
def test_grid_speed_refuses_bad_arguments(argv, message, capsys):
    grid_speed = load_script("grid_speed")
    with pytest.raises(SystemExit) as exit_info:
        grid_speed.parse_args(["--device", "cpu", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_theory_speed_times_each_case_and_reports_what_the_analysis_found(capsys):
    theory_speed = load_script("theory_speed")
    timings = theory_speed.main(["--repeats", "2", "--cases", "mae,taylor-ce:5,expr:kink"])
    assert [(t.case, len(t.seconds), t.verdict, t.bounded) for t in timings] == [
        ("mae", 2, "proved", "yes"), ("taylor-ce:5", 2, "refuted", "yes"), ("expr:kink", 2, "refuted", "yes")]
    rows = capsys.readouterr().out.splitlines()
    assert rows[1].split() == ["case", "min", "s", "median", "s", "verdict", "bounded"] and len(rows) == 5
    with pytest.raises(SystemExit) as exit_info:
        theory_speed.parse_args(["--cases", "nope"])
    assert exit_info.value.code == 2
