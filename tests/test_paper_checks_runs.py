"""Which runs the report and the paper checks use: experiments kept apart, seeds averaged, unfinished runs
left out, the full tier judged only from full-scale runs, the ci tier only from the ci grid's runs, and the
paper-check table printed as written (labels in brackets visible, every row with its tolerance).

Runs are fabricated as run directories with real configs (``build_config(...).to_dict()``); nothing trains.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from cli_helpers import assert_bad_input, run_cli
from symtheory.empirical.presets import build_config
from symtheory.errors import BadInput
from symtheory.paper_checks.report import write_report
from symtheory.paper_checks.runs import load_runs
from symtheory.paper_checks.suite import full_tier_claims, run_suite
from test_paper_checks_empirical import ETAS, memorizing, resisting

MAKERS = {"cce": memorizing, "mse": memorizing, "rll": resisting, "nmse": resisting}


def curves(loss: str, eta: float, epochs: int, shift: float = 0.0) -> tuple[list[float], list[float]]:
    """The claim-true curves of test_paper_checks_empirical, resampled to ``epochs`` and shifted by ``shift``."""
    j1, j2 = MAKERS[loss](eta)
    x = np.linspace(0, 1, len(j1))
    t = np.linspace(0, 1, epochs)
    return [float(v) + shift for v in np.interp(t, x, j1)], [float(v) + shift for v in np.interp(t, x, j2)]


def write_run(folder, loss, eta, *, seed=0, preset=None, status="finished", recorded=None, shift=0.0, **overrides):
    """A run directory as ``symtheory train`` leaves it: config.json, metrics.jsonl and summary.json.
    ``recorded`` < the config's epochs makes it a run stopped early (with ``status``)."""
    cfg = build_config(preset, loss, eta, seed=seed, **overrides).to_dict()
    j1, j2 = curves(loss, eta, cfg["epochs"], shift)
    recorded = cfg["epochs"] if recorded is None else recorded
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"train": cfg, "preset": preset,
                                                    "data": {"name": cfg["dataset"], "num_train": 200}}))
    rows = [{"epoch": i + 1, "j1": a, "j2": b, "test_acc": b} for i, (a, b) in enumerate(zip(j1, j2))][:recorded]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "summary.json").write_text(json.dumps({
        "status": status, "message": f"{status} after epoch {recorded}", "epochs_completed": recorded,
        "epochs_planned": cfg["epochs"]}))


def write_grid(root, *, seeds=(0,), losses=("cce", "mse", "rll", "nmse"), etas=ETAS, shift=0.0, shifts=None,
               **kwargs):
    """A grid as ``symtheory grid`` lays it out: root/<loss>-eta<eta>-seed<seed>/ (curves moved by ``shift``,
    or by ``shifts[seed]`` for that seed)."""
    for loss in losses:
        for eta in etas:
            for seed in seeds:
                write_run(root / f"{loss}-eta{eta:g}-seed{seed}", loss, eta, seed=seed,
                          shift=(shifts or {}).get(seed, shift), **kwargs)


SMALL = {"arch": "mlp", "subset": 200, "epochs": 4}


def claim(results, prefix):
    """The one result whose claim id starts with ``prefix``."""
    found = [r for r in results if r.claim.startswith(prefix)]
    assert len(found) == 1, [r.claim for r in results]
    return found[0]


def test_seeds_are_averaged_not_overwritten(tmp_path):
    # seed 1's curves sit 0.02 below seed 0's: the grid holds their mean, the report mean ± sd over 2 seeds.
    write_grid(tmp_path / "g", seeds=(0, 1), shifts={1: -0.02}, **SMALL)
    grid = load_runs(tmp_path / "g").grids["mlp/mnist (subset 200)"]
    cce = grid[("cce", 0.4)]
    assert cce.seeds == (0, 1) and len(cce.per_seed) == 2
    assert cce.final_j1 == pytest.approx((cce.per_seed[0].final_j1 + cce.per_seed[1].final_j1) / 2)
    assert cce.per_seed[0].final_j1 - cce.per_seed[1].final_j1 == pytest.approx(0.02)
    text = write_report(tmp_path / "g", tmp_path / "rep" / "report.md").read_text()
    table = text.split("What theory says")[0]
    rows = [line for line in table.splitlines() if line.startswith("| cce ") or line.startswith("| rll ")]
    assert len(rows) == 8 and all("| 0, 1 |" in row for row in rows)
    mean = cce.final_j1
    assert f"| cce | 0.4 | 0, 1 | 4 | {mean:.4f} ± {0.02 / np.sqrt(2):.4f} |" in text
    assert "mean ± sample standard deviation" in text
    e1 = [line for line in text.splitlines() if line.startswith("| E1 [mlp/mnist (subset 200)] |")]
    assert e1 and "(mean of seeds 0, 1; final" in e1[0]


def test_a_loss_parameter_sweep_is_not_merged(tmp_path):
    write_run(tmp_path / "g" / "a", "rll", 0.2, **SMALL)
    write_run(tmp_path / "g" / "b", "rll", 0.2, loss_params={"alpha": 0.01}, shift=-0.1, **SMALL)
    grid = next(iter(load_runs(tmp_path / "g").grids.values()))
    assert set(grid) == {("rll", 0.2), ("rll(alpha=0.01)", 0.2)}
    assert grid[("rll", 0.2)].final_j1 - grid[("rll(alpha=0.01)", 0.2)].final_j1 == pytest.approx(0.1)


def test_pair_noise_runs_are_their_own_experiment_and_not_judged(tmp_path):
    # Same losses, etas and seeds in one folder; the pair-noise runs' curves are 0.3 lower.
    write_grid(tmp_path / "g" / "sym", **SMALL)
    write_grid(tmp_path / "g" / "pair", noise="pair", shift=-0.3, **SMALL)
    grids = load_runs(tmp_path / "g").grids
    assert set(grids) == {"mlp/mnist (subset 200)", "mlp/mnist (pair noise, subset 200)"}
    sym, pair = grids["mlp/mnist (subset 200)"], grids["mlp/mnist (pair noise, subset 200)"]
    assert sym[("cce", 0.6)].final_j1 - pair[("cce", 0.6)].final_j1 == pytest.approx(0.3)
    text = write_report(tmp_path / "g", tmp_path / "rep" / "report.md").read_text()
    assert "| E1 [mlp/mnist (subset 200)] |" in text and "**holds**" in text
    pair_e1 = [line for line in text.splitlines() if line.startswith("| E1 [mlp/mnist (pair noise, subset 200)]")]
    assert pair_e1 and "pair label noise" in pair_e1[0] and "**not run**" in pair_e1[0]


def test_matrix_noise_rows_name_the_matrix_not_eta_0(tmp_path):
    # Matrix-noise runs carry eta 0 in their config; their table rows must not read as clean-label runs.
    flip = [[0.6 if j == i else (0.4 if j == (i + 1) % 10 else 0.0) for j in range(10)] for i in range(10)]
    for loss in ("cce", "rll"):
        write_run(tmp_path / "g" / f"{loss}-matrix", loss, 0.0, noise="matrix", noise_matrix=flip, **SMALL)
    write_run(tmp_path / "g" / "cce-clean", "cce", 0.0, **SMALL)
    rows = [line for line in write_report(tmp_path / "g", tmp_path / "rep" / "report.md").read_text().splitlines()
            if line.startswith(("| cce | ", "| rll | ")) and " | 0 | 4 | " in line]
    assert sorted(row.split(" | ")[1] + " " + row.split(" | ")[0] for row in rows) == ["0 | cce", "matrix | cce", "matrix | rll"]


@pytest.mark.parametrize("case", ["folder", "below a file", "device"])
def test_report_to_a_folder_below_a_file_or_to_a_device_is_one_line(case, tmp_path):
    write_grid(tmp_path / "g", losses=("cce",), etas=(0.4,), **SMALL)
    (tmp_path / "out").mkdir()
    (tmp_path / "T.csv").write_text("")
    target = {"folder": tmp_path / "out", "below a file": tmp_path / "T.csv" / "r.md", "device": "/dev/null"}[case]
    fragment = {"folder": "is a folder; give a file name such as", "below a file": "'T.csv' is a file, not a folder",
                "device": "is not a regular file"}[case]
    done = run_cli("report", str(tmp_path / "g"), "-o", str(target))
    assert_bad_input(done, fragment.replace("'T.csv'", repr(str(tmp_path / "T.csv"))))
    assert list((tmp_path / "out").iterdir()) == []


def test_experiments_of_two_noise_matrices_are_named_short_in_the_report(tmp_path):
    # Each matrix is its own experiment; their names (headings, figure files) carry its digest, not its 100 values.
    from symtheory.empirical.config import matrix_digest

    first = [[0.55 if i == j else 0.05 for j in range(10)] for i in range(10)]
    second = [[0.8 if i == j else 0.2 / 9 for j in range(10)] for i in range(10)]
    for name, matrix in (("m55", first), ("m80", second)):
        write_run(tmp_path / "g" / name, "cce", 0.0, noise="matrix", noise_matrix=matrix, **SMALL)
    text = write_report(tmp_path / "g", tmp_path / "rep" / "report.md").read_text()
    headings = sorted(line for line in text.splitlines() if line.startswith("## mlp/mnist"))
    assert headings == sorted(f"## mlp/mnist (matrix noise, subset 200, noise matrix {matrix_digest(m)})"
                              for m in (first, second)), headings
    assert f"noise matrix {matrix_digest(second)} [[0.8, 0.02222, 0.02222," in text
    assert all(len(path.name) <= 90 for path in (tmp_path / "rep").iterdir())


def test_unfinished_and_duplicate_runs_are_left_out_and_listed(tmp_path):
    write_grid(tmp_path / "g", **SMALL)
    # cce eta=0.2 interrupted after epoch 2 of 4; an extra copy of rll eta=0 seed 0 elsewhere in the tree.
    import shutil

    shutil.rmtree(tmp_path / "g" / "cce-eta0.2-seed0")
    write_run(tmp_path / "g" / "cce-eta0.2-seed0", "cce", 0.2, status="interrupted", recorded=2, **SMALL)
    write_run(tmp_path / "g" / "zz-copy" / "rll-eta0-seed0", "rll", 0.0, shift=-0.5, **SMALL)
    runset = load_runs(tmp_path / "g")
    grid = runset.grids["mlp/mnist (subset 200)"]
    assert ("cce", 0.2) not in grid and grid[("rll", 0.0)].final_j1 > 0.9
    skipped = dict(runset.all_skipped())
    assert "status 'interrupted', 2 of 4 epochs recorded" in skipped[str(tmp_path / "g" / "cce-eta0.2-seed0")]
    assert "a second copy of rll eta=0 seed=0" in skipped[str(tmp_path / "g" / "zz-copy" / "rll-eta0-seed0")]
    text = write_report(tmp_path / "g", tmp_path / "rep" / "report.md").read_text()
    assert "## Runs not used" in text and "| cce | 0.2 |" not in text
    e1 = [line for line in text.splitlines() if line.startswith("| E1 [")][0]
    assert "**not run**" in e1 and "missing runs: cce eta=0.2 (" in e1 and "2 of 4 epochs recorded" in e1


def test_a_run_with_extra_or_repeated_epoch_lines_is_not_used(tmp_path):
    # Two processes appending to one run leave more lines than epochs, or an epoch twice: which is the run's
    # curve is unknown, so neither the claims nor the report's mean over seeds may read it.
    write_grid(tmp_path / "g", seeds=(0, 1), losses=("cce",), etas=(0.6,), **SMALL)
    extra = tmp_path / "g" / "cce-eta0.6-seed1" / "metrics.jsonl"
    extra.write_text(extra.read_text() + json.dumps({"epoch": 5, "j1": 0.4, "j2": 0.4, "test_acc": 0.4}) + "\n")
    write_run(tmp_path / "g" / "cce-eta0.4-seed0", "cce", 0.4, **SMALL)
    repeated = tmp_path / "g" / "cce-eta0.4-seed0" / "metrics.jsonl"
    lines = repeated.read_text().splitlines()
    repeated.write_text("\n".join(lines[:2] + [lines[1]] + lines[3:]) + "\n")
    runset = load_runs(tmp_path / "g")
    skipped = dict(runset.all_skipped())
    assert skipped[str(extra.parent)].startswith("metrics.jsonl holds 5 lines for 4 epochs")
    assert skipped[str(repeated.parent)].startswith("metrics.jsonl's epochs are not 1, 2, ... in order")
    [grid] = runset.grids.values()
    assert grid[("cce", 0.6)].seeds == (0,) and ("cce", 0.4) not in grid


def test_a_run_diverged_in_its_first_epoch_is_listed_and_runs_behind_links_are_found(tmp_path):
    write_grid(tmp_path / "real" / "g", **SMALL)
    import shutil

    shutil.rmtree(tmp_path / "real" / "g" / "cce-eta0.2-seed0")
    write_run(tmp_path / "real" / "g" / "cce-eta0.2-seed0", "cce", 0.2, status="stopped-nonfinite", recorded=0,
              **SMALL)
    (tmp_path / "real" / "g" / "cce-eta0.2-seed0" / "metrics.jsonl").unlink()
    (tmp_path / "links").mkdir()
    (tmp_path / "links" / "g").symlink_to(tmp_path / "real" / "g")
    runset = load_runs(tmp_path / "links")
    grid = runset.grids["mlp/mnist (subset 200)"]
    assert len(grid) == 15 and ("cce", 0.2) not in grid
    assert dict(runset.all_skipped()) == {str(tmp_path / "links" / "g" / "cce-eta0.2-seed0"):
                                          "status 'stopped-nonfinite', 0 of 4 epochs recorded "
                                          "(stopped-nonfinite after epoch 0)"}
    text = write_report(tmp_path / "links", tmp_path / "rep" / "report.md").read_text()
    assert "## Runs not used" in text and "stopped-nonfinite" in text.split("## Runs not used")[1]


def test_full_tier_refuses_reduced_scale_preset_runs(tmp_path):
    # `symtheory grid --preset mnist-resnet18 --arch mlp --subset 200 --epochs 4 --out full/mnist`
    write_grid(tmp_path / "full" / "mnist", preset="mnist-resnet18", **SMALL)
    results = full_tier_claims(tmp_path / "full", ["E1", "E2"])
    mnist = [r for r in results if "mnist-resnet18" in r.claim]
    assert [r.claim for r in mnist] == ["E1 [mnist-resnet18]", "E2 [mnist-resnet18]"]
    for r in mnist:
        assert r.verdict == "not run", r.measured
        assert f"runs in {tmp_path / 'full' / 'mnist'} are not full scale: arch mlp, subset 200, 4 epochs" in r.measured
        assert "the preset is resnet18 on mnist, 200 epochs, no subset" in r.measured


def test_full_tier_judges_full_scale_runs_only(tmp_path):
    write_grid(tmp_path / "full" / "mnist", preset="mnist-resnet18")  # resnet18, mnist, 200 epochs
    write_grid(tmp_path / "full" / "small", preset="mnist-resnet18", shift=-0.5, **SMALL)
    write_grid(tmp_path / "full" / "authors", preset="cifar10-inception-authors-code", losses=("cce",), etas=(0.0,),
               **SMALL)
    results = full_tier_claims(tmp_path / "full", ["E1"])
    e1 = claim(results, "E1 [mnist-resnet18")
    assert e1.claim == "E1 [mnist-resnet18/mnist]" and e1.verdict == "holds", e1.measured
    assert "J1=0.99" in e1.measured and e1.tolerance == "final J1 >= 0.95; mse: >= 0.9"
    # the authors'-code preset is not cifar10-inception
    assert claim(results, "E1 [cifar10-inception]").measured == (
        f"not measured: no cifar10-inception runs under {tmp_path / 'full'}: found 1 run of "
        "cifar10-inception-authors-code/cifar10 (arch mlp, subset 200, 4 epochs); 16 runs of mnist-resnet18/mnist; "
        "16 runs of mnist-resnet18/mnist (arch mlp, subset 200, 4 epochs) (the paper's scale needs a GPU)")
    assert "not full scale" in claim(results, "E1 [cifar10-inception-authors-code]").measured


def test_full_tier_judges_runs_that_repeat_a_preset_without_naming_it(tmp_path):
    # `symtheory grid --arch resnet18 --epochs 200`: the mnist-resnet18 recipe, flag by flag
    write_grid(tmp_path / "free", arch="resnet18", epochs=200)
    write_grid(tmp_path / "other", arch="resnet18", epochs=200, lr=0.01, losses=("cce",), etas=(0.0,))
    results = full_tier_claims(tmp_path, ["E1", "E2"], presets=["mnist-resnet18"])
    assert [(r.claim, r.verdict) for r in results] == [
        ("E1 [resnet18/mnist (lr 0.001), the mnist-resnet18 recipe]", "holds"),
        ("E2 [resnet18/mnist (lr 0.001), the mnist-resnet18 recipe]", "holds")]
    assert results[0].tolerance == "final J1 >= 0.95; mse: >= 0.9"
    text = write_report(tmp_path / "free", tmp_path / "rep" / "report.md").read_text()
    assert "final J1 >= 0.95; mse: >= 0.9" in [line for line in text.splitlines() if line.startswith("| E1 [")][0]


def test_full_tier_does_not_judge_a_run_that_names_its_preset_but_changes_its_recipe(tmp_path):
    # `symtheory grid --preset mnist-resnet18 --lr 0.5`: full scale, but not the paper's experiment
    write_grid(tmp_path / "lr", preset="mnist-resnet18", lr=0.5)
    [result] = full_tier_claims(tmp_path, ["E1"], presets=["mnist-resnet18"])
    assert (result.claim, result.verdict) == ("E1 [mnist-resnet18]", "not run")
    assert "lr 0.5" in result.measured, result.measured


def test_full_tier_not_run_rows_carry_their_tolerance(tmp_path):
    results = full_tier_claims(tmp_path, ["E1", "E2", "E3", "E4", "E5", "E6"])
    assert len(results) == 18 and all(r.verdict == "not run" and r.tolerance for r in results)
    assert claim(results, "E1 [mnist-resnet18]").tolerance == "final J1 >= 0.95; mse: >= 0.9"
    assert claim(results, "E1 [cifar10-resnet32]").tolerance == "final J1 >= 0.95"


def ci_like_runs(root, **overrides):
    """Run directories at the ci grid's paths holding runs of another configuration."""
    from symtheory.paper_checks.ci_grid import ci_plan

    for run in ci_plan(root):
        cfg = run.config
        write_run(run.run_dir, cfg.loss, cfg.eta, seed=cfg.seed, **overrides)


def test_ci_tier_refuses_runs_that_are_not_the_ci_grid(tmp_path):
    ci_like_runs(tmp_path / "ci", **SMALL)
    for train in (False, True):  # refused before anything is trained
        with pytest.raises(BadInput, match=r"cce-eta0-seed0: 4 epochs \(ci grid: 60 epochs\), "
                                           r"subset 200 \(ci grid: subset 2000\)"):
            run_suite("ci", "E1", tmp_path / "ci", train_missing=train)
    assert_bad_input(run_cli("paper-check", "--tier", "ci", "--only", "E1,E5", "--runs", str(tmp_path / "ci")),
                     "holds runs that are not the ci grid's")


def test_ci_tier_uses_exactly_the_ci_grid_runs(tmp_path):
    from symtheory.paper_checks.ci_grid import CI_ARCH, CI_EPOCHS, CI_SUBSET

    ci_like_runs(tmp_path / "ci", arch=CI_ARCH, subset=CI_SUBSET, epochs=CI_EPOCHS, device="cpu")
    write_run(tmp_path / "ci" / "other" / "cce-eta0-seed0", "cce", 0.0, shift=-0.5, **SMALL)  # ignored
    results = run_suite("ci", "E1,E5", tmp_path / "ci", train_missing=False)
    assert [(r.claim, r.verdict) for r in results] == [("E1 [ci]", "holds"), ("E5 [ci]", "holds")]


def test_paper_check_table_shows_bracketed_labels(tmp_path):
    write_grid(tmp_path / "full" / "mnist", preset="mnist-resnet18", **SMALL)
    result = run_cli("paper-check", "--tier", "full", "--only", "E1", "--runs", str(tmp_path / "full"),
                     env={"COLUMNS": "400"})
    assert result.returncode == 0, result.stderr
    assert "E1 [mnist-resnet18]" in result.stdout and "E1 [cifar10-resnet32]" in result.stdout
    assert "final J1 >= 0.95; mse: >= 0.9" in result.stdout


def test_print_claims_escapes_every_cell(capsys):
    from symtheory.cli.checks import print_claims
    from symtheory.cli.output import console
    from symtheory.paper_checks.claim import ClaimResult

    old = console.width
    console.width = 400
    try:
        print_claims([ClaimResult("E1 [ci]", "s [b]x[/b]", "m [red]y[/red]", "t [i]z[/i]", "holds")], "[title]")
    finally:
        console.width = old
    out = capsys.readouterr().out
    for text in ("[title]", "E1 [ci]", "s [b]x[/b]", "m [red]y[/red]", "t [i]z[/i]", "holds"):
        assert text in out


def test_an_experiment_without_finished_runs_adds_no_claim_rows(tmp_path):
    write_run(tmp_path / "g" / "cce-eta0-seed0", "cce", 0.0, status="interrupted", recorded=2, **SMALL)
    text = write_report(tmp_path / "g", tmp_path / "rep" / "report.md").read_text()
    assert "No finished runs (see Runs not used); its claims are not judged." in text
    assert not [line for line in text.splitlines() if line.startswith("| E1 [")]
    assert "| S1 |" in text


def test_a_users_loss_is_a_loss_row_named_by_its_expression():
    from symtheory.paper_checks.runs import experiment_setting, loss_label

    train = {"loss": "expr", "loss_expr": "(1-p**a)/a", "loss_params": {"a": 0.5}, "eta": 0.2, "seed": 0,
             "arch": "mlp"}
    assert loss_label(train) == "expr[(1 - p**a)/a, a=0.5]"
    assert loss_label({**train, "loss_expr": "(1 - p^a) / a"}) == "expr[(1 - p**a)/a, a=0.5]"  # one row, not two
    assert "loss_expr" not in experiment_setting(train)


def test_report_claims_table_keeps_absolute_value_bars():
    from symtheory.paper_checks.claim import ClaimResult
    from symtheory.paper_checks.report import claims_table

    row = claims_table([ClaimResult("E2", "s", "m", "|J1 - (1 - eta)| <= 0.1", "holds")])[-1]
    assert row == "| E2 | s | m | \\|J1 - (1 - eta)\\| <= 0.1 | **holds** |"


def test_an_experiment_of_one_epoch_is_named_in_the_singular():
    from symtheory.paper_checks.runs import format_field

    assert (format_field("epochs", 1), format_field("epochs", 2)) == ("1 epoch", "2 epochs")
