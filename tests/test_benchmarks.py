"""The benchmark scripts import and run: the GPU grid benchmark end to end on a tiny CPU setting.

Only consistency is asserted here (the table's ratios and projections follow from its own timings);
speed itself is measured by running the scripts, never by a test.
"""

from __future__ import annotations

import importlib.util
import json
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


@pytest.mark.parametrize("name", ["cold_start", "ranking_speed", "train_throughput", "grid_speed"])
def test_script_imports_and_has_main(name):
    assert callable(load_script(name).main)


def test_grid_speed_runs_on_cpu_and_its_figures_agree(tmp_path, capsys):
    grid_speed = load_script("grid_speed")
    out = tmp_path / "results.json"
    grid_speed.main(["--device", "cpu", "--steps", "1", "--warmup", "0", "--replicas", "2",
                     "--models", "resnet32", "--images", "64", "--out", str(out)])
    data = json.loads(out.read_text())
    assert "grid speed on CPU" in capsys.readouterr().out
    (model,) = data["models"]
    modes = model["modes"]
    assert set(modes) == {"a-baseline", "b-fast", "c-fused"} and modes["c-fused"]["runs"] == 2
    per_epoch = {m: t["per_model_epoch_seconds"] for m, t in modes.items()}
    assert all(v > 0 for v in per_epoch.values())
    assert model["ratio_a_c"] == pytest.approx(per_epoch["a-baseline"] / per_epoch["c-fused"], rel=1e-9)
    assert model["ratio_b_c"] == pytest.approx(per_epoch["b-fast"] / per_epoch["c-fused"], rel=1e-9)
    assert model["steps_per_epoch"] == -(-50_000 // 16)
