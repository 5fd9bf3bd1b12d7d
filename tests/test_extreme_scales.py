"""Losses at extreme scales: a tiny parameter, a tiny coefficient and a number beyond float64 are decided or
refused in one line, never a traceback (label sums compared to 40 resolved digits, relative to their size)."""

from __future__ import annotations

import json

import pytest
import sympy as sp

from cli_helpers import assert_bad_input, run_cli


@pytest.mark.parametrize("args", [("gce", "--param", "q=1e-180"), ("--expr", "(1-p**a)/a", "--param", "a=1e-200"),
                                  ("--expr", "(1-p**(1e-400))*1e400")])
def test_a_gce_with_a_tiny_exponent_is_refuted_not_a_traceback(args):
    # sympy's 40-digit evaluation of (1 - (1/2)**q)/q lost every digit, and comparing it raised ValueError
    from symtheory.analysis import analyse_builtin, analyse_expression

    if args[0] == "gce":
        data = analyse_builtin("gce", {"q": "1e-180"}).to_dict()
    else:
        data = analyse_expression(args[1], dict([args[3].split("=")]) if len(args) > 2 else None).to_dict()
    assert data["symmetric"] == "refuted"
    ce = data["counterexample"]
    assert ce["difference"] == pytest.approx(2.80099, abs=1e-4)  # as for CCE, its q -> 0 limit


@pytest.mark.parametrize("text", ["1e-25*log(p)", "-log(p)/10**25", "1e-25*(1-p)**2"])
def test_a_loss_with_a_tiny_coefficient_is_refuted(text):
    from symtheory.analysis import analyse_expression

    data = analyse_expression(text).to_dict()
    assert data["symmetric"] == "refuted"
    assert 1e-27 < data["counterexample"]["difference"] < 1e-24


def test_label_sums_differ_only_when_their_difference_is_resolved():
    from symtheory.symmetry import numbers_differ, resolved_value

    def values_differ(a, b):
        return numbers_differ(resolved_value(a), resolved_value(b))

    assert values_differ(sp.log(6) - sp.log(2) - sp.log(3), sp.Integer(0)) is None
    assert values_differ(sp.log(6), sp.log(2) + sp.log(3)) is None
    assert values_differ(sp.Rational(1, 3), sp.Rational(1, 3)) is None
    assert values_differ(sp.Rational(1, 3), sp.Rational(1, 2)) == sp.Rational(1, 6)
    tiny = values_differ(sp.log(3) / 10**25, sp.log(2) / 10**25)
    assert float(tiny) == pytest.approx(4.0546510810816e-26, rel=1e-12)
    assert values_differ(sp.Integer(1), 1 + sp.Rational(1, 10**30)) is not None  # exact: rational
    assert values_differ(sp.sqrt(2), sp.sqrt(2) + sp.Rational(1, 10**30)) is None  # below 1e-20 of the size


def test_a_tiny_loss_still_depends_on_g_for_training():
    from symtheory.user_loss import UserLoss

    assert UserLoss("1e-25*log(p)").depends_on_g(3) is True
    assert UserLoss("sum_all(q)").depends_on_g(3) is False


def test_a_loss_beyond_float64_is_refused_in_one_line_by_verify_ranking():
    # its 30-digit float, about 10**(9.5e9), could not be written into the compiled code (ValueError)
    assert_bad_input(run_cli("verify-ranking", "--eta", "0.3", "--expr", "exp(exp(exp(10)))*p", "-K", "3",
                             "--classifiers", "30", "--support", "50", "--samples", "0"),
                     "the risks of expr are not finite numbers in float64")


def test_a_counterexample_whose_sums_differ_beyond_any_float_is_written_in_words():
    # sympy could not write exp(exp(exp(10))) to 6 digits (its exponent has some 9,500 digits): a traceback
    shown = " ".join(run_cli("check-loss", "--expr", "exp(exp(exp(10)))*(1-p)**2").stdout.split())
    assert "is 363*exp(exp(exp(10)))/200 (differ by more than 1e+308)" in shown
    data = json.loads(run_cli("check-loss", "--expr", "exp(1000)*(1-p)**2", "--json").stdout)["counterexample"]
    assert (data["difference"], data["difference_text"]) == (None, "9.48918e+433")
