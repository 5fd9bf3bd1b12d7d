"""Label noise: flip rates against their binomial standard errors, where flips go, seeding, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from symtheory.empirical.label_noise import (
    labels_sha256,
    load_labels,
    make_noisy_labels,
    pair_matrix,
    read_matrix_csv,
    save_labels,
    symmetric_matrix,
)
from symtheory.errors import BadInput

K = 10
N = 100_000


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    return np.random.default_rng(123).integers(0, K, N)


def _within(observed: float, p: float, n: int, z: float = 4.0) -> bool:
    return abs(observed - p) <= z * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("eta", [0.2, 0.4, 0.6])
def test_symmetric_flip_rate_and_flips_never_land_on_the_clean_class(clean, eta):
    labels = make_noisy_labels(clean, K, seed=7, kind="symmetric", eta=eta)
    # A flip that could land on the clean class would show a changed-label rate of eta (K-1)/K instead.
    assert _within(labels.flip_rate, eta, N), (labels.flip_rate, eta)
    assert not _within(labels.flip_rate, eta * (K - 1) / K, N)
    assert labels.describe()["realised_flip_rate"] == labels.flip_rate


def test_symmetric_flips_are_uniform_over_the_other_classes(clean):
    labels = make_noisy_labels(clean, K, seed=3, kind="symmetric", eta=0.6)
    flipped = labels.flipped
    offsets = (labels.noisy[flipped] - clean[flipped]) % K
    assert offsets.min() >= 1
    shares = np.bincount(offsets, minlength=K)[1:] / flipped.sum()
    assert all(_within(s, 1 / (K - 1), int(flipped.sum())) for s in shares), shares


def test_pair_flips_go_to_the_next_class(clean):
    labels = make_noisy_labels(clean, K, seed=5, kind="pair", eta=0.3)
    flipped = labels.flipped
    assert _within(labels.flip_rate, 0.3, N)
    assert np.array_equal(labels.noisy[flipped], (clean[flipped] + 1) % K)


def test_matrix_noise_follows_the_transition_matrix(clean):
    t = np.full((K, K), 0.0)
    t[np.arange(K), np.arange(K)] = 0.7
    t[np.arange(K), (np.arange(K) + 3) % K] = 0.2
    t[np.arange(K), (np.arange(K) + 5) % K] = 0.1
    labels = make_noisy_labels(clean, K, seed=11, kind="matrix", matrix=t)
    counts = np.zeros((K, K))
    np.add.at(counts, (clean, labels.noisy), 1)
    freq = counts / counts.sum(1, keepdims=True)
    rows = np.bincount(clean, minlength=K)
    for i in range(K):
        for j in range(K):
            if t[i, j] == 0:
                assert counts[i, j] == 0
            else:
                assert _within(freq[i, j], t[i, j], int(rows[i])), (i, j, freq[i, j])
    assert _within(labels.flip_rate, 0.3, N)


def test_draws_are_seeded_and_nested_across_eta(clean):
    a = make_noisy_labels(clean, K, seed=1, eta=0.4)
    b = make_noisy_labels(clean, K, seed=1, eta=0.4)
    c = make_noisy_labels(clean, K, seed=2, eta=0.4)
    small = make_noisy_labels(clean, K, seed=1, eta=0.2)
    assert a.sha256 == b.sha256 == labels_sha256(a.noisy)
    assert a.sha256 != c.sha256
    assert np.all(a.flipped[small.flipped])
    assert np.array_equal(a.noisy[small.flipped], small.noisy[small.flipped])
    assert make_noisy_labels(clean, K, seed=1, eta=0.0).flip_rate == 0.0


def test_matrices():
    assert np.allclose(symmetric_matrix(0.3, 4).sum(1), 1)
    assert symmetric_matrix(0.3, 4)[0, 1] == pytest.approx(0.1)
    assert pair_matrix(0.3, 4)[3, 0] == pytest.approx(0.3)


@pytest.mark.parametrize("eta", [1.0, -0.1, 1.5])
def test_eta_outside_unit_interval_is_refused(clean, eta):
    with pytest.raises(BadInput, match=r"\[0, 1\)"):
        make_noisy_labels(clean[:10], K, seed=0, eta=eta)


@pytest.mark.parametrize("text, message", [
    ("0.5,0.5\n0.5,0.6\n", "not row-stochastic"),
    ("1.5,-0.5\n0,1\n", "probabilities"),
    ("1,0,0\n0,1,0\n0,0,1\n", "2x2"),
    ("1,0\nx,1\n", "line 2: 'x' is not a number"),
])
def test_bad_transition_matrix_csv(tmp_path, text, message):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(BadInput, match=message):
        read_matrix_csv(path, 2)


def test_matrix_csv_and_labels_file_round_trip(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("# clean row i, noisy column j\n0.9,0.1\n0.25,0.75\n")
    t = read_matrix_csv(path, 2)
    assert t[1, 1] == 0.75
    labels = make_noisy_labels(np.array([0, 1] * 50), 2, seed=4, kind="matrix", matrix=t)
    save_labels(tmp_path / "labels.npz", labels, np.arange(100) * 3)
    loaded, indices = load_labels(tmp_path / "labels.npz")
    assert loaded.sha256 == labels.sha256
    assert loaded.kind == "matrix" and loaded.eta is None
    assert indices[-1] == 297
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.npz", "t.csv"]


def test_labels_file_is_whole_or_absent_when_its_write_fails(tmp_path, monkeypatch):
    labels = make_noisy_labels(np.array([0, 1] * 50), 2, seed=4, kind="symmetric", eta=0.2)

    def fail_midway(handle, **arrays):
        handle.write(b"PK partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", fail_midway)
    with pytest.raises(OSError, match="disk full"):
        save_labels(tmp_path / "labels.npz", labels, np.arange(100))
    assert list(tmp_path.iterdir()) == []
