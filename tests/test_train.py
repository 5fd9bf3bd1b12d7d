"""Training: the run directory, J1/J2 recomputed independently, exact resume (also after SIGKILL), the
non-finite stop, presets and schedules, and the pure pieces (batches, counts)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch

from symtheory.empirical import losses
from symtheory.empirical.checkpoint import load_checkpoint
from symtheory.empirical.data import Preprocess, load_dataset, take_train_subset
from symtheory.empirical.label_noise import load_labels
from symtheory.empirical.metrics import accuracies, label_counts
from symtheory.empirical.networks import build_network
from symtheory.empirical.presets import PRESETS, build_config
from symtheory.empirical.train import epoch_batches, epoch_generator, predict, train
from symtheory.errors import BadInput

COMPARED = ("epoch", "lr", "train_loss", "running_acc", "j1", "j2", "acc_kept", "acc_flipped", "memorized", "test_acc")


@pytest.fixture(scope="module")
def cifar(data_dir):
    return load_dataset("cifar10-subset", data_dir)


def small(**overrides):
    values = dict(dataset="cifar10-subset", loss="cce", eta=0.4, subset=256, epochs=3, batch_size=64)
    values.update(overrides)
    return build_config(None, **values)


def _compared(rows):
    return [{k: r[k] for k in COMPARED} for r in rows]


def test_label_counts_by_hand():
    clean = torch.tensor([0, 1, 2, 3, 0, 1])
    noisy = torch.tensor([0, 1, 0, 0, 1, 1])  # examples 2, 3, 4 flipped
    pred = torch.tensor([0, 2, 2, 0, 1, 1])
    acc = accuracies(label_counts(pred, clean, noisy).tolist())
    assert acc == {"j1": 4 / 6, "j2": 3 / 6, "acc_kept": 2 / 3, "acc_flipped": 1 / 3, "memorized": 2 / 3}
    stacked = label_counts(torch.stack([pred, clean]), clean, torch.stack([noisy, noisy]))
    assert accuracies(stacked[1].tolist())["j2"] == 1.0
    assert accuracies(label_counts(pred, clean, clean).tolist())["acc_flipped"] is None


def test_epoch_batches_are_seeded_permutations():
    batches = epoch_batches(10, 4, epoch_generator(0, 1))
    assert [b.numel() for b in batches] == [4, 4, 2]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
    assert torch.equal(torch.cat(batches), torch.cat(epoch_batches(10, 4, epoch_generator(0, 1))))
    assert not torch.equal(torch.cat(batches), torch.cat(epoch_batches(10, 4, epoch_generator(0, 2))))
    assert [b.numel() for b in epoch_batches(9, 4, epoch_generator(0, 1))] == [4, 5]


def test_presets_and_schedules():
    resnet = PRESETS["cifar10-resnet32"].config("rll", 0.2)
    assert resnet.loss_params == {"alpha": 0.1} and resnet.momentum == 0.9 and resnet.batch_size == 128
    assert [resnet.lr_schedule.lr_at(resnet.lr, e) for e in (1, 100, 101, 150, 151, 200)] == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    inception = PRESETS["cifar10-inception"].config("cce", 0.0)
    assert inception.lr_schedule.lr_at(inception.lr, 3) == pytest.approx(0.01 * 0.95**2)
    mnist = build_config("mnist-resnet18", loss="rll", eta=0.6, epochs=5, loss_params={"alpha": 0.45})
    assert (mnist.optimizer, mnist.lr, mnist.epochs, mnist.arch, mnist.loss_params) == (
        "adam", 0.001, 5, "resnet18", {"alpha": 0.45})
    assert PRESETS["mnist-resnet18"].describe()["choices"]["batch_size"].startswith("128")
    with pytest.raises(BadInput, match="unknown preset"):
        build_config("cifar100-vgg")


def test_run_directory_and_independent_j1_j2(cifar, tmp_path):
    result = train(small(), tmp_path / "run", data=cifar)
    run = tmp_path / "run"
    frame = pd.read_json(run / "metrics.jsonl", lines=True)
    assert list(frame["epoch"]) == [1, 2, 3]
    assert {"lr", "train_loss", "j1", "j2", "acc_kept", "acc_flipped", "test_acc", "seconds"} <= set(frame.columns)
    summary = json.loads((run / "summary.json").read_text())
    config = json.loads((run / "config.json").read_text())
    assert summary["status"] == "finished" and summary["epochs_completed"] == 3
    assert config["provenance"]["torch"] == torch.__version__ and config["resolved"]["device"] == "cpu"
    labels, indices = load_labels(run / "labels.npz")
    assert labels.sha256 == summary["noisy_labels_sha256"] == config["noise"]["noisy_labels_sha256"]
    assert abs(summary["realised_flip_rate"] - 0.4) < 4 * (0.4 * 0.6 / 256) ** 0.5

    # J1 and J2 recomputed from the saved model with plain code.
    state = load_checkpoint(run / "checkpoint.pt")
    model = build_network("mlp", 3, 10, 32)
    model.load_state_dict(state["model"])
    model.eval()
    data = take_train_subset(cifar, indices)
    pred = predict(model, data.train_images, Preprocess.build(data, "cpu"), 1000)
    j1 = (pred.numpy() == labels.noisy).mean()
    j2 = (pred.numpy() == labels.clean).mean()
    assert (j1, j2) == (result.rows[-1]["j1"], result.rows[-1]["j2"])
    assert state["epoch"] == 3


def test_resume_continues_exactly(cifar, tmp_path):
    whole = train(small(epochs=4), tmp_path / "whole", data=cifar)
    train(small(epochs=2), tmp_path / "part", data=cifar)
    resumed = train(None, tmp_path / "part", resume=True, data=cifar, epochs=4)
    assert _compared(resumed.rows) == _compared(whole.rows)
    assert resumed.summary["epochs_completed"] == 4
    again = train(None, tmp_path / "part", resume=True, data=cifar)  # nothing left: the checkpoint's time
    assert again.summary["wall_seconds"] == load_checkpoint(tmp_path / "part" / "checkpoint.pt", "cpu")["wall_seconds"]
    assert 0 < again.summary["wall_seconds"] <= resumed.summary["wall_seconds"]
    assert _compared(again.rows) == _compared(whole.rows)


def test_resume_after_sigkill_is_exact(cifar, data_dir, tmp_path):
    epochs = 8
    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "symtheory", "train", "--dataset", "cifar10-subset", "--subset", "256",
           "--loss", "cce", "--eta", "0.4", "--epochs", str(epochs), "--batch-size", "64", "--out", str(run),
           "--data-dir", str(data_dir), "--quiet"]
    # the killed process uses this process's torch thread count: a different count sums convolutions in
    # another order (epoch-1 loss 2.3219173855613917 at 1 thread vs 2.3219173937104642 at 2)
    threads = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=threads)
    metrics = run / "metrics.jsonl"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if metrics.is_file() and len(metrics.read_text().splitlines()) >= 2:
                break
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    done_at_kill = len(metrics.read_text().splitlines())
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    assert 2 <= done_at_kill < epochs, done_at_kill
    assert json.loads((run / "summary.json").read_text())["status"] == "running"

    resumed = train(None, run, resume=True, data=cifar)
    reference = train(build_config(None, dataset="cifar10-subset", subset=256, loss="cce", eta=0.4, epochs=epochs,
                                   batch_size=64), tmp_path / "reference", data=cifar)
    assert len(resumed.rows) == epochs
    assert _compared(resumed.rows) == _compared(reference.rows)


def test_summary_holds_the_last_finished_epoch_while_training(cifar, tmp_path):
    seen = []

    def on_epoch(row):
        summary = json.loads((tmp_path / "run" / "summary.json").read_text())
        seen.append((summary["status"], summary["message"], summary["epochs_completed"], summary["final"]["j1"]))
        assert summary["final"]["j1"] == row["j1"]

    result = train(small(epochs=2), tmp_path / "run", data=cifar, on_epoch=on_epoch)
    assert [s[:3] for s in seen] == [("running", "training: 1 of 2 epochs done", 1),
                                     ("running", "training: 2 of 2 epochs done", 2)]
    assert result.summary["status"] == "finished"


def test_nonfinite_loss_stops_and_keeps_metrics(cifar, tmp_path, monkeypatch):
    real = losses.loss_fn
    steps = {"n": 0}

    def exploding(name, **params):
        inner = real(name, **params)

        def loss(logits, targets):
            steps["n"] += 1
            value = inner(logits, targets)
            return value * float("nan") if steps["n"] > 4 else value  # 4 steps = epoch 1 (256 / 64)

        return loss

    monkeypatch.setattr(losses, "loss_fn", exploding)
    result = train(small(epochs=4), tmp_path / "nan", data=cifar)
    assert result.status == "stopped-nonfinite"
    assert "epoch 2" in result.message
    summary = json.loads((tmp_path / "nan" / "summary.json").read_text())
    assert summary["status"] == "stopped-nonfinite" and summary["epochs_completed"] == 1
    assert len(pd.read_json(tmp_path / "nan" / "metrics.jsonl", lines=True)) == 1


def test_existing_run_directory_is_refused(cifar, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(BadInput, match="busy already exists and holds other files than a run"):
        train(small(), tmp_path / "busy", data=cifar)


def test_start_killed_before_its_config_is_started_again(cifar, tmp_path):
    run = tmp_path / "unstarted"
    run.mkdir()
    (run / "labels.npz").write_bytes(b"half-written")
    (run / ".config.json.123.abc.tmp").write_text("{")
    result = train(small(epochs=1), run, data=cifar)
    assert result.status == "finished"
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.pt", "config.json", "labels.npz", "metrics.jsonl",
                                                     "summary.json"]
    with np.load(run / "labels.npz") as saved:
        assert saved["noisy"].shape[0] == result.summary["num_train"]


def test_resume_refuses_changed_labels(cifar, tmp_path):
    train(small(epochs=1), tmp_path / "run", data=cifar)
    with np.load(tmp_path / "run" / "labels.npz") as z:
        saved = dict(z)
    saved["noisy"] = (saved["noisy"] + 1) % 10
    np.savez(tmp_path / "run" / "labels.npz", **saved)
    with pytest.raises(BadInput, match="changed since the run started"):
        train(None, tmp_path / "run", resume=True, data=cifar, epochs=2)


@pytest.mark.gpu
def test_gpu_path_runs_bf16_channels_last(cifar, tmp_path):
    cfg = build_config(None, dataset="cifar10-subset", arch="resnet32", subset=512, epochs=2, loss="rll", eta=0.2,
                       optimizer="sgd", lr=0.1, device="cuda")
    result = train(cfg, tmp_path / "gpu", data=cifar)
    resolved = json.loads((tmp_path / "gpu" / "config.json").read_text())["resolved"]
    assert (resolved["precision"], resolved["channels_last"], resolved["device"]) == ("bf16", True, "cuda")
    assert result.status == "finished" and 0.0 < result.rows[-1]["j1"] <= 1.0
    resumed = train(None, tmp_path / "gpu", resume=True, data=cifar, epochs=3)
    assert [r["epoch"] for r in resumed.rows] == [1, 2, 3]


@pytest.mark.parametrize("field, value, expected", [
    ("momentum", 1.0, "momentum must be in [0, 1), got 1.0"),
    ("momentum", -0.1, "momentum must be in [0, 1), got -0.1"),
    ("weight_decay", -1e-4, "weight decay must be non-negative and finite, got -0.0001"),
    ("weight_decay", float("inf"), "weight decay must be non-negative and finite, got inf"),
])
def test_a_bad_momentum_or_weight_decay_is_named(field, value, expected):
    # one message named both ('momentum must be in [0, 1) and weight decay non-negative'); inf decay passed
    from symtheory.empirical.config import TrainConfig

    with pytest.raises(BadInput) as refused:
        TrainConfig(**{field: value}).validate()
    assert str(refused.value) == expected
