"""`symtheory verify-ranking` end to end (subprocess): the three regimes, the named swaps, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from symtheory.cli.ranking import parse_rates
from symtheory.errors import BadInput
from symtheory.loss_facts import loss_facts
from symtheory.registry import LOSSES


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "symtheory", "verify-ranking", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def default_json():
    """The command as documented (K = 10, 200 classifiers, 1000 points) at eta 0.6, 0.9, 0.95."""
    done = run("--eta", "0.6,0.9,0.95", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def rows(data, eta):
    return {r["loss"]: r for r in data["results"] if r["eta"] == eta}


def test_every_symmetric_loss_keeps_the_ranking_at_eta_0_6(default_json):
    symmetric = [n for n in LOSSES if loss_facts(n, 10).symmetric]
    got = rows(default_json, 0.6)
    assert set(got) == set(LOSSES)
    for name in symmetric:
        assert got[name]["tau"] == 1.0 and got[name]["discordant"] == 0, name
    for name in ("cce", "mse"):
        swap = got[name]["worst_swap"]
        assert got[name]["discordant"] > 0
        assert swap["clean_better"] < swap["clean_worse"] and swap["noisy_better"] > swap["noisy_worse"]
        assert swap["better_name"] and swap["worse_name"]


def test_symmetric_losses_tie_at_0_9_and_reverse_at_0_95(default_json):
    assert default_json["threshold"] == 0.9
    at, above = rows(default_json, 0.9), rows(default_json, 0.95)
    for name in (n for n in LOSSES if loss_facts(n, 10).symmetric):
        assert at[name]["regime"] == "at" and at[name]["distinct_noisy_values"] == 1, name
        assert at[name]["noisy_relative_spread"] < 1e-13
        assert above[name]["tau"] == -1.0 and above[name]["concordant"] == 0, name


def test_text_output_names_the_cce_and_mse_swaps():
    done = run("--eta", "0.6", "--loss", "rll,cce,mse", "--classifiers", "80", "--support", "300", "--samples", "0")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "cce worst swap:" in out and "mse worst swap:" in out
    assert "kept (tau=1)" in out
    done = run("--eta", "0.95", "--loss", "rll", "--classifiers", "30", "--support", "50", "--samples", "0")
    assert done.returncode == 0 and "condition fails" in done.stdout and "reversed (tau=-1)" in done.stdout


def test_noise_matrix_file_and_plot(tmp_path):
    matrix = tmp_path / "t.csv"
    np.savetxt(matrix, [[0.6, 0.4, 0.0], [0.0, 0.6, 0.4], [0.4, 0.0, 0.6]], delimiter=",")
    png = tmp_path / "tau.png"
    done = run("--noise-matrix", str(matrix), "-K", "3", "--loss", "mae,cce", "--classifiers", "40",
               "--support", "60", "--samples", "200", "--labels", "deterministic", "--plot", str(png), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["settings"][0]["regime"] == "class-conditional" and data["plot"] == str(png)
    assert data["settings"][0]["ghosh_condition"]["holds"] is True
    mae = next(r for r in data["results"] if r["loss"] == "mae")
    assert mae["ghosh"]["bound_checked_with"] == "proved sup" and mae["ghosh"]["applies"] is True
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_text_names_how_the_ghosh_bound_was_checked():
    done = run("--noise-matrix", "pair-flip", "--eta", "0.3", "--loss", "mae,rll,nce", "--classifiers", "40",
               "--support", "60", "--samples", "0", "--labels", "deterministic")
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "L <= C/(K-1) checked with the proved sup (mae, rll); the family maximum (nce)" in text


@pytest.mark.parametrize("args, phrase", [
    (["--eta", "1.5"], "must lie in [0, 1]"),
    (["--eta=-0.2"], "must lie in [0, 1]"),
    (["--eta", "0.5", "-K", "1"], "K must be an integer >= 2"),
    (["--eta", "0.5", "--loss", "nope"], "unknown loss"),
    (["--eta", "0.5", "--seed", "-3"], "--seed must be at least 0, got -3"),
    (["--noise-matrix", "NOT_STOCHASTIC", "-K", "2"], "not row-stochastic"),
    (["--noise-matrix", "WRONG_SHAPE", "-K", "2"], "must be 2 x 2"),
    (["--eta", "0.5", "--expr", "(1 - p**a)/a"], "give every parameter of --expr a value for numeric work"),
    (["--eta", "0.5", "--param", "a=1"], "give --expr too"),
    (["--eta", "0.5", "--expr", "1-p", "--param", "a=1"], "--param a: no --expr has such a parameter (theirs: none)"),
    (["--eta", "0.5", "--expr", "1-p", "--expr", " 1-p"], "--expr '1-p' is given twice"),
    (["--eta", "0.5", "--expr", "1-p", "--expr", "(1 - p)"], "--expr '1-p' and '(1 - p)' are the same loss"),
    (["--eta", "0.5", "--expr", "1-p", "--expr", "(1 - p**a)/a"],
     "expr2 ((1 - p**a)/a): give every parameter of --expr a value"),
    (["--eta", "0.5", "--expr", "log(p - 1/2)"], "a loss must be defined on the whole open simplex"),
    (["--eta", "0.5", "--expr", "exp(1/p)", "--classifiers", "20", "--support", "50"],
     "the risks of expr are not finite numbers in float64"),
    (["--noise-matrix", "EMPTY", "-K", "2"], "holds no numbers"),
    (["--eta", "0.5", "--erm", "--erm-seeds", "0"], "--erm needs at least 1 training set"),
    (["--eta", "0.5", "--erm", "--erm-samples", "0"], "--erm-samples must be at least 1, got 0"),
    (["--eta", "0.5", "--erm-samples", "7", "--erm-seeds", "2"], "--erm-samples and --erm-seeds size the ERM check; "
     "give --erm too"),
    (["--eta", "0.5", "--erm-seeds", "2"], "--erm-seeds sizes the ERM check; give --erm too"),
    (["--eta", "0.5", "--plot", "TAU.xyz"], "matplotlib writes no '.xyz' figures"),
    (["--eta", "0.5", "--plot", "FILE/tau.png"], "is a file, not a folder"),
    (["--eta", "0.5", "--plot", "DIR"], "is a folder"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, phrase):
    bad = {"NOT_STOCHASTIC": [[0.7, 0.2], [0.3, 0.7]], "WRONG_SHAPE": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]}
    (tmp_path / "EMPTY.csv").write_text("")
    (tmp_path / "FILE").write_text("not a folder")
    paths = {"EMPTY": "EMPTY.csv", "TAU.xyz": "TAU.xyz", "FILE/tau.png": "FILE/tau.png", "DIR": "."}
    resolved = []
    for a in args:
        if a in bad:
            path = tmp_path / f"{a}.csv"
            np.savetxt(path, bad[a], delimiter=",")
            a = str(path)
        elif a in paths:
            a = str(tmp_path / paths[a])
        resolved.append(a)
    done = run(*resolved)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and phrase in lines[0] and "Traceback" not in done.stderr


def test_eta_lists_and_ranges_are_exact():
    rates = parse_rates("0:0.95:0.05")
    assert len(rates) == 20 and rates[0] == 0 and rates[-1] == Fraction(19, 20) and Fraction(9, 10) in rates
    assert parse_rates("0.2,0.6,0.2") == [Fraction(1, 5), Fraction(3, 5)]
    for bad in ("0:1:0", "0.5:0.1:0.1", "1:2", ",", "0:0.9:0.0001"):
        with pytest.raises(BadInput):
            parse_rates(bad)


class OutOfMemoryError(RuntimeError):
    """Stands in for torch.OutOfMemoryError (the GPU's), which the CLI recognises by name."""


@pytest.mark.parametrize("error, expected", [
    (MemoryError("Unable to allocate 7.28 TiB for an array with shape (1000000, 1000000) and data type float64"),
     "out of memory: Unable to allocate 7.28 TiB for an array with shape (1000000, 1000000) and data type float64;"),
    (OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 has a total capacity of 79 GiB"),
     "out of memory: CUDA out of memory. Tried to allocate 20.00 GiB; use smaller sizes (e.g. --classifiers, "
     "--support, --classes, --samples, --erm-samples)"),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you tried "
                  "to allocate 8000000000000 bytes."), "out of memory: [enforce fail at alloc_cpu.cpp:117]"),
])
def test_out_of_memory_is_one_line_and_exit_1(monkeypatch, capsys, error, expected):
    import symtheory.ranking
    from symtheory.cli.app import main

    def allocate(*args, **kwargs):
        raise error

    monkeypatch.setattr(symtheory.ranking, "verify_ranking", allocate)
    with pytest.raises(SystemExit) as exit_info:
        main(["verify-ranking", "--eta", "0.6", "--json"])
    assert exit_info.value.code == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"symtheory: error: {expected}"), lines


def test_out_of_memory_names_the_sizes_of_the_command_that_ran_out():
    from symtheory.cli.app import command_name, out_of_memory_message

    assert command_name(["train", "--subset", "64"]) == "train" and command_name(["--help"]) is None
    assert out_of_memory_message(MemoryError("no"), "train").endswith(
        "use smaller sizes (e.g. --batch-size, --eval-batch-size, --subset)")
    assert "--classes" in out_of_memory_message(MemoryError("no"), None)


def test_other_runtime_errors_are_not_mistaken_for_memory(monkeypatch):
    import symtheory.ranking
    from symtheory.cli.app import main

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(symtheory.ranking, "verify_ranking", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["verify-ranking", "--eta", "0.6", "--json"])


def test_a_users_loss_is_ranked_beside_the_registry_ones():
    done = run("--eta", "0.6,0.95", "--expr", "(1 - p**a)/a", "--param", "a=1", "--loss", "cce", "--classifiers",
               "40", "--support", "100", "--samples", "0", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["config"]["expression"] == {"name": "expr", "expression": "(1 - p**a)/a", "parameters": {"a": "1"}}
    rows = {(r["loss"], r["eta"]): r for r in data["results"]}
    assert rows[("expr", 0.6)]["symmetric"] == "proved" and rows[("expr", 0.6)]["tau"] == 1
    assert rows[("expr", 0.95)]["tau"] == -1 and rows[("cce", 0.6)]["symmetric"] == "refuted"
    text = run("--eta", "0.6", "--expr", "(1 - p**a)/a", "-p", "a=1/2", "--classifiers", "40", "--support", "100",
               "--samples", "0").stdout
    assert "expr: L(g, k) = (1 - p**a)/a, a = 1/2" in " ".join(text.split())


def test_several_users_losses_are_ranked_each_with_the_parameters_it_has():
    done = run("--eta", "0.6", "--expr", "1 - p**2 + sum_other(q**2)/(K-1)", "--expr", "(1 - p**a)/a", "--param",
               "a=1/2", "--classifiers", "40", "--support", "100", "--samples", "0", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["config"]["losses"] == ["expr1", "expr2"] and data["config"]["expression"] is None
    assert [(e["name"], e["parameters"]) for e in data["config"]["expressions"]] == [("expr1", {}),
                                                                                  ("expr2", {"a": "1/2"})]
    rows = {r["loss"]: r for r in data["results"]}
    assert (rows["expr1"]["symmetric"], rows["expr1"]["tau"], rows["expr1"]["discordant"]) == ("proved", 1, 0)
    assert rows["expr2"]["symmetric"] == "refuted" and rows["expr2"]["discordant"] > 0
    assert data["first_swap"]["expr1"]["eta"] == pytest.approx(0.9)


def test_plot_without_a_suffix_is_a_png_named_in_the_output(tmp_path):
    target = tmp_path / "figures" / "tau"
    done = run("--eta", "0.2,0.9", "--loss", "mae,cce", "--classifiers", "10", "--support", "8", "--samples", "0",
               "--plot", str(target))
    assert done.returncode == 0, done.stderr
    written = target.with_suffix(".png")
    assert written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not target.exists()
    assert f"plot written to {written}" in " ".join(done.stdout.split())


def test_eta_ranges_are_capped_in_all_not_per_range():
    with pytest.raises(BadInput, match="at most 1000 in all"):
        parse_rates("0:0.999:0.001,0.0005:0.9995:0.001")
    assert len(parse_rates("0:0.999:0.001,0:0.999:0.001")) == 1000


def test_a_tiny_loss_is_ranked_and_a_large_constant_gets_a_caveat():
    small = run("--eta", "0.6", "--expr", "(1-p)*1e-300", "--classifiers", "40", "--support", "100", "--samples",
                "0", "--json")
    assert small.returncode == 0, small.stderr
    [row] = json.loads(small.stdout)["results"]
    assert row["tau"] == 1 and row["affine_fit"]["slope"] == pytest.approx(1 / 3, rel=1e-9)
    shifted = run("--eta", "0.6", "--expr", "1e10 + 1-p", "--classifiers", "40", "--support", "100", "--samples", "0")
    assert shifted.returncode == 0, shifted.stderr
    assert "pairs are tied in one ranking only (risks within 1e-12 x max|risk|)" in " ".join(shifted.stdout.split())


def test_a_noise_matrix_plot_has_one_bar_per_loss_and_long_labels_wrap(monkeypatch, tmp_path):
    from symtheory import ranking_plot
    from symtheory.noise_settings import setting_from_matrix, settings_for
    from symtheory.ranking import RankingConfig, verify_ranking
    from symtheory.user_loss import user_losses

    figures = []
    monkeypatch.setattr(ranking_plot, "_save", lambda fig, path: figures.append(fig) or path)
    matrix = np.array([[0.6, 0.4, 0.0], [0.0, 0.6, 0.4], [0.4, 0.0, 0.6]])
    config = RankingConfig(classes=3, classifiers=30, support=40, losses=("mae", "cce"), mc_samples=0)
    report = verify_ranking([setting_from_matrix(matrix, 3, "t.csv")], config, np.random.default_rng(0))
    ranking_plot.plot_tau(report, tmp_path / "m.png")
    [axes] = figures[0].axes
    widths = [bar.get_width() for bar in axes.patches]
    assert widths == pytest.approx([report.result(n, 0).agreement.tau for n in ("mae", "cce")])
    long = "log(1 + p) + " * 8 + "1 - p"
    config = RankingConfig(classes=3, classifiers=30, support=40, losses=(), mc_samples=0,
                           expressions=user_losses([long], {}))
    report = verify_ranking(settings_for(["0.2"], 3), config, np.random.default_rng(0))
    ranking_plot.plot_tau(report, tmp_path / "l.png")
    [label] = [t.get_text() for t in figures[1].axes[0].get_legend().get_texts() if t.get_text().startswith("expr")]
    assert max(len(line) for line in label.split("\n")) <= 48 and label.replace("\n", " ") == f"expr: {long}"


def test_a_matrix_file_rounded_from_symmetric_noise_is_named_so():
    from symtheory.noise_settings import setting_from_matrix

    rounded = setting_from_matrix(np.full((3, 3), 0.3333333333), 3, "near.csv")
    assert (rounded.rate, rounded.label) == (None, "near.csv (class-conditional: it differs by 3e-11 from symmetric "
                                                   "noise at eta=2/3; write its entries exactly, e.g. 1/3, for "
                                                   "symmetric noise)")
    exact = setting_from_matrix(np.full((3, 3), 1 / 3), 3, "exact.csv")
    assert (str(exact.rate), exact.label) == ("2/3", "exact.csv (symmetric, eta=2/3)")
    far = setting_from_matrix(np.array([[0.5, 0.25, 0.25], [0.3, 0.4, 0.3], [0.25, 0.25, 0.5]]), 3, "far.csv")
    assert (far.rate, far.label) == (None, "far.csv")


def test_pair_flip_rates_are_plotted_against_eta_and_kept_in_json(monkeypatch, tmp_path):
    from symtheory import ranking_plot
    from symtheory.noise_settings import settings_for
    from symtheory.ranking import RankingConfig, verify_ranking

    figures = []
    monkeypatch.setattr(ranking_plot, "_save", lambda fig, path: figures.append(fig) or path)
    config = RankingConfig(classes=4, classifiers=20, support=30, losses=("mae", "cce"), mc_samples=0)
    report = verify_ranking(settings_for(["0", "0.3", "0.6"], 4, "pair-flip"), config, np.random.default_rng(0))
    ranking_plot.plot_tau(report, tmp_path / "p.png")
    [axes] = figures[0].axes
    assert [list(line.get_xdata()) for line in axes.lines] == [[0.0, 0.3, 0.6]] * 2
    assert [r["eta"] for r in report.to_dict()["results"]] == [0.0, 0.3, 0.6] * 2
    assert [s["eta"] for s in report.to_dict()["settings"]] == [0.0, 0.3, 0.6]


@pytest.mark.parametrize("args, phrase", [
    (["--plot", "/dev/null"], "is not a regular file"),
    (["--noise-matrix", ".", "-K", "2"], "--noise-matrix '.' is a folder"),
    (["--loss", "none"], "--loss none leaves no loss to check"),
])
def test_more_bad_input_is_one_line(tmp_path, args, phrase):
    done = subprocess.run([sys.executable, "-m", "symtheory", "verify-ranking",
                           *(["--eta", "0.5"] if "--noise-matrix" not in args else []), *args],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2 and phrase in done.stderr and len(done.stderr.strip().splitlines()) == 1


SMALL = ("-K", "3", "--classifiers", "30", "--support", "50", "--samples", "0")


def test_a_big_constant_that_ties_every_clean_risk_is_named():
    # 1 - p + 1e13: risks spread by about 0.75 around 1e13, all within 1e-12 x max|risk|; no hint was given
    done = run("--eta", "0.3", "--expr", "1 - p + 1e13", *SMALL)
    assert done.returncode == 0, done.stderr
    shown = " ".join(done.stdout.split())
    assert ("expr: every clean risk is within 1e-12 x max|risk| of the others (their spread 0.754 against "
            "max|risk| 1e+13), so all classifiers are tied") in shown
    plain = " ".join(run("--eta", "0.3", "--expr", "1 - p", *SMALL).stdout.split())
    assert "every clean risk is within" not in plain and "tied in one ranking only" not in plain


def test_no_tolerance_hint_where_theory_ties_every_noisy_risk():
    # at eta = (K-1)/K a symmetric loss's noisy risk is C/K for every classifier: advising a smaller --rtol
    # there would rank rounding noise
    done = run("--eta", "2/3", "--loss", "rll", *SMALL)
    assert done.returncode == 0, done.stderr
    shown = " ".join(done.stdout.split())
    assert "every classifier has noisy risk C/K (all tied)" in shown
    assert "rll: " not in shown and "--rtol" not in shown
