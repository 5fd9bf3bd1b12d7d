"""The paper's whole experiment as one plan: each preset's eta x loss grid in a folder of its own.

Patel & Sastry 2021, Sec. 2 train three networks (docs/training.md, Presets: ResNet-18 on MNIST, ResNet-32 and
Inception-Lite on CIFAR-10) on labels flipped at eta in {0, 0.2, 0.4, 0.6} with cce, mse, rll and nmse: 48
runs. ``plan_paper`` lays them out as ``OUT/<preset>/<loss>-eta<eta>-seed<seed>``, the folders that
``symtheory grid --preset P --out OUT/P`` would make, so ``paper-check --tier full --runs OUT`` and
``report OUT`` read them, and a second call skips what is finished and resumes what was interrupted.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from symtheory.empirical.grid import (
    DONE, FINISHED, INTERRUPTED, NEW, GridOutcome, GridRun, check_existing_runs, data_problem, epochs_counted,
    other_settings, plan_grid, plan_sweep, run_grid, run_states,
)
from symtheory.empirical.presets import PAPER_PRESETS, get_preset
from symtheory.errors import BadInput

CIFAR_DATASETS = ("cifar10", "cifar10-subset")
BACKEND_CHOICES = ("auto", "local", "fused")
RECORD = "reproduce.json"


@dataclass(frozen=True)
class PresetGrid:
    """One preset's grid: its folder under the plan's output and its runs."""

    preset: str
    folder: Path
    runs: tuple[GridRun, ...]

    @property
    def epochs(self) -> int:
        """Epochs of all its runs together."""
        return sum(r.config.epochs for r in self.runs)

    def states(self) -> dict[Path, str]:
        """{run directory: new, interrupted, finished or diverged} as the folder holds them now."""
        return run_states(self.runs)

    def needs_training(self) -> bool:
        """Whether any of its runs is new or interrupted (finished and diverged runs are done)."""
        return any(state not in DONE for state in self.states().values())

    def describe(self) -> dict[str, Any]:
        """A JSON-ready line of the plan: network, dataset, epochs per run, the runs by state, the epochs still
        to train (None while a run directory holds another experiment: 'other_settings', with the first one's
        message in 'refused', as a call that trains refuses them)."""
        states = self.states()
        conflicts = {r.run_dir: message for r in self.runs if (message := other_settings(r))}
        ours = [r for r in self.runs if r.run_dir not in conflicts]
        counts = {s: sum(1 for r in ours if states[r.run_dir] == s) for s in (NEW, INTERRUPTED, FINISHED)}
        counts["diverged"] = sum(1 for r in ours if states[r.run_dir] not in (NEW, INTERRUPTED, FINISHED))
        to_train = None if conflicts else sum(r.config.epochs - epochs_counted(r, states[r.run_dir]) for r in ours)
        first = self.runs[0].config
        return {"preset": self.preset, "folder": str(self.folder), "arch": first.arch, "dataset": first.dataset,
                "subset": first.subset, "epochs_per_run": first.epochs, "runs": len(self.runs), **counts,
                "other_settings": len(conflicts), "refused": next(iter(conflicts.values()), None),
                "epochs_total": self.epochs, "epochs_to_train": to_train}


def plan_paper(out: str | Path, presets: Sequence[str] | None = None, cifar_dataset: str = "cifar10",
               losses: Sequence[str] | None = None, etas: Sequence[float] | None = None, seeds: Sequence[int] = (0,),
               loss_params: dict[str, str] | None = None, sweep: str | None = None,
               expressions: Sequence[str] = (), refuse_other_settings: bool = True,
               **overrides: Any) -> list[PresetGrid]:
    """Every preset's grid (the paper's three by default) in ``out/<preset>``, validated before any training;
    with ``sweep`` ('alpha=0.01,0.1,0.45') each preset's grid is a sweep (:func:`~symtheory.empirical.grid.plan_sweep`).

    ``cifar_dataset`` replaces CIFAR-10 in the CIFAR presets (``cifar10-subset``: the real 5,000-image
    subset of docs/training.md, Data); ``losses``, ``etas``, ``seeds``, ``loss_params``, ``expressions`` (users'
    losses) and ``overrides`` (epochs, subset, device, ...) apply to every preset, as ``symtheory grid`` takes
    them. BadInput before anything is
    written: an unknown or repeated preset, a dataset that is not CIFAR-10, a run directory holding another
    experiment (unless ``refuse_other_settings`` is False, for a plan that only shows them).
    """
    if cifar_dataset not in CIFAR_DATASETS:
        raise BadInput(f"unknown CIFAR-10 dataset {cifar_dataset!r}; choices: {', '.join(CIFAR_DATASETS)}")
    names = [get_preset(p).name for p in (presets or PAPER_PRESETS)]
    if not names:
        raise BadInput("no preset given")
    if len(set(names)) != len(names):
        raise BadInput(f"preset {next(n for n in names if names.count(n) > 1)} is listed twice")
    grids = []
    for name in names:
        folder = Path(out) / name
        dataset = cifar_dataset if get_preset(name).dataset == "cifar10" else None
        options = {**overrides, "dataset": dataset}
        runs = (plan_grid(folder, name, losses, etas, seeds, loss_params, expressions, **options) if sweep is None
                else plan_sweep(folder, sweep, name, losses, etas, seeds, loss_params, expressions, **options))
        if refuse_other_settings:
            check_existing_runs(runs)
        grids.append(PresetGrid(name, folder, tuple(runs)))
    return grids


def resolve_backend(backend: str, device: str | None) -> str:
    """``auto``: the fused trainer on a CUDA device (small networks leave a GPU idle; docs/fused.md), one run
    after another on the CPU (where fusing does not pay: benchmarks/results/grid_speed_cpu.md); ``local``
    and ``fused`` as they are. BadInput for an unknown backend, or a device torch does not have (checked
    here, before any data is loaded)."""
    if backend not in BACKEND_CHOICES:
        raise BadInput(f"unknown backend {backend!r}; choices: {', '.join(BACKEND_CHOICES)}")
    from symtheory.empirical.train import resolve_device

    on_cuda = resolve_device(device or "auto").type == "cuda"
    if backend != "auto":
        return backend
    return "fused" if on_cuda else "local"


def check_data(grids: Sequence[PresetGrid], data_dir=None, download: bool = False) -> list[str]:
    """Load each dataset the plan needs once, and draw each preset's ``--subset`` from it, so that missing data
    or a subset larger than the training split stops the call before hours of training (BadInput saying
    where it looked and how to provide the data: :func:`data_problems`' first); the names loaded, in order. A
    preset whose runs are all done needs no data (its grid is only judged)."""
    loaded, problems = data_problems(grids, data_dir, download)
    if problems:
        raise BadInput(next(iter(problems.values())))
    return loaded


def data_problems(grids: Sequence[PresetGrid], data_dir=None, download: bool = False
                  ) -> tuple[list[str], dict[str, str]]:
    """The datasets that the presets with runs to train need, each loaded once (their names, in order), and
    {preset: why it cannot train} for each such preset whose dataset is missing or corrupt (the loader's one
    line, naming where it looked and how to provide the data) or whose ``--subset`` does not fit."""
    loaded: dict[str, Any] = {}
    problems = {}
    for grid in (g for g in grids if g.needs_training()):
        problem = data_problem(grid.runs[0].config, loaded, data_dir, download)
        if problem:
            problems[grid.preset] = problem.replace("--dataset cifar10-subset", "--cifar-dataset cifar10-subset")
    return [name for name, labels in loaded.items() if not isinstance(labels, str)], problems


def train_paper(grids: Sequence[PresetGrid], backend: str = "local", *, data_dir=None, download: bool = False,
                on_run: Callable[[GridRun, str], None] | None = None,
                on_epoch: Callable[[GridRun, dict], None] | None = None) -> dict[str, list[GridOutcome]]:
    """Train every preset's grid in turn with ``backend`` (auto, local or fused; see :func:`resolve_backend`),
    each writing its folder's grid.csv; {preset: outcomes}. Finished runs are skipped and interrupted ones
    resumed, as by ``grid``."""
    backend = resolve_backend(backend, grids[0].runs[0].config.device if grids else None)
    outcomes = {}
    for grid in grids:
        outcomes[grid.preset] = run_grid(grid.runs, backend, data_dir=data_dir, download=download, on_run=on_run,
                                         on_epoch=on_epoch, table=grid.folder / "grid.csv")
    return outcomes


def unfinished(outcomes: dict[str, list[GridOutcome]]) -> list[GridOutcome]:
    """The outcomes whose run did not finish (diverged, interrupted, failed)."""
    return [o for group in outcomes.values() for o in group if o.status != FINISHED]


def read_calls(out: str | Path) -> list[dict]:
    """The calls recorded in ``OUT/reproduce.json`` ([] without one); BadInput when the file is there but is
    not such a record, so that this call neither drops the earlier calls nor fails after its training."""
    path = Path(out) / RECORD
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BadInput(f"{path} is not a record of reproduce calls ({' '.join(str(exc).split())[:200]}); move "
                       f"it away or delete it, then run again") from None
    calls = data.get("calls") if isinstance(data, dict) else None
    if not isinstance(calls, list) or not all(isinstance(c, dict) for c in calls):
        raise BadInput(f"{path} is not a record of reproduce calls (no list of calls); move it away or delete "
                       f"it, then run again")
    return calls


OUTPUTS = {"claims.json": "claims", "report.md": "report"}
"""The files a call writes under OUT once its training ends (besides :data:`RECORD`), with what they hold."""


def output_problem(out: str | Path) -> str | None:
    """Why OUT/claims.json or OUT/report.md, written after the training, could not be written (a folder or a
    device in its place; OUT itself a file), so that a call is refused before its training, not after it."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        return f"--out {str(out)!r} is a file, not a folder"
    for name, what in OUTPUTS.items():
        path = out / name
        if path.exists() and not path.is_file():
            kind = "a folder" if path.is_dir() else "not a regular file"
            return f"{path} is {kind}, and the call writes its {what} there: move it away or choose another --out"
    return None


def call_record(command: Sequence[str], backend: str, device: str | None, plan: list[dict]) -> dict[str, Any]:
    """The start of a call's record: its command, start time, backend, machine (versions and the device)
    and plan; :func:`recording` adds its outcomes and end."""
    import datetime as dt

    from symtheory.empirical.provenance import provenance
    from symtheory.empirical.train import resolve_device

    return {"command": list(command), "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "backend": backend, "machine": provenance(str(resolve_device(device or "auto"))), "plan": plan}


def stop_reason(exc: BaseException) -> str:
    """Why a call stopped early, in one line: 'interrupted (Ctrl-C)' or the error's type and first line."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def write_calls(out: str | Path, calls: list[dict]) -> Path:
    """``OUT/reproduce.json`` holding ``calls``, written atomically."""
    from symtheory.empirical.run_dir import atomic_write

    path = Path(out) / RECORD
    text = json.dumps({"calls": calls}, indent=2, default=str) + "\n"
    atomic_write(path, lambda handle: handle.write(text.encode()))
    return path


@contextmanager
def recording(out: str | Path, calls: list[dict], record: dict) -> Iterator[dict]:
    """Yield ``record`` to fill in (outcomes, ...); when the block ends append it, with its end time, to
    ``calls`` in ``OUT/reproduce.json`` -- also when it ends on Ctrl-C or an error, with 'stopped' saying
    which (then raised on), so that every call that trained is on record."""
    import datetime as dt

    def save() -> None:
        record["finished"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        write_calls(out, calls + [record])

    try:
        yield record
    except BaseException as exc:
        if Path(out).is_dir():
            record["stopped"] = stop_reason(exc)
            save()
        raise
    save()
