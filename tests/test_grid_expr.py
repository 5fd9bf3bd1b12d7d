"""A user's own loss in a grid (``grid --expr``, ``reproduce --expr``): planned beside the registry's losses
with its own run directories, its parameters from --param or a sweep, trained by every backend, recorded in
grid.csv, and shown in the report while the paper's claims judge the paper's losses."""

from __future__ import annotations

import csv
import hashlib
import json
import re

import pytest

from cli_helpers import assert_bad_input, run_cli
from symtheory.empirical.grid import plan_grid, plan_sweep
from symtheory.empirical.paper_grid import plan_paper
from symtheory.errors import BadInput

POWER = "(1 - p**a)/a"
TAG = "expr-" + hashlib.sha256(POWER.encode()).hexdigest()[:8]
OTHER = "expr-" + hashlib.sha256(b"1 - p").hexdigest()[:8]


def test_an_expression_joins_the_grid_with_its_own_directories_and_parameters(tmp_path):
    runs = plan_grid(tmp_path, None, ["rll"], [0.0, 0.4], [0], {"a": "1/2", "alpha": "0.01"}, [POWER, "1 - p"])
    shown = [(r.run_dir.name, r.config.loss, r.config.loss_expr, dict(r.config.loss_params), r.label) for r in runs]
    other = "expr-" + hashlib.sha256(b"1 - p").hexdigest()[:8]
    assert shown == [
        ("rll-eta0-seed0", "rll", None, {"alpha": 0.01}, "rll(alpha=0.01) eta=0 seed=0"),
        ("rll-eta0.4-seed0", "rll", None, {"alpha": 0.01}, "rll(alpha=0.01) eta=0.4 seed=0"),
        (f"{TAG}-eta0-seed0", "expr", POWER, {"a": 0.5}, f"expr[{POWER}, a=0.5] eta=0 seed=0"),
        (f"{TAG}-eta0.4-seed0", "expr", POWER, {"a": 0.5}, f"expr[{POWER}, a=0.5] eta=0.4 seed=0"),
        (f"{other}-eta0-seed0", "expr", "1 - p", {}, "expr[1 - p] eta=0 seed=0"),
        (f"{other}-eta0.4-seed0", "expr", "1 - p", {}, "expr[1 - p] eta=0.4 seed=0")]
    alone = plan_grid(tmp_path, "mnist-resnet18", [], None, [0], {"a": "2"}, [POWER])
    assert [r.run_dir.name for r in alone] == [f"{TAG}-eta{e:g}-seed0" for e in (0, 0.2, 0.4, 0.6)]
    assert {(r.config.arch, r.config.epochs, r.config.preset) for r in alone} == {("resnet18", 200, "mnist-resnet18")}


@pytest.mark.parametrize("losses, params, expressions, expected", [
    (["rll"], {"b": "1"}, [POWER], f"--param b: none of the grid's losses (rll, expr[{POWER}]) has it"),
    (["rll"], {}, [POWER], "give every parameter of --expr a value for numeric work: --param a=VALUE"),
    (["rll"], {"a": "0"}, [POWER], "parameter a=0 is outside its domain: a in (0, inf)"),
    ([], {}, ["log(p - 1/2)"], "a loss must be defined on the whole open simplex"),
    ([], {}, ["1"], "the loss 1 does not depend on g"),
    ([], {}, ["sum_all(q)"], "the loss sum_all(q) does not depend on g"),  # written with g, 1 on the simplex
    ([], {}, ["p + sum_other(q) - 1"], "does not depend on g"),
    ([], {"a": "1e400"}, [POWER], "parameter a=1e400 is too large for a float64"),
    ([], {"a": "1e-400"}, [POWER], "parameter a=1e-400 is too small for a float64 (it would be 0)"),
    ([], {}, ["1-p", " 1-p\n"], "--expr '1-p' is given twice"),
    (["cce"], {}, ["1-p", "(1 - p)"], "--expr '1-p' and '(1 - p)' are the same loss; give it once"),
    ([], {}, [], "a grid needs at least one loss, one eta and one seed"),
    (["cce", "cce"], {}, [], "the grid lists the same (loss, eta, seed) twice"),
    (["cce"], {}, ["-log(p)", "-log(p)"], "--expr '-log(p)' is given twice"),
])
def test_a_grid_refuses_an_expression_it_cannot_train(losses, params, expressions, expected, tmp_path):
    with pytest.raises(BadInput, match=re.escape(expected)):
        plan_grid(tmp_path, None, losses, [0.2], [0], params, expressions)


def test_an_expression_is_one_loss_however_its_whitespace_is_typed(tmp_path):
    runs = plan_grid(tmp_path, None, [], [0.2], [0], None, ["(1 -\n  p)\t"])
    assert (runs[0].config.loss_expr, runs[0].label) == ("(1 - p)", "expr[(1 - p)] eta=0.2 seed=0")
    assert runs[0].run_dir.name == "expr-" + hashlib.sha256(b"(1 - p)").hexdigest()[:8] + "-eta0.2-seed0"


@pytest.mark.parametrize("typed", ["(1-p**a)/a", "(1 - p^a)/a", " ( 1-p ** a ) / a", "(1-p ^ a)/a"])
def test_an_expression_names_one_run_however_it_is_spelt(typed, tmp_path):
    from symtheory.empirical.config import expression_spelling
    from symtheory.empirical.presets import build_config

    assert expression_spelling(typed) == POWER
    cfg = build_config(None, loss="expr", loss_expr=typed, loss_params={"a": 0.5}, eta=0.4)
    assert cfg.run_name() == f"mlp-mnist-{TAG}-eta0.4-seed0" and cfg.loss_expr == " ".join(typed.split())
    assert [r.run_dir.name for r in plan_grid(tmp_path, None, [], [0.4], [0], {"a": "1/2"}, [typed])] == [
        f"{TAG}-eta0.4-seed0"]
    assert expression_spelling("log((a+1)/a) - log(a+p)+sum_other(log(a+q))/(K-1)") == \
        "log((a + 1)/a) - log(a + p) + sum_other(log(a + q))/(K - 1)"
    assert expression_spelling("-log(p)*-1") == "-log(p)*-1"


def test_a_run_directory_named_from_another_spelling_is_found_and_resumes(tmp_path):
    from dataclasses import replace

    from symtheory.empirical.grid import check_existing_runs

    planned = plan_grid(tmp_path, None, [], [0.4], [0], {"a": "1/2"}, [POWER])[0]
    legacy = tmp_path / ("expr-" + hashlib.sha256(b"(1-p**a)/a").hexdigest()[:8] + "-eta0.4-seed0")
    legacy.mkdir()
    saved = replace(planned.config, loss_expr="(1-p**a)/a").to_dict()
    (legacy / "config.json").write_text(json.dumps({"train": saved}))
    again = plan_grid(tmp_path, None, [], [0.4], [0], {"a": "1/2"}, [POWER])
    assert [r.run_dir for r in again] == [legacy]
    check_existing_runs(again)  # the same loss spelt otherwise is not "other settings"
    (legacy / "config.json").write_text(json.dumps({"train": {**saved, "loss_expr": "((1-p**a)/a)"}}))
    assert [r.run_dir for r in plan_grid(tmp_path, None, [], [0.4], [0], {"a": "1/2"}, [POWER])] == [legacy]
    (legacy / "config.json").write_text(json.dumps({"train": {**saved, "loss_expr": "(1-p**a)/(2*a)"}}))
    assert [r.run_dir.name for r in plan_grid(tmp_path, None, [], [0.4], [0], {"a": "1/2"}, [POWER])] == [
        f"{TAG}-eta0.4-seed0"]


def test_the_progress_bar_shows_an_expression_label_as_written(monkeypatch):
    from rich.console import Console

    import symtheory.cli.grid_display as display

    monkeypatch.setattr(display, "console", Console(record=True, width=300, force_terminal=True))
    run = plan_grid("unused", None, [], [0.4], [0], None, ["log(1/p)"])[0]
    with display.grid_progress("grid", 1, {run.run_dir: 0}) as (on_run, on_epoch):
        on_epoch(run, {"epoch": 1, "j1": 0.5, "j2": 0.25})
    assert "expr[log(1/p)] eta=0.4 seed=0 epoch 1: J1 0.500 J2 0.250" in display.console.export_text()


def test_a_sweep_takes_the_expressions_that_have_the_parameter(tmp_path):
    runs = plan_sweep(tmp_path, "a=1/2,2", None, ["cce", "sce"], [0.2], [0], {"beta": "0.5"}, [POWER, "1 - p"])
    other = "expr-" + hashlib.sha256(b"1 - p").hexdigest()[:8]
    assert [(r.run_dir.relative_to(tmp_path).as_posix(), dict(r.config.loss_params), r.label) for r in runs] == [
        ("cce-eta0.2-seed0", {}, "cce eta=0.2 seed=0"),
        ("sce-eta0.2-seed0", {"alpha": 0.1, "beta": 0.5, "A": 4.0}, "sce(beta=0.5) eta=0.2 seed=0"),
        (f"{other}-eta0.2-seed0", {}, "expr[1 - p] eta=0.2 seed=0"),
        (f"a1_2/{TAG}-eta0.2-seed0", {"a": 0.5}, f"expr[{POWER}](a=1/2) eta=0.2 seed=0"),
        (f"a2/{TAG}-eta0.2-seed0", {"a": 2.0}, f"expr[{POWER}](a=2) eta=0.2 seed=0")]
    # a --param of losses outside the swept part (gce's q) no longer fails the swept part's plan
    swept = plan_sweep(tmp_path, "alpha=0.01", None, ["gce", "rll"], [0.2], [0], {"q": "0.5"})
    assert [(r.config.loss, dict(r.config.loss_params)) for r in swept] == [("gce", {"q": 0.5}),
                                                                           ("rll", {"alpha": 0.01})]
    with pytest.raises(BadInput, match=re.escape("--sweep b: none of the grid's losses (cce, expr[1 - p]) has it")):
        plan_sweep(tmp_path, "b=1", None, ["cce"], [0.2], [0], None, ["1 - p"])


def test_reproduce_plans_the_expression_in_every_preset(tmp_path):
    grids = plan_paper(tmp_path, ["mnist-resnet18", "cifar10-resnet32"], "cifar10-subset", ["rll"], [0.4], [0],
                       {"a": "1/2"}, expressions=[POWER])
    assert [[r.run_dir.relative_to(tmp_path).as_posix() for r in g.runs] for g in grids] == [
        ["mnist-resnet18/rll-eta0.4-seed0", f"mnist-resnet18/{TAG}-eta0.4-seed0"],
        ["cifar10-resnet32/rll-eta0.4-seed0", f"cifar10-resnet32/{TAG}-eta0.4-seed0"]]


@pytest.mark.parametrize("args, expected", [
    (["--losses", "none"], "--losses none leaves the grid without a loss; give --expr, or name losses"),
    (["--expr", " "], "the loss expression (--expr) is empty"),
    (["--expr", "1 - p", "--expr", "1 - p"], "--expr '1 - p' is given twice"),
    (["--expr", POWER], "give every parameter of --expr a value"),
    (["--expr", "1 - p", "--expr", "1 -\n  p "], "--expr '1 - p' is given twice"),
    (["--expr", POWER, "--param", "a=1e400"], "parameter a=1e400 is too large for a float64"),
    (["--expr", "1-p", "--expr", "(1 - p)"], "--expr '1-p' and '(1 - p)' are the same loss; give it once"),
    (["--losses", "none", "--expr", "1-p", "--expr", POWER], f"--expr '{POWER}': give every parameter of --expr"),
    (["--expr", "__import__('os')"], "unknown function '__import__'; allowed: abs, exp, log"),
])
@pytest.mark.parametrize("command", ["grid", "reproduce"])
def test_bad_expressions_exit_2_with_one_line_before_any_run_directory(command, args, expected, tmp_path):
    out = tmp_path / "out"
    assert_bad_input(run_cli(command, *args, "--out", str(out)), expected)
    assert not out.exists()


def test_a_grid_of_expressions_trains_records_and_skips_them_the_second_time(tmp_path, data_dir):
    out = tmp_path / "grid"
    args = ("grid", "--losses", "none", "--expr", POWER, "--expr", "1 - p", "--param", "a=1", "--etas", "0.4",
            "--subset", "64", "--epochs", "1", "--device", "cpu", "--data-dir", str(data_dir), "--out", str(out))
    first = run_cli(*args, "--fused", "--json", timeout=300)
    assert first.returncode == 0, first.stderr
    outcomes = json.loads(first.stdout)
    assert [(o["loss"], o["loss_expr"], o["loss_params"], o["status"]) for o in outcomes] == [
        ("expr", POWER, {"a": 1.0}, "finished"), ("expr", "1 - p", {}, "finished")]
    # (1 - p**a)/a at a = 1 is 1 - p: the same run, trained in one fused model, gives the same figures
    assert outcomes[0]["final"]["j1"] == outcomes[1]["final"]["j1"]
    assert outcomes[0]["final"]["train_loss"] == pytest.approx(outcomes[1]["final"]["train_loss"], rel=1e-6)
    with open(out / "grid.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["loss"], r["loss_expr"], r["loss_params"]) for r in rows] == [("expr", POWER, "a=1.0"),
                                                                             ("expr", "1 - p", "")]
    saved = json.loads((out / f"{TAG}-eta0.4-seed0" / "config.json").read_text())["train"]
    assert (saved["loss"], saved["loss_expr"], saved["loss_params"]) == ("expr", POWER, {"a": 1.0})
    # a later call that spells the losses otherwise finds the same runs, finished
    respelled = [{POWER: "(1-p^a) / a", "1 - p": "1-p"}.get(arg, arg) for arg in args]
    again = run_cli(*respelled, "--json", timeout=300)
    assert again.returncode == 0, again.stderr
    assert [(o["action"], o["run_dir"]) for o in json.loads(again.stdout)] == [
        ("skipped", str(out / f"{TAG}-eta0.4-seed0")), ("skipped", str(out / f"{OTHER}-eta0.4-seed0"))]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted([f"{TAG}-eta0.4-seed0", f"{OTHER}-eta0.4-seed0"])
    report = run_cli("report", str(out), "-o", str(tmp_path / "report.md"))
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "report.md").read_text()
    assert "| expr[(1 - p\\*\\*a)/a, a=1] | 0.4 | 0 | 1 |" in text and "| expr[1 - p] | 0.4 | 0 | 1 |" in text


def test_reproduce_judges_the_paper_losses_and_reports_the_expression_beside_them(tmp_path, monkeypatch):
    import test_paper_checks_runs as fabricated

    out = tmp_path / "paper"
    fabricated.write_grid(out / "mnist-resnet18", preset="mnist-resnet18")  # the paper's 16 runs, finished
    monkeypatch.setitem(fabricated.MAKERS, "expr", fabricated.MAKERS["rll"])
    for eta in fabricated.ETAS:
        fabricated.write_run(out / "mnist-resnet18" / f"{TAG}-eta{eta:g}-seed0", "expr", eta, preset="mnist-resnet18",
                             loss_expr=POWER, loss_params={"a": 0.5})
    done = run_cli("reproduce", "--presets", "mnist-resnet18", "--expr", POWER, "--param", "a=1/2", "--device",
                   "cpu", "--data-dir", str(tmp_path / "no-data"), "--out", str(out), "--json", timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert [o["action"] for o in result["outcomes"]["mnist-resnet18"]] == ["skipped"] * 20
    empirical = [c for c in result["claims"] if c["claim"].startswith("E")]
    assert [(c["claim"], c["verdict"]) for c in empirical] == [(f"E{i} [mnist-resnet18/mnist]", "holds")
                                                              for i in range(1, 7)]
    report = (out / "report.md").read_text()
    table, theory = report.split("What theory says")
    assert sum(line.startswith("| expr[(1 - p\\*\\*a)/a, a=0.5] | ") for line in table.splitlines()) == 4
    assert "| expr[(1 - p\\*\\*a)/a, a=0.5] | refuted | - | 0 <= L <= 2 (inf and sup) |" in theory.splitlines()
