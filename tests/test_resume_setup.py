"""A resume on another setup (torch, device, thread count, code) than the checkpoint's says so; config.json keeps
the run's history (the fused trainer rewrote it whole on resume, losing the original provenance)."""

from __future__ import annotations

import json

import pytest
import torch

from cli_helpers import run_cli


def _tweak_checkpoint_setup(run_dir, **changed):
    from symtheory.empirical.checkpoint import load_checkpoint, save_checkpoint

    path = run_dir / "checkpoint.pt"
    state = load_checkpoint(path)
    state["setup"] = {**state["setup"], **changed}
    save_checkpoint(path, state)


def test_setup_changes_name_each_changed_part_in_order():
    from symtheory.empirical.provenance import changes_note, setup_changes

    before = {"code": "a" * 40, "torch": "2.14.1", "numpy": "2.4.6", "device": "cpu", "device_name": "",
              "torch_threads": 2}
    assert setup_changes(None, before) == []
    assert setup_changes(before, dict(before)) == []
    after = {**before, "code": "b" * 40, "torch_threads": 1, "device": "cuda", "device_name": "NVIDIA H100"}
    assert setup_changes(before, after) == [
        "code commit aaaaaaaaaa -> commit bbbbbbbbbb", "device cpu -> cuda", "GPU none -> NVIDIA H100",
        "torch threads 2 -> 1"]
    assert changes_note(["torch threads 2 -> 1"]) == (
        "resumed on another setup than its checkpoint was written on (torch threads 2 -> 1): the epochs from here "
        "can differ slightly from an uninterrupted run's")


def test_a_checkpoint_keeps_its_setup_and_a_resume_on_another_says_what_changed(tmp_path, data_dir):
    from symtheory.empirical.checkpoint import load_checkpoint
    from symtheory.empirical.presets import build_config
    from symtheory.empirical.provenance import exactness_setup
    from symtheory.empirical.train import train

    run = tmp_path / "run"
    train(build_config(None, subset=100, epochs=1, batch_size=50), run, data_dir=data_dir)
    assert load_checkpoint(run / "checkpoint.pt")["setup"] == exactness_setup("cpu")
    assert exactness_setup("cpu")["torch_threads"] == torch.get_num_threads()

    same = train(None, run, resume=True, data_dir=data_dir, epochs=2)
    assert same.setup_changes == []
    assert "setup_changes" not in json.loads((run / "config.json").read_text())["resumes"][-1]

    _tweak_checkpoint_setup(run, torch="2.0.0", torch_threads=torch.get_num_threads() + 3)
    seen = []
    moved = train(None, run, resume=True, data_dir=data_dir, epochs=3, on_start=seen.append)
    expected = [f"torch 2.0.0 -> {torch.__version__}",
                f"torch threads {torch.get_num_threads() + 3} -> {torch.get_num_threads()}"]
    assert moved.setup_changes == seen[0]["setup_changes"] == expected
    record = json.loads((run / "config.json").read_text())
    assert [r["from_epoch"] for r in record["resumes"]] == [1, 2]
    assert record["resumes"][-1]["setup_changes"] == expected


def test_train_resume_on_another_setup_prints_a_note(tmp_path, data_dir):
    from symtheory.empirical.presets import build_config
    from symtheory.empirical.train import train

    run = tmp_path / "run"
    train(build_config(None, subset=100, epochs=1, batch_size=50), run, data_dir=data_dir)
    _tweak_checkpoint_setup(run, device="cuda:0")
    done = run_cli("train", "--resume", str(run), "--epochs", "2", "--quiet", timeout=300)
    assert done.returncode == 0, done.stderr
    assert ("note: resumed on another setup than its checkpoint was written on (device cuda:0 -> cpu): the epochs "
            "from here can differ slightly from an uninterrupted run's") in " ".join(done.stdout.split())


@pytest.fixture()
def mnist_small(data_dir):
    from dataclasses import replace

    from symtheory.empirical.data import load_dataset

    full = load_dataset("mnist", data_dir)
    return replace(full, test_images=full.test_images[:200], test_labels=full.test_labels[:200])


def test_a_fused_resume_keeps_the_record_and_says_what_changed(mnist_small, tmp_path):
    from symtheory.empirical.config import TrainConfig
    from symtheory.empirical.fused import train_fused

    configs = [TrainConfig(dataset="mnist", arch="mlp", loss=loss, eta=0.4, seed=seed, epochs=1, batch_size=64,
                           subset=256, optimizer="sgd", lr=0.05, eval_batch_size=256, device="cpu")
               for loss, seed in (("cce", 0), ("mae", 1))]
    dirs = [tmp_path / "a", tmp_path / "b"]
    train_fused(configs, dirs, data=mnist_small)
    originals = [json.loads((d / "config.json").read_text()) for d in dirs]
    for d, record in zip(dirs, originals):
        record["provenance"]["platform"] = f"the machine that started {d.name}"
        (d / "config.json").write_text(json.dumps(record))
    _tweak_checkpoint_setup(dirs[1], torch="2.0.0")

    seen = {}
    results = train_fused(None, dirs, resume=True, data=mnist_small, epochs=2,
                          on_start=lambda r, info: seen.setdefault(r, info["setup_changes"]))
    expected = [f"torch 2.0.0 -> {torch.__version__}"]
    assert [res.setup_changes for res in results] == [seen[0], seen[1]] == [[], expected]
    for d, before in zip(dirs, originals):
        record = json.loads((d / "config.json").read_text())
        assert record["provenance"]["platform"] == f"the machine that started {d.name}"
        assert record["resolved"] == before["resolved"] and record["train"]["epochs"] == 2
        (entry,) = record["resumes"]
        assert entry["from_epoch"] == 1 and entry["overrides"] == {"epochs": 2}
        assert entry["resolved"]["fused"]["run_dirs"] == [str(p) for p in dirs]
        assert entry.get("setup_changes", []) == ([] if d == dirs[0] else expected)


def test_the_grid_table_is_followed_by_each_setup_change(capsys):
    from symtheory.cli.grid_display import print_outcomes
    from symtheory.empirical.grid import GridOutcome

    outcomes = [GridOutcome("cce-eta0-seed0", "runs/a", "resumed", "finished"),
                GridOutcome("rll-eta0-seed0", "runs/b", "resumed", "finished", setup_changes=["torch threads 2 -> 1"])]
    assert print_outcomes(outcomes, "grid") == []
    text = " ".join(capsys.readouterr().out.split())
    assert "rll-eta0-seed0: resumed on another setup than its checkpoint was written on (torch threads 2 -> 1)" in text
    assert "cce-eta0-seed0: resumed on another" not in text


def test_a_fused_group_holds_its_runs_locks_and_refuses_a_run_another_process_trains(mnist_small, tmp_path):
    import socket
    import subprocess
    import sys

    from symtheory.empirical.config import TrainConfig
    from symtheory.empirical.fused import train_fused
    from symtheory.empirical.run_dir import LOCK
    from symtheory.errors import BadInput

    configs = [TrainConfig(dataset="mnist", arch="mlp", loss="cce", eta=0.2, seed=seed, epochs=1, batch_size=64,
                           subset=256, optimizer="sgd", lr=0.05, eval_batch_size=256, device="cpu") for seed in (0, 1)]
    dirs = [tmp_path / "a", tmp_path / "b"]
    seen = []
    train_fused(configs, dirs, data=mnist_small, on_epoch=lambda r, row: seen.append((dirs[r] / LOCK).exists()))
    assert seen == [True, True] and not any((d / LOCK).exists() for d in dirs)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (dirs[1] / LOCK).write_text(f"{other.pid} {socket.gethostname()}\n")
        with pytest.raises(BadInput, match=f"is being trained by process {other.pid}"):
            train_fused(None, dirs, resume=True, data=mnist_small, epochs=2)
    finally:
        other.kill()
        other.wait()
    assert not (dirs[0] / LOCK).exists()
    assert [len((d / "metrics.jsonl").read_text().splitlines()) for d in dirs] == [1, 1]
