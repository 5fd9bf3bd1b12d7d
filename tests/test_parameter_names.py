"""A parameter may take the name of a variable of the proofs (t, u, v, n, k2, g1): the prover keeps them apart,
and a printed proof shows the proof's variable primed (t'); names the risk relation prints are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cli_helpers import assert_bad_input, run_cli


@pytest.mark.parametrize("name", ["t", "u", "v", "n", "k2", "g1"])
@pytest.mark.parametrize("template, verdict, constant", [
    ("(1-p)*{x}", "proved", "{x}*(K - 1)"),
    ("(1-p**{x})/{x}", "refuted", None),
    ("p*{x} + sum_other(q**{x})", "refuted", None),
])
def test_a_parameter_named_like_a_proof_variable_gets_the_same_results_as_one_named_a(name, template, verdict,
                                                                                     constant):
    from symtheory.analysis import analyse_expression

    mine = analyse_expression(template.format(x=name)).to_dict()
    theirs = analyse_expression(template.format(x="a")).to_dict()
    assert (mine["symmetric"], theirs["symmetric"]) == (verdict, verdict)
    assert mine["constant"] == (None if constant is None else constant.format(x=name))
    assert theirs["constant"] == (None if constant is None else constant.format(x="a"))
    assert [case["parameters"] for case in mine["symmetric_at"]] == [
        {name: value for value in case["parameters"].values()} for case in theirs["symmetric_at"]]
    for side in ("lower_bound", "upper_bound"):
        assert (mine[side] is None) == (theirs[side] is None)
        assert mine[side] is None or mine[side].replace(name, "a") == theirs[side]


def test_a_proof_shows_its_variable_primed_where_a_parameter_has_its_name():
    from symtheory.analysis import analyse_expression

    steps = analyse_expression("(1-p**t)/t").to_dict()["symmetry_steps"]
    assert steps[1] == {"text": "sum_k L(g, k) = sum_i phi(g_i) with phi(t') = a(t') + (K-1) sum_m c_m f_m(t') =",
                        "expr": "(1 - t'**t)/t"}
    assert steps[2]["text"] == "phi''(t') reduces to"
    plain = analyse_expression("(1-p**a)/a").to_dict()["symmetry_steps"]
    assert plain[1] == {"text": "sum_k L(g, k) = sum_i phi(g_i) with phi(t) = a(t) + (K-1) sum_m c_m f_m(t) =",
                        "expr": "(1 - t**a)/a"}
    latex = analyse_expression("(1-p)*t").to_dict(latex=True)["symmetry_steps"][1]["expr"]
    assert latex == r"t \left(1 - t'\right)"


def test_an_unbounded_loss_with_a_parameter_n_names_its_sequence_n_primed():
    shown = " ".join(run_cli("check-loss", "--expr", "-n*log(p)").stdout.split())
    assert "unbounded on the simplex: L -> oo along g^(n') with K=3, g_k = 1/n'," in shown
    data = json.loads(run_cli("check-loss", "--expr", "-log(p)", "--json").stdout)
    assert (data["unbounded_index"], data["unbounded_along"].split(", ")[1]) == ("n", "g_k = 1/n")


def test_explicit_coordinates_are_not_a_parameter_named_g1():
    # at concrete K a loss not affine in its sums is proved with coordinates g1, g2, ...; a parameter g1 was
    # taken for the first of them, and this symmetric loss came out unknown
    from symtheory.analysis import analyse_expression

    data = analyse_expression("g1*(1-p) + sum_all(q**2)**2*(p - 1/3)", classes=3).to_dict()
    assert (data["symmetric"], data["constant"]) == ("proved", "2*g1")


def test_a_parameter_t_is_evaluated_as_its_value():
    from symtheory.evaluate import compile_loss_matrix
    from symtheory.user_loss import UserLoss

    g = np.random.default_rng(0).dirichlet(np.ones(4), size=5)
    expected = (1 - g ** 0.5) / 0.5
    for name in ("t", "a"):
        form = UserLoss(f"(1-p**{name})/{name}", ((name, "1/2"),)).form(4)
        np.testing.assert_allclose(compile_loss_matrix(form, 4)(g), expected, rtol=1e-12)


@pytest.mark.parametrize("name", ["eta", "C", "R", "L_y", "S_other"])
def test_prove_risk_refuses_a_parameter_named_like_a_term_of_the_relation(name):
    # '(1-p)*R' printed R_eta(h) = R*(1 - K eta/(K-1)) + R*eta, one R the risk and one the parameter
    assert_bad_input(run_cli("prove-risk", "--expr", f"(1-p)*{name}"), f"{name!r} cannot name a parameter")
