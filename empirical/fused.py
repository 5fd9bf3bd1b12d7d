"""Train R runs of one preset (different losses, eta, noisy labels, seeds) as one wide model on one device.

Run r minimizes mean_b L_r(f(x_rb; theta_r), y~_rb) on its own batches; the fused step minimizes
sum_r mean_b L_r(...), whose gradient in theta_r is run r's alone, and SGD / Adam are elementwise, so one
optimizer over the stacked parameters (:mod:`.fused_model`) takes each run's own step. BatchNorm is per run
(statistics and running buffers), no norm or clipping reduces across runs, and each run keeps the batch
order and augmentation of its own generator seeded by (seed, epoch) -- so run r equals the same config
trained alone by :func:`symtheory.empirical.train.train` up to floating-point summation order. Each run
writes the single trainer's run directory: config.json (with ``resolved.fused``), labels.npz,
metrics.jsonl, summary.json and a checkpoint.pt that ``symtheory train --resume`` can continue alone.

Data stays on the device as uint8, every step is a handful of kernels on index tensors (no DataLoader, no
host sync), values are read once per epoch. On CUDA by default: bf16 autocast, channels_last inputs,
``torch.compile`` of the forward and loss, cudnn autotuning (defaults chosen, not measured here).
"""

from __future__ import annotations

import math
import time
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch
from torch import Tensor, nn

from symtheory.empirical.checkpoint import (
    checkpoint_epoch, load_checkpoint, rng_states, save_checkpoint, set_rng_states,
)
from symtheory.empirical.config import TrainConfig
from symtheory.empirical.data import ImageData, Preprocess
from symtheory.empirical.fused_checkpoint import merge_optimizer_states, split_optimizer_state
from symtheory.empirical.fused_loss import StackedLoss
from symtheory.empirical.fused_model import LAYOUTS, StackedNetwork
from symtheory.empirical.interrupts import interrupts_held
from symtheory.empirical.label_noise import NoisyLabels, save_labels
from symtheory.empirical.metrics import accuracies, label_counts
from symtheory.empirical.provenance import exactness_setup, setup_changes
from symtheory.empirical.run_dir import CONFIG, DIVERGED, SUMMARY, RunDir, release_lock
from symtheory.empirical.run_setup import (
    RunSetup, build_model, config_record, interrupted_message, load_run_data, new_labels, nonfinite_message,
    record_resume, resolve_precision, resolved_record, resumed_config, run_summary, running_message, saved_labels,
)
from symtheory.empirical.seeds import EPOCH_STREAM, stream_seed
from symtheory.empirical.train import (
    RunResult, deterministic_algorithms, epoch_batches, epoch_generator, make_optimizer, resolve_device, set_lr,
)
from symtheory.errors import BadInput
from symtheory.wording import plural

SHARED_FIELDS = ("dataset", "arch", "epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay",
                 "lr_schedule", "normalize", "augment", "subset", "device", "precision", "channels_last",
                 "deterministic", "eval_batch_size")
BATCH_ORDERS = ("per-run", "shared")
COMPILE_BACKENDS = ("inductor", "cudagraphs", "aot_eager", "eager")
INDUCTOR_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
RECOMPILE_LIMIT = 64  # distinct compiled graphs of one step function per process
COMPILING_CALLS = 3  # the first calls of a compiled function, during which it may (re)compile


def default_layout(device: torch.device) -> str:
    """The fused layout used when none is asked for: ``loop`` on the CPU, where R plain kernels per layer
    were as fast as one grouped kernel or faster (measured in ``benchmarks/results/grid_speed_cpu.md``; the
    figures are read in docs/fused.md), else ``vmap`` (not measured on a GPU yet)."""
    return "loop" if device.type == "cpu" else "vmap"


@dataclass(frozen=True)
class FusedOptions:
    """How a fused group runs. Only ``batch_order='shared'`` changes what is computed: every run then takes
    run 0's batch order and augmentation (identical to per-run when all seeds are equal).

    None means automatic: compile and cudnn autotuning on CUDA, channels_last per the configs' rule.
    ``layout`` is how the stacked network runs (:mod:`.fused_model`: ``vmap``, grouped kernels, or
    ``loop``, R kernels per layer; automatic: :func:`default_layout`); ``compile_backend`` is
    torch.compile's backend (None: ``inductor``; ``cudagraphs`` replays the traced graph, the unchanged
    kernels, as CUDA graphs).
    ``checkpoint_every`` > 1 writes checkpoints every that many epochs (and after the last).
    """

    batch_order: str = "per-run"
    layout: str | None = None
    compile: bool | None = None
    compile_mode: str | None = None
    compile_backend: str | None = None
    channels_last: bool | None = None
    cudnn_benchmark: bool | None = None
    checkpoint_every: int = 1

    def __post_init__(self) -> None:
        if self.batch_order not in BATCH_ORDERS:
            raise BadInput(f"unknown batch order {self.batch_order!r}; choices: {', '.join(BATCH_ORDERS)}")
        if self.layout is not None and self.layout not in LAYOUTS:
            raise BadInput(f"unknown fused layout {self.layout!r}; choices: {', '.join(LAYOUTS)}")
        if self.compile_backend is not None and self.compile_backend not in COMPILE_BACKENDS:
            raise BadInput(f"unknown compile backend {self.compile_backend!r}; choices: {', '.join(COMPILE_BACKENDS)}")
        if self.compile_mode is not None and self.compile_mode not in INDUCTOR_MODES:
            raise BadInput(f"unknown compile mode {self.compile_mode!r}; choices: {', '.join(INDUCTOR_MODES)}")
        if self.compile_mode is not None and self.compile_backend not in (None, "inductor"):
            raise BadInput(f"a compile mode ({self.compile_mode!r}) applies to the inductor backend only, "
                           f"not {self.compile_backend!r}")
        if self.checkpoint_every < 1:
            raise BadInput(f"--checkpoint-every must be at least 1, got {self.checkpoint_every}")


@dataclass
class FusedGroup:
    """The device-side state of a fused group: stacked network, optimizer, data and per-run labels."""

    configs: list[TrainConfig]
    device: torch.device
    net: StackedNetwork
    optimizer: torch.optim.Optimizer
    loss: StackedLoss
    prep: Preprocess
    train_images: Tensor
    positions: Tensor | None
    clean: Tensor
    noisy: Tensor
    test_images: Tensor
    test_labels: Tensor
    shared_order: bool
    channels_last: bool
    amp_dtype: torch.dtype | None
    compiled: bool
    compile_mode: str | None
    compile_backend: str = "inductor"
    steps: dict[bool, Callable] = field(default_factory=dict)
    predictors: dict[bool, Callable] = field(default_factory=dict)

    @property
    def cfg(self) -> TrainConfig:
        return self.configs[0]

    @property
    def replicas(self) -> int:
        return len(self.configs)

    @property
    def num_train(self) -> int:
        return int(self.noisy.shape[1])

    @property
    def batched_train_input(self) -> bool:
        """Whether runs see different training images in a step (else one batch feeds all R)."""
        return not self.shared_order or (self.positions is not None and self.positions.dim() == 2)


def check_fusable(configs: Sequence[TrainConfig]) -> None:
    """BadInput naming the first field in which the configs differ, among those a fused group must share."""
    if not configs:
        raise BadInput("a fused group needs at least one run")
    first = configs[0]
    for index, cfg in enumerate(configs[1:], start=1):
        for name in SHARED_FIELDS:
            if getattr(cfg, name) != getattr(first, name):
                raise BadInput(f"runs 0 and {index} cannot be trained together: {name} differs "
                               f"({getattr(first, name)!r} vs {getattr(cfg, name)!r})")


def _autocast(device: torch.device, dtype: torch.dtype | None):
    return torch.autocast(device_type=device.type, dtype=dtype) if dtype is not None else nullcontext()


@contextmanager
def _cudnn_benchmark(enabled: bool) -> Iterator[None]:
    previous = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = enabled or previous
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = previous


def _maybe_compile(fn: Callable, group: FusedGroup) -> Callable:
    """``fn`` compiled (falling back to eager with a warning if compilation fails), or ``fn`` itself.

    Dynamo keeps one cache per code object, shared by every group of the process (groups of the same shapes
    reuse a graph, their parameters being graph inputs); past ``recompile_limit`` (8) distinct graphs it
    would run a new group eagerly without a word, so the first calls of each group -- those that compile --
    run with the limit raised to RECOMPILE_LIMIT.
    """
    if not group.compiled:
        return fn
    compiled = torch.compile(fn, backend=group.compile_backend, mode=group.compile_mode, dynamic=False)
    state = {"fn": compiled, "calls": 0}

    def call(*args):
        if state["calls"] >= COMPILING_CALLS:
            return state["fn"](*args)
        state["calls"] += 1
        limit = max(RECOMPILE_LIMIT, torch._dynamo.config.recompile_limit)
        with torch._dynamo.config.patch(recompile_limit=limit):
            if state["calls"] > 1:
                return state["fn"](*args)
            try:
                return compiled(*args)
            except Exception as exc:  # noqa: BLE001 - any compiler failure leaves the eager path, which is exact
                warnings.warn(f"torch.compile failed ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); "
                              "running eagerly", RuntimeWarning, stacklevel=2)
                state["fn"] = fn
                group.compiled = False
                return fn(*args)

    return call


def forward_loss(group: FusedGroup, batched: bool) -> Callable[[Tensor, Tensor], tuple[Tensor, Tensor, Tensor]]:
    """(x, targets [R, B]) -> (sum_r mean_b loss, per-sample losses [R, B], hits [R]) in train mode."""

    def run(x: Tensor, targets: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        with _autocast(group.device, group.amp_dtype):
            logits = group.net(x, batched)
        per_sample = group.loss(logits.float(), targets)
        hits = (logits.detach().argmax(-1) == targets).sum(-1)
        return per_sample.mean(-1).sum(), per_sample.detach(), hits

    return run


def _train_input(group: FusedGroup, index: Tensor, generators: Sequence[torch.Generator]) -> Tensor:
    """The preprocessed input of one step: [R, B, C, H, W] for per-run batches, [B, C, H, W] if shared."""
    pos = group.positions
    if not group.batched_train_input:
        images = group.train_images[index if pos is None else pos[index]]
        x = group.prep(images, generators[0], train=True)
        return x.contiguous(memory_format=torch.channels_last) if group.channels_last else x
    rows = index if index.dim() == 2 else index.expand(group.replicas, -1)
    if pos is not None:
        rows = pos.gather(1, rows) if pos.dim() == 2 else pos[rows]
    images = group.train_images[rows]
    if group.prep.augment:
        x = torch.stack([group.prep(images[r], generators[r], train=True) for r in range(group.replicas)])
    else:
        x = group.prep(images, train=True)
    return group.net.stack_input(x, group.channels_last)


def train_step(group: FusedGroup, index: Tensor, generators: Sequence[torch.Generator]) -> tuple[Tensor, Tensor]:
    """One optimizer step of every run on its batch; returns the summed losses [R] (fp64) and hits [R]."""
    batched = group.batched_train_input
    targets = group.noisy.gather(1, index) if index.dim() == 2 else group.noisy[:, index]
    x = _train_input(group, index, generators)
    full = targets.shape[1] == group.cfg.batch_size
    if full and batched not in group.steps:
        group.steps[batched] = _maybe_compile(forward_loss(group, batched), group)
    run = group.steps[batched] if full else forward_loss(group, batched)
    objective, per_sample, hits = run(x, targets)
    group.optimizer.zero_grad(set_to_none=True)
    objective.backward()
    group.optimizer.step()
    return per_sample.sum(-1, dtype=torch.float64), hits


def epoch_orders(group: FusedGroup, epoch: int) -> tuple[list[torch.Generator], Tensor, list[int]]:
    """Each run's generator for ``epoch``, the batch order ([R, n], or [n] when shared) and batch sizes."""
    seeds = [group.cfg.seed] if group.shared_order else [c.seed for c in group.configs]
    generators = [epoch_generator(seed, epoch, group.device) for seed in seeds]
    batches = [epoch_batches(group.num_train, group.cfg.batch_size, g) for g in generators]
    sizes = [int(b.numel()) for b in batches[0]]
    order = torch.cat(batches[0]) if group.shared_order else torch.stack([torch.cat(b) for b in batches])
    return generators, order, sizes


def predict_all(group: FusedGroup, images: Tensor, positions: Tensor | None) -> Tensor:
    """argmax predictions [R, N] of every run in eval mode, in fixed-size chunks (the last one padded by
    repeating its final image; eval-mode BatchNorm treats images independently, so padding changes nothing)."""
    n = int(positions.shape[-1]) if positions is not None else int(images.shape[0])
    batched = positions is not None and positions.dim() == 2
    if batched not in group.predictors:
        def predict(x: Tensor) -> Tensor:
            with _autocast(group.device, group.amp_dtype):
                return group.net(x, batched).argmax(-1)
        group.predictors[batched] = _maybe_compile(predict, group)
    size = min(group.cfg.eval_batch_size, n)
    out = []
    with torch.no_grad():
        for start in range(0, n, size):
            chunk = torch.arange(start, start + size, device=images.device).clamp_(max=n - 1)
            rows = chunk if positions is None else positions[..., chunk]
            x = group.prep(images[rows])
            if batched:
                x = group.net.stack_input(x, group.channels_last)
            elif group.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            out.append(group.predictors[batched](x)[:, : min(size, n - start)].clone())  # CUDA graphs reuse outputs
    return torch.cat(out, dim=1) if out else torch.empty(group.replicas, 0, dtype=torch.long, device=images.device)


def run_epoch(group: FusedGroup, epoch: int) -> list[dict[str, Any]]:
    """One epoch of every run, then evaluation; one metrics row per run, device values read once."""
    start = time.perf_counter()
    cfg = group.cfg
    lr = cfg.lr_schedule.lr_at(cfg.lr, epoch)
    set_lr(group.optimizer, lr)
    generators, order, sizes = epoch_orders(group, epoch)
    loss_sum = torch.zeros(group.replicas, dtype=torch.float64, device=group.device)
    hits = torch.zeros(group.replicas, dtype=torch.int64, device=group.device)
    group.net.train()
    for index in order.split(sizes, dim=-1):
        batch_loss, batch_hits = train_step(group, index, generators)
        loss_sum += batch_loss
        hits += batch_hits
    group.net.eval()
    counts = label_counts(predict_all(group, group.train_images, group.positions), group.clean, group.noisy)
    test_hits = (predict_all(group, group.test_images, None) == group.test_labels).sum(-1)
    values = torch.cat([torch.stack([loss_sum, hits.double(), test_hits.double()], dim=1), counts.double()],
                       dim=1).tolist()
    n, n_test = group.num_train, int(group.test_labels.shape[0])
    seconds = time.perf_counter() - start
    return [{
        "epoch": epoch,
        "lr": lr,
        "train_loss": v[0] / n,
        "running_acc": v[1] / n,
        **accuracies(v[3:]),
        "test_acc": v[2] / n_test if n_test else None,
        "seconds": seconds,
    } for v in values]


def _load_group_configs(configs: Sequence[TrainConfig] | None, out_dirs: Sequence[Path], resume: bool,
                        overrides: dict[str, Any]) -> tuple[list[TrainConfig], list[RunDir | None], list[dict | None]]:
    if resume:
        runs = [RunDir.open(p) for p in out_dirs]
        cfgs, saved = zip(*(resumed_config(run, overrides) for run in runs))
        return list(cfgs), list(runs), list(saved)
    if configs is None or len(configs) != len(out_dirs):
        raise BadInput("train_fused needs one TrainConfig per run directory")
    for out in out_dirs:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            RunDir.create(out)
    return [c.with_overrides(**overrides).validate() for c in configs], [None] * len(out_dirs), [None] * len(out_dirs)


def _positions(runs: Sequence[ImageData], device: torch.device) -> Tensor | None:
    """None when every run trains on the whole split in order, [n] when all share one subset, else [R, n]."""
    indices = [d.train_indices for d in runs]
    if any(i.shape != indices[0].shape for i in indices):
        raise BadInput("runs of a fused group must have training sets of the same size")
    if all(torch.equal(i, indices[0]) for i in indices):
        first = indices[0]
        return None if torch.equal(first, torch.arange(first.shape[0])) else first.to(device)
    return torch.stack(indices).to(device)


def make_group(configs: Sequence[TrainConfig], full: ImageData, runs: Sequence[tuple[ImageData, NoisyLabels]],
               device: torch.device, options: FusedOptions | None = None) -> FusedGroup:
    """The fused group of ``configs`` (checked with :func:`check_fusable`) on ``device``: each run's network
    initialised as the single trainer does, its training data (``runs[r]``: subset and labels) indexing the
    one copy of ``full`` on the device."""
    options = options or FusedOptions()
    configs = list(configs)
    check_fusable(configs)
    first = configs[0]
    amp_dtype, _ = resolve_precision(first, device)
    models = [build_model(cfg, run_data, torch.device("cpu")) for cfg, (run_data, _) in zip(configs, runs)]
    has_conv = any(isinstance(m, nn.Conv2d) for m in models[0].modules())
    channels_last = options.channels_last if options.channels_last is not None else (
        first.channels_last if first.channels_last is not None else device.type == "cuda" and has_conv)
    shared_order = options.batch_order == "shared" or len({c.seed for c in configs}) == 1
    positions = _positions([run_data for run_data, _ in runs], device)
    if shared_order and first.augment and positions is not None and positions.dim() == 2:
        raise BadInput("batch_order='shared' with augmentation needs runs that share their training subset")
    compiled = options.compile if options.compile is not None else device.type == "cuda"
    if not compiled and (options.compile_mode is not None or options.compile_backend is not None):
        raise BadInput(f"--compile-backend/--compile-mode apply only when the step is compiled, which on "
                       f"{device.type} needs --compile")
    net = StackedNetwork(models, options.layout or default_layout(device)).to(device)
    return FusedGroup(
        configs=configs, device=device, net=net, optimizer=make_optimizer(net, first, device),
        loss=StackedLoss([(c.loss, c.loss_params, c.loss_expr) for c in configs], device),
        prep=Preprocess.build(full, device, first.normalize, first.augment, channels_last=False),
        train_images=full.train_images.to(device), positions=positions,
        clean=torch.stack([torch.as_tensor(labels.clean) for _, labels in runs]).to(device),
        noisy=torch.stack([torch.as_tensor(labels.noisy) for _, labels in runs]).to(device),
        test_images=full.test_images.to(device), test_labels=full.test_labels.to(device),
        shared_order=shared_order, channels_last=channels_last, amp_dtype=amp_dtype,
        compiled=compiled,
        compile_mode=options.compile_mode, compile_backend=options.compile_backend or "inductor",
    )


def prepare_group(configs: Sequence[TrainConfig] | None, out_dirs: Sequence[str | Path], *, resume: bool = False,
                  data_dir: str | Path | None = None, download: bool = False, options: FusedOptions | None = None,
                  data: ImageData | None = None, **overrides: Any) -> tuple[FusedGroup, list[RunSetup]]:
    """Validate the configs, load the data once, draw (or read back) each run's labels, create the run
    directories (only once everything checked out) and build the group."""
    paths = [Path(p) for p in out_dirs]
    if len({p.resolve() for p in paths}) != len(paths):
        raise BadInput("every run of a fused group needs its own run directory")
    cfgs, runs, saved = _load_group_configs(configs, paths, resume, overrides)
    check_fusable(cfgs)
    first = cfgs[0]
    device = resolve_device(first.device)
    full = data if data is not None else load_run_data(first.dataset, saved[0] if resume else None, data_dir,
                                                       download)
    drawn = [saved_labels(run, full, s) if resume else new_labels(cfg, full)
             for cfg, run, s in zip(cfgs, runs, saved)]
    group = make_group(cfgs, full, drawn, device, options)
    amp_dtype, deterministic = resolve_precision(first, device)
    setups = []
    for cfg, run, path, (run_data, labels) in zip(cfgs, runs, paths, drawn):
        run = run or RunDir.create(path)
        if not resume:
            save_labels(run.labels_path, labels, run_data.train_indices.numpy())
        setups.append(RunSetup(cfg, run, device, run_data, labels, amp_dtype, group.channels_last, deterministic))
    return group, setups


def _fused_record(group: FusedGroup, setups: Sequence[RunSetup], r: int, options: FusedOptions) -> dict[str, Any]:
    return {
        "replicas": group.replicas,
        "index": r,
        "run_dirs": [str(s.run.path) for s in setups],
        "batch_order": ("shared: run 0's (seed %d) batch order and augmentation" % group.cfg.seed
                        if group.shared_order and len({c.seed for c in group.configs}) > 1
                        else "per run, from the run's own seed"),
        "shared_input": not group.batched_train_input,
        "layout": group.net.layout,
        "compile": group.compiled,
        "compile_mode": group.compile_mode,
        "compile_backend": group.compile_backend if group.compiled else None,
        "checkpoint_every": options.checkpoint_every,
        "seconds": "metrics 'seconds' and summary 'wall_seconds' are those of the fused group of all runs",
    }


def _single_run_rng(seed: int, device: torch.device) -> dict[str, Any]:
    """The global RNG state the single trainer holds while training ``seed`` (seeded, never drawn from)."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(stream_seed(seed, EPOCH_STREAM))
        return rng_states()


def _restore(group: FusedGroup, setups: Sequence[RunSetup]) -> tuple[int, list[float], list[dict | None]]:
    """Load every run's checkpoint into the group; the common number of finished epochs, each run's wall
    seconds so far and the setup each checkpoint was written on (None for a checkpoint without the record)."""
    epochs, models, optim_states, walls, written_on = [], [], [], [], []
    for s in setups:
        path = s.run.checkpoint_path
        ck = load_checkpoint(path, group.device) if path.exists() else None
        epochs.append(int(ck["epoch"]) if ck else 0)
        models.append(ck["model"] if ck else None)
        optim_states.append(ck["optimizer"] if ck else None)
        walls.append(float(ck["wall_seconds"]) if ck else 0.0)
        written_on.append(ck.get("setup") if ck else None)
    if len(set(epochs)) > 1:
        listing = ", ".join(f"{s.run.path.name}: {e}" for s, e in zip(setups, epochs))
        raise BadInput(f"runs of a fused group must resume from the same epoch ({listing}); resume them one by "
                       "one with `symtheory train --resume DIR`")
    if epochs[0] == 0:
        return 0, walls, written_on
    for r, state in enumerate(models):
        group.net.load_run_state_dict(r, state)
    shapes = [p.shape for p in group.net.parameters()]
    try:
        group.optimizer.load_state_dict(merge_optimizer_states(optim_states, shapes))
    except ValueError as exc:
        raise BadInput(f"cannot resume the fused group: {exc}") from None
    return epochs[0], walls, written_on


def _checkpoint(group: FusedGroup, setups: Sequence[RunSetup], active: Sequence[int], epoch: int,
                rngs: Sequence[dict], wall: Callable[[int], float], exact_setup: dict[str, Any]) -> None:
    state = group.optimizer.state_dict()
    shapes = [p.shape for p in group.net.parameters()]
    for r in active:
        save_checkpoint(setups[r].run.checkpoint_path, {
            "epoch": epoch, "model": group.net.run_state_dict(r), "optimizer": split_optimizer_state(state, shapes, r),
            "rng": rngs[r], "wall_seconds": wall(r), "setup": exact_setup,
        })


def _this_call(record: dict[str, Any], resume: bool) -> dict[str, Any]:
    """The part of a config.json record this call wrote: its latest resume entry, or the whole record."""
    return record["resumes"][-1] if resume else record


def _record_config(group: FusedGroup, setups: Sequence[RunSetup], options: FusedOptions, resumed_from: int | None,
                   changes: Sequence[list[str]], overrides: dict[str, Any]) -> None:
    """Each run's config.json: a new run's record, or, resumed, the record it has with this call's config and a
    resume entry (resolved options, provenance, any setup change) appended, as the single-run trainer does."""
    for r, s in enumerate(setups):
        resolved = resolved_record(s)
        resolved["compile"] = group.compiled
        resolved["fused"] = _fused_record(group, setups, r, options)
        if resumed_from is not None:
            record_resume(s, resumed_from, overrides, resolved, changes[r])
        else:
            s.run.write_json(CONFIG, {**config_record(s), "resolved": resolved})


def _record_compile_fallback(setups: Sequence[RunSetup], resume: bool) -> None:
    """config.json says compile was on when this call started; say that it fell back to eager."""
    for s in setups:
        record = s.run.read_json(CONFIG)
        resolved = _this_call(record, resume)["resolved"]
        resolved["compile"] = False
        resolved["fused"]["compile"] = False
        resolved["fused"]["compile_fallback"] = "torch.compile failed; the runs trained eagerly (same math)"
        s.run.write_json(CONFIG, record)


def train_fused(configs: Sequence[TrainConfig] | None, out_dirs: Sequence[str | Path], *, resume: bool = False,
                data_dir: str | Path | None = None, download: bool = False, options: FusedOptions | None = None,
                on_start: Callable[[int, dict[str, Any]], None] | None = None,
                on_epoch: Callable[[int, dict[str, Any]], None] | None = None,
                data: ImageData | None = None, **overrides: Any) -> list[RunResult]:
    """Train ``configs[r]`` into ``out_dirs[r]`` for every r together, writing what
    :func:`symtheory.empirical.train.train` writes for each; or continue them (``resume=True``, configs
    from each config.json). ``overrides`` (e.g. epochs, device) apply to every run.

    The configs must agree on SHARED_FIELDS (BadInput otherwise); they may differ in loss, loss parameters,
    noise, eta and seed. ``on_start(r, info)`` and ``on_epoch(r, row)`` get the run index. A run whose
    loss turns non-finite stops (as alone) while the others go on. ``data`` (CPU ImageData) skips loading.

    Resumed runs whose checkpoints hold different epochs (a kill during a checkpoint round leaves some runs'
    new checkpoint written and the others' not) are first brought level (:func:`_catch_up`), then the group
    goes on together. Each run directory's lock is held until the call returns.
    """
    options = options or FusedOptions()
    common = dict(data_dir=data_dir, download=download, options=options, data=data, **overrides)
    paths = [Path(p) for p in out_dirs]
    try:
        if not resume:
            return _train_group(configs, out_dirs, resume=False, on_start=on_start, on_epoch=on_epoch, **common)
        return _resume_group(paths, on_start, on_epoch, common)
    finally:
        for path in paths:
            release_lock(path)


def _resume_group(paths: Sequence[Path], on_start, on_epoch, common: dict[str, Any]) -> list[RunResult]:
    stopped = _catch_up(paths, on_epoch, common)
    going = [i for i in range(len(paths)) if i not in stopped]
    results = dict(stopped)
    if going:
        results.update(zip(going, _train_group(
            None, [paths[i] for i in going], resume=True, on_start=_for_runs(on_start, going),
            on_epoch=_for_runs(on_epoch, going), **common)))
    return [results[i] for i in range(len(paths))]


def _for_runs(callback: Callable[[int, Any], None] | None, indices: Sequence[int]):
    """``callback`` of a sub-group's run index r called with the whole group's index ``indices[r]``."""
    return (lambda r, value: callback(indices[r], value)) if callback else None


def _catch_up(paths: Sequence[Path], on_epoch, common: dict[str, Any]) -> dict[int, RunResult]:
    """Bring every run of a group being resumed to the latest epoch any of its checkpoints holds.

    One checkpoint is kept per run, so a run whose checkpoint is ahead cannot go back; the runs behind
    (those at the lowest checkpoint epoch) resume together up to the next epoch some run holds, until all
    hold the same. Each run trains exactly the epochs it would have, from its own checkpoint, so this is the
    uninterrupted group up to floating-point summation order (as fused and alone are). Returns the results
    of runs that stopped on the way (a non-finite loss), by index; they leave the group.
    """
    stopped: dict[int, RunResult] = {}
    while True:
        epochs = {i: checkpoint_epoch(RunDir(p).checkpoint_path) for i, p in enumerate(paths) if i not in stopped}
        if len(set(epochs.values())) <= 1:
            return stopped
        lowest = min(epochs.values())
        until = min(e for e in epochs.values() if e > lowest)
        behind = [i for i, e in epochs.items() if e == lowest]
        results = _train_group(None, [paths[i] for i in behind], resume=True, until=until,
                               on_epoch=_for_runs(on_epoch, behind), **common)
        stopped.update((i, res) for i, res in zip(behind, results) if res.status == DIVERGED)
        going = [i for i in behind if i not in stopped]
        if going and all(checkpoint_epoch(RunDir(paths[i]).checkpoint_path) == lowest for i in going):
            listing = ", ".join(f"{paths[i].name}: {e}" for i, e in epochs.items())
            raise BadInput(f"the runs of this fused group hold checkpoints of different epochs ({listing}) and "
                           f"those at epoch {lowest} cannot train on to epoch {until}; resume them one by one "
                           "with `symtheory train --resume DIR`")


def _train_group(configs: Sequence[TrainConfig] | None, out_dirs: Sequence[str | Path], *, resume: bool,
                 data_dir: str | Path | None, download: bool, options: FusedOptions,
                 on_start: Callable[[int, dict[str, Any]], None] | None = None,
                 on_epoch: Callable[[int, dict[str, Any]], None] | None = None,
                 data: ImageData | None = None, until: int | None = None, **overrides: Any) -> list[RunResult]:
    """:func:`train_fused` of runs that start (or resume) at the same epoch; with ``until``, only up to that
    epoch (checkpointed there; the summaries then say ``running``)."""
    session_start = time.perf_counter()
    group, setups = prepare_group(configs, out_dirs, resume=resume, data_dir=data_dir, download=download,
                                  options=options, data=data, **overrides)
    cfg, device, R = group.cfg, group.device, group.replicas
    last = cfg.epochs if until is None else min(until, cfg.epochs)
    start_epoch, previous, written_on = _restore(group, setups) if resume else (0, [0.0] * R, [None] * R)
    exact_setup = exactness_setup(str(device))
    changes = [setup_changes(w, exact_setup) if start_epoch < last else [] for w in written_on]
    rows: list[list[dict[str, Any]]] = [s.run.keep_metrics_through(start_epoch) if resume else [] for s in setups]
    if not resume or start_epoch < last:
        _record_config(group, setups, options, start_epoch if resume else None, changes, overrides)
    compiled_at_start = group.compiled
    rngs = [_single_run_rng(c.seed, device) for c in group.configs]

    def wall(r: int) -> float:
        return previous[r] + time.perf_counter() - session_start

    status = ["finished" if last == cfg.epochs else "running"] * R
    message = [f"finished {plural(cfg.epochs, 'epoch')}" if last == cfg.epochs else running_message(last, cfg.epochs)] * R
    active = list(range(R))
    saved_epoch = start_epoch
    summaries: dict[int, dict[str, Any]] = {}
    for r, s in enumerate(setups):
        if on_start:
            on_start(r, {"epochs": cfg.epochs, "start_epoch": start_epoch, "run_dir": str(s.run.path), "config": s.cfg,
                         "setup_changes": changes[r]})
        s.run.write_json(SUMMARY, run_summary(s, rows[r], "running", running_message(start_epoch, cfg.epochs), wall(r)))
    deterministic = setups[0].deterministic
    tune = options.cudnn_benchmark if options.cudnn_benchmark is not None else (
        device.type == "cuda" and not deterministic)
    cuda_devices = [device.index or 0] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=cuda_devices), deterministic_algorithms(deterministic, device), \
                _cudnn_benchmark(tune):
            set_rng_states(rngs[0])
            for epoch in range(start_epoch + 1, last + 1):
                epoch_rows = run_epoch(group, epoch)
                with interrupts_held():
                    for r in list(active):
                        row = epoch_rows[r]
                        if not math.isfinite(row["train_loss"]):
                            status[r], message[r] = DIVERGED, nonfinite_message(row["train_loss"], epoch)
                            active.remove(r)
                            summaries[r] = run_summary(setups[r], rows[r], status[r], message[r], wall(r))
                            setups[r].run.write_json(SUMMARY, summaries[r])
                            continue
                        rows[r].append(row)
                        setups[r].run.append_metrics(row)
                    if active and (epoch % options.checkpoint_every == 0 or epoch == last):
                        _checkpoint(group, setups, active, epoch, rngs, wall, exact_setup)
                        saved_epoch = epoch
                    for r in active:
                        setups[r].run.write_json(SUMMARY, run_summary(
                            setups[r], rows[r], "running", running_message(epoch, cfg.epochs), wall(r)))
                for r in active:
                    if on_epoch:
                        on_epoch(r, epoch_rows[r])
                if not active:
                    break
    except KeyboardInterrupt:
        for r in active:
            s = setups[r]
            s.run.write_json(SUMMARY, run_summary(s, rows[r], "interrupted",
                                                  interrupted_message(len(rows[r]), saved_epoch, s.run.path), wall(r)))
        raise
    if compiled_at_start and not group.compiled:
        _record_compile_fallback(setups, resume)
    results = []
    for r, s in enumerate(setups):
        summary = summaries.get(r) or run_summary(s, rows[r], status[r], message[r], wall(r))
        if r not in summaries:
            s.run.write_json(SUMMARY, summary)
        results.append(RunResult(s.run.path, status[r], message[r], summary, rows[r], changes[r]))
    return results
