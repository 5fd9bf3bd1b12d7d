"""Theory commands: ``check-loss``, ``prove-risk``, ``losses`` (sympy only, never torch)."""

from __future__ import annotations

from typing import List, Optional

import typer
from rich.markup import escape

from symtheory.cli.app import app
from symtheory.cli.output import console, print_json
from symtheory.errors import BadInput


def _show(expr, latex: bool) -> str:
    import sympy as sp

    return sp.latex(expr) if latex else sp.sstr(expr)


@app.command("check-loss")
def check_loss(
    name: Optional[str] = typer.Argument(None, help="A registry loss (see `symtheory losses`)."),
    expr: Optional[str] = typer.Option(
        None, "--expr", help="Your own loss: an expression in p (= g_k), K, parameters, and "
        "sum_other(f(q)) = sum over j != k of f(g_j), sum_all(f(q)) = sum over all j. "
        "Example: \"log((a+1)/a) - log(a+p) + sum_other(log(a+q))/(K-1)\"."),
    classes: Optional[int] = typer.Option(None, "--classes", "-K", help="A concrete number of classes K >= 2."),
    symbolic_k: bool = typer.Option(False, "--symbolic-k", help="Prove for symbolic K (the default when --classes is not given)."),
    param: Optional[List[str]] = typer.Option(None, "--param", "-p", help="A parameter value, name=value (exact: 0.1 is 1/10). Repeatable."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    latex: bool = typer.Option(False, "--latex", help="Print expressions as LaTeX."),
    time_limit: float = typer.Option(
        30.0, "--time-limit", help="Seconds the symmetry proof, and then the bounds, may each take (a numeric "
        "spot check gets 10 s more); a part that runs out is reported unknown. 0: no limit."),
) -> None:
    """Prove or refute that a loss is symmetric (sum_j L(g, j) = C on the simplex), with C and bounds."""
    import math

    from symtheory.analysis import analyse_builtin, analyse_expression, parse_param_options
    from symtheory.time_limit import MAX_TIME_LIMIT

    if name is None and expr is None:
        raise BadInput("give a loss NAME (see `symtheory losses`) or --expr EXPRESSION")
    if name is not None and expr is not None:
        raise BadInput("give either a loss NAME or --expr EXPRESSION (not both)")
    if symbolic_k and classes is not None:
        raise BadInput("--symbolic-k and --classes exclude each other")
    if not (math.isfinite(time_limit) and 0 <= time_limit <= MAX_TIME_LIMIT):
        raise BadInput(f"--time-limit must be a number of seconds in [0, {MAX_TIME_LIMIT:g}], got {time_limit:g}")
    params = parse_param_options(param)
    seconds = time_limit or None
    result = (analyse_builtin(name, params, classes, seconds) if name
              else analyse_expression(expr, params, classes, seconds))
    data = result.to_dict(latex)
    if as_json:
        print_json(data)
        return
    from symtheory.bounds import bound_exactness

    colour = {"proved": "green", "refuted": "red", "unknown": "yellow"}[data["symmetric"]]
    console.print(f"[bold]{escape(data['loss'])}[/bold] — {escape(data['title'])}: {escape(data['math'])}")
    if data["citation"]:
        console.print(f"[dim]{escape(data['citation'])}[/dim]")
    if data["parameters"]:
        console.print("parameters: " + ", ".join(f"{k} = {v}" for k, v in data["parameters"].items()), markup=False)
    console.print(f"symmetric: [bold {colour}]{data['symmetric']}[/bold {colour}] for {escape(data['scope'])}")
    if data["constant"] is not None:
        console.print(f"C = [bold]{escape(data['constant'])}[/bold]")
    ce = data["counterexample"]
    if ce:
        at = "".join(f", {name} = {value}" for name, value in ce["parameters"].items())
        console.print(f"counterexample (K = {ce['classes']}{at}): sum_j L at g = ({', '.join(ce['g_a'])}) is "
                      f"{ce['sum_a']}, at g = ({', '.join(ce['g_b'])}) is {ce['sum_b']} "
                      f"(differ by {ce['difference_text']})", markup=False)
    if data["numeric_check"]:
        console.print(data["numeric_check"], markup=False)
    for case in data["symmetric_at"]:
        console.print(f"symmetric at {escape(_assignment(case['parameters']))}: [bold green]proved[/bold green] for "
                      f"{escape(case['scope'])}, C = [bold]{escape(case['constant'])}[/bold]")
    if data["bounded"] is True:
        console.print(f"bounded on the simplex: {data['lower_bound']} <= L <= {data['upper_bound']}"
                      f" ({bound_exactness(data['lower_bound_exact'], data['upper_bound_exact'])})", markup=False)
    elif data["bounded"] is False:
        console.print(f"unbounded on the simplex: L -> {data['unbounded_limit']} along g^({data['unbounded_index']}) with "
                      f"{data['unbounded_along']}", markup=False)
    else:
        console.print("boundedness: unknown")
    console.print("[bold]proof[/bold]")
    _print_steps(data["symmetry_steps"])
    for case in data["symmetric_at"]:
        console.print(f"[bold]proof at {escape(_assignment(case['parameters']))}[/bold]")
        _print_steps(case["steps"])


def _print_steps(steps: list[dict]) -> None:
    for i, step in enumerate(steps, 1):
        console.print(f"  {i}. {step['text']}" + (f" {step['expr']}" if "expr" in step else ""), markup=False)


def _assignment(parameters: dict[str, str]) -> str:
    return ", ".join(f"{name} = {value}" for name, value in parameters.items())


@app.command("prove-risk")
def prove_risk(
    name: Optional[str] = typer.Argument(None, help="Substitute this registry loss's constant C (it must be "
                                         "symmetric); the same as --loss."),
    loss: Optional[str] = typer.Option(None, "--loss", help="Substitute this loss's constant C (it must be symmetric)."),
    expr: Optional[str] = typer.Option(None, "--expr", help="Substitute the constant C of your own loss, in the "
                                       "`check-loss --expr` grammar (it must be proved symmetric)."),
    classes: Optional[int] = typer.Option(None, "--classes", "-K", help="A concrete number of classes K >= 2."),
    param: Optional[List[str]] = typer.Option(None, "--param", "-p", help="A parameter of the loss, name=value "
                                              "(e.g. q=1 for gce, symmetric there). Repeatable."),
    as_json: bool = typer.Option(False, "--json", help="Print the derivation as JSON."),
    latex: bool = typer.Option(False, "--latex", help="Print expressions as LaTeX."),
) -> None:
    """Derive R_eta = C eta/(K-1) + (1 - eta K/(K-1)) R step by step, and its three regimes."""
    import sympy as sp

    from symtheory.analysis import analyse_builtin, analyse_expression, check_classes, parse_param_options
    from symtheory.expr import K
    from symtheory.risk import C, derive_risk_relation

    check_classes(classes)
    given = [text for text in (name and "a loss NAME", loss and "--loss", expr and "--expr") if text]
    if len(given) > 1:
        raise BadInput(f"give one loss: {' and '.join(given)} exclude each other")
    loss = loss or name
    constant, note = C, "C: the symmetry constant of the loss"
    if param and not (loss or expr):
        raise BadInput("--param sets a parameter of the loss; give a loss NAME, --loss or --expr too")
    if loss or expr:
        params = parse_param_options(param)
        analysis = analyse_builtin(loss, params, classes) if loss else analyse_expression(expr, params, classes)
        label = analysis.name if loss else expr
        if analysis.symmetry.verdict != "proved":
            at = "; ".join(f"--param {', '.join(f'{k}={v}' for k, v in case.parameters.items())}"
                           for case in analysis.symmetry.special)
            raise BadInput(f"{label} is not proved symmetric ({analysis.symmetry.verdict}): "
                           "the relation needs a symmetric loss" + (f"; it is symmetric at {at}" if at else ""))
        shown = "".join(f", {k} = {v}" for k, v in params.items())
        _, _, restriction = analysis.symmetry.scope.partition(", for ")
        constant = analysis.symmetry.constant
        note = f"C = {_show(constant, latex)} for {label}{shown}" + (f", for {restriction}" if restriction else "")
    relation = derive_risk_relation(constant, K if classes is None else sp.Integer(classes))
    data = {
        "constant": _show(constant, latex), "note": note, "verified": relation.verified,
        "noisy_risk": _show(relation.noisy_risk, latex), "slope": _show(relation.slope, latex),
        "intercept": _show(relation.intercept, latex), "threshold": _show(relation.threshold, latex),
        "regimes": [{"when": w, "then": t} for w, t in relation.regimes],
        "steps": [s.as_dict(latex) for s in relation.steps],
    }
    if as_json:
        print_json(data)
        return
    console.print(f"[bold]affine risk relation[/bold] (Patel & Sastry 2021, Theorem 1); {escape(note)}")
    _print_steps(data["steps"])
    console.print(f"R_eta(h) = [bold]{escape(data['noisy_risk'])}[/bold]  (checked exactly: {relation.verified})")
    for regime in data["regimes"]:
        console.print(f"  {regime['when']}: {regime['then']}", markup=False)


@app.command("losses")
def losses(
    classes: Optional[int] = typer.Option(None, "--classes", "-K", help="Check for this K instead of symbolic K."),
    as_json: bool = typer.Option(False, "--json", help="Print the table as JSON."),
) -> None:
    """List the registry's losses with each one's symmetry verdict, constant and boundedness."""
    from rich.table import Table

    from symtheory.analysis import analyse_builtin, check_classes
    from symtheory.registry import LOSSES

    check_classes(classes)
    rows = []
    for spec in LOSSES.values():
        d = analyse_builtin(spec.name, None, classes).to_dict()
        rows.append({"loss": spec.name, "title": spec.title, "parameters": ", ".join(p.domain for p in spec.params),
                     "symmetric": d["symmetric"], "scope": d["scope"], "constant": d["constant"],
                     "symmetric_at": [{"parameters": c["parameters"], "constant": c["constant"]}
                                      for c in d["symmetric_at"]],
                     "bounded": d["bounded"], "in_paper": spec.in_paper, "citation": spec.citation})
    if as_json:
        print_json(rows)
        return
    table = Table(title="losses in the registry")
    for col in ("loss", "parameters", "symmetric", "C", "bounded", "citation"):
        table.add_column(col)
    for r in rows:
        colour = {"proved": "green", "refuted": "red", "unknown": "yellow"}[r["symmetric"]]
        at = "".join(f"; proved at {_assignment(c['parameters'])}" for c in r["symmetric_at"])
        special = "; ".join(f"{c['constant']} at {_assignment(c['parameters'])}" for c in r["symmetric_at"])
        table.add_row(escape(r["loss"]), escape(r["parameters"]), f"[{colour}]{r['symmetric']}[/{colour}]{escape(at)}",
                      escape(r["constant"] or special or "-"),
                      {True: "yes", False: "no", None: "?"}[r["bounded"]], escape(r["citation"]))
    console.print(table)


