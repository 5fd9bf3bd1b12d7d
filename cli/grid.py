"""``symtheory grid``: the eta x loss grid of one preset, skipping finished runs and resuming interrupted ones."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from symtheory.cli.app import app, resume_hint_on_interrupt
from symtheory.cli.grid_display import RESUME_HINT, grid_progress, print_outcomes
from symtheory.wording import plural
from symtheory.cli.output import print_json
from symtheory.empirical.threads import THREADS_HELP
from symtheory.errors import BadInput


def parse_list(text: Optional[str], kind=str, what: str = "value") -> list | None:
    """'cce,rll' -> ['cce', 'rll']; BadInput on an empty item or a value of the wrong kind."""
    if text is None:
        return None
    items = [part.strip() for part in text.split(",")]
    if not all(items):
        raise BadInput(f"empty {what} in {text!r}")
    try:
        return [kind(item) for item in items]
    except ValueError:
        raise BadInput(f"cannot read {what}s from {text!r}") from None


def parse_losses(text: Optional[str], expressions: Optional[List[str]]) -> list[str] | None:
    """--losses as a list (None: the default); 'none' is no registry loss, allowed only beside --expr."""
    if text is not None and text.strip().lower() == "none":
        if not expressions:
            raise BadInput("--losses none leaves the grid without a loss; give --expr, or name losses")
        return []
    return parse_list(text, str, "loss")


def backend_options(backend: str, owner: str, flag: str, **values) -> dict:
    """The options given (not None) that belong to backend ``owner``; BadInput naming the first one if the
    chosen backend is another."""
    given = {name: value for name, value in values.items() if value is not None}
    if given and backend != owner:
        name = next(iter(given)).replace("_", "-")
        raise BadInput(f"--{'compile/--no-compile' if name == 'compile' else name} needs {flag}")
    return given


@app.command("grid")
def grid_command(
    preset: Optional[str] = typer.Option(None, "--preset", help="cifar10-resnet32, cifar10-inception, mnist-resnet18, "
                                         "cifar10-inception-authors-code; without it the free-flag defaults (mlp, mnist)."),
    losses: Optional[str] = typer.Option(None, "--losses", help="Comma-separated losses (default: the preset's: "
                                         "cce,mse,rll,nmse; 'none' with --expr for your losses alone)."),
    expr: Optional[List[str]] = typer.Option(None, "--expr", metavar="EXPRESSION", help="Your own loss, written as "
                                             "for check-loss --expr "
                                             "(its parameters by --param), trained beside the grid's losses in "
                                             "OUT/expr-<hash>-eta<eta>-seed<seed>/. Repeatable."),
    etas: Optional[str] = typer.Option(None, "--etas", help="Comma-separated noise rates (default: 0,0.2,0.4,0.6)."),
    seeds: str = typer.Option("0", "--seeds", help="Comma-separated seeds."),
    out: Path = typer.Option(Path("runs/grid"), "--out", help="Grid directory; each run in <loss>-eta<eta>-seed<seed>/."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Override the dataset, e.g. cifar10-subset."),
    arch: Optional[str] = typer.Option(None, "--arch", help="Override the network."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Override the number of epochs."),
    subset: Optional[int] = typer.Option(None, "--subset", help="Train on a seeded subset of N images."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Override the batch size."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Override the base learning rate."),
    lr_schedule: Optional[str] = typer.Option(None, "--lr-schedule", help="constant, multistep:100,150:0.1 or "
                                              "exponential:0.95."),
    optimizer: Optional[str] = typer.Option(None, "--optimizer", help="sgd or adam."),
    momentum: Optional[float] = typer.Option(None, "--momentum", help="SGD momentum."),
    weight_decay: Optional[float] = typer.Option(None, "--weight-decay", help="L2 weight decay."),
    alpha: Optional[str] = typer.Option(None, "--alpha", help="Same as --param alpha=VALUE: every grid loss with an "
                                        "alpha takes it (RLL's offset; the CE weight of sce, nce+rce, nce+mae)."),
    param: Optional[List[str]] = typer.Option(None, "--param", "-p", help="A loss parameter, name=value, for the "
                                              "grid's losses that have it (e.g. q=0.7 for gce). Repeatable."),
    sweep: Optional[str] = typer.Option(None, "--sweep", help="The grid once per value of a loss parameter, "
                                        "name=v1,v2,... (e.g. alpha=0.01,0.1,0.45): the losses that have it in "
                                        "OUT/<name><value>/, the others once in OUT/."),
    noise: Optional[str] = typer.Option(None, "--noise", help="symmetric (default) or pair, at each eta."),
    augment: Optional[bool] = typer.Option(None, "--augment/--no-augment", help="Override augmentation: random crop, and flip on CIFAR-10."),
    normalize: Optional[bool] = typer.Option(None, "--normalize/--no-normalize", help="Override per-channel "
                                             "mean/std normalization."),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu, cuda, cuda:N."),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP + " Not with --backend ray "
                                          "(--cpus-per-run sets a Ray run's threads)."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Dataset root (default $SYMTHEORY_DATA, then the user cache)."),
    download: bool = typer.Option(False, "--download", help="Download missing datasets (needs internet)."),
    backend: Optional[str] = typer.Option(None, "--backend", help="local (one run after another; the default), fused "
                                          "(all runs as one wide model on one device) or ray (a Ray cluster)."),
    fused: bool = typer.Option(False, "--fused", help="Same as --backend fused."),
    address: Optional[str] = typer.Option(None, "--address", help="Ray: 'auto', 'ray://host:port', or none for a local instance."),
    gpus_per_run: Optional[float] = typer.Option(None, "--gpus-per-run", help="Ray: GPUs per run, a fraction shares one (default 0; e.g. 0.25)."),
    cpus_per_run: Optional[float] = typer.Option(None, "--cpus-per-run", help="Ray: CPUs per run, also its torch threads (default 1)."),
    max_retries: Optional[int] = typer.Option(None, "--max-retries", help="Ray: retries of a run whose worker died or that raised (default 2)."),
    layout: Optional[str] = typer.Option(None, "--layout", help="Fused: vmap (one grouped kernel per layer; default "
                                         "on CUDA) or loop (R kernels per layer; default on the CPU); the same math."),
    compile_fused: Optional[bool] = typer.Option(None, "--compile/--no-compile", help="Fused: torch.compile the step "
                                                 "(default: on CUDA)."),
    compile_backend: Optional[str] = typer.Option(None, "--compile-backend", help="Fused: inductor (default), "
                                                  "cudagraphs, aot_eager or eager."),
    compile_mode: Optional[str] = typer.Option(None, "--compile-mode", help="Fused, inductor: default, "
                                               "reduce-overhead, max-autotune, max-autotune-no-cudagraphs."),
    checkpoint_every: Optional[int] = typer.Option(None, "--checkpoint-every", help="Fused: write checkpoints every "
                                                   "N epochs (and after the last; default 1)."),
    batch_order: Optional[str] = typer.Option(None, "--batch-order", help="Fused: per-run (default; each run's own "
                                              "seed) or shared (run 0's order for all)."),
    as_json: bool = typer.Option(False, "--json", help="Print what happened to each run as JSON."),
) -> None:
    """Train the eta x loss grid of a preset: finished runs are skipped, interrupted ones resumed."""
    from symtheory.analysis import parse_param_options
    from symtheory.empirical.config import LRSchedule
    from symtheory.empirical.grid import (
        BACKENDS, check_existing_runs, check_grid_inputs, epochs_counted_by_run, plan_grid, plan_sweep, run_grid,
    )

    from symtheory.empirical.threads import check_threads, torch_threads

    check_threads(threads)
    if fused and backend not in (None, "fused"):
        raise BadInput(f"--fused is --backend fused; it cannot be combined with --backend {backend}")
    backend = "fused" if fused else backend or "local"
    if backend not in BACKENDS:
        raise BadInput(f"unknown backend {backend!r}; choices: {', '.join(BACKENDS)}")
    ray_options = backend_options(backend, "ray", "--backend ray", address=address, gpus_per_run=gpus_per_run,
                                  cpus_per_run=cpus_per_run, max_retries=max_retries)
    fused_options = backend_options(backend, "fused", "--fused", layout=layout, compile=compile_fused,
                                    compile_backend=compile_backend, compile_mode=compile_mode,
                                    checkpoint_every=checkpoint_every, batch_order=batch_order)
    if backend == "ray" and threads is not None:
        raise BadInput("--threads sets this process's torch threads; Ray runs take theirs from --cpus-per-run")
    if fused_options:
        from symtheory.empirical.fused import FusedOptions

        FusedOptions(**fused_options)
    if noise == "matrix":
        raise BadInput("a grid varies eta; train transition-matrix noise with symtheory train --noise-matrix")
    overrides = dict(dataset=dataset, arch=arch, epochs=epochs, subset=subset, batch_size=batch_size, device=device,
                     lr=lr, lr_schedule=LRSchedule.parse(lr_schedule) if lr_schedule else None, optimizer=optimizer,
                     momentum=momentum, weight_decay=weight_decay, noise=noise, augment=augment, normalize=normalize)
    given_params = parse_param_options(param, alpha)
    cells = (parse_losses(losses, expr), parse_list(etas, float, "eta"), parse_list(seeds, int, "seed"))
    expressions = expr or []
    runs = (plan_grid(out, preset, *cells, loss_params=given_params, expressions=expressions, **overrides)
            if sweep is None else
            plan_sweep(out, sweep, preset, *cells, loss_params=given_params, expressions=expressions, **overrides))
    total_epochs = sum(r.config.epochs for r in runs)
    table_path = out / "grid.csv"
    check_existing_runs(runs)
    check_grid_inputs(runs, out, backend, data_dir, download)
    with grid_progress(f"grid ({plural(len(runs), 'run')})", total_epochs, epochs_counted_by_run(runs),
                       quiet=as_json) as (on_run, on_epoch):
        with resume_hint_on_interrupt(lambda: RESUME_HINT), torch_threads(threads):
            outcomes = run_grid(runs, backend, data_dir=data_dir, download=download, on_run=on_run,
                                on_epoch=on_epoch, table=table_path, **ray_options, **fused_options)
    rows = [o.__dict__ for o in outcomes]
    if as_json:
        print_json(rows)
        if any(o.status != "finished" for o in outcomes):
            raise typer.Exit(1)
        return
    if print_outcomes(outcomes, f"grid in {out}", f"one row per run: {table_path}"):
        raise typer.Exit(1)
