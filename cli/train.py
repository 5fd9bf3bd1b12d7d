"""Experiment commands: ``train`` (one noisy-label run, J1/J2 per epoch) and ``plot`` (the paper's figures).

Torch is imported inside the commands only, so ``symtheory --help`` and the theory commands never load it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from symtheory.cli.app import app, resume_hint_on_interrupt
from symtheory.cli.output import console, print_json
from symtheory.empirical.config import TrainConfig as DEFAULTS
from symtheory.empirical.provenance import changes_note
from symtheory.empirical.threads import THREADS_HELP
from symtheory.errors import BadInput
from symtheory.wording import plural


def _loss_params(loss: str, alpha: Optional[str], params: Optional[List[str]]) -> dict[str, float]:
    """--alpha and --param name=value, read exactly (see :func:`~symtheory.empirical.presets.exact_loss_params`)."""
    from symtheory.analysis import parse_param_options
    from symtheory.empirical.presets import exact_loss_params

    return exact_loss_params(loss, parse_param_options(params, alpha))


def _progress(stream_console, total: int, start: int):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[stats]}"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=stream_console, transient=False,
    )
    task = progress.add_task("epoch", total=total, completed=start, stats="")
    return progress, task


def _stats(row: dict) -> str:
    def pct(value):
        return "  -  " if value is None else f"{100 * value:5.1f}"

    return (f"loss {row['train_loss']:.4f}  J1 [cyan]{pct(row['j1'])}[/cyan]  J2 [magenta]{pct(row['j2'])}[/magenta]"
            f"  test {pct(row['test_acc'])}")


def _noise_text(kind: str, eta: float | None) -> str:
    return "transition-matrix noise" if kind == "matrix" else f"{kind} eta={eta:g}"


def _print_summary(summary: dict) -> None:
    from rich.table import Table

    def pct(value):
        return "-" if value is None else f"{100 * value:.2f}%"

    final, best = summary["final"], summary["best_j2"]
    table = Table(title=escape(f"{summary['run_dir']}: {summary['status']}"), show_header=False, title_justify="left")
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    table.add_column("", style="dim")
    table.add_row("epochs", f"{summary['epochs_completed']}/{summary['epochs_planned']}", "")
    table.add_row("J1", pct(final["j1"]), "accuracy on the given (noisy) labels")
    table.add_row("J2", pct(final["j2"]), "accuracy on the clean labels")
    table.add_row("kept part", pct(final["acc_kept"]), "accuracy where the label was not flipped")
    table.add_row("flipped part", pct(final["acc_flipped"]), "clean-label accuracy where it was flipped")
    table.add_row("memorized", pct(final["memorized"]), "flipped examples predicted as their noisy label")
    table.add_row("test", pct(final["test_acc"]), "clean test set")
    table.add_row("best J2", f"{pct(best['value'])} @ {best['epoch']}" if best else "-", "")
    table.add_row("wall", f"{summary['wall_seconds']:.1f} s", escape(summary["device"]))
    console.print(table)
    console.print(f"{summary['dataset']} (n={summary['num_train']}), {summary['arch']}, {summary['loss']}, "
                  f"{_noise_text(summary['noise'], summary['eta'])} (realised flip rate "
                  f"{summary['realised_flip_rate']:.4f}), seed {summary['seed']}", soft_wrap=True, markup=False)


def _resume_hint(run_dir: Path) -> str:
    """How to go on after Ctrl-C: the interrupted run's own message (from its summary.json), else whether its
    directory can be resumed or the command simply run again."""
    from symtheory.empirical.run_dir import read_summary

    summary = read_summary(run_dir)
    if summary.get("status") == "interrupted" and summary.get("message"):
        return summary["message"]
    if (run_dir / "config.json").is_file():
        return f"--resume {run_dir} continues"
    return "no epoch ran; run the same command again"


@app.command("train")
def train_command(
    preset: Optional[str] = typer.Option(None, "--preset", help="A paper experiment: cifar10-resnet32, "
                                         "cifar10-inception, mnist-resnet18 (or cifar10-inception-authors-code)."),
    arch: Optional[str] = typer.Option(None, "--arch", help="Network: mlp, resnet18, resnet32, inception-lite "
                                       f"(default {DEFAULTS.arch}, or the preset's)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="mnist, fashion-mnist, cifar10, cifar10-subset "
                                          f"(default {DEFAULTS.dataset}, or the preset's)."),
    loss: Optional[str] = typer.Option(None, "--loss", help="A differentiable registry loss (cce, mse, rll, nmse, ...; "
                                       f"default {DEFAULTS.loss})."),
    expr: Optional[str] = typer.Option(None, "--expr", help="Your own loss instead, written as for check-loss "
                                       "--expr (its parameters by --param); the run's loss is named 'expr'."),
    eta: Optional[float] = typer.Option(None, "--eta", help=f"Label-noise rate in [0, 1) (default {DEFAULTS.eta:g})."),
    noise: Optional[str] = typer.Option(None, "--noise", help="symmetric (default), pair, or matrix."),
    noise_matrix: Optional[Path] = typer.Option(None, "--noise-matrix", help="CSV of a K x K row-stochastic "
                                                "transition matrix, row i = P(noisy label | clean i); implies --noise matrix."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help=f"Number of epochs (default {DEFAULTS.epochs}, or the "
                                         "preset's; with --resume: extend to this many)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help=f"Mini-batch size (default {DEFAULTS.batch_size})."),
    lr: Optional[float] = typer.Option(None, "--lr", help=f"Base learning rate (default {DEFAULTS.lr:g}, or the preset's)."),
    lr_schedule: Optional[str] = typer.Option(None, "--lr-schedule", help="constant, multistep:100,150:0.1 or exponential:0.95."),
    optimizer: Optional[str] = typer.Option(None, "--optimizer", help=f"sgd or adam (default {DEFAULTS.optimizer}, or "
                                            "the preset's)."),
    momentum: Optional[float] = typer.Option(None, "--momentum", help=f"SGD momentum (default {DEFAULTS.momentum:g})."),
    weight_decay: Optional[float] = typer.Option(None, "--weight-decay", help=f"L2 weight decay (default "
                                                 f"{DEFAULTS.weight_decay:g}, or the preset's)."),
    alpha: Optional[str] = typer.Option(None, "--alpha", help="The loss's alpha (RLL: default 0.1)."),
    param: Optional[List[str]] = typer.Option(None, "--param", "-p", help="Another loss parameter, name=value. Repeatable."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of noise, subset, initialization and batch order "
                                       f"(default {DEFAULTS.seed})."),
    subset: Optional[int] = typer.Option(None, "--subset", help="Train on a seeded class-stratified sample of N training images."),
    augment: Optional[bool] = typer.Option(None, "--augment/--no-augment", help="Random 4-pixel crop, and left-right flip on CIFAR-10 (never on digits) (default off)."),
    normalize: Optional[bool] = typer.Option(None, "--normalize/--no-normalize", help="Per-channel mean/std (default on)."),
    device: Optional[str] = typer.Option(None, "--device", help="auto (default: CUDA when present), cpu, cuda, cuda:N."),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    precision: Optional[str] = typer.Option(None, "--precision", help="auto (bf16 on CUDA, fp32 on CPU), fp32, bf16."),
    channels_last: Optional[bool] = typer.Option(None, "--channels-last/--no-channels-last", help="Default: on for conv nets on CUDA."),
    compile_model: Optional[bool] = typer.Option(None, "--compile/--no-compile", help="torch.compile the network "
                                                 "(default off)."),
    deterministic: Optional[bool] = typer.Option(None, "--deterministic/--no-deterministic", help="Deterministic algorithms (default: on for CPU)."),
    eval_batch_size: Optional[int] = typer.Option(None, "--eval-batch-size", help="Batch size of the J1/J2/test "
                                                  f"evaluation (default {DEFAULTS.eval_batch_size})."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Data root in torchvision's layout (default $SYMTHEORY_DATA, then ~/.cache/symtheory/data)."),
    download: bool = typer.Option(False, "--download", help="Let torchvision download missing data (needs internet)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run directory (default runs/<preset or arch>-<dataset>-<loss>-eta<eta>-seed<seed>)."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue the run in this directory from its last checkpoint."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON (progress goes to stderr)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Train one network on noisy labels, recording J1 (noisy-label accuracy) and J2 (clean) every epoch."""
    from symtheory.empirical.presets import build_config
    from symtheory.empirical.threads import check_threads, torch_threads

    check_threads(threads)

    free = {
        "arch": arch, "dataset": dataset, "loss": loss, "expr": expr, "eta": eta, "noise": noise,
        "noise_matrix": noise_matrix,
        "batch_size": batch_size, "lr": lr, "lr_schedule": lr_schedule, "optimizer": optimizer, "momentum": momentum,
        "weight_decay": weight_decay, "alpha": alpha, "param": param or None, "seed": seed, "subset": subset,
        "augment": augment, "normalize": normalize, "precision": precision, "channels_last": channels_last,
        "deterministic": deterministic, "eval_batch_size": eval_batch_size, "preset": preset, "out": out,
    }
    if resume is not None:
        given = sorted(f"--{k.replace('_', '-')}" for k, v in free.items() if v is not None)
        if given:
            raise BadInput(f"--resume continues a run with its saved settings; only --epochs, --device, --threads, "
                           f"--compile and --data-dir may be given (got {', '.join(given)})")
        config, target = None, resume
        overrides = {"epochs": epochs, "device": device, "compile": compile_model}
    else:
        from symtheory.empirical.config import LRSchedule
        from symtheory.empirical.presets import get_preset
        from symtheory.empirical.run_dir import RunDir
        from symtheory.registry import get_loss

        if expr is not None and loss is not None:
            raise BadInput("--expr is the loss; give --loss or --expr, not both")
        loss_name = "expr" if expr is not None else get_loss(loss).name if loss else (None if preset else "cce")
        if preset:
            get_preset(preset)
        matrix = None
        if noise_matrix is not None:
            if noise not in (None, "matrix"):
                raise BadInput(f"--noise-matrix gives matrix noise; it cannot be combined with --noise {noise}")
            if eta is not None:
                raise BadInput("--noise-matrix fixes the noise by its matrix; --eta has no effect with it (drop --eta)")
            from symtheory.empirical.config import get_dataset_spec
            from symtheory.empirical.label_noise import read_matrix_csv

            chosen = dataset or (get_preset(preset).dataset if preset else "mnist")
            matrix = tuple(map(tuple, read_matrix_csv(noise_matrix, get_dataset_spec(chosen).num_classes).tolist()))
        config = build_config(
            preset, loss=loss_name, eta=eta, arch=arch, dataset=dataset,
            loss_params=_loss_params(loss_name or "cce", alpha, param) or None, loss_expr=expr,
            noise=("matrix" if matrix is not None else noise), noise_matrix=matrix, epochs=epochs,
            batch_size=batch_size, lr=lr, lr_schedule=LRSchedule.parse(lr_schedule) if lr_schedule else None,
            optimizer=optimizer.lower() if optimizer else None, momentum=momentum, weight_decay=weight_decay,
            seed=seed, subset=subset, augment=augment, normalize=normalize, device=device, precision=precision,
            channels_last=channels_last, compile=compile_model, deterministic=deterministic,
            eval_batch_size=eval_batch_size,
        )
        target = out or Path("runs") / config.run_name()
        RunDir.ensure_new(target)
        overrides = {}

    from rich.console import Console

    from symtheory.empirical.train import train

    stream = Console(stderr=True, highlight=False) if as_json else console
    state: dict = {}

    def on_start(info: dict) -> None:
        cfg = info["config"]
        if not as_json:
            console.print(f"[bold]{escape(str(info['run_dir']))}[/bold]: {cfg.arch} on {cfg.dataset}, {cfg.loss}, "
                          f"{_noise_text(cfg.noise, cfg.eta)}, seed {cfg.seed}, {cfg.optimizer} lr {cfg.lr:g}",
                          soft_wrap=True)
        if info.get("setup_changes"):
            stream.print(f"note: {changes_note(info['setup_changes'])}", soft_wrap=True, markup=False)
        if info["start_epoch"] >= info["epochs"]:
            if not as_json:
                console.print(f"nothing to train: all {plural(info['epochs'], 'epoch')} are recorded "
                              "(give --epochs with more to extend it)")
        elif not quiet:
            state["progress"], state["task"] = _progress(stream, info["epochs"], info["start_epoch"])
            state["progress"].start()

    def on_epoch(row: dict) -> None:
        if "progress" in state:
            state["progress"].update(state["task"], completed=row["epoch"], stats=_stats(row))

    try:
        with resume_hint_on_interrupt(lambda: _resume_hint(target)), torch_threads(threads):
            result = train(config, target, resume=resume is not None, data_dir=data_dir, download=download,
                           on_start=on_start, on_epoch=on_epoch, **{k: v for k, v in overrides.items() if v is not None})
    finally:
        if "progress" in state:
            state["progress"].stop()
    if as_json:
        print_json(result.summary)
    else:
        _print_summary(result.summary)
    if result.status != "finished":
        print(f"symtheory: {result.message}", file=sys.stderr)
        raise typer.Exit(1)


@app.command("plot")
def plot_command(
    runs: List[Path] = typer.Argument(..., help="Run directories, or folders holding run directories at any depth "
                                      "(files among them, such as a grid's grid.csv, are skipped)."),
    output: Path = typer.Option(..., "--output", "-o", help="Figure file (.png, .pdf, .svg)."),
    kind: str = typer.Option("j1j2", "--kind", help="j1: training accuracy per eta (paper Figs. 1-3); "
                             "j1j2: J1 solid, J2 dashed (Figs. 4-5)."),
    title: Optional[str] = typer.Option(None, "--title", help="A title over the panels."),
) -> None:
    """Plot J1 (and J2) per epoch: a panel per experiment and loss, a line per eta; seeds as mean and band."""
    from symtheory.empirical.plots import collect_runs, plot_runs, runs_not_drawn

    from symtheory.figure_file import figure_target

    figure_target(output, "--output", "j1.png")
    unreadable: list = []
    records = collect_runs(list(runs), unreadable)
    path = plot_runs(records, output, kind=kind, title=title)
    left_out = unreadable + runs_not_drawn(records)
    drawn = len(records) + len(unreadable) - len(left_out)
    console.print(f"wrote {path} ({plural(drawn, 'run')}" + (f"; {len(left_out)} left out" if left_out else "") + ")",
                  soft_wrap=True, markup=False)
    for run_dir, why in left_out:
        console.print(f"  left out {run_dir}: {why}", soft_wrap=True, markup=False)
