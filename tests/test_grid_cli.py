"""``symtheory grid`` with the fused backend's options: they reach the trainer (recorded in config.json),
and misplaced or unknown ones exit 2 with one line before any run directory is made."""

from __future__ import annotations

import json

import pytest

from cli_helpers import assert_bad_input, run_cli

BAD_FUSED_OPTIONS = {
    "layout without fused": (["--layout", "loop"], "--layout needs --fused"),
    "no-compile without fused": (["--no-compile"], "--compile/--no-compile needs --fused"),
    "unknown layout": (["--fused", "--layout", "scan"], "unknown fused layout 'scan'; choices: vmap, loop"),
    "unknown backend": (["--fused", "--compile-backend", "tvm"], "unknown compile backend 'tvm'"),
    "mode with cudagraphs": (["--fused", "--compile-backend", "cudagraphs", "--compile-mode", "max-autotune"],
                             "applies to the inductor backend only"),
    "checkpoint every 0": (["--fused", "--checkpoint-every", "0"], "checkpoint_every must be at least 1"),
}


@pytest.mark.parametrize("case", list(BAD_FUSED_OPTIONS))
def test_bad_fused_options_exit_2_with_one_line(case, tmp_path):
    args, expected = BAD_FUSED_OPTIONS[case]
    out = tmp_path / "grid"
    assert_bad_input(run_cli("grid", *args, "--epochs", "1", "--out", str(out)), expected)
    assert not out.exists()


def test_fused_grid_passes_its_options_to_every_run(tmp_path, data_dir):
    out = tmp_path / "grid"
    done = run_cli("grid", "--fused", "--layout", "loop", "--no-compile", "--checkpoint-every", "2",
                   "--losses", "cce,rll", "--etas", "0.4", "--subset", "128", "--epochs", "1", "--device", "cpu",
                   "--data-dir", str(data_dir), "--out", str(out), "--json", timeout=300)
    assert done.returncode == 0, done.stderr
    outcomes = json.loads(done.stdout)
    assert [o["status"] for o in outcomes] == ["finished", "finished"]
    for name in ("cce-eta0.4-seed0", "rll-eta0.4-seed0"):
        fused = json.loads((out / name / "config.json").read_text())["resolved"]["fused"]
        assert (fused["layout"], fused["compile"], fused["checkpoint_every"], fused["replicas"]) == ("loop", False, 2, 2)
        assert (out / name / "checkpoint.pt").is_file()
