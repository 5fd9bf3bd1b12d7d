"""The eta x loss grid of one experiment: plan the runs, skip finished ones, resume interrupted ones.

Each run of the grid gets its own run directory ``OUT/<loss>-eta<eta>-seed<seed>`` with exactly the files
of a single ``symtheory train`` run, so a grid can be trained one run after another (``local``), as one
fused wide model (``fused``, :mod:`symtheory.empirical.fused`) or spread over a Ray cluster (``ray``).
"""

from __future__ import annotations

import json
from contextlib import suppress
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from symtheory.empirical.config import EXECUTION_FIELDS, TrainConfig, same_expression
from symtheory.empirical.interrupts import interrupts_held
from symtheory.empirical.presets import PAPER_ETAS, PAPER_LOSSES, build_config, get_preset
from symtheory.empirical.run_dir import DIVERGED, RunDir, divergence, epoch_row, read_summary
from symtheory.errors import BadInput
from symtheory.user_loss import USER_LOSS_NAME

BACKENDS = ("local", "fused", "ray")
FINISHED, INTERRUPTED, NEW = "finished", "interrupted", "new"
DONE = (FINISHED, DIVERGED)


@dataclass(frozen=True)
class GridRun:
    """One cell of the grid: its config and its run directory (``swept``: the parameter a sweep set, shown in
    the label)."""

    config: TrainConfig
    run_dir: Path
    swept: str = ""

    @property
    def label(self) -> str:
        """'rll eta=0.4 seed=0'; with the loss's parameters that are not the preset's (or the registry's)
        defaults, 'rll(alpha=0.01) eta=0.4 seed=0', the swept one as the sweep wrote it ('rll(alpha=1/10)'); a
        user's loss by its expression and parameter values, 'expr[(1-p**a)/a, a=0.5] eta=0.4 seed=0'
        ('expr[(1-p**a)/a](a=1/2)' in a sweep of a)."""
        cfg = self.config
        swept = self.swept.partition("=")[0]
        if cfg.loss_expr is not None:
            values = "".join(f", {k}={float(v):g}" for k, v in sorted(cfg.loss_params.items()) if k != swept)
            loss = f"{cfg.loss}[{cfg.loss_expr}{values}]" + (f"({self.swept})" if swept else "")
        else:
            defaults = _default_loss_params(cfg.preset, cfg.loss)
            shown = [f"{k}={float(v):g}" for k, v in sorted(cfg.loss_params.items()) if k != swept
                     and (k not in defaults or abs(float(v) - defaults[k]) > 1e-12 * max(1.0, abs(defaults[k])))]
            shown += [self.swept] if swept else []
            loss = cfg.loss + (f"({', '.join(shown)})" if shown else "")
        return f"{loss} eta={cfg.eta:g} seed={cfg.seed}"


@lru_cache(maxsize=None)
def _default_loss_params(preset: str | None, loss: str) -> dict[str, float]:
    """The parameters ``loss`` takes by default in ``preset`` (the registry's where there is none)."""
    return dict(build_config(preset, loss).loss_params)


GridLoss = tuple[str, "str | None"]
"""A loss of the grid: (registry name, None), or ('expr', the user's expression)."""


def run_dir_name(cfg: TrainConfig) -> str:
    """The directory name of a run inside a grid: '<loss>-eta<eta>-seed<seed>' ('expr-<hash>-...' for a
    user's loss, see :attr:`TrainConfig.loss_tag`)."""
    return f"{cfg.loss_tag}-eta{cfg.eta:g}-seed{cfg.seed}"


def _run_dir(out: Path, cfg: TrainConfig) -> Path:
    """``out / run_dir_name(cfg)``; for a user's loss whose directory is not there, an existing run directory
    of the same expression, eta and seed under another name (one written before names came from the
    canonical spelling, e.g. 'expr-<SHA-256 of "(1-p**a)/a">-eta0.4-seed0'), so that it resumes."""
    path = out / run_dir_name(cfg)
    if cfg.loss_expr is None or path.exists():
        return path
    for other in sorted(out.glob(f"{cfg.loss}-*-eta{cfg.eta:g}-seed{cfg.seed}")):
        with suppress(OSError, ValueError, KeyError, TypeError, AttributeError):
            saved = json.loads((other / "config.json").read_text())["train"].get("loss_expr")
            if same_expression(saved, cfg.loss_expr):
                return other
    return path


def plan_grid(out: str | Path, preset: str | None = None, losses: Sequence[str] | None = None,
              etas: Sequence[float] | None = None, seeds: Sequence[int] = (0,),
              loss_params: Mapping[str, str] | None = None, expressions: Sequence[str] = (),
              **overrides: Any) -> list[GridRun]:
    """Every (loss, eta, seed) of the grid as a validated config; the preset's losses and etas by default.
    ``expressions``: users' own losses (the ``check-loss --expr`` grammar), trained beside ``losses`` as the
    loss 'expr'. ``loss_params`` (name -> exact value text) go to each loss that has the parameter."""
    names, etas = grid_cells(preset, losses, etas)
    cells = grid_losses(names, expressions)
    if not cells or not etas or not seeds:
        raise BadInput("a grid needs at least one loss, one eta and one seed")
    params = grid_loss_params(cells, loss_params or {})
    runs = []
    for (loss, expression), values in zip(cells, params):
        for eta in etas:
            for seed in seeds:
                try:
                    cfg = build_config(preset, loss, float(eta), seed=int(seed), loss_params=values or None,
                                       loss_expr=expression, **overrides)
                except BadInput as exc:
                    if expression is None:
                        raise
                    raise BadInput(f"--expr {expression!r}: {exc}") from None
                runs.append(GridRun(cfg, _run_dir(Path(out), cfg)))
    names = [r.run_dir.name for r in runs]
    if len(set(names)) != len(names):
        raise BadInput("the grid lists the same (loss, eta, seed) twice")
    return runs


def grid_cells(preset: str | None, losses: Sequence[str] | None, etas: Sequence[float] | None
               ) -> tuple[list[str], list[float]]:
    """The grid's losses and etas: those given (an empty list of losses is none), else the preset's, else the
    paper's (cce, mse, rll, nmse at eta 0, 0.2, 0.4, 0.6)."""
    if preset is not None:
        p = get_preset(preset)
        losses, etas = losses if losses is not None else p.losses, etas if etas is not None else p.etas
    return list(losses if losses is not None else PAPER_LOSSES), list(etas if etas is not None else PAPER_ETAS)


def grid_losses(losses: Sequence[str], expressions: Sequence[str] = ()) -> list[GridLoss]:
    """The registry's ``losses`` then the users' ``expressions`` (checked and made canonical by
    :func:`~symtheory.user_loss.expression_texts`: none empty, no two alike), as :data:`GridLoss` pairs."""
    from symtheory.user_loss import expression_texts

    return [(loss, None) for loss in losses] + [(USER_LOSS_NAME, text) for text in expression_texts(expressions)]


def loss_parameter_names(cell: GridLoss) -> set[str]:
    """The parameters a grid loss takes: the registry's for a named loss, the expression's own names (all
    but p, q and K) for a user's loss."""
    from symtheory.analysis import expression_parameters
    from symtheory.registry import get_loss

    loss, expression = cell
    if expression is not None:
        return expression_parameters(expression)
    return {p.name for p in get_loss(loss).params}


def shown_loss(cell: GridLoss) -> str:
    """A grid loss in labels and messages: 'rll', or 'expr[(1 - p**a)/a]' for a user's loss."""
    loss, expression = cell
    return loss if expression is None else f"{loss}[{expression}]"


def _shown_losses(cells: Sequence[GridLoss]) -> str:
    return ", ".join(map(shown_loss, cells))


def parse_sweep(text: str) -> tuple[str, list[str]]:
    """'alpha=0.01,0.1,0.45' -> ('alpha', ['0.01', '0.1', '0.45']): a loss parameter and the exact texts of
    its values, each given once; BadInput otherwise."""
    name, sep, values = text.partition("=")
    items = [v.strip() for v in values.split(",")]
    if not sep or not name.strip() or not all(items):
        raise BadInput(f"--sweep expects name=value,value,..., got {text!r}")
    if len(set(items)) != len(items):
        raise BadInput(f"--sweep {text!r} lists a value twice")
    return name.strip(), items


def plan_sweep(out: str | Path, sweep: str, preset: str | None = None, losses: Sequence[str] | None = None,
               etas: Sequence[float] | None = None, seeds: Sequence[int] = (0,),
               loss_params: Mapping[str, str] | None = None, expressions: Sequence[str] = (),
               **overrides: Any) -> list[GridRun]:
    """The grid once per value of a loss parameter (``sweep``: 'alpha=0.01,0.1,0.45'): the losses (and
    expressions) that have the parameter in ``out/<name><value>/`` for each value, the others (which the
    value cannot change) once in ``out/``. BadInput when no loss of the grid has the parameter or it is also
    given by ``loss_params``."""
    name, values = parse_sweep(sweep)
    given = dict(loss_params or {})
    if name in given:
        raise BadInput(f"--sweep {name}: give {name} either as a sweep or as --param/--alpha, not both")
    cells = grid_losses(grid_cells(preset, losses, etas)[0], expressions)
    grid_loss_params(cells, given)
    having = [cell for cell in cells if name in loss_parameter_names(cell)]
    if not having:
        raise BadInput(f"--sweep {name}: none of the grid's losses ({_shown_losses(cells)}) has it")
    others = [cell for cell in cells if cell not in having]

    def plan(folder: Path, part: list[GridLoss], extra: Mapping[str, str]) -> list[GridRun]:
        names = set().union(*(loss_parameter_names(cell) for cell in part))
        own = {k: v for k, v in given.items() if k in names}
        return plan_grid(folder, preset, [c[0] for c in part if c[1] is None], etas, seeds, {**own, **extra},
                         [c[1] for c in part if c[1] is not None], **overrides)

    runs = plan(Path(out), others, {}) if others else []
    seen: dict[float, str] = {}
    for value in values:
        cells_at = plan(Path(out) / f"{name}{value.replace('/', '_')}", having, {name: value})
        number = cells_at[0].config.loss_params[name]
        if number in seen:
            raise BadInput(f"--sweep {name}: {seen[number]} and {value} are the same value")
        seen[number] = value
        runs += [replace(cell, swept=f"{name}={value}") for cell in cells_at]
    return runs


def grid_loss_params(cells: Sequence[GridLoss], given: Mapping[str, str]) -> list[dict[str, float]]:
    """For each loss of the grid, the given parameters it has, read exactly (checked against a registry
    loss's domains); BadInput for a parameter that none of the losses has."""
    from symtheory.empirical.presets import exact_loss_params

    names = [loss_parameter_names(cell) for cell in cells]
    for name in given:
        if not any(name in having for having in names):
            raise BadInput(f"--param {name}: none of the grid's losses ({_shown_losses(cells)}) has it")
    return [exact_loss_params(loss, {k: v for k, v in given.items() if k in having})
            for (loss, _), having in zip(cells, names)]


def run_state(run_dir: Path, epochs: int | None = None) -> str:
    """finished (summary says so, with at least ``epochs`` epochs when given), diverged (stopped on a
    non-finite loss: done, as resuming would repeat it), interrupted (a run directory exists; a finished run
    that the grid now asks to train longer resumes too), or new."""
    data = read_summary(run_dir)
    completed = data.get("epochs_completed")
    if (data.get("status") == FINISHED and completed == data.get("epochs_planned")
            and (epochs is None or (isinstance(completed, int) and completed >= epochs))):
        return FINISHED
    if data.get("status") == DIVERGED:
        return DIVERGED
    if (run_dir / "config.json").is_file() and (run_dir / "labels.npz").is_file():
        return INTERRUPTED
    return NEW


def check_existing_runs(runs: Sequence[GridRun]) -> None:
    """BadInput naming the first run directory whose config.json describes another experiment than the grid
    plans (see :func:`other_settings`), so that no earlier result is passed off as this grid's."""
    for run in runs:
        message = other_settings(run)
        if message:
            raise BadInput(message)


def other_settings(run: GridRun) -> str | None:
    """Why ``run``'s directory cannot be this grid's run -- its config.json describes another experiment (any
    setting but how it executes: device, precision, ...), naming the settings that differ -- or None; a run the
    grid only asks to train for more epochs is fine (it resumes)."""
    diff = config_differences(run)
    epochs = diff.pop("epochs", None)
    if epochs is not None and epochs[0] > epochs[1]:
        diff["epochs"] = epochs
    if not diff:
        return None
    shown = ", ".join(f"{name} {_shown(saved)} (this grid: {_shown(planned)})" for name, (saved, planned) in diff.items())
    return (f"{run.run_dir} holds a run with other settings than this grid's: {shown}; use another --out, the "
            f"same settings, or delete it to train it again")


def _shown(value: Any) -> str:
    """A setting's value in a message: 'none' for None, else its repr."""
    return "none" if value is None else repr(value)


def config_differences(run: GridRun) -> dict[str, tuple[Any, Any]]:
    """{setting: (saved, planned)} for the experiment's settings (not EXECUTION_FIELDS) where the run
    directory's config.json differs from the planned config; empty for a new or unreadable one."""
    path = run.run_dir / "config.json"
    if not path.is_file():
        return {}
    try:
        saved = TrainConfig.from_dict(json.loads(path.read_text())["train"]).to_dict()
    except (OSError, ValueError, KeyError, TypeError, BadInput):
        return {}
    return train_differences(saved, run.config)


def train_differences(saved: Mapping[str, Any], planned: TrainConfig) -> dict[str, tuple[Any, Any]]:
    """{setting: (saved, planned)} for each experiment setting of ``planned`` (not EXECUTION_FIELDS) whose
    value in a config.json 'train' record differs."""
    wanted = planned.to_dict()
    return {n: (saved.get(n), wanted[n]) for n in wanted if n not in EXECUTION_FIELDS and saved.get(n) != wanted[n]
            and not (n == "loss_expr" and same_expression(saved.get(n), wanted[n]))}


def run_states(runs: Sequence[GridRun]) -> dict[Path, str]:
    """{run directory: :func:`run_state` against the run's planned epochs}, as the directories hold them now."""
    return {r.run_dir: run_state(r.run_dir, r.config.epochs) for r in runs}


def epochs_counted_by_run(runs: Sequence[GridRun]) -> dict[Path, int]:
    """{run directory: :func:`epochs_counted` as the directory holds it now} (a progress bar's start)."""
    states = run_states(runs)
    return {r.run_dir: epochs_counted(r, states[r.run_dir]) for r in runs}


def epochs_counted(run: GridRun, state: str) -> int:
    """Epochs of a run that count as done before this call trains it: all of a finished or diverged one, the
    recorded ones of an interrupted one (for a progress bar)."""
    if state in DONE:
        return run.config.epochs
    return epochs_done(run.run_dir) if state == INTERRUPTED else 0


@dataclass
class GridOutcome:
    """What happened to one run of the grid in this call, with the run's loss, parameters, noise and seed."""

    label: str
    run_dir: str
    action: str
    status: str
    final: dict[str, Any] | None = None
    message: str = ""
    loss: str = ""
    loss_params: dict[str, float] | None = None
    noise: str = ""
    eta: float | None = None
    seed: int | None = None
    loss_expr: str | None = None
    setup_changes: list[str] = field(default_factory=list)
    """What differs from the setup a resumed run's checkpoint was written on; [] if nothing."""
    epochs: int = 0
    """Epochs the run has recorded (:func:`epochs_done`) when the outcome was taken."""

    @classmethod
    def of(cls, run: GridRun, action: str, status: str, final: dict[str, Any] | None = None,
           message: str = "", setup_changes: Sequence[str] = ()) -> "GridOutcome":
        """The outcome of ``run``, its identifying settings copied from its config."""
        cfg = run.config
        return cls(run.label, str(run.run_dir), action, status, final, message, cfg.loss, dict(cfg.loss_params),
                   cfg.noise, cfg.eta, cfg.seed, cfg.loss_expr, list(setup_changes), epochs_done(run.run_dir))


CSV_METRICS = ("j1", "j2", "test_acc", "acc_kept", "acc_flipped", "memorized", "train_loss")


def write_outcomes_csv(outcomes: Sequence[GridOutcome], path: str | Path) -> Path:
    """One row per run (loss, a user's loss expression, the loss's parameters, noise, eta, seed, status, the
    epochs recorded, the last recorded epoch's metrics, the run directory) as CSV that pandas reads; written
    atomically."""
    import csv
    import io

    from symtheory.empirical.run_dir import atomic_write

    columns = ["loss", "loss_expr", "loss_params", "noise", "eta", "seed", "status", "action", "epochs", *CSV_METRICS,
               "run_dir"]
    text = io.StringIO()
    writer = csv.DictWriter(text, columns, lineterminator="\n")
    writer.writeheader()
    for o in outcomes:
        final = o.final or {}
        params = ";".join(f"{k}={v!r}" for k, v in (o.loss_params or {}).items())
        writer.writerow({"loss": o.loss, "loss_expr": o.loss_expr, "loss_params": params, "noise": o.noise, "eta": o.eta, "seed": o.seed,
                         "status": o.status, "action": o.action, "epochs": o.epochs,
                         "run_dir": o.run_dir,
                         **{m: final.get(m) for m in CSV_METRICS}})
    atomic_write(path, lambda handle: handle.write(text.getvalue().encode()))
    return Path(path)


def skipped(run: GridRun, state: str) -> GridOutcome:
    """The outcome of a run already done: finished, or diverged (with its message and how to retrain it)."""
    if state == FINISHED:
        return GridOutcome.of(run, "skipped", FINISHED, final_metrics(run.run_dir), "already finished")
    return GridOutcome.of(run, "skipped", DIVERGED, final_metrics(run.run_dir),
                          f"diverged earlier ({divergence(run.run_dir)}); delete {run.run_dir} to train it again")


def _outcome(run: GridRun, action: str, result) -> GridOutcome:
    return GridOutcome.of(run, action, result.status, result.summary.get("final"), result.message,
                          result.setup_changes)


def announcement(action: str) -> str:
    """How ``on_run``'s action reads when a run starts: "trained (fused)" -> "training (fused)", "resumed" ->
    "resuming"; other events (a Ray run's final status) are returned as they are."""
    verb, space, rest = action.partition(" ")
    return {"trained": "training", "resumed": "resuming"}.get(verb, verb) + space + rest


def check_grid_inputs(runs: Sequence[GridRun], out: str | Path, backend: str = "local", data_dir=None,
                      download: bool = False) -> None:
    """BadInput before any training when ``out`` is not a folder, or (local and fused backends: Ray workers
    may read data the driver lacks) when a dataset that a new run needs is missing or corrupt (the loader's
    line, naming where it looked and how to provide the data) or its ``--subset`` exceeds the training
    split. Interrupted runs are left to their resume, which reads the data folder they recorded."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out {out} is a file, not a folder: give a folder for the grid's runs")
    if backend == "ray":
        return
    states = run_states(runs)
    loaded: dict[str, Any] = {}
    for run in (r for r in runs if states[r.run_dir] == NEW):
        problem = data_problem(run.config, loaded, data_dir, download)
        if problem:
            raise BadInput(problem)


def data_problem(cfg: TrainConfig, loaded: dict[str, Any], data_dir=None, download: bool = False) -> str | None:
    """Why ``cfg`` cannot train on its data (the loader's line, naming where it looked and how to provide the
    data, or a ``--subset`` larger than the training split), else None; ``loaded`` caches {dataset: its
    training labels, or the loader's message} across calls, so each dataset is read once."""
    from symtheory.empirical.data import load_dataset, stratified_subset

    if cfg.dataset not in loaded:
        try:
            loaded[cfg.dataset] = load_dataset(cfg.dataset, data_dir, download).train_labels
        except BadInput as exc:
            loaded[cfg.dataset] = str(exc)
    labels = loaded[cfg.dataset]
    if isinstance(labels, str):
        return labels
    if cfg.subset is not None:
        try:
            stratified_subset(labels, cfg.subset, cfg.seed, cfg.dataset)
        except BadInput as exc:
            return str(exc)
    return None


def run_grid(runs: Sequence[GridRun], backend: str = "local", *, data_dir=None, download: bool = False,
             on_run: Callable[[GridRun, str], None] | None = None,
             on_epoch: Callable[[GridRun, dict], None] | None = None, table: str | Path | None = None,
             **backend_options: Any) -> list[GridOutcome]:
    """Train every run that is not finished (new ones start, interrupted ones resume) with the backend; the
    outcomes in the order of ``runs``. With ``table``, they are written there as CSV
    (:func:`write_outcomes_csv`), also when Ctrl-C or an error stops the call (:func:`stopped_outcomes`)."""
    if backend not in BACKENDS:
        raise BadInput(f"unknown backend {backend!r}; choices: {', '.join(BACKENDS)}")
    check_existing_runs(runs)
    states = run_states(runs)
    outcomes = [skipped(r, states[r.run_dir]) for r in runs if states[r.run_dir] in DONE]
    todo = [r for r in runs if states[r.run_dir] not in DONE]
    try:
        if backend == "local":
            outcomes += _run_local(todo, states, data_dir, download, on_run, on_epoch)
        elif backend == "fused":
            outcomes += _run_fused(todo, states, data_dir, download, on_run, on_epoch, **backend_options)
        else:
            from symtheory.empirical.grid_ray import run_ray

            outcomes += run_ray(todo, states, data_dir=data_dir, download=download, on_run=on_run,
                                on_epoch=on_epoch, **backend_options)
    except BaseException:
        if table is not None:
            with interrupts_held(), suppress(OSError):
                write_outcomes_csv(stopped_outcomes(runs, states), table)
        raise
    by_dir = {o.run_dir: o for o in outcomes}
    ordered = [by_dir[str(r.run_dir)] for r in runs]
    if table is not None:
        write_outcomes_csv(ordered, table)
    return ordered


def stopped_outcomes(runs: Sequence[GridRun], states_before: Mapping[Path, str]) -> list[GridOutcome]:
    """The outcome of each run of a call that Ctrl-C or an error stopped, as its directory holds it now: a
    run done before the call is 'skipped'; one the call finished is 'trained' or 'resumed'; one it did not is
    'stopped', with its status (interrupted after some epochs, or new when it never started) and the figures
    of its last recorded epoch (none, and the reason as its message, when its metrics.jsonl cannot be read)."""
    outcomes = []
    for run in runs:
        before = states_before[run.run_dir]
        if before in DONE:
            outcomes.append(skipped(run, before))
            continue
        now = run_state(run.run_dir, run.config.epochs)
        if now in DONE:
            action = "resumed" if before == INTERRUPTED else "trained"
            outcomes.append(GridOutcome.of(run, action, now, final_metrics(run.run_dir)))
            continue
        try:
            last = last_recorded_epoch(run.run_dir)
        except BadInput as exc:
            outcomes.append(GridOutcome.of(run, "stopped", now, None, str(exc)))
            continue
        message = (f"stopped after epoch {epochs_done(run.run_dir)} of {run.config.epochs}; run the same command "
                   f"again to resume")
        outcomes.append(GridOutcome.of(run, "stopped", now, last, message))
    return outcomes


def train_one(run: GridRun, state: str, data_dir=None, download: bool = False, on_epoch=None):
    """Start or resume one run of the grid with the single-run trainer."""
    from symtheory.empirical.train import train

    if state == INTERRUPTED:
        return train(None, run.run_dir, resume=True, data_dir=data_dir, download=download, on_epoch=on_epoch,
                     epochs=run.config.epochs)
    return train(run.config, run.run_dir, data_dir=data_dir, download=download, on_epoch=on_epoch)


def _run_local(todo, states, data_dir, download, on_run, on_epoch) -> list[GridOutcome]:
    outcomes = []
    for run in todo:
        action = "resumed" if states[run.run_dir] == INTERRUPTED else "trained"
        if on_run:
            on_run(run, action)
        callback = (lambda row, run=run: on_epoch(run, row)) if on_epoch else None
        outcomes.append(_outcome(run, action, train_one(run, states[run.run_dir], data_dir, download, callback)))
    return outcomes


def _run_fused(todo, states, data_dir, download, on_run, on_epoch, **options) -> list[GridOutcome]:
    """New runs train together; interrupted runs resume together (those behind first catch up with the
    others, :func:`symtheory.empirical.fused.train_fused`); each is announced once the group is set up."""
    from symtheory.empirical.fused import FusedOptions, train_fused

    fused_options = FusedOptions(**options) if options else None
    outcomes = []
    groups: dict[bool, list[GridRun]] = {}
    for run in todo:
        groups.setdefault(states[run.run_dir] != NEW, []).append(run)
    for resume, members in groups.items():
        action = "resumed (fused)" if resume else "trained (fused)"
        started = (lambda r, info, members=members, action=action: on_run(members[r], action)) if on_run else None
        callback = (lambda r, row, members=members: on_epoch(members[r], row)) if on_epoch else None
        results = train_fused(None if resume else [m.config for m in members], [m.run_dir for m in members],
                              resume=resume, data_dir=data_dir, download=download, options=fused_options,
                              on_start=started, on_epoch=callback,
                              **({"epochs": members[0].config.epochs} if resume else {}))
        outcomes += [_outcome(m, action, res) for m, res in zip(members, results)]
    return outcomes


def final_metrics(run_dir: Path) -> dict[str, Any] | None:
    """The last epoch's figures (train loss, J1, J2, test accuracy, ...) of a finished run, from its
    summary.json; None when there is none to read."""
    return read_summary(run_dir).get("final")


def last_recorded_epoch(run_dir: Path) -> dict[str, Any] | None:
    """The last row of a run directory's metrics.jsonl (its latest epoch's figures), None without one."""
    rows = RunDir(run_dir).read_metrics()
    return rows[-1] if rows else None


def epochs_done(run_dir: Path) -> int:
    """Epochs a run directory has recorded: the lines of its metrics.jsonl that hold an epoch's figures (not a
    damaged or cut-short line; 0 without the file)."""
    metrics = run_dir / "metrics.jsonl"
    if not metrics.is_file():
        return 0
    return sum(1 for line in metrics.read_text(encoding="utf-8", errors="replace").splitlines()
               if epoch_row(line) is not None)
