"""Figures of J1/J2 per epoch (symtheory.empirical.plots): one panel per experiment, never merging runs of
another subset, optimizer or epoch count; seeds drawn as a mean with a band; runs found at any depth; short
runs get integer epoch ticks; a figure name without a suffix is written as .png."""

from __future__ import annotations

import json

import pytest

from symtheory.empirical.plots import collect_runs, layout_panels, plot_runs
from symtheory.errors import BadInput


def write_run(folder, epochs=3, **train):
    settings = {"arch": "mlp", "dataset": "mnist", "loss": "cce", "eta": 0.4, "seed": 0, "subset": 200,
                "optimizer": "adam", "lr": 0.001, "epochs": epochs, "noise": "symmetric", "device": "cpu",
                "loss_params": {}, "preset": None, **train}
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"train": settings, "data": {"name": "mnist",
                                                                                 "num_train": settings["subset"]}}))
    rows = [{"epoch": e, "j1": 0.1 * e + 0.01 * settings["seed"], "j2": 0.05 * e} for e in range(1, epochs + 1)]
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
