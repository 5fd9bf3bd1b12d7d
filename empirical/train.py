"""Training under label noise, recording J1 and J2 every epoch (Patel & Sastry 2021, Sec. 2).

Empirical risk minimization of mean_i L(h(X_i), y~_i) on the noisy labels y~; after every epoch the network
is evaluated in eval mode over the whole training set (J1 against y~, J2 against the clean y) and the clean
test set. The pieces are separable so that several runs sharing data and network can later train in one
process: data on the device with :func:`epoch_batches`, the per-step function (:func:`make_train_step`),
prediction (:func:`predict`), the counting of :mod:`.metrics`, and the run directory of :mod:`.run_dir`.

Exact resume: the batch order (and any augmentation) of epoch e comes from a generator seeded by
(seed, e); the learning rate is a pure function of e; model, optimizer and global RNG states are
checkpointed after the epoch's metrics line, and deterministic algorithms are on by default on the CPU.
On a GPU the forward pass runs under bf16 autocast (the loss in fp32), in channels_last for conv nets, and
the loop reads device values once per epoch.
"""

from __future__ import annotations

import math
import os
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch import Tensor, nn

from symtheory.empirical.checkpoint import load_checkpoint, rng_states, save_checkpoint, set_rng_states
from symtheory.empirical.config import TrainConfig, get_dataset_spec
from symtheory.empirical.data import ImageData, Preprocess
from symtheory.empirical.interrupts import interrupts_held
from symtheory.empirical.label_noise import save_labels
from symtheory.empirical.metrics import accuracies, hit_count, label_counts
from symtheory.empirical.provenance import exactness_setup, setup_changes
from symtheory.empirical.run_dir import CONFIG, DIVERGED, SUMMARY, RunDir, release_lock
from symtheory.empirical.run_setup import (
    RunSetup, build_model, config_record, interrupted_message, load_run_data, new_labels, nonfinite_message,
    record_resume, resolve_precision, resolved_record, resumed_config, run_summary, running_message, saved_labels,
)
from symtheory.empirical.seeds import EPOCH_STREAM, stream_seed
from symtheory.errors import BadInput
from symtheory.wording import plural

StepFn = Callable[[Tensor, Tensor, "torch.Generator | None"], tuple[Tensor, Tensor]]


@dataclass
class RunResult:
    """What a call of :func:`train` ended with: the status, a message, the summary and the metrics rows."""

    run_dir: Path
    status: str
    message: str
    summary: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    setup_changes: list[str] = field(default_factory=list)
    """What differs from the setup the resumed checkpoint was written on (:func:`setup_changes`); [] if nothing."""


def resolve_device(name: str) -> torch.device:
    """``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``; BadInput otherwise."""
    key = (name or "auto").strip().lower()
    if key == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(key)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise BadInput(f"unsupported device {name!r}; use auto, cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BadInput(f"device {name!r} requested but torch sees no CUDA GPU; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise BadInput(f"device {name!r} does not exist ({torch.cuda.device_count()} CUDA device(s))")
    return device


def epoch_generator(seed: int, epoch: int, device: torch.device | str = "cpu") -> torch.Generator:
    """The generator of epoch ``epoch``'s batch order and augmentation, seeded by (seed, epoch)."""
    generator = torch.Generator(device=device)
    generator.manual_seed(stream_seed(seed, EPOCH_STREAM, epoch))
    return generator


def epoch_batches(n: int, batch_size: int, generator: torch.Generator) -> tuple[Tensor, ...]:
    """A random permutation of 0..n-1 (on the generator's device) cut into batches of ``batch_size``.

    A last batch of a single example is merged into the one before (BatchNorm needs two per batch).
    """
    perm = torch.randperm(n, generator=generator, device=generator.device)
    batches = perm.split(batch_size)
    if len(batches) > 1 and batches[-1].numel() == 1:
        batches = batches[:-2] + (torch.cat(batches[-2:]),)
    return batches


def make_optimizer(model: nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    """SGD (momentum, weight decay as L2) or Adam (L2 weight decay), at the config's base learning rate."""
    extra = {"fused": True} if device.type == "cuda" else {}
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay, **extra)
    return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, **extra)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def _autocast(device: torch.device, dtype: torch.dtype | None):
    return torch.autocast(device_type=device.type, dtype=dtype) if dtype is not None else nullcontext()


def make_train_step(model: nn.Module, optimizer: torch.optim.Optimizer, loss: Callable[[Tensor, Tensor], Tensor],
                    prep: Preprocess, amp_dtype: torch.dtype | None = None) -> StepFn:
    """step(images_uint8, labels, generator) -> (sum of per-sample losses, number of hits), both on the
    device: one SGD/Adam step on the mean loss, the loss computed in fp32 from the logits."""
    device = next(model.parameters()).device

    def step(images: Tensor, labels: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        x = prep(images, generator, train=True)
        with _autocast(device, amp_dtype):
            logits = model(x)
        per_sample = loss(logits.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        per_sample.mean().backward()
        optimizer.step()
        return per_sample.detach().sum(dtype=torch.float64), hit_count(logits.detach().argmax(-1), labels)

    return step


def train_epoch(step: StepFn, images: Tensor, labels: Tensor, batches: tuple[Tensor, ...],
                generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Run ``step`` over the batches; the summed loss and hits stay on the device."""
    loss_sum = torch.zeros((), dtype=torch.float64, device=images.device)
    hits = torch.zeros((), dtype=torch.int64, device=images.device)
    for idx in batches:
        batch_loss, batch_hits = step(images[idx], labels[idx], generator)
        loss_sum += batch_loss
        hits += batch_hits
    return loss_sum, hits


@torch.no_grad()
def predict(model: nn.Module, images: Tensor, prep: Preprocess, batch_size: int,
            amp_dtype: torch.dtype | None = None) -> Tensor:
    """argmax_k g_k(x) for every image (eval mode is the caller's job), on the device."""
    out = []
    for start in range(0, images.shape[0], batch_size):
        with _autocast(images.device, amp_dtype):
            out.append(model(prep(images[start:start + batch_size])).argmax(-1))
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long, device=images.device)


@contextmanager
def deterministic_algorithms(enabled: bool, device: torch.device) -> Iterator[None]:
    """Turn torch's deterministic algorithms on (warn-only) for the block, restoring the previous setting."""
    previous, previous_warn = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    if enabled and device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled or previous, warn_only=True if enabled else previous_warn)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous, warn_only=previous_warn)


def _prepare(cfg: TrainConfig | None, out: Path, resume: bool, data_dir, download: bool,
             overrides: dict[str, Any], data: ImageData | None) -> RunSetup:
    if resume:
        run = RunDir.open(out)
        cfg, saved = resumed_config(run, overrides)
    else:
        if cfg is None:
            raise BadInput("a new run needs a TrainConfig")
        saved, run = None, None
        RunDir.ensure_new(out)
    cfg = cfg.validate()
    spec = get_dataset_spec(cfg.dataset)
    device = resolve_device(cfg.device)
    if data is None:
        data = load_run_data(cfg.dataset, saved, data_dir, download)
    elif data.name != spec.name or not torch.equal(data.train_indices.cpu(), torch.arange(data.train_indices.shape[0])):
        raise BadInput(f"the data given must be the whole {spec.name} training split, got {data.name}")
    data, labels = saved_labels(run, data, saved) if resume else new_labels(cfg, data)
    amp_dtype, deterministic = resolve_precision(cfg, device)
    setup = RunSetup(cfg, run or RunDir.create(out), device, data.to(device), labels, amp_dtype, False, deterministic)
    if not resume:
        save_labels(setup.run.labels_path, labels, data.train_indices.numpy())
    return setup


def train(cfg: TrainConfig | None, out: str | Path, *, resume: bool = False, data_dir: str | Path | None = None,
          download: bool = False, on_start: Callable[[dict[str, Any]], None] | None = None,
          on_epoch: Callable[[dict[str, Any]], None] | None = None, data: ImageData | None = None,
          **overrides: Any) -> RunResult:
    """Train one run into the directory ``out`` (new), or continue it (``resume=True``; then ``overrides``
    such as ``epochs`` or ``device`` may change, the rest comes from its config.json).

    ``on_start(info)`` gets the planned and finished epochs, ``on_epoch(row)`` each epoch's metrics row.
    ``data``: the whole dataset already loaded (CPU), to share one load between runs. The run directory's lock
    (:func:`symtheory.empirical.run_dir.acquire_lock`) is held until the call returns.
    """
    try:
        return _train(cfg, Path(out), resume, data_dir, download, on_start, on_epoch, data, overrides)
    finally:
        release_lock(out)


def _train(cfg: TrainConfig | None, out: Path, resume: bool, data_dir, download: bool, on_start, on_epoch,
           data: ImageData | None, overrides: dict[str, Any]) -> RunResult:
    from symtheory.empirical.losses import config_loss

    session_start = time.perf_counter()
    setup = _prepare(cfg, out, resume, data_dir, download, overrides, data)
    cfg, run, device, data = setup.cfg, setup.run, setup.device, setup.data
    loss = config_loss(cfg.loss, cfg.loss_params, cfg.loss_expr)
    model = build_model(cfg, data, device)
    setup.channels_last = (cfg.channels_last if cfg.channels_last is not None
                           else device.type == "cuda" and any(isinstance(m, nn.Conv2d) for m in model.modules()))
    if setup.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, cfg, device)
    forward = torch.compile(model) if cfg.compile else model
    prep = Preprocess.build(data, device, cfg.normalize, cfg.augment, setup.channels_last)
    step = make_train_step(forward, optimizer, loss, prep, setup.amp_dtype)

    clean = torch.as_tensor(setup.labels.clean, device=device)
    noisy = torch.as_tensor(setup.labels.noisy, device=device)
    n = int(noisy.shape[0])
    start_epoch, previous_wall, rows, changes = 0, 0.0, [], []
    exact_setup = exactness_setup(str(device))
    checkpoint = load_checkpoint(run.checkpoint_path, device) if resume and run.checkpoint_path.exists() else None
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        start_epoch, previous_wall = int(checkpoint["epoch"]), float(checkpoint["wall_seconds"])
        if start_epoch < cfg.epochs:
            changes = setup_changes(checkpoint.get("setup"), exact_setup)
    if resume:
        rows = run.keep_metrics_through(start_epoch)
    if resume and start_epoch < cfg.epochs:
        record_resume(setup, start_epoch, overrides, resolved_record(setup), changes)
    elif not resume:
        run.write_json(CONFIG, config_record(setup))

    if checkpoint is not None and start_epoch >= cfg.epochs:  # nothing left to train: the checkpoint's time
        session_start = None

    def wall() -> float:
        return previous_wall + (0.0 if session_start is None else time.perf_counter() - session_start)

    status, message = "finished", f"finished {plural(cfg.epochs, 'epoch')}"
    if on_start:
        on_start({"epochs": cfg.epochs, "start_epoch": start_epoch, "run_dir": str(run.path), "config": cfg,
                  "setup_changes": changes})
    run.write_json(SUMMARY, run_summary(setup, rows, "running", running_message(start_epoch, cfg.epochs), wall()))
    cuda_devices = [device.index or 0] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=cuda_devices), deterministic_algorithms(setup.deterministic, device):
            if checkpoint is not None:
                set_rng_states(checkpoint["rng"])
            else:
                torch.manual_seed(stream_seed(cfg.seed, EPOCH_STREAM))
            for epoch in range(start_epoch + 1, cfg.epochs + 1):
                row = _run_epoch(epoch, cfg, model, forward, optimizer, step, prep, data, clean, noisy, n, setup)
                if not math.isfinite(row["train_loss"]):
                    status = DIVERGED
                    message = nonfinite_message(row["train_loss"], epoch)
                    break
                with interrupts_held():
                    rows.append(row)
                    run.append_metrics(row)
                    save_checkpoint(run.checkpoint_path, {
                        "epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "rng": rng_states(), "wall_seconds": wall(), "setup": exact_setup,
                    })
                    run.write_json(SUMMARY, run_summary(setup, rows, "running", running_message(epoch, cfg.epochs),
                                                        wall()))
                if on_epoch:
                    on_epoch(row)
    except KeyboardInterrupt:
        message = interrupted_message(len(rows), len(rows), run.path)
        run.write_json(SUMMARY, run_summary(setup, rows, "interrupted", message, wall()))
        raise
    summary = run_summary(setup, rows, status, message, wall())
    run.write_json(SUMMARY, summary)
    return RunResult(run.path, status, message, summary, rows, changes)


def _run_epoch(epoch: int, cfg: TrainConfig, model: nn.Module, forward: nn.Module, optimizer, step: StepFn,
               prep: Preprocess, data: ImageData, clean: Tensor, noisy: Tensor, n: int, setup: RunSetup) -> dict:
    """One epoch of training, then evaluation; device values are read once, at the end."""
    start = time.perf_counter()
    lr = cfg.lr_schedule.lr_at(cfg.lr, epoch)
    set_lr(optimizer, lr)
    generator = epoch_generator(cfg.seed, epoch, setup.device)
    model.train()
    loss_sum, hits = train_epoch(step, data.train_images, noisy, epoch_batches(n, cfg.batch_size, generator), generator)
    model.eval()
    counts = label_counts(predict(forward, data.train_images, prep, cfg.eval_batch_size, setup.amp_dtype), clean, noisy)
    test_hits = hit_count(predict(forward, data.test_images, prep, cfg.eval_batch_size, setup.amp_dtype), data.test_labels)
    values = torch.cat([torch.stack([loss_sum, hits.double(), test_hits.double()]), counts.double()]).tolist()
    loss_total, running_hits, test_total = values[:3]
    n_test = int(data.test_labels.shape[0])
    return {
        "epoch": epoch,
        "lr": lr,
        "train_loss": loss_total / n,
        "running_acc": running_hits / n,
        **accuracies(values[3:]),
        "test_acc": test_total / n_test if n_test else None,
        "seconds": time.perf_counter() - start,
    }
