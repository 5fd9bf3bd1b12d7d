"""Figures of J1/J2 per epoch (symtheory.empirical.plots): one panel per experiment, never merging runs of
another subset, optimizer or epoch count; seeds drawn as a mean with a band; runs found at any depth; short
runs get integer epoch ticks; a figure name without a suffix is written as .png."""

from __future__ import annotations

import json

import pytest

from symtheory.empirical.plots import collect_runs, layout_panels, plot_runs
from symtheory.errors import BadInput


def write_run(folder, epochs=3, recorded=None, **train):
    """A run directory planned for ``epochs`` epochs with ``recorded`` of them (all by default) in metrics."""
    settings = {"arch": "mlp", "dataset": "mnist", "loss": "cce", "eta": 0.4, "seed": 0, "subset": 200,
                "optimizer": "adam", "lr": 0.001, "epochs": epochs, "noise": "symmetric", "device": "cpu",
                "loss_params": {}, "preset": None, **train}
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"train": settings, "data": {"name": "mnist",
                                                                                 "num_train": settings["subset"]}}))
    rows = [{"epoch": e, "j1": 0.1 * e + 0.01 * settings["seed"], "j2": 0.05 * e}
            for e in range(1, (epochs if recorded is None else recorded) + 1)]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_runs_of_other_settings_get_their_own_titled_panels_and_seeds_are_grouped(tmp_path):
    write_run(tmp_path / "a" / "cce-eta0.4-seed0")
    write_run(tmp_path / "a" / "cce-eta0.4-seed1", seed=1)
    write_run(tmp_path / "a" / "cce-eta0.4-seed0-cuda", device="cuda")
    write_run(tmp_path / "a" / "cce-eta0.4-seed2", seed=2)
    write_run(tmp_path / "b" / "deeper" / "cce-eta0.4-seed0", subset=500)
    write_run(tmp_path / "c" / "cce-eta0.4-seed0", optimizer="sgd", lr=0.05)
    runs = collect_runs([tmp_path])
    assert len(runs) == 6
    panels = layout_panels(runs)
    assert len(panels) == 3
    titles = [p.title for p in panels]
    assert titles[0].splitlines()[1] == "mlp / mnist, n=200" and "lr=0.001, optimizer=adam" in titles[0]
    assert "loss_expr" not in " ".join(titles)
    assert "n=500" in titles[1] and "optimizer=sgd" in titles[2] and "lr=0.05" in titles[2]
    [group] = panels[0].groups.values()
    assert [r.train["seed"] for r in group] == [0, 1, 2] and group[0].train["device"] == "cpu"


def test_a_preset_run_shows_its_own_network(tmp_path):
    write_run(tmp_path / "run", preset="mnist-resnet18")
    [panel] = layout_panels(collect_runs([tmp_path]))
    assert panel.title.splitlines()[1] == "mnist-resnet18: mlp / mnist, n=200"


def test_a_short_run_is_drawn_with_integer_epochs_and_a_suffixless_name_becomes_png(tmp_path):
    write_run(tmp_path / "runs" / "one", epochs=1)
    written = plot_runs(collect_runs([tmp_path / "runs"]), tmp_path / "figure")
    assert written == tmp_path / "figure.png" and written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_runs_without_epochs_are_left_out_and_none_left_is_an_error(tmp_path):
    empty = write_run(tmp_path / "empty")
    (empty / "metrics.jsonl").write_text("")
    with pytest.raises(BadInput, match="no run has a recorded epoch to plot"):
        layout_panels(collect_runs([empty]))
    (tmp_path / "nothing-here").mkdir()
    with pytest.raises(BadInput, match="neither a run directory nor a folder holding run directories"):
        collect_runs([tmp_path / "nothing-here"])


def test_files_among_the_paths_are_skipped_but_a_missing_path_is_an_error(tmp_path):
    run = write_run(tmp_path / "grid" / "cce-eta0.4-seed0")
    (tmp_path / "grid" / "grid.csv").write_text("loss\ncce\n")
    assert [r.path for r in collect_runs([run, tmp_path / "grid" / "grid.csv"])] == [run]
    with pytest.raises(BadInput, match="no run directory at"):
        collect_runs([tmp_path / "missing"])


def test_a_users_loss_panel_is_titled_by_its_expression_once(tmp_path):
    write_run(tmp_path / "cce")
    write_run(tmp_path / "expr", loss="expr", loss_expr="(1-p**a)/a", loss_params={"a": 0.5})
    titles = [p.title for p in layout_panels(collect_runs([tmp_path]))]
    assert titles[1].splitlines()[0] == "L = (1-p**a)/a (a=0.5)" and "loss_expr" not in " ".join(titles)


def test_a_run_whose_config_cannot_be_read_is_left_out_and_named(tmp_path):
    write_run(tmp_path / "grid" / "cce-eta0.4-seed0")
    bad = write_run(tmp_path / "grid" / "cce-eta0.4-seed1", seed=1)
    (bad / "config.json").write_text('{"train": {"arch": "mlp", "datas')
    unreadable = []
    runs = collect_runs([tmp_path / "grid"], unreadable)
    assert [r.path.name for r in runs] == ["cce-eta0.4-seed0"]
    assert len(unreadable) == 1 and unreadable[0][0] == bad
    assert unreadable[0][1].startswith("config.json cannot be read (")
    with pytest.raises(BadInput, match="cce-eta0.4-seed1: config.json cannot be read"):
        collect_runs([tmp_path / "grid"])
    (bad / "config.json").write_text('{"data": {}}')
    with pytest.raises(BadInput, match="config.json has no train settings arch, dataset, loss, eta"):
        collect_runs([bad])
    with pytest.raises(BadInput, match="no runs to plot: none of the 1 found can be read"):
        collect_runs([bad], [])


def test_a_damaged_metrics_line_leaves_its_run_out_named_and_a_cut_short_last_line_is_ignored(tmp_path):
    """A damaged line with epochs after it cut the run short silently (drawn as 2 of 12 epochs, and preferred
    to an intact copy); a last line cut short by a kill is what a kill leaves, and is ignored."""
    intact = write_run(tmp_path / "a" / "rll-eta0.4-seed0", epochs=12, loss="rll")
    damaged = write_run(tmp_path / "b" / "rll-eta0.4-seed0", epochs=12, loss="rll")
    lines = (damaged / "metrics.jsonl").read_text().splitlines(keepends=True)
    lines[2] = '{"epoch": 3, "lr"\n'
    (damaged / "metrics.jsonl").write_text("".join(lines))
    killed = write_run(tmp_path / "a" / "rll-eta0.4-seed1", epochs=12, seed=1, loss="rll")
    with open(killed / "metrics.jsonl", "a") as handle:
        handle.write('{"epoch": 13, "j1"')
    unreadable = []
    runs = collect_runs([tmp_path], unreadable)
    assert {r.path: len(r.rows) for r in runs} == {intact: 12, killed: 12}
    assert unreadable == [(damaged, f"{damaged / 'metrics.jsonl'} line 3 is damaged and later lines hold more "
                                    "epochs; repair that line (its epoch's figures are not recorded elsewhere), or "
                                    f"delete {damaged} and start the run again")]


def test_a_seed_behind_its_others_and_a_second_copy_are_left_out_not_averaged_in(tmp_path):
    write_run(tmp_path / "a" / "cce-eta0.4-seed0", epochs=6)
    write_run(tmp_path / "a" / "cce-eta0.4-seed1", epochs=6, seed=1)
    behind = write_run(tmp_path / "a" / "cce-eta0.4-seed2", epochs=6, recorded=1, seed=2)
    copy = write_run(tmp_path / "b" / "cce-eta0.4-seed0", epochs=6)
    alone = write_run(tmp_path / "a" / "cce-eta0.8-seed0", epochs=6, recorded=2, eta=0.8)
    runs = collect_runs([tmp_path])
    [panel] = layout_panels(runs)
    assert {label: [(r.path.name, len(r.rows)) for r in group] for label, group in panel.groups.items()} == {
        "eta = 0.4": [("cce-eta0.4-seed0", 6), ("cce-eta0.4-seed1", 6)], "eta = 0.8": [("cce-eta0.8-seed0", 2)]}
    assert alone.name == "cce-eta0.8-seed0"
    first = tmp_path / "a" / "cce-eta0.4-seed0"
    assert sorted(panel.left_out) == sorted([(copy, f"a second run of seed 0 ({first} is drawn)"),
                                             (behind, "1 epoch recorded, its other seeds' runs 6")])


def test_plot_names_the_runs_it_leaves_out(tmp_path):
    from cli_helpers import run_cli

    write_run(tmp_path / "g" / "cce-eta0.4-seed0", epochs=4)
    write_run(tmp_path / "g" / "cce-eta0.4-seed1", epochs=4, recorded=2, seed=1)
    bad = write_run(tmp_path / "g" / "cce-eta0.6-seed0", eta=0.6)
    (bad / "config.json").write_text("{")
    result = run_cli("plot", str(tmp_path / "g"), "-o", str(tmp_path / "fig.png"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"wrote {tmp_path / 'fig.png'} (1 run; 2 left out)"
    assert sorted(lines[1:]) == sorted([
        f"  left out {bad}: config.json cannot be read (Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1))",
        f"  left out {tmp_path / 'g' / 'cce-eta0.4-seed1'}: 2 epochs recorded, its other seeds' runs 4"])


def test_runs_behind_links_to_folders_are_found_once(tmp_path):
    run = write_run(tmp_path / "real" / "cce-eta0.4-seed0")
    (tmp_path / "view").mkdir()
    (tmp_path / "view" / "linked").symlink_to(tmp_path / "real", target_is_directory=True)
    (tmp_path / "real" / "loop").symlink_to(tmp_path / "real", target_is_directory=True)
    assert [r.path.resolve() for r in collect_runs([tmp_path / "view"])] == [run.resolve()]
    assert len(collect_runs([tmp_path])) == 1


def test_a_run_stopped_before_its_first_epoch_is_found_and_named_with_its_status(tmp_path):
    from symtheory.empirical.plots import runs_not_drawn

    write_run(tmp_path / "grid" / "cce-eta0.4-seed0")
    diverged = write_run(tmp_path / "grid" / "expr-eta0.4-seed0", loss="expr", loss_expr="exp(exp(1/p))")
    (diverged / "metrics.jsonl").unlink()
    (diverged / "summary.json").write_text(json.dumps({"status": "stopped-nonfinite",
                                                      "message": "the training loss became inf in epoch 1"}))
    runs = collect_runs([tmp_path / "grid"])
    assert sorted(r.path.name for r in runs) == ["cce-eta0.4-seed0", "expr-eta0.4-seed0"]
    assert runs_not_drawn(runs) == [(diverged, "no recorded epoch (status stopped-nonfinite: the training loss "
                                               "became inf in epoch 1)")]
    with pytest.raises(BadInput, match=r"no run has a recorded epoch to plot \(.*expr-eta0.4-seed0: no recorded "
                                       r"epoch \(status stopped-nonfinite: the training loss became inf"):
        layout_panels(collect_runs([diverged]))
    (tmp_path / "other" / "notes").mkdir(parents=True)
    (tmp_path / "other" / "notes" / "config.json").write_text("{}")
    with pytest.raises(BadInput, match="neither a run directory"):
        collect_runs([tmp_path / "other"])


def test_when_no_run_can_be_read_the_error_names_the_first_and_counts_the_rest(tmp_path):
    bad = [write_run(tmp_path / f"run{i}", seed=i) for i in range(3)]
    for run in bad:
        (run / "config.json").write_text("{")
    with pytest.raises(BadInput, match=r"none of the 3 found can be read \(.*run0: config.json cannot be read "
                                       r"\(.*\); and 2 more\)"):
        collect_runs([tmp_path], [])


def test_runs_below_a_link_to_a_folder_are_found_once(tmp_path):
    real = write_run(tmp_path / "real" / "cce-eta0.4-seed0")
    (tmp_path / "links").mkdir()
    (tmp_path / "links" / "mine").symlink_to(tmp_path / "real")
    (tmp_path / "links" / "again").symlink_to(tmp_path / "real")
    runs = collect_runs([tmp_path / "links"])
    assert len(runs) == 1 and runs[0].path.resolve() == real.resolve()


@pytest.mark.parametrize("name, fragment", [
    ("/dev/null", "--output '/dev/null' is not a regular file (a device or pipe); give a file name such as "
                  "'j1.png'"),
    ("DIR", "is a folder; give a file name such as"),
    ("fig.xyz", "matplotlib writes no '.xyz' figures"),
])
def test_plot_refuses_a_device_folder_or_unknown_format_before_reading_runs(tmp_path, name, fragment):
    import os

    from cli_helpers import assert_bad_input, run_cli

    write_run(tmp_path / "runs" / "one")
    output = str(tmp_path) if name == "DIR" else (name if name.startswith("/") else str(tmp_path / name))
    done = run_cli("plot", str(tmp_path / "runs"), "-o", output)
    assert_bad_input(done, fragment)
    assert not (tmp_path / "fig.xyz").exists() and not os.path.exists("/dev/null.png")


def test_runs_of_two_noise_matrices_are_two_lines_not_two_seeds(tmp_path):
    from symtheory.empirical.config import matrix_digest

    first = [[0.55 if i == j else 0.05 for j in range(10)] for i in range(10)]
    second = [[0.8 if i == j else 0.2 / 9 for j in range(10)] for i in range(10)]
    write_run(tmp_path / "m55", noise="matrix", eta=0.0, noise_matrix=first)
    write_run(tmp_path / "m80", noise="matrix", eta=0.0, noise_matrix=second)
    [panel] = layout_panels(collect_runs([tmp_path]))
    assert sorted(panel.groups) == sorted([f"matrix {matrix_digest(first)}", f"matrix {matrix_digest(second)}"])
    assert all(len(group) == 1 for group in panel.groups.values()) and panel.left_out == []


def test_a_long_expression_title_is_wrapped_to_its_panel():
    from symtheory.empirical.plots import TITLE_WIDTH, _panel_title

    expression = "log(1 + p) + " * 6 + "1 - p"
    run = type("Run", (), {"train": {"loss_expr": expression, "loss_params": {"a": 0.5}}, "config": {}})()
    title = _panel_title(("mlp", "mnist", "expr", "{}"), [run], [])
    assert max(len(line) for line in title.splitlines()) <= TITLE_WIDTH
    assert " ".join(title.split()) == f"L = {' '.join(expression.split())} (a=0.5) mlp / mnist"


def test_a_run_with_extra_or_repeated_epoch_lines_is_left_out_and_named(tmp_path):
    from symtheory.empirical.plots import runs_not_drawn

    good = write_run(tmp_path / "good")
    extra = write_run(tmp_path / "extra", seed=1)
    metrics = extra / "metrics.jsonl"
    metrics.write_text(metrics.read_text() + json.dumps({"epoch": 4, "j1": 0.9, "j2": 0.1}) + "\n")
    repeated = write_run(tmp_path / "repeated", seed=2)
    lines = (repeated / "metrics.jsonl").read_text().splitlines()
    (repeated / "metrics.jsonl").write_text("\n".join([lines[0], lines[0], lines[1]]) + "\n")
    runs = collect_runs([tmp_path])
    [panel] = layout_panels(runs)
    assert [r.path for group in panel.groups.values() for r in group] == [good]
    assert dict(runs_not_drawn(runs)) == {
        extra: "metrics.jsonl holds 4 lines for 3 epochs (a run two processes appended to?)",
        repeated: "metrics.jsonl's epochs are not 1, 2, ... in order (a run two processes appended to?)"}
    with pytest.raises(BadInput, match="no run can be drawn"):
        layout_panels([r for r in runs if r.path != good])


def test_panels_of_numeric_settings_come_in_numeric_order(tmp_path):
    for epochs in (100, 30, 5):
        write_run(tmp_path / f"e{epochs}", epochs=epochs, recorded=2)
    write_run(tmp_path / "s", epochs=30, recorded=2, subset=1000)
    titles = [p.title for p in layout_panels(collect_runs([tmp_path]))]
    assert [t.splitlines()[1:] for t in titles] == [["mlp / mnist, n=200", "epochs=5"],
                                                    ["mlp / mnist, n=200", "epochs=30"],
                                                    ["mlp / mnist, n=1000", "epochs=30"],
                                                    ["mlp / mnist, n=200", "epochs=100"]]
