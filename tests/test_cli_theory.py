"""The theory commands from the command line: results, --json, bad input, and no torch import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cli_helpers import assert_bad_input, run_cli


def test_check_loss_rll_proves_symbolic_k():
    result = run_cli("check-loss", "rll")
    assert result.returncode == 0, result.stderr
    assert "proved" in result.stdout and "every K >= 2" in result.stdout
    assert "C = K*log((alpha + 1)/alpha)" in result.stdout
    assert "(inf and sup)" in " ".join(result.stdout.split())


def test_check_loss_json_mse_refuted():
    result = run_cli("check-loss", "mse", "--classes", "10", "--json")
    data = json.loads(result.stdout)
    assert result.returncode == 0
    assert data["symmetric"] == "refuted" and data["counterexample"]["classes"] == 10
    assert data["counterexample"]["sum_a"] != data["counterexample"]["sum_b"]
    assert (data["lower_bound"], data["upper_bound"]) == ("0", "2")
    assert data["lower_bound_exact"] and data["upper_bound_exact"]


def test_check_loss_expression_latex():
    result = run_cli("check-loss", "--expr", "2*(1-p)", "--json", "--latex")
    data = json.loads(result.stdout)
    assert data["symmetric"] == "proved" and data["constant"] == r"2 \left(K - 1\right)"


def test_check_loss_expression_prints_no_citation_line():
    # a line reading 'user' stood under the header, where a built-in loss has its citation
    lines = run_cli("check-loss", "--expr", "2*(1-p)").stdout.splitlines()
    assert lines[0].startswith("expression — user-defined loss: 2*(1-p)")
    assert lines[1].startswith("symmetric: proved")


def test_a_latex_counterexample_writes_its_points_in_latex_too():
    data = json.loads(run_cli("check-loss", "mse", "--json", "--latex").stdout)["counterexample"]
    assert data["g_a"] == [r"\frac{1}{3}"] * 3 and data["g_b"] == [r"\frac{9}{10}", r"\frac{1}{20}", r"\frac{1}{20}"]
    assert data["sum_b"] == r"\frac{689}{200}"
    plain = json.loads(run_cli("check-loss", "mse", "--json").stdout)["counterexample"]
    assert plain["g_b"] == ["9/10", "1/20", "1/20"] and plain["sum_b"] == "689/200"


def test_prove_risk_with_loss():
    result = run_cli("prove-risk", "--loss", "mae", "--json")
    data = json.loads(result.stdout)
    assert data["verified"] is True
    assert data["threshold"] == "(K - 1)/K"
    assert len(data["regimes"]) == 3


def test_prove_risk_regimes_give_the_tied_risk_of_the_loss_and_the_range_of_eta():
    data = json.loads(run_cli("prove-risk", "--loss", "nce", "--classes", "2", "--json").stdout)
    assert [r["when"] for r in data["regimes"]] == ["0 <= eta < 1/2", "eta = 1/2", "1/2 < eta <= 1"]
    assert "R_eta(h) = C/K = 1/2 for every h" in data["regimes"][1]["then"]
    symbolic = json.loads(run_cli("prove-risk", "--json").stdout)
    assert "R_eta(h) = C/K for every h" in symbolic["regimes"][1]["then"]


def test_prove_risk_takes_a_loss_parameter_where_the_family_is_symmetric():
    assert_bad_input(run_cli("prove-risk", "--loss", "gce"), "it is symmetric at --param q=1")
    data = json.loads(run_cli("prove-risk", "--loss", "gce", "--param", "q=1", "--json").stdout)
    assert data["constant"] == "K - 1" and data["note"] == "C = K - 1 for gce, q = 1"


def test_prove_risk_takes_a_loss_name_or_your_own_loss_with_the_scope_of_its_proof():
    assert json.loads(run_cli("prove-risk", "mae", "--json").stdout)["constant"] == "2*(K - 1)"
    own = json.loads(run_cli("prove-risk", "--expr", "(p-a)/sum_all(q-a)", "--classes", "3", "--json").stdout)
    assert own["constant"] == "1" and own["note"] == "C = 1 for (p-a)/sum_all(q-a), for a != 1/3 (elsewhere the loss is undefined)"
    assert "R_eta(h) = C/K = 1/3 for every h" in own["regimes"][1]["then"]
    family = json.loads(run_cli("prove-risk", "--expr", "(1-p**a)/a", "--param", "a=1", "--json").stdout)
    assert family["note"] == "C = K - 1 for (1-p**a)/a, a = 1"
    assert_bad_input(run_cli("prove-risk", "--expr", "(1-p**a)/a"), "it is symmetric at --param a=1")
    assert_bad_input(run_cli("prove-risk", "rll", "--expr", "1-p"), "a loss NAME and --expr exclude each other")
    assert_bad_input(run_cli("prove-risk", "--param", "a=1"), "give a loss NAME, --loss or --expr too")
    assert_bad_input(run_cli("prove-risk", "--expr", "log("), "cannot parse loss expression")


def test_prove_risk_writes_the_tied_risk_c_over_k_short():
    data = json.loads(run_cli("prove-risk", "nce+rce", "--json").stdout)   # was (A*K*beta - A*beta + alpha)/K
    assert "R_eta(h) = C/K = (A*beta*(K - 1) + alpha)/K for every h" in data["regimes"][1]["then"]


def test_check_loss_prints_bracketed_math_as_written():
    text = run_cli("check-loss", "zero-one").stdout
    assert "L(g, k) = 1[argmax_i g_i != k]" in text and "sum_k 1[argmax g != k] = K - 1" in text


def test_losses_table_json():
    data = json.loads(run_cli("losses", "--json").stdout)
    verdicts = {row["loss"]: row["symmetric"] for row in data}
    assert verdicts["rll"] == "proved" and verdicts["cce"] == "refuted" and len(verdicts) >= 14


@pytest.mark.parametrize("args, fragment", [
    (["check-loss", "nosuchloss"], "known losses: cce, mse"),
    (["check-loss", "rll", "--param", "alpha=0"], "outside its domain"),
    (["check-loss", "rll", "--param", "alpha=-1"], "outside its domain"),
    (["check-loss", "rll", "--classes", "1"], "at least 2"),
    (["check-loss", "--expr", "p +* 2"], "cannot parse"),
    (["check-loss", "--expr", "frobnicate(p)"], "unknown function 'frobnicate'"),
    (["check-loss", "rll", "--param", "beta=2"], "no parameter 'beta'"),
    (["check-loss", "rll", "--param", "alpha=1", "--param", "alpha=2"],
     "--param alpha is given twice (1 and 2); give it once"),
    (["check-loss"], "give a loss NAME (see `symtheory losses`) or --expr EXPRESSION"),
    (["check-loss", "rll", "--expr", "p"], "either a loss NAME or --expr EXPRESSION (not both)"),
    (["prove-risk", "--loss", "cce"], "not proved symmetric"),
    (["check-loss", "rll", "--classes", "abc"], "--classes"),
])
def test_bad_input_exits_2_with_one_line(args, fragment):
    assert_bad_input(run_cli(*args), fragment)


def test_malicious_expression_is_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    result = run_cli("check-loss", "--expr", f"__import__('os').system('touch {marker}')")
    assert_bad_input(result, "not allowed")
    assert not marker.exists()


def last_stderr_line(code: str) -> str:
    """Run CODE in a fresh interpreter; the last line it wrote on stderr."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    return (result.stderr.strip().splitlines() or [""])[-1]


def test_theory_command_does_not_import_torch():
    code = (
        "import sys\n"
        "from symtheory.cli.app import main\n"
        "try:\n    main(['check-loss', 'rll', '--json'])\n"
        "except SystemExit as e:\n    assert e.code == 0, e.code\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)\n"
    )
    assert last_stderr_line(code) == "NO-TORCH"


def test_executable_entry_freezes_gc_on_exit_and_keeps_exit_codes():
    code = (
        "import gc, sys\n"
        "from symtheory.cli.app import main, run\n"
        "codes = []\n"
        "for entry, argv in ((main, ['losses']), (run, ['check-loss', 'no-such-loss']), (run, ['losses'])):\n"
        "    try:\n        entry(argv)\n"
        "    except SystemExit as e:\n        codes.append((e.code, gc.get_freeze_count() > 0))\n"
        "print(codes, file=sys.stderr)\n"
    )
    assert last_stderr_line(code) == "[(0, False), (2, True), (0, True)]"


def test_help_lists_commands():
    result = run_cli("--help")
    assert result.returncode == 0 and "check-loss" in result.stdout and "prove-risk" in result.stdout


@pytest.mark.parametrize("text, limit", [("log(p)", "-oo"), ("-log(p)", "oo")])
def test_an_unbounded_loss_says_which_way_it_diverges(text, limit):
    shown = run_cli("check-loss", "--expr", text)
    assert f"unbounded on the simplex: L -> {limit} along g^(n)" in " ".join(shown.stdout.split())
    data = json.loads(run_cli("check-loss", "--expr", text, "--json").stdout)
    assert (data["bounded"], data["unbounded_limit"]) == (False, limit)


def test_prove_risk_latex_writes_the_constant_of_its_note_in_latex():
    data = json.loads(run_cli("prove-risk", "nce+rce", "--latex", "--json").stdout)
    assert data["note"] == r"C = A \beta \left(K - 1\right) + \alpha for nce+rce"
    assert data["constant"] == r"A \beta \left(K - 1\right) + \alpha"


def test_version_prints_the_installed_version():
    from importlib.metadata import version

    done = run_cli("--version")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"symtheory {version('symtheory')}\n", "")
