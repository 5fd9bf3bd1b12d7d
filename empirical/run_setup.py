"""The pieces of one run, resolved before its first step, shared by :mod:`.train` and :mod:`.fused`:
noisy labels (new or saved), the seeded network, the precision options, and the config and summary records."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from symtheory.empirical.config import TrainConfig, get_dataset_spec
from symtheory.empirical.data import ImageData, stratified_subset, take_train_subset
from symtheory.empirical.label_noise import NoisyLabels, load_labels, make_noisy_labels
from symtheory.empirical.provenance import provenance
from symtheory.empirical.run_dir import CONFIG, RunDir
from symtheory.empirical.seeds import INIT_STREAM, stream_seed
from symtheory.errors import BadInput
from symtheory.wording import plural


@dataclass
class RunSetup:
    """A run's resolved pieces: config, directory, device, data, noisy labels and precision options."""

    cfg: TrainConfig
    run: RunDir
    device: torch.device
    data: ImageData
    labels: NoisyLabels
    amp_dtype: torch.dtype | None
    channels_last: bool
    deterministic: bool


def resumed_config(run: RunDir, overrides: dict[str, Any]) -> tuple[TrainConfig, dict[str, Any]]:
    """A resumed run's config (its config.json's, with ``overrides`` such as epochs or device) and the saved
    record; BadInput if it stopped on a non-finite loss, or if the epochs asked for end before the ones it has
    recorded."""
    run.check_resumable()
    path = run.path / CONFIG
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        cfg = TrainConfig.from_dict(saved["train"])
        if not isinstance(saved["noise"]["noisy_labels_sha256"], str):  # what saved_labels checks the labels by
            raise TypeError("noise.noisy_labels_sha256 is not a string")
    except BadInput as exc:
        raise damaged(path, str(exc)) from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise damaged(path, f"{type(exc).__name__}: {exc}") from None
    cfg = cfg.with_overrides(**overrides)
    recorded = len(run.read_metrics())
    if cfg.epochs < recorded:
        raise BadInput(f"{run.path} has {plural(recorded, 'epoch')} recorded; --epochs {cfg.epochs} would end it before "
                       f"them: give --epochs {recorded} or more, or train a new run")
    return cfg.validate(), saved


def damaged(path: Path, why: str) -> BadInput:
    """The error of a run file that cannot be read back (``why``): the run cannot be resumed."""
    return BadInput(f"{path} is damaged ({why}); the run cannot be resumed: delete {path.parent} and start it "
                    "again, or start it afresh with another --out")


def _recorded_source(saved: dict[str, Any]) -> tuple[Path, Path] | None:
    """(source, root): the dataset's folder (or file: cifar10-subset's .npz) a run's config.json recorded
    (data.source), and the data root it lies in (the source less the dataset's folder), when it names one of
    that dataset."""
    try:
        source = Path(saved["data"]["source"])
        folder = Path(get_dataset_spec(saved["data"]["name"]).folder)
    except (KeyError, TypeError, BadInput):
        return None
    depth = len(folder.parts)
    return (source, Path(*source.parts[:-depth])) if source.parts[-depth:] == folder.parts else None


def load_run_data(dataset: str, saved: dict[str, Any] | None, data_dir: str | Path | None,
                  download: bool) -> ImageData:
    """The dataset a run trains on, from ``data_dir``; a resumed run (``saved``: its config.json) given none
    reads the root its config.json recorded while the recorded source is there, else the default root. When
    the data cannot be loaded and the recorded source is gone, the error names it too."""
    from symtheory.empirical.data import load_dataset

    recorded = _recorded_source(saved) if saved is not None and data_dir is None else None
    there = recorded is not None and recorded[0].exists()
    try:
        return load_dataset(dataset, recorded[1] if there else data_dir, download)
    except BadInput as exc:
        if recorded is None or there:
            raise
        where = ("a path relative to the folder it was started in, not found from here"
                 if not recorded[0].is_absolute() else "which is gone")
        raise BadInput(f"{exc}; this run read its data from {recorded[0]}, {where}: give --data-dir") from None


def resolve_precision(cfg: TrainConfig, device: torch.device) -> tuple[torch.dtype | None, bool]:
    """(autocast dtype or None, deterministic): bf16 autocast by default on CUDA only, deterministic
    algorithms by default on the CPU only."""
    precision = cfg.precision if cfg.precision != "auto" else ("bf16" if device.type == "cuda" else "fp32")
    deterministic = cfg.deterministic if cfg.deterministic is not None else device.type == "cpu"
    return (torch.bfloat16 if precision == "bf16" else None), deterministic


def new_labels(cfg: TrainConfig, data: ImageData) -> tuple[ImageData, NoisyLabels]:
    """The run's training data (its class-stratified subset if asked) and freshly drawn noisy labels
    (symmetric or matrix noise at rate eta, from the run seed; Patel & Sastry 2021, Sec. 2)."""
    if cfg.subset is not None and cfg.subset != data.train_labels.shape[0]:
        data = take_train_subset(data, stratified_subset(data.train_labels, cfg.subset, cfg.seed, data.name))
    matrix = np.array(cfg.noise_matrix) if cfg.noise_matrix is not None else None
    labels = make_noisy_labels(data.train_labels.numpy(), data.num_classes, cfg.seed, cfg.noise, cfg.eta, matrix)
    return data, labels


def saved_labels(run: RunDir, data: ImageData, saved: dict[str, Any]) -> tuple[ImageData, NoisyLabels]:
    """The training data and noisy labels of a run being resumed, read from its labels.npz; BadInput if they
    no longer match the data loaded now or the SHA-256 recorded in its config."""
    try:
        labels, indices = load_labels(run.labels_path)
    except Exception as exc:  # noqa: BLE001 - a truncated zip, a missing array, a wrong dtype: all one damage
        raise damaged(run.labels_path, type(exc).__name__) from None
    if indices.size and (indices.max() >= data.train_labels.shape[0]):
        raise BadInput(f"{run.labels_path} does not match the {data.name} training set here")
    data = take_train_subset(data, indices)
    if not np.array_equal(labels.clean, data.train_labels.numpy()):
        raise BadInput(f"the clean labels in {run.labels_path} differ from the {data.name} data loaded now")
    if labels.sha256 != saved["noise"]["noisy_labels_sha256"]:
        raise BadInput(f"{run.labels_path} changed since the run started (noisy-label SHA-256 differs)")
    return data, labels


def build_model(cfg: TrainConfig, data: ImageData, device: torch.device) -> nn.Module:
    """The run's network, initialized from the run seed's init stream (the global RNG is left untouched)."""
    from symtheory.empirical.networks import build_network

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(stream_seed(cfg.seed, INIT_STREAM))
        model = build_network(cfg.arch, data.in_channels, data.num_classes, data.image_size)
    return model.to(device)


def config_record(setup: RunSetup) -> dict[str, Any]:
    """The config.json record of a new run: its config, preset, data, noise, resolved options, provenance."""
    from symtheory.empirical.presets import PRESETS

    cfg = setup.cfg
    return {
        "train": cfg.to_dict(),
        "preset": PRESETS[cfg.preset].describe() if cfg.preset in PRESETS else None,
        "data": setup.data.describe(),
        "noise": setup.labels.describe(),
        "resolved": resolved_record(setup),
        "provenance": provenance(str(setup.device)),
    }


def record_resume(setup: RunSetup, from_epoch: int, overrides: dict[str, Any], resolved: dict[str, Any],
                  changes: list[str]) -> None:
    """Append a resume to the run's config.json (its ``train`` settings now this call's): the epoch it goes on
    from, the options given, what they resolved to, this call's provenance and any setup change since the
    checkpoint (:func:`symtheory.empirical.provenance.setup_changes`)."""
    record = setup.run.read_json(CONFIG)
    record["train"] = setup.cfg.to_dict()
    record.setdefault("resumes", []).append({
        "from_epoch": from_epoch, "overrides": {k: v for k, v in overrides.items() if v is not None},
        "resolved": resolved, "provenance": provenance(str(setup.device)),
        **({"setup_changes": changes} if changes else {}),
    })
    setup.run.write_json(CONFIG, record)


def resolved_record(setup: RunSetup) -> dict[str, Any]:
    """What "auto" options resolved to for this run, and how batches and subsets are drawn."""
    return {
        "device": str(setup.device),
        "precision": "bf16" if setup.amp_dtype == torch.bfloat16 else "fp32",
        "channels_last": setup.channels_last,
        "deterministic": setup.deterministic,
        "compile": setup.cfg.compile,
        "batch_order": "a permutation per epoch from a generator seeded by (seed, epoch)",
        "subset": "class-stratified sample seeded by the run seed" if setup.cfg.subset else "whole training split",
        "augment": (("random flip and 4-pixel crop" if get_dataset_spec(setup.cfg.dataset).mirror_invariant
                     else "random 4-pixel crop (no flip: mirroring changes this dataset's classes)")
                    if setup.cfg.augment else "none"),
    }


def nonfinite_message(loss: float, epoch: int) -> str:
    """The summary message of a run whose training loss became non-finite (nan, inf) in ``epoch``."""
    kept = {1: "", 2: ", metrics of epoch 1 kept"}.get(epoch, f", metrics of epochs 1-{epoch - 1} kept")
    return f"training loss became non-finite ({loss}) in epoch {epoch}; stopped{kept}"


def running_message(done: int, planned: int) -> str:
    """What summary.json says while a run trains (and after a kill): the epochs finished so far."""
    return f"training: {done} of {planned} epochs done"


def interrupted_message(recorded: int, saved: int, path: str | Path) -> str:
    """What an interrupted run's summary says: its last recorded epoch and, when checkpoints are sparser than
    epochs (fused ``checkpoint_every`` > 1), the epoch its checkpoint holds, where --resume starts."""
    if saved == recorded:
        resumes = "continues"
    elif saved == 0:
        resumes = "starts it again from epoch 1 (no checkpoint yet)"
    else:
        resumes = f"continues from the checkpoint of epoch {saved}"
    when = f"after epoch {recorded}" if recorded else "before its first epoch finished"
    return f"interrupted {when}; --resume {path} {resumes}"


def run_summary(setup: RunSetup, rows: list[dict[str, Any]], status: str, message: str, wall: float) -> dict[str, Any]:
    """summary.json: status, final and best J1/J2/test accuracy, wall time, from the metrics rows so far."""
    cfg, last = setup.cfg, (rows[-1] if rows else {})
    best_j2 = max(rows, key=lambda r: r["j2"], default=None)
    best_test = max(rows, key=lambda r: r["test_acc"], default=None)
    return {
        "status": status,
        "message": message,
        "run_dir": str(setup.run.path),
        "preset": cfg.preset,
        "dataset": setup.data.name,
        "arch": cfg.arch,
        "loss": cfg.loss,
        "loss_params": dict(cfg.loss_params),
        "loss_expr": cfg.loss_expr,
        "noise": cfg.noise,
        "eta": None if cfg.noise == "matrix" else cfg.eta,
        "seed": cfg.seed,
        "num_train": int(setup.data.train_labels.shape[0]),
        "realised_flip_rate": setup.labels.flip_rate,
        "noisy_labels_sha256": setup.labels.sha256,
        "epochs_completed": int(last.get("epoch", 0)),
        "epochs_planned": cfg.epochs,
        "final": {k: last.get(k) for k in ("train_loss", "j1", "j2", "acc_kept", "acc_flipped", "memorized",
                                             "test_acc")},
        "best_j2": {"value": best_j2["j2"], "epoch": best_j2["epoch"]} if best_j2 else None,
        "best_test_acc": {"value": best_test["test_acc"], "epoch": best_test["epoch"]} if best_test else None,
        "wall_seconds": wall,
        "device": str(setup.device),
    }
