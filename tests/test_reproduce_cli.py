"""``symtheory reproduce``: the paper's grids planned per preset under one folder, refused before any run
directory on bad input or missing data, trained (skipping what is finished), then judged by the full tier
(only the presets asked for) with the report, the claims and a record of the call written beside them."""

from __future__ import annotations

import csv
import json

import pytest

from cli_helpers import assert_bad_input, run_cli
from symtheory.cli.app import main
from symtheory.cli.reproduce import claim_lines, plan_lines
from symtheory.empirical.paper_grid import plan_paper, resolve_backend
from symtheory.paper_checks.claim import ClaimResult
from test_paper_checks_runs import write_grid


def test_the_plan_is_the_paper_grid_per_preset_and_trains_nothing(tmp_path):
    out = tmp_path / "paper"
    done = run_cli("reproduce", "--plan", "--json", "--cifar-dataset", "cifar10-subset", "--device", "cpu",
                   "--out", str(out))
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["backend"] == "local"
    rows = {p["preset"]: p for p in plan["plan"]}
    assert list(rows) == ["mnist-resnet18", "cifar10-resnet32", "cifar10-inception"]
    assert [(p["arch"], p["dataset"], p["runs"], p["epochs_per_run"], p["new"], p["epochs_to_train"])
            for p in rows.values()] == [("resnet18", "mnist", 16, 200, 16, 3200),
                                        ("resnet32", "cifar10-subset", 16, 200, 16, 3200),
                                        ("inception-lite", "cifar10-subset", 16, 100, 16, 1600)]
    assert rows["cifar10-resnet32"]["folder"] == str(out / "cifar10-resnet32")
    assert not out.exists()
    text = run_cli("reproduce", "--plan", "--presets", "mnist-resnet18", "--epochs", "3", "--losses", "rll",
                   "--device", "cpu", "--out", str(out))
    assert text.returncode == 0, text.stderr
    assert "mnist-resnet18: resnet18 on mnist, 4 runs x 3 epochs (4 new); 12 epochs to train" in text.stdout


def test_the_plan_says_which_data_is_missing(tmp_path):
    out, empty = tmp_path / "paper", tmp_path / "no-data"
    done = run_cli("reproduce", "--plan", "--presets", "mnist-resnet18,cifar10-resnet32,cifar10-inception", "--losses",
                   "cce", "--etas", "0", "--device", "cpu", "--data-dir", str(empty), "--out", str(out))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    cifar = (f"cifar10 data not found or corrupt in {empty / 'cifar-10-batches-py'} (no such folder); point --data-dir "
             "DIR or SYMTHEORY_DATA=DIR at a directory holding cifar-10-batches-py, or pass --download (needs "
             "internet); where the full CIFAR-10 is not available, --cifar-dataset cifar10-subset trains on the real "
             "5,000-image subset")
    assert lines[1:] == [
        "  mnist-resnet18: resnet18 on mnist, 1 run x 200 epochs (1 new); 200 epochs to train, but its data (mnist) "
        "cannot be read (below)",
        "  cifar10-resnet32: resnet32 on cifar10, 1 run x 200 epochs (1 new); 200 epochs to train, but its data "
        "(cifar10) cannot be read (below)",
        "  cifar10-inception: inception-lite on cifar10, 1 run x 100 epochs (1 new); 100 epochs to train, but its data "
        "(cifar10) cannot be read (below)",
        f"a call that trains would stop before training: mnist data not found or corrupt in {empty / 'MNIST' / 'raw'} "
        "(no such folder); point --data-dir DIR or SYMTHEORY_DATA=DIR at a directory holding MNIST/raw, or pass "
        "--download (needs internet)",
        f"a call that trains would stop before training: {cifar}"]
    assert not out.exists()


def test_the_plan_with_download_says_the_data_is_downloaded_first(tmp_path):
    out, empty = tmp_path / "paper", tmp_path / "no-data"
    done = run_cli("reproduce", "--plan", "--download", "--presets", "mnist-resnet18", "--losses", "cce", "--etas", "0",
                   "--device", "cpu", "--data-dir", str(empty), "--out", str(out))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1] == ("  mnist-resnet18: resnet18 on mnist, 1 run x 200 epochs (1 new); 200 epochs to train, after "
                        "downloading its data (mnist, below)")
    assert lines[2].startswith("a call that trains downloads it first (--download, needs internet; it stops before "
                               "training if that fails): mnist data not found or corrupt in ")
    assert len(lines) == 3 and not empty.exists() and not out.exists()


def test_the_plan_counts_one_epoch_in_the_singular(tmp_path):
    row = {"preset": "mnist-resnet18", "arch": "resnet18", "dataset": "mnist", "subset": 64, "runs": 1,
           "epochs_per_run": 1, "finished": 0, "diverged": 0, "interrupted": 0, "new": 1, "epochs_to_train": 1}
    assert plan_lines([row], "local", tmp_path)[1] == (
        "  mnist-resnet18: resnet18 on mnist (subset 64), 1 run x 1 epoch (1 new); 1 epoch to train")


@pytest.mark.parametrize("args, expected", [
    (["--presets", "mnist-resnet18,cifar10-resnet50"], "unknown preset 'cifar10-resnet50'"),
    (["--presets", "mnist-resnet18,mnist-resnet18"], "preset mnist-resnet18 is listed twice"),
    (["--cifar-dataset", "cifar100"], "unknown CIFAR-10 dataset 'cifar100'; choices: cifar10, cifar10-subset"),
    (["--backend", "ray"], "unknown backend 'ray'; choices: auto, local, fused"),
    (["--etas", "0,,0.2"], "empty eta"),
    (["--threads", "0"], "--threads must be at least 1, got 0"),
    (["--param", "q=0.5"], "--param q: none of the grid's losses (cce, mse, rll, nmse) has it"),
])
def test_bad_input_exits_2_with_one_line_before_any_run_directory(args, expected, tmp_path):
    out = tmp_path / "paper"
    assert_bad_input(run_cli("reproduce", *args, "--device", "cpu", "--out", str(out)), expected)
    assert not out.exists()


def test_missing_data_or_too_large_a_subset_stops_the_call_before_training(tmp_path, data_dir):
    out = tmp_path / "paper"
    done = run_cli("reproduce", "--presets", "mnist-resnet18", "--device", "cpu", "--data-dir",
                   str(tmp_path / "empty"), "--out", str(out))
    assert_bad_input(done, f"mnist data not found or corrupt in {tmp_path / 'empty' / 'MNIST'}")
    assert not out.exists()
    done = run_cli("reproduce", "--presets", "mnist-resnet18,cifar10-resnet32", "--cifar-dataset", "cifar10-subset",
                   "--subset", "6000", "--device", "cpu", "--data-dir", str(data_dir), "--out", str(out))
    assert_bad_input(done, "--subset must be between 1 and 5,000, the size of the cifar10-subset training split")
    done = run_cli("reproduce", "--presets", "mnist-resnet18,cifar10-resnet32", "--device", "cpu", "--data-dir",
                   str(data_dir), "--out", str(out))
    assert_bad_input(done, "cifar10 data not found or corrupt in")
    assert "--cifar-dataset cifar10-subset trains on the real 5,000-image subset" in done.stderr
    assert not out.exists()


def test_finished_full_scale_runs_are_skipped_and_judged_for_the_presets_asked(tmp_path, data_dir):
    out = tmp_path / "paper"
    write_grid(out / "mnist-resnet18", preset="mnist-resnet18")  # fabricated: 16 finished 200-epoch runs
    done = run_cli("reproduce", "--presets", "mnist-resnet18", "--device", "cpu", "--data-dir", str(data_dir),
                   "--out", str(out), "--json", timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    outcomes = result["outcomes"]["mnist-resnet18"]
    assert len(outcomes) == 16 and {(o["action"], o["status"]) for o in outcomes} == {("skipped", "finished")}
    empirical = [c for c in result["claims"] if c["claim"].startswith("E")]
    assert [c["claim"] for c in empirical] == [f"E{i} [mnist-resnet18/mnist]" for i in range(1, 7)]
    assert all(c["verdict"] == "holds" for c in empirical), [c["measured"] for c in empirical]
    assert not any("cifar10" in c["claim"] for c in result["claims"])
    assert json.loads((out / "claims.json").read_text()) == result["claims"]
    assert "## mnist-resnet18" in (out / "report.md").read_text()
    record = json.loads((out / "reproduce.json").read_text())["calls"][-1]
    assert record["command"][:4] == ["symtheory", "reproduce", "--presets", "mnist-resnet18"]
    assert record["backend"] == "local" and record["machine"]["device"] == "cpu"
    with open(out / "mnist-resnet18" / "grid.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 16


@pytest.mark.slow
def test_a_small_rehearsal_trains_reports_and_is_skipped_the_second_time(tmp_path, data_dir):
    out = tmp_path / "paper"
    args = ("reproduce", "--presets", "cifar10-inception", "--cifar-dataset", "cifar10-subset", "--losses", "cce",
            "--etas", "0,0.4", "--epochs", "1", "--subset", "32", "--device", "cpu", "--data-dir", str(data_dir),
            "--out", str(out))
    first = run_cli(*args, timeout=600)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert f"training: cce eta=0.4 seed=0 -> {out / 'cifar10-inception' / 'cce-eta0.4-seed0'}" in lines
    assert any(line.startswith("[not run] E1, E2, E3, E4, E5, E6 [cifar10-inception]: runs in ") for line in lines)
    assert "mnist-resnet18" not in first.stdout
    summary = json.loads((out / "cifar10-inception" / "cce-eta0.4-seed0" / "summary.json").read_text())
    assert (summary["status"], summary["epochs_completed"]) == ("finished", 1)
    report = (out / "report.md").read_text()
    assert "| cce | 0.4 | 0 | 1 |" in report and "dataset cifar10-subset" in report
    again = run_cli(*args, "--json", timeout=600)
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert [(o["action"], o["status"]) for o in result["outcomes"]["cifar10-inception"]] == [
        ("skipped", "finished"), ("skipped", "finished")]
    assert [p["finished"] for p in result["plan"]] == [2]
    assert len(json.loads((out / "reproduce.json").read_text())["calls"]) == 2


def interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def test_ctrl_c_exits_130_saying_how_to_go_on(tmp_path, monkeypatch, capsys, data_dir):
    import symtheory.empirical.paper_grid as paper_grid

    monkeypatch.setattr(paper_grid, "train_paper", interrupt)
    with pytest.raises(SystemExit) as stop:
        main(["reproduce", "--presets", "mnist-resnet18", "--device", "cpu", "--data-dir", str(data_dir), "--out",
              str(tmp_path / "paper")])
    assert stop.value.code == 130
    assert capsys.readouterr().err.splitlines() == [
        "symtheory: interrupted; run the same command again: finished runs are skipped, interrupted ones resume"]


def test_cifar_presets_alone_take_the_cifar_dataset(tmp_path):
    grids = plan_paper(tmp_path, ["mnist-resnet18", "cifar10-inception-authors-code"], "cifar10-subset",
                       losses=["rll"], etas=[0.2], seeds=[0, 1])
    assert [(g.preset, g.runs[0].config.dataset, len(g.runs)) for g in grids] == [
        ("mnist-resnet18", "mnist", 2), ("cifar10-inception-authors-code", "cifar10-subset", 2)]
    assert grids[1].runs[1].run_dir == tmp_path / "cifar10-inception-authors-code" / "rll-eta0.2-seed1"
    assert grids[1].runs[0].config.loss_params == {"alpha": 0.1} and grids[1].runs[0].config.lr == 0.1


def test_a_device_torch_does_not_have_is_refused_before_the_data_is_read(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    out = tmp_path / "paper"
    for backend in ("local", "auto"):
        assert_bad_input(run_cli("reproduce", "--backend", backend, "--device", "cuda", "--data-dir",
                                 str(tmp_path / "empty"), "--out", str(out)),
                         "device 'cuda' requested but torch sees no CUDA GPU; use --device cpu")
    assert not out.exists()


def test_auto_backend_is_fused_on_cuda_only():
    assert resolve_backend("auto", "cpu") == "local"
    assert resolve_backend("fused", "cpu") == "fused"


def test_claims_in_brief_group_not_run_rows_that_share_their_reason():
    rows = [ClaimResult("S1", "s", "rll: proved", "exact", "holds"),
            ClaimResult("E1 [p]", "s", "not measured: no runs", "t1", "not run"),
            ClaimResult("E2 [p]", "s", "not measured: no runs", "t2", "not run"),
            ClaimResult("E1 [q/cifar10]", "s", "J1=0.5", "J1 >= 0.95", "does not hold")]
    assert claim_lines(rows) == [
        "[green]\\[holds][/green] S1: rll: proved (tolerance: exact)",
        "[yellow]\\[not run][/yellow] E1, E2 \\[p]: no runs",
        "[red]\\[does not hold][/red] E1 \\[q/cifar10]: J1=0.5 (tolerance: J1 >= 0.95)"]


def finished_grid(out):
    """OUT as a finished call left it: mnist-resnet18's 16 full-scale runs (fabricated), all done."""
    write_grid(out / "mnist-resnet18", preset="mnist-resnet18")
    return ["reproduce", "--presets", "mnist-resnet18", "--device", "cpu", "--out", str(out)]


@pytest.mark.parametrize("text", ["{\"calls\": [", "{\"calls\": {\"a\": 1}}", "[1, 2]", "{\"runs\": []}"])
def test_a_record_that_is_not_one_stops_the_call_before_anything_and_is_kept(text, tmp_path):
    args = finished_grid(tmp_path / "paper")
    (tmp_path / "paper" / "reproduce.json").write_text(text)
    assert_bad_input(run_cli(*args, "--data-dir", str(tmp_path / "empty")),
                     f"{tmp_path / 'paper' / 'reproduce.json'} is not a record of reproduce calls")
    assert (tmp_path / "paper" / "reproduce.json").read_text() == text
    assert not (tmp_path / "paper" / "claims.json").exists()


def test_a_call_with_nothing_to_train_needs_no_data(tmp_path):
    out = tmp_path / "paper"
    done = run_cli(*finished_grid(out), "--data-dir", str(tmp_path / "empty"), "--json", timeout=600)
    assert done.returncode == 0, done.stderr
    assert {o["action"] for o in json.loads(done.stdout)["outcomes"]["mnist-resnet18"]} == {"skipped"}


def test_a_call_stopped_by_ctrl_c_is_on_record_and_says_how_to_go_on(tmp_path, monkeypatch, capsys):
    import symtheory.empirical.paper_grid as paper_grid
    import symtheory.paper_checks.suite as suite

    out = tmp_path / "paper"
    args = finished_grid(out)
    (out / "reproduce.json").write_text(json.dumps({"calls": [{"command": ["symtheory", "earlier"]}]}))
    for module, name in ((paper_grid, "train_paper"), (suite, "run_suite")):  # while training, then judging
        with monkeypatch.context() as patch:
            patch.setattr(module, name, interrupt)
            with pytest.raises(SystemExit) as stop:
                main(args)
        assert stop.value.code == 130
        assert capsys.readouterr().err.splitlines() == [
            "symtheory: interrupted; run the same command again: finished runs are skipped, interrupted ones resume"]
    calls = json.loads((out / "reproduce.json").read_text())["calls"]
    assert [c["command"] for c in calls][0] == ["symtheory", "earlier"]
    assert [(c["stopped"], "outcomes" in c, "finished" in c) for c in calls[1:]] == [
        ("interrupted (Ctrl-C)", False, True), ("interrupted (Ctrl-C)", True, True)]
    assert len(calls[2]["outcomes"]["mnist-resnet18"]) == 16
    assert [c["command"] for c in calls[1:]] == [["symtheory", *args]] * 2  # main's argv, not pytest's


def test_the_plan_shows_runs_of_another_experiment_that_a_training_call_refuses(tmp_path):
    out = tmp_path / "paper"
    write_grid(out / "mnist-resnet18", losses=("cce",), etas=(0.2,), preset="mnist-resnet18", epochs=300)
    write_grid(out / "mnist-resnet18", losses=("rll",), etas=(0.2,), preset="mnist-resnet18")
    args = ("reproduce", "--presets", "mnist-resnet18", "--losses", "cce,rll", "--etas", "0.2", "--device", "cpu",
            "--out", str(out))
    plan = run_cli(*args, "--plan", "--json")
    assert plan.returncode == 0, plan.stderr
    row = json.loads(plan.stdout)["plan"][0]
    assert (row["runs"], row["finished"], row["new"], row["other_settings"], row["epochs_to_train"]) == (
        2, 1, 0, 1, None)
    refused = (f"{out / 'mnist-resnet18' / 'cce-eta0.2-seed0'} holds a run with other settings than this grid's: "
               "epochs 300 (this grid: 200)")
    assert row["refused"].startswith(refused)
    text = run_cli(*args, "--plan")
    assert ("2 runs x 200 epochs (1 finished, 1 of another experiment); a call that trains is refused (below)"
            in text.stdout and "epochs to train" not in text.stdout)
    assert f"a call that trains would be refused: {refused}" in text.stdout
    assert_bad_input(run_cli(*args), refused)


def test_a_sweep_runs_each_preset_grid_once_per_value(tmp_path):
    grids = plan_paper(tmp_path, ["mnist-resnet18"], sweep="alpha=0.01,0.45")
    dirs = {r.run_dir.relative_to(tmp_path).as_posix() for r in grids[0].runs}
    assert len(dirs) == 20 and "mnist-resnet18/cce-eta0.4-seed0" in dirs
    assert {"mnist-resnet18/alpha0.01/rll-eta0.4-seed0", "mnist-resnet18/alpha0.45/rll-eta0.4-seed0"} <= dirs
    assert not any("rll" in d for d in dirs if "alpha" not in d)
    done = run_cli("reproduce", "--plan", "--presets", "mnist-resnet18", "--sweep", "alpha=0.01,0.45", "--device",
                   "cpu", "--out", str(tmp_path / "paper"))
    assert "20 runs x 200 epochs (20 new); 4,000 epochs to train" in done.stdout, done.stderr


@pytest.mark.parametrize("name", ["claims.json", "report.md"])
def test_an_output_path_taken_by_a_folder_refuses_the_call_before_training(name, tmp_path):
    out = tmp_path / "paper"
    (out / name).mkdir(parents=True)
    args = ["reproduce", "--presets", "mnist-resnet18", "--losses", "cce", "--etas", "0", "--epochs", "1",
            "--subset", "10", "--device", "cpu", "--out", str(out)]
    assert_bad_input(run_cli(*args), f"{out / name} is a folder, and the call writes its")
    assert sorted(p.name for p in out.iterdir()) == [name]
    plan = run_cli(*args, "--plan", "--json")
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["refused"].startswith(f"{out / name} is a folder")
