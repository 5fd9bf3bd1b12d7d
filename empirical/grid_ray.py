"""The ``ray`` backend of the grid: every run is a Ray task that trains it with the single-run trainer.

Each task asks for ``cpus_per_run`` CPUs and ``gpus_per_run`` GPUs (fractions share a GPU) and calls
:func:`symtheory.empirical.grid.train_one` on whichever node Ray places it. The run directories are
written by the workers, so ``--out`` and the data directory must be on a filesystem that every node
mounts at the same path (paths are made absolute on the driver before they are sent).

A task looks at its run directory again when it starts, so a task that Ray retries after its worker
died resumes from the last checkpoint instead of starting over. Worker deaths and unexpected exceptions
are retried ``max_retries`` times; bad input (missing data, a mismatched run directory) is not, since
it would fail the same way again. A run that still fails comes back as a ``failed`` outcome with the
error message; the other runs carry on.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from symtheory.empirical.grid import (DONE, INTERRUPTED, GridOutcome, GridRun, epochs_done, run_state, skipped,
                                      train_one)
from symtheory.errors import BadInput

INSTALL_HINT = "the ray backend needs Ray: pip install 'symtheory[ray]' (from a checkout: pip install '.[ray]')"
CLIENT_HINT = "connecting with ray:// needs the Ray Client: pip install 'ray[client]'"
FAILED = "failed"


@dataclass(frozen=True)
class RayOptions:
    """Where the cluster is and what each run asks of it."""

    address: str | None = None
    gpus_per_run: float = 0.0
    cpus_per_run: float = 1.0
    max_retries: int = 2

    def validate(self) -> "RayOptions":
        """BadInput on a negative or unusable request (Ray needs whole GPUs above one)."""
        if self.gpus_per_run < 0 or (self.gpus_per_run > 1 and self.gpus_per_run != int(self.gpus_per_run)):
            raise BadInput(f"--gpus-per-run must be a fraction of one GPU or a whole number, got {self.gpus_per_run:g}")
        if self.cpus_per_run <= 0:
            raise BadInput(f"--cpus-per-run must be positive, got {self.cpus_per_run:g}")
        if self.max_retries < 0:
            raise BadInput(f"--max-retries must be 0 or more, got {self.max_retries}")
        return self


@dataclass
class TaskResult:
    """What a task sends back to the driver."""

    action: str
    status: str
    final: dict[str, Any] | None
    message: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    setup_changes: list[str] = field(default_factory=list)


def import_ray():
    """The ray module, or BadInput saying how to install it."""
    try:
        import ray
    except ImportError:
        raise BadInput(INSTALL_HINT) from None
    return ray


def train_task(run: GridRun, data_dir: str | None, download: bool, threads: int = 1) -> TaskResult:
    """Body of one Ray task: check the run directory afresh, then start or resume the run with ``threads``
    intra-op threads (the CPUs the task holds; a worker process may have imported torch before)."""
    import torch

    torch.set_num_threads(threads)
    state = run_state(run.run_dir, run.config.epochs)
    if state in DONE:
        done = skipped(run, state)
        return TaskResult("skipped (ray)", done.status, done.final, done.message)
    action = "resumed (ray)" if state == INTERRUPTED else "trained (ray)"
    try:
        result = train_one(run, state, data_dir, download)
    except BadInput as exc:
        return TaskResult(action, FAILED, None, str(exc))
    return TaskResult(action, result.status, result.summary.get("final"), result.message, result.rows,
                      result.setup_changes)


def run_ray(todo: Sequence[GridRun], states: dict[Path, str], *, data_dir=None, download: bool = False,
            on_run: Callable[[GridRun, str], None] | None = None,
            on_epoch: Callable[[GridRun, dict], None] | None = None, **options: Any) -> list[GridOutcome]:
    """Train the runs as Ray tasks and wait for all of them; an outcome per run, failed ones included.

    ``on_run(run, action)`` is called when a task is submitted and again, with its status, when it
    completes; ``on_epoch(run, row)`` for each epoch the task trained, once it completes.
    ``options``: the fields of :class:`RayOptions`. With ``address=None`` a local Ray instance is started
    (and shut down afterwards) unless this process is already connected to one.
    """
    ray = import_ray()
    opts = _options(options)
    started = _connect(ray, opts)
    try:
        _check_resources(ray, opts)
        remote = ray.remote(train_task).options(num_cpus=opts.cpus_per_run, num_gpus=opts.gpus_per_run,
                                                max_retries=opts.max_retries, retry_exceptions=True)
        root = str(Path(data_dir).expanduser().resolve()) if data_dir is not None else None
        threads = max(1, math.floor(opts.cpus_per_run))
        actions = ["resumed (ray)" if states.get(run.run_dir) == INTERRUPTED else "trained (ray)" for run in todo]
        done_before = [epochs_done(run.run_dir) for run in todo]
        refs = []
        for run, action in zip(todo, actions):
            if on_run:
                on_run(run, action)
            absolute = replace(run, run_dir=run.run_dir.expanduser().resolve())
            refs.append(remote.remote(absolute, root, download, threads))
        return _collect(ray, list(todo), actions, done_before, refs, on_run, on_epoch)
    finally:
        if started:
            ray.shutdown()


def _options(options: dict[str, Any]) -> RayOptions:
    unknown = set(options) - set(RayOptions.__dataclass_fields__)
    if unknown:
        raise BadInput(f"unknown ray option(s): {', '.join(sorted(unknown))}")
    return RayOptions(**options).validate()


def _connect(ray, opts: RayOptions) -> bool:
    """Connect to the cluster (or start a local instance); True if this call started Ray."""
    if ray.is_initialized():
        return False
    quiet = dict(include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    if opts.address is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        ray.init(address="local", num_cpus=cpus, **quiet)
        return True
    client = opts.address.startswith("ray://")
    if client and importlib.util.find_spec("grpc") is None:
        raise BadInput(CLIENT_HINT)
    try:
        if client:
            ray.init(address=opts.address, logging_level=logging.ERROR, log_to_driver=False)
        else:
            ray.init(address=opts.address, **quiet)
    except ConnectionError as exc:
        raise BadInput(f"cannot connect to the Ray cluster at {opts.address}: {_first_line(exc)}") from None
    return True


def _check_resources(ray, opts: RayOptions) -> None:
    """BadInput instead of tasks that would wait forever for resources the cluster does not have."""
    total = ray.cluster_resources()
    for name, need in (("GPU", opts.gpus_per_run), ("CPU", opts.cpus_per_run)):
        if need > total.get(name, 0):
            raise BadInput(f"each run asks for {need:g} {name}(s) but the Ray cluster has {total.get(name, 0):g}")


def _collect(ray, runs: list[GridRun], actions: list[str], done_before: list[int], refs: list,
             on_run, on_epoch) -> list[GridOutcome]:
    """Wait for the tasks, reporting each as it completes; the outcomes in the order of ``runs``."""
    index = {ref: i for i, ref in enumerate(refs)}
    outcomes: list[GridOutcome | None] = [None] * len(refs)
    waiting = list(refs)
    while waiting:
        done, waiting = ray.wait(waiting, num_returns=1)
        i = index[done[0]]
        try:
            result = ray.get(done[0])
        except Exception as exc:  # noqa: BLE001 - a run that failed all its attempts is reported, not raised
            result = TaskResult(actions[i], FAILED, None, _error_message(ray, exc))
        run = runs[i]
        outcomes[i] = GridOutcome.of(run, result.action, result.status, result.final, result.message,
                                     result.setup_changes)
        if on_epoch:
            for row in result.rows:
                if row["epoch"] > done_before[i]:
                    on_epoch(run, row)
        if on_run:
            on_run(run, result.status if result.status != FAILED else f"failed ({result.message})")
    return outcomes


def _error_message(ray, exc: Exception) -> str:
    cause = getattr(exc, "cause", None) if isinstance(exc, ray.exceptions.RayTaskError) else None
    if cause is not None:
        return f"{type(cause).__name__}: {_first_line(cause)}"
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__

