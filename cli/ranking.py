"""``verify-ranking``: Theorem 1 checked numerically on synthetic finite distributions (numpy only)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import List, Optional

import typer

from symtheory.cli.app import app
from symtheory.cli.output import console, print_json
from symtheory.errors import BadInput
from symtheory.exact_numbers import exact_number

MAX_RATES = 1000
ERM_SAMPLES = 500
"""Default training-set size of --erm."""
ERM_SEEDS = 20
"""Default number of training sets of --erm."""


def parse_rates(text: str) -> list[Fraction]:
    """'0.2,0.6' or '0:0.95:0.05' (start:stop:step, stop included) or a mix, as exact fractions in [0, 1], repeats
    dropped; at most MAX_RATES distinct rates in all."""
    from symtheory.noise_settings import parse_rate

    rates: list[Fraction] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            raise BadInput(f"--eta: empty item in {text!r}")
        if ":" not in item:
            rates.append(parse_rate(item))
            continue
        bits = item.split(":")
        if len(bits) != 3:
            raise BadInput(f"--eta: a range is start:stop:step, got {item!r}")
        start, stop, step = (parse_rate(b) if i < 2 else _step(b) for i, b in enumerate(bits))
        if stop < start:
            raise BadInput(f"--eta: the range {item!r} is empty (stop < start)")
        count = int((stop - start) / step) + 1
        if count > MAX_RATES:
            raise BadInput(f"--eta: the range {item!r} has {count} rates; at most {MAX_RATES}")
        rates.extend(start + i * step for i in range(count))
        if len(rates) > MAX_RATES and len(set(rates)) > MAX_RATES:
            raise BadInput(f"--eta {text!r} gives more than {MAX_RATES} distinct rates; at most {MAX_RATES} in all")
    return list(dict.fromkeys(rates))


def _step(text: str) -> Fraction:
    step = exact_number(text, "--eta: step")
    if step <= 0:
        raise BadInput(f"--eta: the step must be positive, got {text}")
    return step


def parse_losses(text: str) -> tuple[str, ...]:
    """'all', 'none' (only the --expr losses) or a comma-separated list of registry losses (canonical names)."""
    from symtheory.registry import LOSSES, get_loss

    if text.strip().lower() == "all":
        return tuple(LOSSES)
    if text.strip().lower() == "none":
        return ()
    return tuple(dict.fromkeys(get_loss(part).name for part in text.split(",") if part.strip()))


def build_settings(eta: Optional[str], noise: str, classes: int):
    """Noise settings: a named kind at each rate, or one matrix read from a CSV file."""
    from symtheory import noise_matrices as nm
    from symtheory.noise_settings import setting_from_matrix, settings_for

    nm.check_classes(classes)
    if noise.strip().lower() in nm.NAMED_KINDS:
        if eta is None:
            raise BadInput("give the noise rate(s) with --eta, e.g. --eta 0.6 or --eta 0:0.95:0.05")
        return settings_for(parse_rates(eta), classes, noise.strip().lower())
    if Path(noise).is_dir():
        raise BadInput(f"--noise-matrix {noise!r} is a folder; give a CSV file of a K x K row-stochastic matrix")
    if not Path(noise).is_file():
        raise BadInput(f"--noise-matrix {noise!r} is neither a kind ({', '.join(nm.NAMED_KINDS)}) nor a file")
    if eta is not None:
        raise BadInput("--eta applies to named noise kinds; a noise-matrix file fixes the noise by itself")
    return [setting_from_matrix(nm.load(noise, classes), classes, Path(noise).name)]


def _fmt(x: Optional[float], spec: str = ".4g") -> str:
    return "-" if x is None else format(x, spec)


@app.command("verify-ranking")
def verify_ranking_command(
    eta: Optional[str] = typer.Option(None, "--eta", help="Noise rate(s): a list '0.2,0.6' or a range "
                                      "'0:0.95:0.05' (start:stop:step, stop included); exact, so 0.9 is 9/10."),
    loss: Optional[str] = typer.Option(None, "--loss", help="'all', 'none' or comma-separated registry "
                                       "losses, e.g. 'rll,cce' (default: all; with --expr: none besides it)."),
    expr: Optional[List[str]] = typer.Option(None, "--expr", metavar="EXPRESSION", help="Your own loss too, as "
                                             "check-loss --expr reads it (p = g_k, sum_other(f(q)), K, "
                                             "parameters); shown as 'expr' (several: expr1, expr2, ...). "
                                             "Repeatable."),
    param: Optional[List[str]] = typer.Option(None, "--param", "-p", help="A value for each parameter of --expr, "
                                              "name=value (each expression takes those it has). Repeatable."),
    classes: int = typer.Option(10, "--classes", "-K", help="Number of classes K >= 2."),
    classifiers: int = typer.Option(200, "--classifiers", help="Size of the classifier family to rank."),
    support: int = typer.Option(1000, "--support", help="Number of support points of the finite distribution."),
    seed: int = typer.Option(0, "--seed", help="Seed of the numpy Generator that draws everything."),
    labels: str = typer.Option("posterior", "--labels", help="Clean label rule: 'posterior' (p(y|x) from a "
                               "softmax teacher) or 'deterministic' (its argmax; needed by Ghosh et al.'s Thm. 3)."),
    noise_matrix: str = typer.Option("symmetric", "--noise-matrix", help="'symmetric', 'pair-flip', "
                                     "'asymmetric' (at each --eta), or a CSV file with a K x K row-stochastic T."),
    samples: int = typer.Option(10_000, "--samples", help="Monte Carlo sample size for sampled risks (0: off)."),
    erm: bool = typer.Option(False, "--erm", help="Also run ERM over the family on sampled training sets."),
    erm_samples: Optional[int] = typer.Option(None, "--erm-samples", help="Training-set size for --erm "
                                              f"(default {ERM_SAMPLES})."),
    erm_seeds: Optional[int] = typer.Option(None, "--erm-seeds", help="Number of training sets (seeds) for --erm "
                                            f"(default {ERM_SEEDS})."),
    rtol: float = typer.Option(1e-12, "--rtol", help="Tie tolerance: risks within rtol * max|risk| are tied "
                               "(float64 rounding of these sums is ~1e-15 of the risk)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Threads for the risk computation "
                                          "(default: the CPUs available)."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Write a figure of tau against eta per loss (format "
                                        "from the suffix: .png, .pdf, .svg, ...; none: .png added)."),
    as_json: bool = typer.Option(False, "--json", help="Print the full report as JSON."),
) -> None:
    """Rank classifiers by clean and by noisy risk and compare (Patel & Sastry 2021, Theorem 1)."""
    import numpy as np

    from symtheory.ranking import RankingConfig, verify_ranking

    settings = build_settings(eta, noise_matrix, classes)
    if seed < 0:
        raise BadInput(f"--seed must be at least 0, got {seed}")
    if not 0 <= rtol < 1:
        raise BadInput(f"--rtol must lie in [0, 1), got {rtol}")
    if workers is not None and workers < 1:
        raise BadInput(f"--workers must be at least 1, got {workers}")
    from symtheory.analysis import parse_param_options
    from symtheory.user_loss import user_losses

    if param and not expr:
        raise BadInput("--param gives values to the parameters of --expr; give --expr too")
    users = user_losses(expr or [], parse_param_options(param))
    names = parse_losses(loss) if loss is not None else (() if users else parse_losses("all"))
    if not names and not users:
        raise BadInput("--loss none leaves no loss to check; give your own with --expr")
    if not erm:
        given = [flag for flag, value in (("--erm-samples", erm_samples), ("--erm-seeds", erm_seeds)) if value is not None]
        if given:
            raise BadInput(f"{' and '.join(given)} size{'s' if len(given) == 1 else ''} the ERM check; give --erm too")
    erm_samples = ERM_SAMPLES if erm_samples is None else erm_samples
    erm_seeds = ERM_SEEDS if erm_seeds is None else erm_seeds
    if erm and erm_seeds < 1:
        raise BadInput(f"--erm needs at least 1 training set (--erm-seeds), got {erm_seeds}")
    if erm and erm_samples < 1:
        raise BadInput(f"--erm-samples must be at least 1, got {erm_samples}")
    config = RankingConfig(classes, classifiers, support, names, labels, samples,
                           erm_samples if erm else 0, erm_seeds if erm else 0, rtol, users).validated()
    if plot is not None:
        from symtheory.figure_file import figure_target

        plot = figure_target(plot, "--plot", "tau.png")
    with _ProgressBar(config.classifiers, quiet=as_json) as advance:
        report = verify_ranking(settings, config, np.random.default_rng(seed), workers, advance)
    if plot is not None:
        from symtheory.ranking_plot import plot_tau

        plot = plot_tau(report, plot)
    if as_json:
        data = report.to_dict()
        data["seed"] = seed
        data["plot"] = None if plot is None else str(plot)
        print_json(data)
        return
    _print_report(report, seed)
    if plot is not None:
        console.print(f"plot written to {plot}", markup=False, soft_wrap=True)


class _ProgressBar:
    """A rich progress bar on stderr over the classifiers (silent when not a terminal or for --json)."""

    def __init__(self, total: int, quiet: bool):
        from rich.console import Console
        from rich.progress import Progress

        err = Console(stderr=True)
        self.bar = Progress(console=err, transient=True, disable=quiet or not err.is_terminal)
        self.total = total

    def __enter__(self):
        self.bar.__enter__()
        task = self.bar.add_task("risks of every classifier", total=self.total)
        return lambda done: self.bar.advance(task, done)

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)


SYMMETRIC_MARK = {"proved": "yes", "refuted": "no", "unknown": "?"}
COLOUR = {True: "green", False: "red", None: "default"}


def _short(name: str) -> str:
    return name.split(" ")[0]


def _print_report(report, seed: int) -> None:
    from rich.markup import escape

    from symtheory.noise_matrices import ghosh_condition
    from symtheory.ranking import regime_text

    cfg, dist = report.config, report.distribution.to_dict()
    kinds = ", ".join(f"{v} {k}" for k, v in report.family.to_dict()["kinds"].items())
    console.print(f"[bold]verify-ranking[/bold]  K = {cfg.classes}, (K-1)/K = {report.threshold:.6g}, seed {seed}; "
                  f"{cfg.support} support points, {dist['label_rule']} labels (Bayes accuracy "
                  f"{dist['bayes_accuracy']:.3f}); {cfg.classifiers} classifiers: {kinds}")
    for user in cfg.expressions:
        values = "".join(f", {k} = {v}" for k, v in user.params)
        console.print(f"{user.name}: L(g, k) = {user.text}{values}", markup=False)
    console.print(f"tau: Kendall tau-b of clean vs noisy risk; swaps: pairs the two order oppositely; risks within "
                  f"{cfg.rtol:g} x max|risk| count as tied; resid.: max residual of the fit R_eta = a + b R, "
                  "relative to max R_eta")
    for setting in report.settings:
        rows = [r for r in report.results if r.setting is setting]
        console.print()
        console.print(f"[bold]{escape(setting.label)}[/bold]: {escape(regime_text(setting))}")
        if setting.regime() == "class-conditional":
            _print_ghosh(ghosh_condition(setting.matrix))
            console.print(_class_conditional_table(rows))
            _print_bound_sources(rows)
        else:
            console.print(_symmetric_table(rows))
        _print_monte_carlo(rows)
        _print_swaps(rows)
        _print_unresolved(rows, cfg.rtol)
        if cfg.erm_seeds:
            _print_erm(rows)
    _print_first_swaps(report)


def _print_unresolved(rows, rtol: float) -> None:
    """A caveat for a loss whose rankings are mostly unresolved at the tie tolerance (over 1% of pairs), or
    whose clean risks are all tied without being equal; none where theory ties every noisy risk (a symmetric
    loss at eta = (K-1)/K, slope b = 0)."""
    import numpy as np

    for r in rows:
        agree = r.agreement
        if r.loss.symmetric and r.setting.regime() == "at":
            continue
        spread = float(np.ptp(r.clean))
        if agree.tied_first == agree.pairs and spread > 0:
            console.print(f"{r.loss.name}: every clean risk is within {rtol:g} x max|risk| of the others (their "
                          f"spread {spread:.3g} against max|risk| {float(np.max(np.abs(r.clean))):.3g}), so all "
                          "classifiers are tied, as when a big constant is added to the loss; the loss without the "
                          "constant, or a smaller --rtol, resolves them", markup=False)
        elif agree.unresolved > 0.01 * agree.pairs:
            console.print(f"{r.loss.name}: {agree.unresolved} of {agree.pairs} pairs are tied in one ranking only "
                          f"(risks within {rtol:g} x max|risk|): its risks are large against their differences, "
                          "as when a big constant is added to the loss; a smaller --rtol, or the loss without the "
                          "constant, resolves them", markup=False)


def _table(*columns: str):
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in columns:
        table.add_column(col, overflow="fold")
    return table


def _tau(value) -> str:
    return "undef." if value is None else f"{value:.3f}"


def _symmetric_table(rows):
    table = _table("loss", "sym.", "tau", "swaps", "resid.", "b fit/theor.", "MC tau", "verdict")
    for r in rows:
        mc = r.monte_carlo
        colour = COLOUR[r.as_predicted]
        table.add_row(r.loss.name, SYMMETRIC_MARK[r.loss.verdict], _tau(r.agreement.tau), str(r.agreement.discordant),
                      f"{r.fit.relative_residual:.0e}", f"{_fmt(r.fit.slope, '.3f')}/{_fmt(r.theory_slope, '.3f')}",
                      "-" if mc is None or mc.sampled.tau is None else f"{mc.sampled.tau:.3f}",
                      f"[{colour}]{r.verdict}[/{colour}]")
    return table


def _class_conditional_table(rows):
    table = _table("loss", "sym.", "tau", "swaps", "Ghosh Thm. 3", "verdict")
    for r in rows:
        colour = COLOUR[r.as_predicted]
        hypotheses = "applies" if r.ghosh.applies else "no: " + ", ".join(r.ghosh.failing())
        table.add_row(r.loss.name, SYMMETRIC_MARK[r.loss.verdict], _tau(r.agreement.tau), str(r.agreement.discordant),
                      hypotheses, f"[{colour}]{r.verdict}[/{colour}]")
    return table


def _print_bound_sources(rows) -> None:
    by_source: dict[str, list[str]] = {}
    for r in rows:
        if r.ghosh.symmetric:
            by_source.setdefault(r.ghosh.bound_source, []).append(r.loss.name)
    if by_source:
        console.print("L <= C/(K-1) checked with " + "; ".join(
            f"the {source} ({', '.join(names)})" for source, names in sorted(by_source.items(), reverse=True)))


def _print_ghosh(cond) -> None:
    from rich.markup import escape

    if cond.holds:
        console.print(escape("Ghosh et al. condition T[i,i] > T[i,j] for all j != i: ") + "[green]holds[/green] "
                      f"(smallest margin {cond.margin:.4g})")
    else:
        console.print(escape("Ghosh et al. condition T[i,i] > T[i,j] for all j != i: ") + "[red]fails[/red] at "
                      + escape(f"T[{cond.worst_row},{cond.worst_column}]")
                      + f" (margin {cond.margin:.4g}): no guarantee; what happens:")


def _print_monte_carlo(rows) -> None:
    checks = [r.monte_carlo for r in rows if r.monte_carlo is not None]
    if not checks:
        return
    within = sum(c.within for c in checks) / len(checks)
    worst = max(max(c.max_z_clean, c.max_z_noisy) for c in checks)
    console.print(f"Monte Carlo, {checks[0].samples} sampled labels: {100 * within:.1f}% of sampled risks "
                  f"within 3 s.e. of the exact ones (max |z| {worst:.2f}); MC tau ranks by sampled clean vs "
                  "sampled noisy risk")


def _print_swaps(rows) -> None:
    for r in rows:
        w = r.worst
        if w is None or r.as_predicted:
            continue
        console.print(f"  {r.loss.name} worst swap: {_short(r.worst_names[0])} vs {_short(r.worst_names[1])}: "
                      f"R {w.first_better:.5g} < {w.first_worse:.5g} but R_eta {w.second_better:.5g} > "
                      f"{w.second_worse:.5g}")


def _print_erm(rows) -> None:
    first = rows[0].erm
    console.print(f"ERM over the family, {first.seeds} training sets of {first.samples}: share of sets where the "
                  "noisy-label minimizer is a clean-label minimizer / the population best; mean excess clean risk")
    table = _table("loss", "noisy=clean", "noisy best", "clean best", "excess noisy", "excess clean")
    for r in rows:
        e = r.erm
        table.add_row(r.loss.name, f"{100 * e.same:.0f}%", f"{100 * e.noisy_best:.0f}%", f"{100 * e.clean_best:.0f}%",
                      f"{e.noisy_excess:.4g}", f"{e.clean_excess:.4g}")
    console.print(table)


def _print_first_swaps(report) -> None:
    console.print()
    console.print("[bold]first swap[/bold]: smallest symmetric-noise eta at which some pair swaps "
                  "(bisection; each pair's noisy risk gap is affine in eta)")
    table = _table("loss", "eta", "pair swapping first (clean-better first)")
    for name, fs in report.first_swaps.items():
        pair = "-" if fs.names is None else f"{_short(fs.names[0])} / {_short(fs.names[1])}"
        if fs.all_at_once:
            pair = "every pair at once (none keeps its order)"
        table.add_row(name, "never" if fs.eta is None else f"{fs.eta:.6g}", pair)
    console.print(table)
