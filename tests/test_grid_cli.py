"""``symtheory grid``: the fused backend's options reach the trainer (recorded in config.json); misplaced or
unknown options, and a network that does not take the data, exit 2 with one line before any run directory
is made; each run is announced as it starts and skipped once finished."""

from __future__ import annotations

import csv
import json
import re

import pytest

from cli_helpers import assert_bad_input, run_cli
from symtheory.cli.app import main
from symtheory.empirical.grid import announcement
from symtheory.errors import BadInput

BAD_FUSED_OPTIONS = {
    "layout without fused": (["--layout", "loop"], "--layout needs --fused"),
    "no-compile without fused": (["--no-compile"], "--compile/--no-compile needs --fused"),
    "unknown layout": (["--fused", "--layout", "scan"], "unknown fused layout 'scan'; choices: vmap, loop"),
    "unknown backend": (["--fused", "--compile-backend", "tvm"], "unknown compile backend 'tvm'"),
    "mode with cudagraphs": (["--fused", "--compile-backend", "cudagraphs", "--compile-mode", "max-autotune"],
                             "applies to the inductor backend only"),
    "checkpoint every 0": (["--fused", "--checkpoint-every", "0"], "--checkpoint-every must be at least 1, got 0"),
    "threads 0": (["--threads", "0"], "--threads must be at least 1, got 0"),
    "threads with ray": (["--backend", "ray", "--threads", "1"], "Ray runs take theirs from --cpus-per-run"),
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


@pytest.mark.parametrize("backend", [[], ["--fused"]])
def test_a_network_that_does_not_take_the_data_is_refused_before_any_run(backend, tmp_path):
    out = tmp_path / "grid"
    done = run_cli("grid", *backend, "--preset", "mnist-resnet18", "--dataset", "cifar10-subset", "--out", str(out))
    assert_bad_input(done, "resnet18 expects 1-channel input, got 3x32x32")
    assert done.stdout == "" and not out.exists()


@pytest.mark.parametrize("case", ["no data", "subset too large", "out is a file"])
def test_missing_data_a_too_large_subset_or_a_file_as_out_is_refused_before_any_progress(case, tmp_path, data_dir):
    out, data = tmp_path / "grid", data_dir
    if case == "no data":
        data = tmp_path / "no-data"
    elif case == "out is a file":
        out.write_text("")
    subset = "100000" if case == "subset too large" else "64"
    done = run_cli("grid", "--preset", "mnist-resnet18", "--losses", "cce", "--etas", "0.2", "--epochs", "1",
                   "--subset", subset, "--device", "cpu", "--data-dir", str(data), "--out", str(out))
    fragment = {"no data": f"mnist data not found or corrupt in {data}", "subset too large": "--subset must be between 1 "
                "and 60,000", "out is a file": f"--out {out} is a file, not a folder"}[case]
    assert_bad_input(done, fragment)
    assert done.stdout == "" and (out.is_file() or not out.exists())


def test_a_run_is_announced_as_it_starts_and_skipped_when_finished(tmp_path, data_dir):
    out = tmp_path / "grid"
    args = ("grid", "--losses", "rll", "--etas", "0.2", "--subset", "64", "--epochs", "1", "--device", "cpu",
            "--data-dir", str(data_dir), "--out", str(out))
    first = run_cli(*args, timeout=300)
    assert first.returncode == 0, first.stderr
    assert f"training: rll eta=0.2 seed=0 -> {out / 'rll-eta0.2-seed0'}" in first.stdout.splitlines()
    assert "grid (1 run) " in first.stdout and "1 runs" not in first.stdout
    again = run_cli(*args, "--json", timeout=300)
    assert again.returncode == 0, again.stderr
    assert [(o["action"], o["status"]) for o in json.loads(again.stdout)] == [("skipped", "finished")]


def test_announcement_reads_as_the_start_of_a_run():
    assert [announcement(a) for a in ("trained", "resumed", "trained (fused)", "resumed (ray)", "finished")] == [
        "training", "resuming", "training (fused)", "resuming (ray)", "finished"]


def interrupt(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize("argv, module, name, hint", [
    (["grid", "--out", "{tmp}/grid", "--data-dir", "{data}"], "symtheory.empirical.grid", "run_grid",
     "; run the same command again: finished runs are skipped, interrupted ones resume"),
    (["paper-check", "--only", "E1", "--runs", "{tmp}/ci"], "symtheory.empirical.grid", "run_grid",
     "; run the same command again: the ci grid's finished runs are kept, interrupted ones resume"),
    (["plot", "{tmp}", "-o", "{tmp}/fig.png"], "symtheory.empirical.plots", "collect_runs", ""),
])
def test_ctrl_c_exits_130_with_one_line(argv, module, name, hint, tmp_path, data_dir, monkeypatch, capsys):
    import importlib

    monkeypatch.setattr(importlib.import_module(module), name, interrupt)
    with pytest.raises(SystemExit) as stop:
        main([a.format(tmp=tmp_path, data=data_dir) for a in argv])
    assert stop.value.code == 130
    assert capsys.readouterr().err.splitlines() == [f"symtheory: interrupted{hint}"]


def test_a_diverged_run_is_done_for_the_grid_and_is_not_resumed(tmp_path, data_dir):
    out = tmp_path / "grid"
    common = ("--subset", "64", "--device", "cpu", "--data-dir", str(data_dir))
    diverged = out / "cce-eta0.2-seed0"
    first = run_cli("train", "--arch", "mlp", "--dataset", "mnist", "--loss", "cce", "--eta", "0.2", "--epochs", "3",
                    "--lr", "1e30", "--out", str(diverged), "--quiet", *common, timeout=300)
    assert first.returncode == 1, first.stderr
    config = json.loads((diverged / "config.json").read_text())
    config["train"]["lr"] = 1e-3  # as if the grid's own settings had diverged (a grid refuses another experiment)
    (diverged / "config.json").write_text(json.dumps(config))
    summary = json.loads((diverged / "summary.json").read_text())
    assert summary["status"] == "stopped-nonfinite" and summary["epochs_completed"] == 1
    assert summary["message"] == "training loss became non-finite (nan) in epoch 2; stopped, metrics of epoch 1 kept"

    assert_bad_input(run_cli("train", "--resume", str(diverged), timeout=300),
                     f"{diverged}: training loss became non-finite (nan) in epoch 2; stopped, metrics of "
                     "epoch 1 kept; resuming would repeat it with the same settings")

    grid = run_cli("grid", "--losses", "cce,rll", "--etas", "0.2", "--epochs", "3", "--out", str(out), *common,
                   timeout=300)
    assert grid.returncode == 1, grid.stderr
    assert f"training: rll eta=0.2 seed=0 -> {out / 'rll-eta0.2-seed0'}" in grid.stdout.splitlines()
    assert "training: cce" not in grid.stdout and "resuming: cce" not in grid.stdout
    assert (f"cce eta=0.2 seed=0: stopped-nonfinite: diverged earlier (training loss became non-finite (nan) in "
            f"epoch 2; stopped, metrics of epoch 1 kept); delete {diverged} to train it again") in grid.stdout
    assert json.loads((diverged / "summary.json").read_text()) == summary
    again = run_cli("grid", "--losses", "cce,rll", "--etas", "0.2", "--epochs", "3", "--out", str(out), "--json",
                    *common, timeout=300)
    assert again.returncode == 1, again.stderr
    assert [(o["action"], o["status"]) for o in json.loads(again.stdout)] == [
        ("skipped", "stopped-nonfinite"), ("skipped", "finished")]


def test_nonfinite_message_names_the_kept_epochs():
    from symtheory.empirical.run_setup import nonfinite_message

    assert nonfinite_message(float("inf"), 1) == "training loss became non-finite (inf) in epoch 1; stopped"
    assert nonfinite_message(float("nan"), 5).endswith("in epoch 5; stopped, metrics of epochs 1-4 kept")


@pytest.mark.parametrize("backend", [[], ["--fused"]])
def test_a_grid_refuses_runs_of_another_experiment_and_extends_runs_asked_for_more_epochs(backend, tmp_path,
                                                                                          data_dir):
    out = tmp_path / "grid"
    common = ("grid", *backend, "--losses", "cce,rll", "--etas", "0.2", "--device", "cpu", "--data-dir",
              str(data_dir), "--out", str(out))
    first = run_cli(*common, "--subset", "64", "--epochs", "1", "--json", timeout=300)
    assert first.returncode == 0, first.stderr
    other = run_cli(*common, "--subset", "96", "--epochs", "1", timeout=300)
    assert_bad_input(other, f"{out / 'cce-eta0.2-seed0'} holds a run with other settings than this grid's: "
                            "subset 64 (this grid: 96); use another --out")
    shorter = run_cli(*common, "--subset", "64", "--epochs", "2", "--json", timeout=300)
    assert shorter.returncode == 0, shorter.stderr
    assert [(o["action"].split()[0], o["status"]) for o in json.loads(shorter.stdout)] == [
        ("resumed", "finished"), ("resumed", "finished")]
    for name in ("cce-eta0.2-seed0", "rll-eta0.2-seed0"):
        summary = json.loads((out / name / "summary.json").read_text())
        assert (summary["epochs_completed"], summary["epochs_planned"]) == (2, 2)
    assert_bad_input(run_cli(*common, "--subset", "64", "--epochs", "1", timeout=300),
                     "epochs 2 (this grid: 1)")
    assert_bad_input(run_cli(*common, "--epochs", "2", timeout=300), "subset 64 (this grid: none)")


def test_grid_experiment_options_reach_each_run_that_takes_them(tmp_path, data_dir):
    out = tmp_path / "grid"
    done = run_cli("grid", "--losses", "cce,gce", "--etas", "0.4", "--subset", "64", "--epochs", "1", "--param",
                   "q=0.5", "--optimizer", "sgd", "--lr", "0.02", "--weight-decay", "0.0001", "--noise", "pair",
                   "--data-dir", str(data_dir), "--out", str(out), "--json", timeout=300)
    assert done.returncode == 0, done.stderr
    cce = json.loads((out / "cce-eta0.4-seed0" / "config.json").read_text())["train"]
    gce = json.loads((out / "gce-eta0.4-seed0" / "config.json").read_text())["train"]
    assert (cce["loss_params"], gce["loss_params"]) == ({}, {"q": 0.5})
    assert (gce["optimizer"], gce["lr"], gce["weight_decay"], gce["noise"]) == ("sgd", 0.02, 0.0001, "pair")
    outcomes = json.loads(done.stdout)
    assert [(o["loss"], o["loss_params"], o["noise"], o["eta"], o["seed"], o["epochs"]) for o in outcomes] == [
        ("cce", {}, "pair", 0.4, 0, 1), ("gce", {"q": 0.5}, "pair", 0.4, 0, 1)]
    with open(out / "grid.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [r["epochs"] for r in table] == ["1", "1"]
    assert [(r["loss"], r["loss_params"], r["eta"], r["status"]) for r in table] == [
        ("cce", "", "0.4", "finished"), ("gce", "q=0.5", "0.4", "finished")]
    assert float(table[1]["j1"]) == outcomes[1]["final"]["j1"]
    assert_bad_input(run_cli("grid", "--losses", "rll", "--alpha", "0.1", "--param", "alpha=0.2", "--out",
                             str(tmp_path / "g4")), "give alpha once")
    assert_bad_input(run_cli("grid", "--losses", "cce,mse", "--param", "q=0.5", "--out", str(tmp_path / "g2")),
                     "--param q: none of the grid's losses (cce, mse) has it")
    for backend in ("eager", "inductor"):  # inductor, the default, was taken for "not given" and dropped
        assert_bad_input(run_cli("grid", "--fused", "--compile-backend", backend, "--device", "cpu", "--losses",
                                 "cce", "--etas", "0.4", "--subset", "64", "--epochs", "1", "--data-dir",
                                 str(data_dir), "--out", str(tmp_path / "g5"), timeout=300),
                         "--compile-backend/--compile-mode apply only when the step is compiled, which on cpu needs "
                         "--compile")
        assert not (tmp_path / "g5").exists()
    assert_bad_input(run_cli("grid", "--fused", "--backend", "ray", "--out", str(tmp_path / "g3")),
                     "--fused is --backend fused; it cannot be combined with --backend ray")
    # --backend local with --fused trained fused, as if --backend were not given
    assert_bad_input(run_cli("grid", "--backend", "local", "--fused", "--out", str(tmp_path / "g3")),
                     "--fused is --backend fused; it cannot be combined with --backend local")
    assert not (tmp_path / "g3").exists()


def test_a_sweep_plans_the_losses_with_the_parameter_once_per_value_and_the_others_once(tmp_path):
    from symtheory.empirical.grid import plan_sweep

    runs = plan_sweep(tmp_path, "alpha=0.01,1/10", None, ["cce", "rll", "sce"], [0.2], [0, 1])
    assert [(r.run_dir.relative_to(tmp_path).as_posix(), r.config.loss_params.get("alpha"), r.label) for r in runs
            if r.config.seed == 0] == [
        ("cce-eta0.2-seed0", None, "cce eta=0.2 seed=0"),
        ("alpha0.01/rll-eta0.2-seed0", 0.01, "rll(alpha=0.01) eta=0.2 seed=0"),
        ("alpha0.01/sce-eta0.2-seed0", 0.01, "sce(alpha=0.01) eta=0.2 seed=0"),
        ("alpha1_10/rll-eta0.2-seed0", 0.1, "rll(alpha=1/10) eta=0.2 seed=0"),
        ("alpha1_10/sce-eta0.2-seed0", 0.1, "sce(alpha=1/10) eta=0.2 seed=0")]
    assert len(runs) == 10
    sce = [r for r in runs if r.config.loss == "sce"][0].config.loss_params
    assert sce == {"alpha": 0.01, "beta": 1.0, "A": 4.0}
    for sweep, others, expected in [
        ("alpha=0.1,0.10", {}, "--sweep alpha: 0.1 and 0.10 are the same value"),
        ("alpha=0.1,0.1", {}, "--sweep 'alpha=0.1,0.1' lists a value twice"),
        ("q=0.5", {}, "--sweep q: none of the grid's losses (cce, rll, sce) has it"),
        ("alpha=0.1", {"alpha": "0.2"}, "give alpha either as a sweep or as --param/--alpha, not both"),
        ("alpha", {}, "--sweep expects name=value,value,..., got 'alpha'"),
        ("alpha=0.1,", {}, "--sweep expects name=value,value,..."),
    ]:
        with pytest.raises(BadInput, match=re.escape(expected)):
            plan_sweep(tmp_path, sweep, None, ["cce", "rll", "sce"], [0.2], loss_params=others)


def test_a_sweep_trains_each_value_and_a_second_call_skips_them(tmp_path, data_dir):
    out = tmp_path / "sweep"
    args = ("grid", "--sweep", "alpha=0.01,0.45", "--losses", "cce,rll", "--etas", "0.4", "--subset", "64",
            "--epochs", "1", "--device", "cpu", "--data-dir", str(data_dir), "--out", str(out), "--json")
    first = run_cli(*args, timeout=300)
    assert first.returncode == 0, first.stderr
    outcomes = json.loads(first.stdout)
    assert [(o["label"], o["loss_params"], o["status"]) for o in outcomes] == [
        ("cce eta=0.4 seed=0", {}, "finished"), ("rll(alpha=0.01) eta=0.4 seed=0", {"alpha": 0.01}, "finished"),
        ("rll(alpha=0.45) eta=0.4 seed=0", {"alpha": 0.45}, "finished")]
    saved = json.loads((out / "alpha0.45" / "rll-eta0.4-seed0" / "config.json").read_text())["train"]
    assert saved["loss_params"] == {"alpha": 0.45}
    with open(out / "grid.csv", newline="") as handle:
        assert [r["loss_params"] for r in csv.DictReader(handle)] == ["", "alpha=0.01", "alpha=0.45"]
    again = run_cli(*args, timeout=300)
    assert [o["action"] for o in json.loads(again.stdout)] == ["skipped"] * 3


def test_outcomes_follow_the_plan_whichever_runs_were_already_done(tmp_path, data_dir):
    from symtheory.empirical.grid import plan_grid, run_grid

    runs = plan_grid(tmp_path, None, ["cce", "rll"], [0.4], [0], subset=64, epochs=1, device="cpu")
    run_grid(runs[1:], data_dir=data_dir)
    outcomes = run_grid(runs, data_dir=data_dir)
    assert [(o.label, o.action) for o in outcomes] == [("cce eta=0.4 seed=0", "trained"),
                                                      ("rll eta=0.4 seed=0", "skipped")]


def test_a_grid_stopped_by_ctrl_c_still_writes_its_table(tmp_path, data_dir):
    from symtheory.empirical.grid import plan_grid, run_grid

    runs = plan_grid(tmp_path, None, ["cce", "mse", "rll"], [0.4], [0], subset=64, epochs=2, device="cpu")
    run_grid(runs[2:], data_dir=data_dir)

    def stop_in_mse(run, row):
        if run.config.loss == "mse" and row["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_grid(runs, data_dir=data_dir, on_epoch=stop_in_mse, table=tmp_path / "grid.csv")
    with open(tmp_path / "grid.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [(r["loss"], r["action"], r["status"], r["epochs"]) for r in table] == [
        ("cce", "trained", "finished", "2"), ("mse", "stopped", "interrupted", "1"), ("rll", "skipped", "finished", "2")]
    mse_epoch_1 = json.loads((tmp_path / "mse-eta0.4-seed0" / "metrics.jsonl").read_text().splitlines()[0])
    assert float(table[1]["j1"]) == mse_epoch_1["j1"]
    assert run_grid(runs, data_dir=data_dir, table=tmp_path / "grid.csv")[1].action == "resumed"
    with open(tmp_path / "grid.csv", newline="") as handle:
        assert [(r["action"], r["epochs"]) for r in csv.DictReader(handle)] == [
            ("skipped", "2"), ("resumed", "2"), ("skipped", "2")]


def test_a_run_whose_metrics_cannot_be_read_is_stopped_in_the_table_and_the_reason_kept(tmp_path, data_dir):
    from symtheory.empirical.grid import plan_grid, run_grid

    runs = plan_grid(tmp_path, None, ["cce", "mse"], [0.4], [0], subset=64, epochs=3, device="cpu")

    def stop_in_mse(run, row):
        if run.config.loss == "mse" and row["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_grid(runs, data_dir=data_dir, on_epoch=stop_in_mse)
    metrics = tmp_path / "mse-eta0.4-seed0" / "metrics.jsonl"
    lines = metrics.read_text().splitlines()
    metrics.write_text("{damaged\n" + lines[1] + "\n")
    with pytest.raises(BadInput, match="line 1 is damaged") as raised:
        run_grid(runs, data_dir=data_dir, table=tmp_path / "grid.csv")
    assert raised.value.__context__ is None
    with open(tmp_path / "grid.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [(r["loss"], r["action"], r["status"], r["epochs"], r["j1"]) for r in table] == [
        ("cce", "skipped", "finished", "3", table[0]["j1"]), ("mse", "stopped", "interrupted", "1", "")]
    assert float(table[0]["j1"]) >= 0
