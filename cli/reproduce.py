"""``symtheory reproduce``: the paper's whole experiment in one command -- every preset's grid, then the
full tier of the paper's claims and the report."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from symtheory.cli.app import app, invoked_command, resume_hint_on_interrupt
from symtheory.cli.checks import VERDICT_STYLE
from symtheory.cli.grid import parse_list, parse_losses
from symtheory.cli.grid_display import RESUME_HINT, grid_progress, print_outcomes
from symtheory.wording import plural
from symtheory.cli.output import console, print_json
from symtheory.empirical.threads import THREADS_HELP


def plan_lines(plan: list[dict], backend: str, out: Path, download: bool = False) -> list[str]:
    """The plan in words: a line per preset with its network, dataset, runs by state and epochs to train (or
    that a call that trains is refused, or cannot read the preset's data), then why a call that trains would
    be refused or stop before training, if it would: a run directory of another experiment, data that is
    missing or corrupt (each distinct reason once; with ``download``, that it is downloaded first)."""
    lines = [f"the paper's grids under {out} (backend {backend}):"]
    for p in plan:
        data = p["dataset"] + (f" (subset {p['subset']:,})" if p["subset"] else "")
        states = ", ".join(f"{p[key]} {word}" for key, word in (("finished", "finished"), ("diverged", "diverged"),
                                                                 ("interrupted", "to resume"), ("new", "new"),
                                                                 ("other_settings", "of another experiment"))
                           if p.get(key))
        runs = f"{plural(p['runs'], 'run')} x {plural(p['epochs_per_run'], 'epoch')}"
        if p.get("refused"):
            todo = "a call that trains is refused (below)"
        else:
            todo = f"{plural(p['epochs_to_train'], 'epoch')} to train"
            if p.get("data") and download and _is_unreadable_data(p["data"]):
                todo += f", after downloading its data ({p['dataset']}, below)"
            elif p.get("data"):
                todo += f", but its data ({p['dataset']}) cannot be read (below)"
        lines.append(f"  {p['preset']}: {p['arch']} on {data}, {runs} ({states}); {todo}")
    refused = next((p["refused"] for p in plan if p.get("refused")), None)
    if refused:
        lines.append(f"a call that trains would be refused: {refused}")
    for problem in dict.fromkeys(p["data"] for p in plan if p.get("data")):
        if download and _is_unreadable_data(problem):
            lines.append("a call that trains downloads it first (--download, needs internet; it stops before "
                         f"training if that fails): {problem}")
        else:
            lines.append(f"a call that trains would stop before training: {problem}")
    return lines


def _is_unreadable_data(problem: str) -> bool:
    """Whether a data problem is files missing or corrupt (which --download mends), not a --subset too large."""
    return "data not found or corrupt" in problem


def print_lines(lines: list[str]) -> None:
    """Each line as written (markup escaped), unwrapped, so paths stay whole."""
    from rich.markup import escape

    for line in lines:
        console.print(escape(line), soft_wrap=True)


@app.command("reproduce")
def reproduce_command(
    out: Path = typer.Option(Path("runs/paper"), "--out", help="Folder of the whole experiment: OUT/<preset>/ holds "
                             "each preset's grid; OUT/report.md, OUT/claims.json and OUT/reproduce.json are "
                             "written at the end."),
    presets: Optional[str] = typer.Option(None, "--presets", help="Comma-separated presets (default: the paper's "
                                          "three: mnist-resnet18, cifar10-resnet32, cifar10-inception)."),
    cifar_dataset: str = typer.Option("cifar10", "--cifar-dataset", help="cifar10 (the paper's) or cifar10-subset "
                                      "(the real 5,000-image subset, where the full CIFAR-10 cannot be had; its "
                                      "runs are not judged as full scale)."),
    losses: Optional[str] = typer.Option(None, "--losses", help="Comma-separated losses (default: cce,mse,rll,nmse; "
                                         "'none' with --expr for your losses alone)."),
    expr: Optional[List[str]] = typer.Option(None, "--expr", metavar="EXPRESSION", help="Your own loss, written as "
                                             "for check-loss --expr "
                                             "(its parameters by --param), trained in every preset's grid beside "
                                             "its losses and shown in the report (the claims judge the paper's "
                                             "losses). Repeatable."),
    etas: Optional[str] = typer.Option(None, "--etas", help="Comma-separated noise rates (default: 0,0.2,0.4,0.6)."),
    seeds: str = typer.Option("0", "--seeds", help="Comma-separated seeds."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Override every preset's epochs (a rehearsal: such "
                                         "runs are reported, not judged as full scale)."),
    subset: Optional[int] = typer.Option(None, "--subset", help="Train on a seeded subset of N images (a rehearsal)."),
    alpha: Optional[str] = typer.Option(None, "--alpha", help="Same as --param alpha=VALUE (RLL's alpha; default "
                                        "0.1)."),
    param: Optional[List[str]] = typer.Option(None, "--param", "-p", help="A loss parameter, name=value, for the "
                                              "losses that have it. Repeatable."),
    sweep: Optional[str] = typer.Option(None, "--sweep", help="Each preset's grid once per value of a loss "
                                        "parameter, name=v1,v2,... (e.g. alpha=0.01,0.1,0.45), as grid --sweep."),
    device: Optional[str] = typer.Option(None, "--device", help="auto (default), cpu, cuda, cuda:N."),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Dataset root (default $SYMTHEORY_DATA, then "
                                            "the user cache)."),
    download: bool = typer.Option(False, "--download", help="Download missing datasets (needs internet)."),
    backend: str = typer.Option("auto", "--backend", help="auto (fused on a CUDA GPU, one run after another on the "
                                "CPU), local or fused."),
    plan_only: bool = typer.Option(False, "--plan", help="Print the plan (runs, what is finished, epochs to train, data "
                                   "that is missing) and stop; nothing is trained."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan, each run's outcome and the claims as JSON."),
) -> None:
    """Reproduce the paper: train every preset's eta x loss grid, then judge its claims (paper-check --tier full)
    and write the report. Exit 0 when every run finished, whatever the verdicts; 1 when a run did not."""
    from symtheory.analysis import parse_param_options
    from symtheory.empirical.paper_grid import (
        call_record, check_data, data_problems, output_problem, plan_paper, read_calls, recording, resolve_backend,
        train_paper, unfinished,
    )
    from symtheory.errors import BadInput
    from symtheory.empirical.grid import epochs_counted_by_run
    from symtheory.empirical.threads import check_threads, torch_threads

    check_threads(threads)
    grids = plan_paper(out, parse_list(presets, str, "preset"), cifar_dataset, parse_losses(losses, expr),
                       parse_list(etas, float, "eta"), parse_list(seeds, int, "seed"),
                       loss_params=parse_param_options(param, alpha), sweep=sweep,
                       expressions=expr or [], refuse_other_settings=not plan_only, epochs=epochs,
                       subset=subset, device=device)
    chosen = resolve_backend(backend, device)
    plan = [g.describe() for g in grids]
    if plan_only:
        problems = data_problems(grids, data_dir)[1]
        for row in plan:
            row["data"] = problems.get(row["preset"])
        outputs = output_problem(out)
        if as_json:
            print_json({"backend": chosen, "plan": plan, "refused": outputs})
        else:
            print_lines(plan_lines(plan, chosen, out, download)
                        + ([f"a call that trains would be refused: {outputs}"] if outputs else []))
        return
    calls = read_calls(out)
    problem = output_problem(out)
    if problem:
        raise BadInput(problem)
    record = call_record(invoked_command(), chosen, device, plan)
    if not as_json:
        print_lines(plan_lines(plan, chosen, out))
    with resume_hint_on_interrupt(lambda: RESUME_HINT), torch_threads(threads):
        check_data(grids, data_dir, download)
        with recording(out, calls, record):
            with grid_progress(f"paper ({plural(sum(len(g.runs) for g in grids), 'run')})", sum(g.epochs for g in grids),
                               epochs_counted_by_run([r for g in grids for r in g.runs]), quiet=as_json) as hooks:
                outcomes = train_paper(grids, chosen, data_dir=data_dir, download=download, on_run=hooks[0],
                                       on_epoch=hooks[1])
            record["outcomes"] = {p: [o.__dict__ for o in group] for p, group in outcomes.items()}
            claims, report = judge(out, [g.preset for g in grids], quiet=as_json)
    show_result(out, record, outcomes, claims, report, as_json)
    if unfinished(outcomes):
        raise typer.Exit(1)


def show_result(out: Path, record: dict, outcomes: dict, claims: list, report: Path, as_json: bool) -> None:
    """What the call did: as JSON (plan, outcomes, claims, the report's and the record's paths), or a table of
    each preset's runs, the claims in brief and where the report, claims and record are."""
    from symtheory.empirical.paper_grid import RECORD

    record_path = out / RECORD
    if as_json:
        print_json({"backend": record["backend"], "plan": record["plan"], "outcomes": record["outcomes"],
                    "claims": [c.to_dict() for c in claims], "report": str(report), "record": str(record_path)})
        return
    for preset, group in outcomes.items():
        print_outcomes(group, f"{preset} in {out / preset}")
    for line in claim_lines(claims):
        console.print(line, soft_wrap=True)
    print_lines([f"report (every experiment judged, at any scale): {report}; claims: {out / 'claims.json'}; "
                 f"record of this call: {record_path}"])


def judge(out: Path, presets: list[str], quiet: bool = False) -> tuple[list, Path]:
    """The full tier of the paper's claims for ``presets`` on the runs under ``out`` (saved as OUT/claims.json)
    and the Markdown report OUT/report.md, which judges every experiment at any scale; (claims, report)."""
    import json

    from symtheory.empirical.run_dir import atomic_write
    from symtheory.paper_checks.report import write_report
    from symtheory.paper_checks.suite import run_suite

    if not quiet:
        console.print("judging the paper's claims and writing the report ...")
    claims = run_suite("full", runs=out, presets=presets)
    text = json.dumps([c.to_dict() for c in claims], indent=2) + "\n"
    atomic_write(out / "claims.json", lambda handle: handle.write(text.encode()))
    return claims, write_report(out, out / "report.md")


def claim_lines(claims: list) -> list[str]:
    """The claims in brief (rich markup, the claims' own text escaped): a line per claim that was measured,
    '[verdict] claim: measured (tolerance: ...)', and one line for each run of consecutive 'not run' claims
    that share their reason, e.g. '[not run] E1, ..., E6 [mnist-resnet18]: no finished runs ...'."""
    from rich.markup import escape

    lines, i = [], 0
    while i < len(claims):
        c, j = claims[i], i + 1
        while c.verdict == "not run" and j < len(claims) and (claims[j].verdict, claims[j].measured) == (
                c.verdict, c.measured):
            j += 1
        style = VERDICT_STYLE[c.verdict]
        head = f"[{style}]{escape('[' + c.verdict + ']')}[/{style}]"
        if c.verdict == "not run":
            ids = [x.claim for x in claims[i:j]]
            suffixes = {x.partition(" ")[2] for x in ids}
            names = (", ".join(x.partition(" ")[0] for x in ids) + " " + suffixes.pop()).strip() \
                if len(suffixes) == 1 else ", ".join(ids)
            lines.append(f"{head} {escape(names)}: {escape(c.measured.removeprefix('not measured: '))}")
        else:
            lines.append(f"{head} {escape(c.claim)}: {escape(c.measured)} (tolerance: {escape(c.tolerance)})")
        i = j
    return lines
