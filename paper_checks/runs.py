"""Finished runs as the empirical checks see them: one grid per experiment, seeds averaged.

An *experiment* is every field of a run's ``config.json`` ``train`` section except the loss, its
parameters, eta, the seed and the runtime-only fields (device, compile, ...): preset, network, dataset,
subset, epochs, noise kind (and matrix), optimizer, step size and schedule, batch size and so on. Runs of
one experiment form a :class:`Grid` keyed by (loss, eta); the runs of one (loss, eta) that differ only in
their seed are averaged epoch by epoch into one :class:`RunRecord` whose ``members`` are the seeds' runs.

Only finished runs are used: summary.json says ``finished`` and metrics.jsonl holds every planned epoch.
Every other run (interrupted, diverged, still running, a second copy of a run already read) is kept out of
the curves and listed with the reason in ``Grid.skipped`` (or ``RunSet.skipped`` when its config cannot be
read), so reports and checks can say why it is missing.
"""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from symtheory.empirical.config import EXECUTION_FIELDS, expression_spelling, matrix_digest
from symtheory.errors import BadInput

PER_RUN_FIELDS = ("loss", "loss_params", "loss_expr", "eta", "seed")
"""train fields that vary inside a grid (the loss's parameters go into its label when not the defaults)."""
SCALE_FIELDS = ("arch", "dataset", "subset", "epochs")
"""The fields that make a run full scale for a preset: its network, its dataset, no subset, its epochs."""
FINISHED = "finished"


@dataclass
class RunRecord:
    """Per-epoch J1 (accuracy on the given noisy labels), J2 (on the clean labels) and test accuracy of one
    run, or their per-epoch mean over the seeds in ``members`` (then ``seeds`` lists them)."""

    loss: str
    eta: float
    j1: list[float]
    j2: list[float]
    test_accuracy: list[float] = field(default_factory=list)
    source: str = ""
    run: Any = field(default=None, repr=False, compare=False)  # the empirical.plots record it was read from
    noise: str = "symmetric"
    seeds: tuple[int, ...] = ()
    members: list["RunRecord"] = field(default_factory=list, repr=False, compare=False)

    @property
    def final_j1(self) -> float:
        """J1 at the last epoch."""
        return self.j1[-1]

    @property
    def final_j2(self) -> float:
        """J2 at the last epoch."""
        return self.j2[-1]

    @property
    def per_seed(self) -> list["RunRecord"]:
        """The single runs behind this record: its members, or itself when it is one run."""
        return self.members or [self]

    def spread(self, value) -> tuple[float, float]:
        """Mean and sample standard deviation (0 for one seed) of ``value(run)`` over the seeds' runs."""
        values = [float(value(r)) for r in self.per_seed]
        return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


class Grid(dict):
    """(loss label, eta) -> RunRecord of one experiment.

    ``name`` labels the experiment (e.g. 'mnist-resnet18/mnist (arch mlp, 2 epochs, subset 200)'),
    ``setting`` holds its shared train fields, ``folder`` the directory its runs share, and ``skipped``
    maps (loss label, eta) to (run directory, why) of the runs left out there (unfinished, duplicate).
    A plain dict keyed by (loss, eta) works wherever a Grid is read.
    """

    def __init__(self, *args, name: str = "", setting: dict | None = None, folder: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.name = name
        self.setting = dict(setting or {})
        self.folder = folder
        self.skipped: dict[tuple[str, float], list[tuple[str, str]]] = {}


@dataclass
class RunSet:
    """Every run directory found: one Grid per experiment (by name), and runs whose config was unreadable."""

    grids: dict[str, Grid] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def all_skipped(self) -> list[tuple[str, str]]:
        """(run directory, why) for every run not used, of every grid and unreadable."""
        out = list(self.skipped)
        for grid in self.grids.values():
            out += [pair for pairs in grid.skipped.values() for pair in pairs]
        return sorted(out)


def grid_key(loss: str, eta: float) -> tuple[str, float]:
    """Key of a run in a grid (eta rounded so 0.2 read from JSON matches 0.2 typed)."""
    return loss, round(float(eta), 6)


def _read(run_dir: str | Path):
    """The run directory as ``symtheory.empirical.plots`` reads it (config.json once, metrics.jsonl once)."""
    from symtheory.empirical.plots import load_run as read_run_dir

    return read_run_dir(run_dir)


def unfinished_reason(record) -> str | None:
    """Why the run ``record`` (an empirical.plots record) is not finished, or None when it is: summary.json
    status ``finished`` with every planned epoch, and metrics.jsonl holding exactly epochs 1..planned (more
    lines, or epochs out of order or repeated, as two processes appending to one run left them, are refused:
    which of them is the run's is unknown)."""
    from symtheory.empirical.run_dir import read_summary

    planned = int(record.train.get("epochs") or 0)
    recorded = len(record.rows)
    summary = read_summary(record.path)
    status = summary.get("status")
    if not summary:
        return f"no summary.json (running, or killed): {recorded} of {planned} epochs recorded"
    if status != FINISHED:
        message = summary.get("message") or ""
        return f"status {status!r}, {recorded} of {planned} epochs recorded" + (f" ({message})" if message else "")
    if summary.get("epochs_completed") != planned or recorded < planned:
        return f"finished with {recorded} of {planned} epochs recorded"
    from symtheory.empirical.plots import epoch_problem

    return epoch_problem(record)


def _curves(record, label: str) -> RunRecord:
    rows, train = record.rows, record.train
    return RunRecord(
        loss=label, eta=float(train["eta"]),
        j1=[r["j1"] for r in rows], j2=[r["j2"] for r in rows],
        test_accuracy=[r.get("test_acc", float("nan")) for r in rows], source=str(record.path), run=record,
        noise=train.get("noise", "symmetric"), seeds=(int(train.get("seed", 0)),),
    )


def load_run(run_dir: str | Path) -> RunRecord:
    """A RunRecord from a run directory written by ``symtheory train`` (config.json + metrics.jsonl); its
    loss label is the loss name, whatever its parameters. ValueError when metrics.jsonl has no epochs."""
    record = _read(run_dir)
    if not record.rows:
        raise ValueError(f"{run_dir}: metrics.jsonl has no epochs")
    return _curves(record, record.train["loss"])


def experiment_setting(train: dict) -> dict:
    """The fields of a run's train config that define its experiment (everything but the per-run and
    runtime fields)."""
    return {k: v for k, v in train.items() if k not in PER_RUN_FIELDS + EXECUTION_FIELDS}


def _default_loss_params(preset: str | None, loss: str) -> dict | None:
    try:
        from symtheory.empirical.presets import build_config

        return dict(build_config(preset, loss).loss_params)
    except Exception:  # an unknown preset or loss: no defaults to compare with
        return None


def loss_label(train: dict) -> str:
    """The loss name, with its parameters ('rll(alpha=0.01)') when they are not the preset's (or the
    registry's) defaults, so runs of a parameter sweep do not merge; a user's loss by its expression's
    canonical spelling ('(1-p^a)/a' as 'expr[(1 - p**a)/a, a=0.5]'), so one loss spelt two ways is one row."""
    loss, params = train["loss"], dict(train.get("loss_params") or {})
    if train.get("loss_expr"):
        values = "".join(f", {k}={float(v):g}" for k, v in sorted(params.items()))
        return f"expr[{expression_spelling(train['loss_expr'])}{values}]"
    if not params:  # a config that records no parameters (older runs): the loss's defaults
        return loss
    defaults = _default_loss_params(train.get("preset"), loss)
    same = defaults is not None and set(defaults) == set(params) and all(
        abs(float(params[k]) - float(defaults[k])) <= 1e-12 * max(1.0, abs(float(defaults[k]))) for k in params)
    if same:
        return loss
    return f"{loss}({', '.join(f'{k}={float(v):g}' for k, v in sorted(params.items()))})"


def format_field(name: str, value: Any) -> str:
    """'2 epochs' ('1 epoch'), 'subset 200', 'no subset', 'arch mlp', 'lr_schedule multistep:100,150:0.1', ..."""
    if value is None:
        return f"no {name.replace('_', ' ')}"
    if name == "epochs":
        return f"{value} epoch{'' if value == 1 else 's'}"
    if name == "subset":
        return f"subset {value}"
    if name == "lr_schedule" and isinstance(value, dict):
        from symtheory.empirical.config import LRSchedule

        value = LRSchedule(value["kind"], tuple(value["milestones"]), value["gamma"]).describe()
    if name == "noise":
        return f"{value} noise"
    if name == "noise_matrix":
        return f"noise matrix {matrix_digest(value)}"
    return f"{name} {value}"


def preset_setting(preset: str) -> dict | None:
    """The experiment fields of ``preset``'s own config (None for an unknown preset)."""
    try:
        from symtheory.empirical.presets import get_preset

        return experiment_setting(get_preset(preset).config().to_dict())
    except Exception:
        return None


def matching_preset(setting: dict) -> str | None:
    """The preset whose own config an experiment trained without ``--preset`` repeats exactly (every
    experiment field equal but the preset's name), or None; an experiment that names its preset gets it."""
    if setting.get("preset") is not None:
        return setting["preset"]
    from symtheory.empirical.presets import PRESETS

    own = {k: v for k, v in setting.items() if k != "preset"}
    return next((name for name in PRESETS
                 if {k: v for k, v in (preset_setting(name) or {}).items() if k != "preset"} == own), None)


def preset_deviations(setting: dict) -> list[str]:
    """How an experiment run with a preset departs from that preset's own config, e.g. ['arch mlp',
    '2 epochs', 'subset 200'] (scale fields first); [] for a free-flag experiment or an exact preset run."""
    preset = setting.get("preset")
    own = preset_setting(preset) if preset else None
    if own is None:
        return []
    order = list(SCALE_FIELDS) + sorted(k for k in setting if k not in SCALE_FIELDS)
    return [format_field(k, setting.get(k)) for k in order
            if k in setting and k != "noise" and k != "noise_matrix" and setting.get(k) != own.get(k)]


def _base_name(setting: dict, dataset: str) -> str:
    return f"{setting.get('preset') or setting.get('arch')}/{dataset}"


def _noise_note(setting: dict) -> list[str]:
    kind = setting.get("noise", "symmetric")
    return [] if kind == "symmetric" else [f"{kind} noise"]


def _name_experiments(settings: dict[str, dict], datasets: dict[str, str]) -> dict[str, str]:
    """A unique, readable name per experiment key: '<preset or arch>/<dataset>', then in parentheses the
    noise kind when not symmetric, a preset run's departures from its preset (a free-flag run's subset),
    and the fields that tell apart experiments that would otherwise share a name."""
    names = {}
    for key, setting in settings.items():
        notes = _noise_note(setting) + preset_deviations(setting)
        if not setting.get("preset") and setting.get("subset") is not None:
            notes.append(format_field("subset", setting["subset"]))
        names[key] = (_base_name(setting, datasets[key]), notes)
    by_name: dict[tuple, list[str]] = {}
    for key, (base, notes) in names.items():
        by_name.setdefault((base, tuple(notes)), []).append(key)
    out = {}
    for (base, notes), keys in by_name.items():
        differing = []
        if len(keys) > 1:
            fields_ = sorted({k for key in keys for k in settings[key]},
                             key=lambda k: (SCALE_FIELDS.index(k) if k in SCALE_FIELDS else len(SCALE_FIELDS), k))
            differing = [k for k in fields_ if len({json.dumps(settings[key].get(k), sort_keys=True)
                                                    for key in keys}) > 1]
        for key in keys:
            extra = [format_field(k, settings[key].get(k)) for k in differing]
            all_notes = list(notes) + [e for e in extra if e not in notes]
            out[key] = base + (f" ({', '.join(all_notes)})" if all_notes else "")
    return out


def _mean_record(label: str, eta: float, seeds: list[RunRecord]) -> RunRecord:
    if len(seeds) == 1:
        return seeds[0]
    epochs = min(len(r.j1) for r in seeds)

    def mean(curves):
        return [statistics.fmean(c[i] for c in curves) for i in range(epochs)]

    return RunRecord(
        loss=label, eta=eta, j1=mean([r.j1 for r in seeds]), j2=mean([r.j2 for r in seeds]),
        test_accuracy=mean([r.test_accuracy for r in seeds]) if all(r.test_accuracy for r in seeds) else [],
        source=os.path.commonpath([r.source for r in seeds]) if seeds else "", noise=seeds[0].noise,
        seeds=tuple(s for r in seeds for s in r.seeds), members=seeds,
    )


def _run_dirs(where: str | Path | Iterable[str | Path]) -> list[Path]:
    from symtheory.empirical.run_dir import is_run_dir, run_dirs_below

    if isinstance(where, (str, Path)):
        return run_dirs_below(where)
    return [Path(p) for p in where if is_run_dir(p)]


def load_runs(where: str | Path | Iterable[str | Path]) -> RunSet:
    """Every run directory under ``where`` (any depth; or exactly the listed directories) grouped into one
    Grid per experiment, seeds averaged; unfinished runs and second copies of a run are listed as skipped."""
    found: dict[str, dict[tuple[str, float], dict[int, RunRecord]]] = {}
    settings: dict[str, dict] = {}
    datasets: dict[str, str] = {}
    folders: dict[str, list[str]] = {}
    skipped_by_key: dict[str, dict[tuple[str, float], list[tuple[str, str]]]] = {}
    runset = RunSet()
    for run_dir in _run_dirs(where):
        try:
            record = _read(run_dir)
            train = record.train
            setting = experiment_setting(train)
            label, eta, seed = loss_label(train), float(train["eta"]), int(train.get("seed", 0))
        except Exception as exc:  # unreadable config.json or metrics.jsonl
            runset.skipped.append((str(run_dir), f"cannot be read ({exc})"))
            continue
        key = json.dumps(setting, sort_keys=True, default=str)
        settings[key] = setting
        datasets[key] = (record.config.get("data") or {}).get("name") or train.get("dataset")
        folders.setdefault(key, []).append(str(Path(run_dir).parent))
        cell = grid_key(label, eta)
        found.setdefault(key, {}).setdefault(cell, {})
        why = unfinished_reason(record)
        if why is None and seed in found[key][cell]:
            why = f"a second copy of {label} eta={eta:g} seed={seed} (used: {found[key][cell][seed].source})"
        if why is not None:
            skipped_by_key.setdefault(key, {}).setdefault(cell, []).append((str(run_dir), why))
            continue
        found[key][cell][seed] = _curves(record, label)
    names = _name_experiments(settings, datasets)
    for key, cells in found.items():
        grid = Grid(name=names[key], setting=settings[key], folder=os.path.commonpath(folders[key]))
        for cell, by_seed in sorted(cells.items()):
            if by_seed:
                grid[cell] = _mean_record(cell[0], cell[1], [by_seed[s] for s in sorted(by_seed)])
        grid.skipped = skipped_by_key.get(key, {})
        runset.grids[names[key]] = grid
    return runset


def load_grids_by_preset(root: str | Path) -> dict[str, Grid]:
    """The grids of :func:`load_runs` by experiment name ('<preset or arch>/<dataset>' plus what sets it
    apart from its preset and from other experiments of that name)."""
    return load_runs(root).grids


def load_grid(root: str | Path | Iterable[str | Path]) -> Grid:
    """The one experiment under ``root`` (or in the listed run directories) as a Grid; an empty Grid when
    there are no runs; BadInput naming the experiments when the runs belong to several."""
    grids = load_runs(root).grids
    if len(grids) > 1:
        raise BadInput(f"runs under {root} belong to {len(grids)} experiments: {'; '.join(sorted(grids))}")
    return next(iter(grids.values()), Grid())


def runs_for(grid: Grid, loss: str, etas=None) -> list[RunRecord]:
    """The runs of one loss, sorted by eta (restricted to ``etas`` if given)."""
    wanted = None if etas is None else {round(float(e), 6) for e in etas}
    return sorted((r for (l, e), r in grid.items() if l == loss and (wanted is None or e in wanted)),
                  key=lambda r: r.eta)
