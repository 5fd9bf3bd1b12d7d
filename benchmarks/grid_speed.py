"""Seconds per epoch of the paper's networks three ways, and the projected wall time of the 48-run grid.

(a) baseline: torchvision-style Dataset (PIL image per sample, ToTensor + Normalize), a shuffling DataLoader,
    fp32, one run at a time, ``loss.item()`` every step -- the loop of the common reference trainers;
(b) fast path: the harness's single-run step (:func:`symtheory.empirical.train.make_train_step`): uint8
    data on the device, batches gathered by index, on CUDA bf16 autocast and channels_last, no per-step sync;
(c) fused: R runs of the preset's eta x loss grid as one stacked model (:mod:`symtheory.empirical.fused`),
    once per ``--variants`` entry: the vmap layout (grouped kernels) or the loop layout (R kernels per
    layer), compiled by inductor (the trainer's CUDA default), inductor with CUDA graphs
    (reduce-overhead), the cudagraphs backend (the traced graph's own kernels replayed), or eager.
    Ratios and the grid projection use the fastest variant.

Each mode times ``--steps`` training steps after ``--warmup`` untimed ones (which include compilation) and
``--eval-chunks`` evaluation batches, and extrapolates to an epoch: ceil(n_train / batch) steps plus one
evaluation pass over the training and test sets (J1/J2 and test accuracy, as the trainer does every epoch).
Sizes are the real ones (CIFAR-10: 50,000 + 10,000 images of 3x32x32; MNIST: 60,000 + 10,000 of 1x28x28),
the pixels random. Per model-epoch = epoch seconds / runs in the mode. Grid = for each preset, its 16 runs x
its epochs (200, 100, 200) one at a time for (a) and (b), ceil(16 / R) fused groups for (c) plus its
warm-up once. Targets (H100): ResNet-32 (a)/(c) >= 10 per model-epoch; whole grid under 60 minutes.

With ``--budget S`` no new measurement starts after S seconds; the order is (a), (b) and the first variant
of every network, then the other variants, and ``--out`` is rewritten after every measurement, so a run
cut short still leaves every figure it took.

    python benchmarks/grid_speed.py --device cuda --budget 360 --out results.json   # the GPU measurement
    python benchmarks/grid_speed.py --device cpu --steps 2 --replicas 2             # CPU smoke test
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import shlex
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch

from symtheory.empirical.config import TrainConfig
from symtheory.empirical.data import ImageData, Preprocess
from symtheory.empirical.fused import (COMPILE_BACKENDS, FusedOptions, epoch_orders, make_group, predict_all,
                                        train_step)
from symtheory.empirical.losses import loss_fn
from symtheory.empirical.presets import get_preset
from symtheory.empirical.run_setup import build_model, new_labels, resolve_precision
from symtheory.errors import BadInput
from symtheory.empirical.train import (epoch_batches, epoch_generator, make_optimizer, make_train_step, predict,
                                       resolve_device)

MODELS = (  # arch, preset, channels, size, n_train, n_test
    ("resnet32", "cifar10-resnet32", 3, 32, 50_000, 10_000),
    ("inception-lite", "cifar10-inception", 3, 32, 50_000, 10_000),
    ("resnet18", "mnist-resnet18", 1, 28, 60_000, 10_000),
)
GRID_RUNS = 16
# CUDA, CPU; each starts with the trainer's default layout (fused.default_layout), which plan() times first
DEFAULT_VARIANTS = ("vmap,vmap+reduce-overhead,loop+cudagraphs", "loop,vmap")


@dataclass
class ModeTiming:
    """One mode's measurement for one network, extrapolated to an epoch."""

    mode: str
    runs: int
    step_seconds: float
    train_epoch_seconds: float
    eval_epoch_seconds: float
    epoch_seconds: float
    per_model_epoch_seconds: float
    warmup_seconds: float
    peak_memory_gib: float | None
    note: str = ""


@dataclass
class ModelResult:
    arch: str
    preset: str
    epochs: int
    n_train: int
    n_test: int
    steps_per_epoch: int
    modes: dict[str, ModeTiming] = field(default_factory=dict)
    best_fused: str | None = None
    ratio_a_c: float | None = None
    ratio_b_c: float | None = None
    grid_seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class BenchmarkResult:
    device: str
    device_name: str
    torch: str
    date: str
    replicas: int
    batch_size: int
    steps: int
    warmup: int
    eval_batch_size: int
    workers: int
    extrapolation: str
    models: list[ModelResult]
    grid_total_seconds: dict[str, float]
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    budget: float | None = None
    command: str = ""


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_gib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def _timed(device: torch.device, fn: Callable[[], object]) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def random_data(channels: int, size: int, n_train: int, n_test: int, seed: int = 0) -> ImageData:
    """Random uint8 images and labels of the dataset's shape (statistics of uniform pixels)."""
    g = torch.Generator().manual_seed(seed)
    train = torch.randint(0, 256, (n_train, channels, size, size), dtype=torch.uint8, generator=g)
    test = torch.randint(0, 256, (n_test, channels, size, size), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (n_train,), generator=g)
    test_labels = torch.randint(0, 10, (n_test,), generator=g)
    return ImageData("random", train, labels, test, test_labels, 10, (0.5,) * channels, (0.2887,) * channels,
                     "random pixels", torch.arange(n_train))


def grid_configs(preset: str, replicas: int, batch_size: int, eval_batch_size: int, device: str,
                 distinct_seeds: bool) -> list[TrainConfig]:
    """The first ``replicas`` runs of the preset's loss x eta grid (cycled if more), seed 0 or 0..R-1."""
    p = get_preset(preset)
    grid = [(loss, eta) for loss in p.losses for eta in p.etas]
    return [p.config(loss, eta, batch_size=batch_size, eval_batch_size=eval_batch_size, device=device,
                     seed=r if distinct_seeds else 0)
            for r, (loss, eta) in ((r, grid[r % len(grid)]) for r in range(replicas))]


def _array_dataset(data: ImageData):
    """The common per-sample pipeline: PIL image + ToTensor + Normalize (numpy HWC input without Pillow)."""
    from torchvision import transforms

    try:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from train_throughput import PILDataset

        return PILDataset(data), "PIL"
    except ImportError:
        pass

    class ArrayDataset(torch.utils.data.Dataset):
        def __init__(self):
            self.images = data.train_images.permute(0, 2, 3, 1).numpy()
            self.labels = data.train_labels.numpy()
            self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize(data.mean, data.std)])

        def __len__(self) -> int:
            return len(self.labels)

        def __getitem__(self, i: int):
            return self.transform(self.images[i]), int(self.labels[i])

    return ArrayDataset(), "numpy HWC (Pillow not installed)"


def time_baseline(cfg: TrainConfig, data: ImageData, device: torch.device, args, n_train: int, n_test: int,
                  steps_per_epoch: int) -> ModeTiming:
    """(a): DataLoader + per-sample transforms, fp32, plain SGD/Adam, loss.item() every step."""
    _reset_memory(device)
    torch.manual_seed(0)
    model = build_model(cfg, data, device)
    if cfg.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    dataset, kind = _array_dataset(data)
    loader = torch.utils.data.DataLoader(dataset, batch_size=cfg.batch_size, shuffle=True, drop_last=True,
                                         num_workers=args.workers, pin_memory=device.type == "cuda")
    eval_loader = torch.utils.data.DataLoader(dataset, batch_size=cfg.eval_batch_size, shuffle=False,
                                              num_workers=args.workers, pin_memory=device.type == "cuda")
    start = time.perf_counter()
    batches = iter(loader)
    first = next(batches)
    epoch_start = time.perf_counter() - start

    def forever():
        yield first
        while True:
            yield from batches
            yield from loader

    stream = forever()
    model.train()

    def steps(k: int) -> None:
        for _ in range(k):
            x, y = next(stream)
            loss = torch.nn.functional.cross_entropy(model(x.to(device, non_blocking=True)),
                                                     y.to(device, non_blocking=True))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss.item()

    warmup = _timed(device, lambda: steps(args.warmup))
    step = _timed(device, lambda: steps(args.steps)) / args.steps
    model.eval()

    def evaluate() -> None:
        with torch.no_grad():
            for i, (x, y) in enumerate(eval_loader):
                if i == args.eval_chunks:
                    break
                (model(x.to(device)).argmax(-1) == y.to(device)).sum().item()

    per_image = _timed(device, evaluate) / (args.eval_chunks * cfg.eval_batch_size)
    return _timing("a-baseline", 1, step, steps_per_epoch, per_image * (n_train + n_test), warmup,
                   _peak_gib(device), f"DataLoader({args.workers} workers, {kind}), fp32; "
                   f"+{epoch_start:.2f}s per epoch to start the loader", epoch_start)


def time_fast(cfg: TrainConfig, data: ImageData, device: torch.device, args, n_train: int, n_test: int,
              steps_per_epoch: int) -> ModeTiming:
    """(b): the single-run trainer's step on device-resident data."""
    _reset_memory(device)
    model = build_model(cfg, data, device)
    amp_dtype, _ = resolve_precision(cfg, device)
    channels_last = device.type == "cuda" and cfg.arch != "mlp"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, cfg, device)
    on_device = data.to(device)
    prep = Preprocess.build(on_device, device, cfg.normalize, cfg.augment, channels_last)
    forward = torch.compile(model) if args.compile_single else model
    step_fn = make_train_step(forward, optimizer, loss_fn(cfg.loss, **cfg.loss_params), prep, amp_dtype)
    generator = epoch_generator(cfg.seed, 1, device)
    n = on_device.train_images.shape[0]
    batches = [b for b in epoch_batches(n, cfg.batch_size, generator) if b.numel() == cfg.batch_size]
    model.train()

    def steps(k: int, offset: int) -> None:
        total = torch.zeros((), dtype=torch.float64, device=device)
        for i in range(k):
            idx = batches[(offset + i) % len(batches)]
            total += step_fn(on_device.train_images[idx], on_device.train_labels[idx], generator)[0]

    warmup = _timed(device, lambda: steps(args.warmup, 0))
    step = _timed(device, lambda: steps(args.steps, args.warmup)) / args.steps
    model.eval()
    images = on_device.test_images[: args.eval_chunks * cfg.eval_batch_size]
    predict(forward, images[: cfg.eval_batch_size], prep, cfg.eval_batch_size, amp_dtype)
    per_image = _timed(device, lambda: predict(forward, images, prep, cfg.eval_batch_size, amp_dtype)) / images.shape[0]
    note = f"{'bf16' if amp_dtype else 'fp32'}, channels_last {channels_last}, compile {args.compile_single}"
    return _timing("b-fast", 1, step, steps_per_epoch, per_image * (n_train + n_test), warmup, _peak_gib(device), note)


def parse_variant(text: str) -> tuple[str, FusedOptions]:
    """'layout[+how]' -> (mode name, options): how is a torch.compile backend (inductor, cudagraphs,
    aot_eager), an inductor mode (reduce-overhead, max-autotune, ...) or eager (no compile); bare 'layout'
    is the trainer's default (inductor on CUDA)."""
    layout, _, how = text.strip().partition("+")
    if not how or how == "inductor":
        options = dict(layout=layout)
    elif how == "eager":
        options = dict(layout=layout, compile=False)
    elif how in COMPILE_BACKENDS:
        options = dict(layout=layout, compile=True, compile_backend=how)
    else:
        options = dict(layout=layout, compile=True, compile_mode=how)
    try:
        return f"c-fused:{text.strip()}", FusedOptions(**options)
    except BadInput as exc:
        raise ValueError(f"variant {text!r}: {exc}") from None


def time_fused(configs: list[TrainConfig], data: ImageData, device: torch.device, args, n_train: int, n_test: int,
               steps_per_epoch: int, mode: str = "c-fused:vmap", options: FusedOptions | None = None) -> ModeTiming:
    """(c): the fused group of ``configs`` (R runs) on device-resident data, run as ``options`` say; its
    warm-up compiles from a clean dynamo cache, as a new training process would."""
    _reset_memory(device)
    torch._dynamo.reset()
    options = options or FusedOptions()
    group = make_group(configs, data, [new_labels(cfg, data) for cfg in configs], device, options)
    generators, order, sizes = epoch_orders(group, 1)
    batches = [b for b, s in zip(order.split(sizes, dim=-1), sizes) if s == configs[0].batch_size]
    group.net.train()

    def steps(k: int, offset: int) -> None:
        total = torch.zeros(group.replicas, dtype=torch.float64, device=device)
        for i in range(k):
            total += train_step(group, batches[(offset + i) % len(batches)], generators)[0]

    eval_images = group.test_images[: args.eval_chunks * configs[0].eval_batch_size]

    def evaluate() -> None:
        group.net.eval()
        predict_all(group, eval_images, None)
        group.net.train()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warmup = _timed(device, lambda: (steps(args.warmup, 0), evaluate()))
    step = _timed(device, lambda: steps(args.steps, args.warmup)) / args.steps
    per_image = _timed(device, evaluate) / eval_images.shape[0]
    how = (f"compile {group.compile_backend}" + (f" ({group.compile_mode})" if group.compile_mode else "")
           if group.compiled else "eager")
    failed = [str(w.message) for w in caught if "torch.compile failed" in str(w.message)]
    note = (f"R={group.replicas}, {group.net.layout}, {how}, {'bf16' if group.amp_dtype else 'fp32'}, "
            f"channels_last {group.channels_last}, "
            f"{'one batch shared by all runs' if not group.batched_train_input else 'a batch per run'}"
            + (f"; {failed[0]}" if failed else ""))
    return _timing(mode, group.replicas, step, steps_per_epoch, per_image * (n_train + n_test), warmup,
                   _peak_gib(device), note)


def _timing(mode: str, runs: int, step: float, steps_per_epoch: int, eval_epoch: float, warmup: float,
            peak: float | None, note: str, epoch_overhead: float = 0.0) -> ModeTiming:
    train_epoch = step * steps_per_epoch + epoch_overhead
    epoch = train_epoch + eval_epoch
    return ModeTiming(mode, runs, step, train_epoch, eval_epoch, epoch, epoch / runs, warmup, peak, note)


def plan(args) -> list[tuple[tuple, str]]:
    """What to time, most needed first, so that a ``--budget`` cut drops the least: for every network its
    (a), (b) and first fused variant (what the ratios and the grid projection need), then the other
    fused variants network by network."""
    models = [m for m in MODELS if m[0] in args.models]
    single = [name for key, name in (("a", "a-baseline"), ("b", "b-fast")) if key in args.modes]
    fused = [f"c-fused:{v}" for v in args.variants] if "c" in args.modes else []
    return [(m, mode) for m in models for mode in single + fused[:1]] + [(m, mode) for m in models for mode in fused[1:]]


def summarize(result: "ModelResult") -> None:
    """Ratios against the fastest fused variant, and each mode's grid projection: 16 runs x the preset's
    epochs, ceil(16 / R) groups for a fused mode plus its warm-up once."""
    fused = {k: t for k, t in result.modes.items() if k.startswith("c-fused")}
    best = min(fused, key=lambda k: fused[k].per_model_epoch_seconds) if fused else None
    result.best_fused = best
    for key, mode in (("ratio_a_c", "a-baseline"), ("ratio_b_c", "b-fast")):
        value = None
        if best and mode in result.modes:
            value = result.modes[mode].per_model_epoch_seconds / fused[best].per_model_epoch_seconds
        setattr(result, key, value)
    result.grid_seconds = {}
    for name, t in result.modes.items():
        groups = math.ceil(GRID_RUNS / t.runs)
        result.grid_seconds[name] = groups * result.epochs * t.epoch_seconds + (t.warmup_seconds if t.runs > 1 else 0.0)


def grid_totals(models: list["ModelResult"]) -> dict[str, float]:
    """The whole grid per mode (a, b, and the best fused variant of each network), where every network has it."""
    totals = {m: sum(r.grid_seconds[m] for r in models) for m in ("a-baseline", "b-fast")
              if models and all(m in r.grid_seconds for r in models)}
    if models and all(r.best_fused for r in models):
        totals["c-fused (best variant per network)"] = sum(r.grid_seconds[r.best_fused] for r in models)
    return totals


def measure(args, device: torch.device, on_progress: Callable[[BenchmarkResult], None] | None = None) -> BenchmarkResult:
    """Time the plan in order; stop starting new items once ``args.budget`` seconds have passed (the rest
    is listed as skipped). ``on_progress`` gets the result so far after every item."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    res = BenchmarkResult(
        str(device), name, torch.__version__, datetime.datetime.now().isoformat(timespec="seconds"), args.replicas,
        args.batch_size, args.steps, args.warmup, args.eval_batch_size, args.workers,
        f"{args.steps} timed steps of batch {args.batch_size} after {args.warmup} warm-up steps, times "
        f"ceil(n_train / batch) steps per epoch (CIFAR-10 50,000, MNIST 60,000 training images), plus "
        f"{args.eval_chunks} timed evaluation batches of {args.eval_batch_size} scaled to n_train + n_test images",
        [], {}, budget=args.budget, command=args.command)
    start = time.perf_counter()
    cache: dict[str, tuple[ImageData, list[TrainConfig], ModelResult]] = {}
    for (arch, preset, channels, size, n_train, n_test), mode in plan(args):
        if args.budget is not None and time.perf_counter() - start > args.budget:
            res.skipped.append(f"{arch} {mode}")
            continue
        if arch not in cache:
            held = min(n_train, args.images) if args.images else n_train
            data = random_data(channels, size, held, args.eval_chunks * args.eval_batch_size)
            configs = grid_configs(preset, args.replicas, args.batch_size, args.eval_batch_size, str(device),
                                   args.seeds == "distinct")
            result = ModelResult(arch, preset, configs[0].epochs, n_train, n_test, math.ceil(n_train / args.batch_size))
            cache[arch] = data, configs, result
            res.models.append(result)
        data, configs, result = cache[arch]
        print(f"measuring {arch} ({preset}) {mode} on {device} ...", flush=True)
        common = (data, device, args, n_train, n_test, result.steps_per_epoch)
        if mode == "a-baseline":
            timing = time_baseline(configs[0], *common)
        elif mode == "b-fast":
            timing = time_fast(configs[0], *common)
        else:
            timing = time_fused(configs, *common, *parse_variant(mode.removeprefix("c-fused:")))
        result.modes[timing.mode] = timing
        print(f"  {timing.mode}: {timing.per_model_epoch_seconds:.3f} s per model-epoch "
              f"(warm-up {timing.warmup_seconds:.1f} s)", flush=True)
        summarize(result)
        res.grid_total_seconds = grid_totals(res.models)
        res.seconds = time.perf_counter() - start
        if on_progress:
            on_progress(res)
    res.seconds = time.perf_counter() - start
    return res


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 3 * 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.3f} s" if seconds < 10 else f"{seconds:.1f} s"


def format_table(res: BenchmarkResult) -> str:
    """The result as a markdown table with its header lines, the ratios and the grid projections."""
    lines = [f"grid speed on {res.device_name} ({res.device}), torch {res.torch}, {res.date}",
             f"R = {res.replicas}; {res.extrapolation}; measured in {_fmt(res.seconds)}"]
    lines += [f"command: `{res.command}`", ""] if res.command else [""]
    header = (f"| {'model':<15}| {'mode':<24}| {'train s/epoch':>13} | {'eval s/epoch':>12} | "
              f"{'s/model-epoch':>13} | {'warm-up':>8} | {'peak GiB':>8} | note |")
    lines += [header, "|" + "|".join("-" * len(c) for c in header.split("|")[1:-1]) + "|"]
    for m in res.models:
        for t in m.modes.values():
            peak = "-" if t.peak_memory_gib is None else f"{t.peak_memory_gib:.2f}"
            lines.append(f"| {m.arch:<15}| {t.mode:<24}| {_fmt(t.train_epoch_seconds):>13} | "
                         f"{_fmt(t.eval_epoch_seconds):>12} | {_fmt(t.per_model_epoch_seconds):>13} | "
                         f"{_fmt(t.warmup_seconds):>8} | {peak:>8} | {t.note} |")
    lines.append("")
    for m in res.models:
        ratios = ", ".join(f"{k[-3:].replace('_', '/')} = {v:.1f}x" for k, v in
                           (("ratio_a_c", m.ratio_a_c), ("ratio_b_c", m.ratio_b_c)) if v is not None)
        best = f" (c = {m.best_fused})" if m.best_fused else ""
        grid = ", ".join(f"{k} {_fmt(v)}" for k, v in m.grid_seconds.items())
        lines.append(f"{m.arch}: per model-epoch {ratios or '-'}{best}; its {GRID_RUNS} runs x {m.epochs} epochs: {grid}")
    if res.grid_total_seconds:
        totals = ", ".join(f"{k} {_fmt(v)}" for k, v in res.grid_total_seconds.items())
        lines.append(f"whole grid ({GRID_RUNS * len(res.models)} runs): {totals}")
    if res.skipped:
        lines.append(f"skipped (over the {_fmt(res.budget)} budget): {', '.join(res.skipped)}")
    lines.append("targets (H100): resnet32 a/c >= 10; fused whole grid < 60 min")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="cuda, cuda:N, cpu or auto")
    parser.add_argument("--steps", type=int, default=None,
                        help="timed training steps per mode (default 50 CUDA, 2 CPU)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 10 CUDA, 1 CPU)")
    parser.add_argument("--replicas", type=int, default=16, help="runs fused in (c) (default 16: a preset's grid)")
    parser.add_argument("--batch-size", type=int, default=None, help="default 128 (the presets') on CUDA, 16 on CPU")
    parser.add_argument("--eval-batch-size", type=int, default=None, help="default 1024 on CUDA, 32 on CPU")
    parser.add_argument("--eval-chunks", type=int, default=None,
                        help="timed evaluation batches (default 5 CUDA, 1 CPU)")
    parser.add_argument("--images", type=int, default=None,
                        help="training images held (default: the dataset's size on CUDA, 256 on CPU)")
    parser.add_argument("--workers", type=int, default=None, help="baseline DataLoader workers (default 4 CUDA, 0 CPU)")
    parser.add_argument("--models", default=",".join(m[0] for m in MODELS), help="comma-separated subset")
    parser.add_argument("--modes", default="a,b,c", help="comma-separated subset of a,b,c")
    parser.add_argument("--seeds", choices=("same", "distinct"), default="same",
                        help="fused runs' seeds: same (as `symtheory grid --seeds 0`: one batch feeds all runs) "
                             "or distinct (a batch per run)")
    parser.add_argument("--variants", default=None,
                        help="comma-separated fused variants timed in (c), each layout[+how]: layout vmap or loop, "
                             "how a compile backend (inductor, cudagraphs, aot_eager), an inductor mode "
                             "(reduce-overhead, max-autotune) or eager; bare layout = the trainer's default "
                             f"(default {DEFAULT_VARIANTS[0]} on CUDA, {DEFAULT_VARIANTS[1]} on CPU)")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds: start no new measurement after this (the rest is listed as skipped)")
    parser.add_argument("--compile-single", action="store_true", help="torch.compile the model in (b) too")
    parser.add_argument("--out", type=Path, default=None,
                        help="write the results as JSON (after every measurement) and the table beside it as .md")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    defaults = dict(steps=(50, 2), warmup=(10, 1), batch_size=(128, 16), eval_batch_size=(1024, 32),
                    eval_chunks=(5, 1), images=(None, 256), workers=(4, 0), variants=DEFAULT_VARIANTS)
    for key, (gpu, cpu) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, gpu if cuda else cpu)
    args.models = [m.strip() for m in args.models.split(",")]
    args.modes = [m.strip() for m in args.modes.split(",")]
    args.variants = [v.strip() for v in args.variants.split(",")]
    unknown = [m for m in args.models if m not in {spec[0] for spec in MODELS}] + \
        [m for m in args.modes if m not in ("a", "b", "c")]
    if unknown:
        parser.error(f"unknown model or mode: {', '.join(unknown)}")
    for variant in args.variants:
        try:
            parse_variant(variant)
        except ValueError as exc:
            parser.error(str(exc))
    args.device_obj = device
    args.command = shlex.join(["python", "benchmarks/grid_speed.py", *(sys.argv[1:] if argv is None else argv)])
    return args


def main(argv: list[str] | None = None) -> BenchmarkResult:
    args = parse_args(argv)

    def write(result: BenchmarkResult) -> None:
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(asdict(result), indent=2) + "\n")
            args.out.with_suffix(".md").write_text(format_table(result) + "\n")

    result = measure(args, args.device_obj, on_progress=write)
    write(result)
    print("\n" + format_table(result))
    if args.out:
        print(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return result


if __name__ == "__main__":
    main()
