"""Noise matrices (symtheory.noise_matrices, symtheory.noise_settings) and the Ghosh et al. condition."""

from __future__ import annotations

import re
import warnings
from fractions import Fraction

import numpy as np
import pytest

from symtheory import noise_matrices as nm
from symtheory.errors import BadInput
from symtheory.noise_settings import setting_from_matrix, settings_for


@pytest.mark.parametrize("kind", nm.NAMED_KINDS)
@pytest.mark.parametrize("eta", [0.0, 0.3, 0.9, 1.0])
def test_named_matrices_are_row_stochastic_with_diagonal_one_minus_eta(kind, eta):
    t = nm.named(kind, eta, 6)
    assert np.allclose(t.sum(axis=1), 1.0, atol=1e-15) and (t >= 0).all()
    assert np.allclose(np.diag(t), 1.0 - eta)
    nm.validate(t, 6)


def test_symmetric_matrix_spreads_the_noise_evenly():
    t = nm.symmetric(0.6, 4)
    assert t[0, 1] == pytest.approx(0.2) and t[3, 2] == pytest.approx(0.2)


@pytest.mark.parametrize("k", [3, 10])
def test_ghosh_condition_flips_at_each_kinds_own_rate(k):
    """T[i,i] > T[i,j]: symmetric below (K-1)/K, pair-flip below 1/2, asymmetric below 1/(1 + m)."""
    share = 0.5 / (1 - 0.5 ** (k - 1))
    largest_off = {"symmetric": 1 / (k - 1), "pair-flip": 1.0, "asymmetric": share}
    for kind, per_eta in largest_off.items():
        limit = 1 / (1 + per_eta)
        assert nm.ghosh_condition(nm.named(kind, limit - 1e-6, k)).holds, kind
        eta = limit + 1e-6
        cond = nm.ghosh_condition(nm.named(kind, eta, k))
        assert not cond.holds and cond.margin == pytest.approx((1 - eta) - per_eta * eta, rel=1e-6), kind
    assert 1 / (1 + largest_off["symmetric"]) == pytest.approx((k - 1) / k)


def test_ghosh_condition_names_the_failing_entry():
    t = np.eye(3)
    t[1] = [0.2, 0.3, 0.5]
    cond = nm.ghosh_condition(t)
    assert not cond.holds and (cond.worst_row, cond.worst_column) == (1, 2) and cond.margin == pytest.approx(-0.2)


@pytest.mark.parametrize("matrix, message", [
    (np.array([[0.7, 0.2], [0.3, 0.7]]), "row 0 sums to 0.9"),
    (np.array([[1.2, -0.2], [0.3, 0.7]]), "negative"),
    (np.eye(3), "must be 2 x 2"),
    (np.array([[np.nan, 1.0], [0.0, 1.0]]), "not finite"),
])
def test_validate_rejects_bad_matrices(matrix, message):
    with pytest.raises(BadInput, match=message):
        nm.validate(matrix, 2)


def test_load_csv_round_trip_and_symmetric_detection(tmp_path):
    path = tmp_path / "t.csv"
    np.savetxt(path, nm.symmetric(0.3, 4), delimiter=",")
    setting = setting_from_matrix(nm.load(path, 4), 4, path.name)
    assert setting.rate == Fraction(3, 10) and setting.regime() == "below"
    np.savetxt(path, nm.pair_flip(0.3, 4), delimiter=",")
    assert setting_from_matrix(nm.load(path, 4), 4, path.name).regime() == "class-conditional"
    with pytest.raises(BadInput, match="does not exist"):
        nm.load(tmp_path / "missing.csv", 4)


def test_regimes_are_decided_exactly_at_the_threshold():
    regimes = [s.regime() for s in settings_for(["0.899", "9/10", "0.9", "0.901"], 10)]
    assert regimes == ["below", "at", "at", "above"]
    assert settings_for(["0.5"], 2, "pair-flip")[0].regime() == "at"
    assert settings_for(["0.3"], 3, "pair-flip")[0].regime() == "class-conditional"


@pytest.mark.parametrize("bad", ["-0.1", "1.01", "x", "1/0"])
def test_rates_outside_zero_one_are_bad_input(bad):
    with pytest.raises(BadInput):
        settings_for([bad], 10)


def test_rates_that_round_alike_keep_their_own_labels_and_rows():
    from symtheory.noise_settings import rate_text

    labels = [s.label for s in settings_for(["2/3", "0.6666667", "0.6", "1/8"], 3)]
    assert labels == ["symmetric eta=2/3", "symmetric eta=0.6666667", "symmetric eta=0.6", "symmetric eta=0.125"]
    assert rate_text(Fraction(0)) == "0" and rate_text(Fraction(1)) == "1"
    # a tiny rate was written with all its zeros (400 of them for --eta 1e-400)
    assert rate_text(Fraction(1, 10**400)) == "1e-400"
    assert rate_text(Fraction(125, 10**12)) == "1.25e-10"
    assert rate_text(Fraction(1, 10**7)) == "0.0000001" and rate_text(Fraction(1, 10**8)) == "1e-8"
    assert rate_text(Fraction(3, 2 * 10**9)) == "1.5e-9"


@pytest.mark.parametrize("text", ["", "# only a comment\n\n"])
def test_an_empty_csv_is_bad_input_without_a_warning(tmp_path, text):
    path = tmp_path / "empty.csv"
    path.write_text(text)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(BadInput, match="holds no numbers"):
            nm.load(path, 3)


def test_csv_rows_are_clean_labels_and_columns_noisy_labels(tmp_path):
    from symtheory.distributions import make_distribution

    matrix = np.array([[0.5, 0.5, 0.0], [0.0, 0.9, 0.1], [0.2, 0.0, 0.8]])
    path = tmp_path / "t.csv"
    np.savetxt(path, matrix, delimiter=",")
    t = nm.load(path, 3)
    dist = make_distribution(7, 3, np.random.default_rng(1))
    noisy = dist.label_weights(t)
    for x in range(7):
        for z in range(3):
            own = sum(dist.weights[x] * dist.posterior[x, y] * matrix[y, z] for y in range(3))
            assert noisy[x, z] == pytest.approx(own, rel=1e-12)


def test_a_csv_matrix_takes_fractions_and_names_a_cell_that_is_no_number(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("# K = 3, row = clean label\n2/3, 1/6, 1/6\n1/6, 2/3, 1/6\n0.1, 0.1, 8e-1\n")
    t = nm.load(path, 3)
    assert t[0].tolist() == [2 / 3, 1 / 6, 1 / 6] and t[2].tolist() == [0.1, 0.1, 0.8]
    for text, message in [("# K = 3\n\n1/3, x, 1/3\n", "t.csv': line 3: 'x' is not a number"),
                          ("0.5, 0.5\n1, 0, 0\n", "has rows of different lengths"),
                          ("1/0, 1\n0, 1\n", "line 1: '1/0' divides by zero"),
                          ("0, 1\n1e999, 0\n", "line 2: '1e999' is too large for a probability"),
                          ("0, 1\n1/1e-400, 0\n", "line 2: '1/1e-400' is too large for a probability")]:
        path.write_text(text)
        with pytest.raises(BadInput, match=re.escape(message)):
            nm.load(path, 3)


def test_a_csv_matrix_saved_with_a_byte_order_mark_or_windows_line_ends_is_read(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xef\xbb\xbf0.8,0.1,0.1\r\n0.1,0.8,0.1\r\n0.1,0.1,0.8")
    assert nm.load(path, 3)[0].tolist() == [0.8, 0.1, 0.1]
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(BadInput, match="is a folder, not a CSV file"):
        nm.load(tmp_path / "folder.csv", 3)


def test_training_reads_the_same_csv_matrix(tmp_path):
    from symtheory.empirical.label_noise import read_matrix_csv

    path = tmp_path / "t.csv"
    path.write_text("2/3, 1/6, 1/6\n1/6, 2/3, 1/6\n1/6, 1/6, 2/3\n")
    matrix = read_matrix_csv(path, 3)  # rows renormalized to sum to 1 in floats
    assert np.abs(matrix - nm.load(path, 3)).max() <= 2e-16
    assert matrix[1].tolist() == pytest.approx([1 / 6, 2 / 3, 1 / 6], abs=2e-16)
