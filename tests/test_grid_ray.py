"""The ray backend of the grid: the same metrics as the local backend, a killed worker's run resumed from
its checkpoint, failures reported instead of raised, and a one-line hint where Ray is not installed."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from pathlib import Path

import pytest

from symtheory.empirical.grid import plan_grid, run_grid, run_state
from symtheory.empirical.grid_ray import INSTALL_HINT, run_ray
from symtheory.empirical.run_dir import RunDir
from symtheory.errors import BadInput

COMPARED = ("epoch", "j1", "j2", "train_loss", "test_acc")
GRID = dict(losses=["cce", "rll"], etas=[0.0, 0.4], epochs=2, subset=200, batch_size=64, device="cpu")
KILLED = "cce-eta0.4-seed0"


def small_grid(out: Path, losses=None, etas=None) -> list:
    options = dict(GRID, **{k: v for k, v in dict(losses=losses, etas=etas).items() if v is not None})
    return plan_grid(out, None, options.pop("losses"), options.pop("etas"), (0,), **options)


def metrics(run_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [{k: row[k] for k in COMPARED} for row in rows]


def fault_hook(fault_dir: Path):
    """A worker setup hook injecting faults on request: after saving a checkpoint, a worker whose run has
    a file ``<run>`` in ``fault_dir`` claims it (an atomic rename, so only once) and kills itself; a run
    with a file ``<run>.raise`` raises RuntimeError on every attempt, noting each in that file."""

    def install() -> None:
        import os

        from symtheory.empirical import grid_ray
        from symtheory.empirical import train as trainer

        save, train_one = trainer.save_checkpoint, grid_ray.train_one

        def save_then_die(path, state):
            save(path, state)
            request = fault_dir / Path(path).parent.name
            try:
                os.rename(request, f"{request}.done")
            except FileNotFoundError:
                return
            os._exit(1)

        def train_or_raise(run, *args):
            request = fault_dir / f"{run.run_dir.name}.raise"
            if request.exists():
                with open(request, "a") as notes:
                    notes.write("attempt\n")
                raise RuntimeError("injected failure")
            return train_one(run, *args)

        trainer.save_checkpoint = save_then_die
        grid_ray.train_one = train_or_raise

    return install


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """A local Ray instance with two CPUs whose workers obey fault requests; the request directory."""
    ray = pytest.importorskip("ray")
    fault_dir = tmp_path_factory.mktemp("faults")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.ERROR, runtime_env={"worker_process_setup_hook": fault_hook(fault_dir)})
    yield fault_dir
    ray.shutdown()


@pytest.fixture(scope="module")
def local_metrics(tmp_path_factory, data_dir):
    """The grid trained one run after another in this process: run name -> metrics rows."""
    import torch

    runs = small_grid(tmp_path_factory.mktemp("local"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        outcomes = run_grid(runs, "local", data_dir=data_dir)
    finally:
        torch.set_num_threads(threads)
    assert [o.status for o in outcomes] == ["finished"] * len(runs)
    return {run.run_dir.name: metrics(run.run_dir) for run in runs}


@pytest.mark.ray
def test_ray_grid_matches_local_grid(ray_cluster, local_metrics, data_dir, tmp_path):
    runs = small_grid(tmp_path / "grid")
    events = []
    outcomes = run_grid(runs, "ray", data_dir=data_dir, on_run=lambda run, action: events.append((run.label, action)))
    assert [(o.label, o.status, o.action) for o in outcomes] == [(r.label, "finished", "trained (ray)") for r in runs]
    assert sorted(events) == sorted([(r.label, "trained (ray)") for r in runs] + [(r.label, "finished") for r in runs])
    for run in runs:
        assert metrics(run.run_dir) == local_metrics[run.run_dir.name]
        assert len(metrics(run.run_dir)) == 2
    again = run_grid(runs, "ray", data_dir=data_dir)
    assert {o.action for o in again} == {"skipped"}


@pytest.mark.ray
def test_killed_worker_resumes_from_checkpoint(ray_cluster, local_metrics, data_dir, tmp_path):
    runs = small_grid(tmp_path / "grid", losses=["cce", "rll"], etas=[0.4])
    request = ray_cluster / KILLED
    request.touch()
    epochs = []
    outcomes = run_ray(runs, {run.run_dir: run_state(run.run_dir) for run in runs}, data_dir=data_dir,
                       on_epoch=lambda run, row: epochs.append((run.run_dir.name, row["epoch"])))
    assert not request.exists() and Path(f"{request}.done").exists()
    assert sorted(epochs) == sorted((run.run_dir.name, e) for run in runs for e in (1, 2))
    by_name = {Path(o.run_dir).name: o for o in outcomes}
    assert {name: o.status for name, o in by_name.items()} == {r.run_dir.name: "finished" for r in runs}
    assert by_name[KILLED].action == "resumed (ray)"
    for run in runs:
        assert metrics(run.run_dir) == local_metrics[run.run_dir.name]


@pytest.mark.ray
def test_failed_run_is_reported_not_raised(ray_cluster, data_dir, tmp_path):
    runs = small_grid(tmp_path / "grid", losses=["cce"], etas=[0.0])
    runs[0].run_dir.mkdir(parents=True)
    (runs[0].run_dir / "notes.txt").write_text("not a run")
    [outcome] = run_grid(runs, "ray", data_dir=data_dir, max_retries=0)
    assert outcome.status == "failed" and "already exists" in outcome.message


@pytest.mark.ray
def test_exceptions_are_retried_then_reported(ray_cluster, data_dir, tmp_path):
    runs = small_grid(tmp_path / "grid", losses=["rll"], etas=[0.0])
    request = ray_cluster / f"{runs[0].run_dir.name}.raise"
    request.touch()
    [outcome] = run_grid(runs, "ray", data_dir=data_dir, max_retries=2)
    request.rename(f"{request}.done")
    assert (outcome.status, outcome.message) == ("failed", "RuntimeError: injected failure")
    assert Path(f"{request}.done").read_text().splitlines() == ["attempt"] * 3


@pytest.mark.ray
def test_impossible_requests_are_bad_input(ray_cluster, tmp_path):
    runs = small_grid(tmp_path / "grid", losses=["cce"], etas=[0.0])
    with pytest.raises(BadInput, match="asks for 1 GPU"):
        run_ray(runs, {}, gpus_per_run=1)
    with pytest.raises(BadInput, match="whole number"):
        run_ray(runs, {}, gpus_per_run=1.5)
    with pytest.raises(BadInput, match="max-retries"):
        run_ray(runs, {}, max_retries=-1)


def test_a_killed_start_is_cleared_and_nothing_else_is(tmp_path):
    # what a retried Ray task relies on: RunDir.create clears the leftovers of a start killed before config.json
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "labels.npz").write_bytes(b"x")
    (stub / ".summary.json.1.ab.tmp").write_bytes(b"x")
    (stub / ".trainer.lock").write_text("1 a-host-that-is-gone\n")
    RunDir.create(stub)
    assert [p.name for p in stub.iterdir()] == [".trainer.lock"]  # now this process's
    assert (stub / ".trainer.lock").read_text().split()[0] == str(os.getpid())
    for extra in ("config.json", "notes.txt"):
        kept = tmp_path / extra
        kept.mkdir()
        (kept / "labels.npz").write_bytes(b"x")
        (kept / extra).write_text("{}")
        with pytest.raises(BadInput, match="already exists"):
            RunDir.create(kept)
        assert sorted(p.name for p in kept.iterdir()) == sorted(["labels.npz", extra])


def test_missing_ray_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)
    runs = small_grid(tmp_path / "grid", losses=["cce"], etas=[0.0])
    with pytest.raises(BadInput, match=re.escape(INSTALL_HINT)):
        run_grid(runs, "ray")


def test_cli_without_ray_exits_2_with_one_line(monkeypatch, tmp_path, capsys):
    import symtheory.cli.grid  # noqa: F401 - registers the command
    from symtheory.cli.app import main

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(SystemExit) as exit_info:
        main(["grid", "--backend", "ray", "--losses", "cce", "--etas", "0", "--epochs", "1",
              "--out", str(tmp_path / "grid")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"symtheory: error: {INSTALL_HINT}"]
