"""Label-noise matrices T with T[i, j] = P(noisy label j | clean label i), in numpy.

Symmetric noise (Patel & Sastry 2021, Sec. 3): T = (1 - eta) I + eta/(K-1) (1 - I). Class-conditional
noise is any row-stochastic T; the named kinds below are the ones used in the label-noise literature.
The sufficient condition checked by :func:`ghosh_condition` is from Ghosh, Kumar & Sastry 2017 (AAAI),
Theorem 3 (see its docstring). The torch-side label corruption lives in ``symtheory.empirical``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from symtheory.errors import BadInput

ROW_SUM_TOLERANCE = 1e-9
NAMED_KINDS = ("symmetric", "pair-flip", "asymmetric")


def check_classes(classes: int) -> None:
    """K must be an integer >= 2."""
    if int(classes) != classes or classes < 2:
        raise BadInput(f"the number of classes K must be an integer >= 2, got {classes}")


def check_rate(eta: float) -> None:
    """A noise rate must lie in [0, 1]."""
    if not 0.0 <= float(eta) <= 1.0:
        raise BadInput(f"the noise rate eta must lie in [0, 1], got {eta}")


def threshold(classes: int) -> Fraction:
    """(K-1)/K: the slope 1 - eta K/(K-1) of the affine risk relation vanishes there (Theorem 1)."""
    return Fraction(classes - 1, classes)


def symmetric(eta: float, classes: int) -> np.ndarray:
    """T = (1 - eta) I + eta/(K-1) (1 - I): keep the label w.p. 1-eta, else each other class w.p. eta/(K-1)."""
    check_classes(classes)
    check_rate(eta)
    off = np.full((classes, classes), eta / (classes - 1))
    np.fill_diagonal(off, 1.0 - eta)
    return off


def pair_flip(eta: float, classes: int) -> np.ndarray:
    """T[i, i] = 1 - eta, T[i, i+1 mod K] = eta: each class is confused with one neighbour (Han et al. 2018)."""
    check_classes(classes)
    check_rate(eta)
    t = (1.0 - eta) * np.eye(classes)
    t[np.arange(classes), (np.arange(classes) + 1) % classes] += eta
    return t


def asymmetric(eta: float, classes: int, decay: float = 0.5) -> np.ndarray:
    """T[i, i] = 1 - eta; the mass eta goes to i+d (mod K), d = 1..K-1, in proportion to decay^(d-1).

    The largest off-diagonal entry is eta (1 - decay)/(1 - decay^(K-1)), so the diagonal stops dominating
    at a rate between pair-flip's 1/2 and symmetric noise's (K-1)/K (2/3 for decay 1/2 and large K).
    """
    check_classes(classes)
    check_rate(eta)
    shares = decay ** np.arange(classes - 1)
    shares = eta * shares / shares.sum()
    t = (1.0 - eta) * np.eye(classes)
    rows = np.arange(classes)
    for d, share in enumerate(shares, start=1):
        t[rows, (rows + d) % classes] += share
    return t


def named(kind: str, eta: float, classes: int) -> np.ndarray:
    """The noise matrix of a named kind (symmetric, pair-flip, asymmetric) at rate eta."""
    builders = {"symmetric": symmetric, "pair-flip": pair_flip, "asymmetric": asymmetric}
    key = kind.strip().lower()
    if key not in builders:
        raise BadInput(f"unknown noise kind {kind!r}; known kinds: {', '.join(NAMED_KINDS)} (or a .csv file)")
    return builders[key](eta, classes)


def validate(matrix: np.ndarray, classes: int) -> np.ndarray:
    """T as float64, checked: shape (K, K), finite, entries >= 0, every row summing to 1 (within 1e-9)."""
    t = np.asarray(matrix, dtype=float)
    if t.ndim != 2 or t.shape != (classes, classes):
        raise BadInput(f"the noise matrix must be {classes} x {classes} for K = {classes}, got shape "
                       f"{' x '.join(map(str, t.shape)) or 'scalar'}")
    if not np.isfinite(t).all():
        raise BadInput("the noise matrix has entries that are not finite numbers")
    if (t < 0).any():
        i, j = np.argwhere(t < 0)[0]
        raise BadInput(f"the noise matrix is not row-stochastic: T[{i},{j}] = {t[i, j]:g} is negative")
    sums = t.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > ROW_SUM_TOLERANCE)
    if bad.size:
        raise BadInput(f"the noise matrix is not row-stochastic: row {bad[0]} sums to {sums[bad[0]]:.12g}, not 1")
    return t


def load(path: str | Path, classes: int) -> np.ndarray:
    """Read T from a CSV file (see :func:`read_csv`; row i = clean label i, column j = noisy label j) and
    validate it."""
    return validate(read_csv(path), classes)


def read_csv(path: str | Path) -> np.ndarray:
    """The matrix a CSV file writes: rows of comma-separated numbers, decimals ('0.1', '1e-3') or fractions
    ('1/9'), each read exactly and then as float64; blank lines and lines starting with # are skipped, and a
    UTF-8 byte-order mark is ignored. BadInput, naming the file's line, when the file is missing, unreadable
    or a folder, a cell is not a number, rows differ in length, or it holds no numbers."""
    path = Path(path)
    if not path.exists():
        raise BadInput(f"noise matrix file {str(path)!r} does not exist")
    if not path.is_file():
        raise BadInput(f"noise matrix file {str(path)!r} is a folder, not a CSV file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"noise matrix file {str(path)!r} cannot be read ({getattr(exc, 'strerror', None) or exc})"
                       ) from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise BadInput(f"noise matrix file {str(path)!r} holds no numbers; write K rows of K comma-separated "
                       "numbers, row i being P(noisy label j | clean label i)")
    try:
        values = [[_cell(cell, f"line {n}") for cell in line.split(",")] for n, line in lines]
    except BadInput as exc:
        raise BadInput(f"noise matrix file {str(path)!r}: {exc}") from None
    if len({len(r) for r in values}) > 1:
        raise BadInput(f"noise matrix file {str(path)!r} has rows of different lengths")
    return np.array(values, dtype=np.float64)


_PLAIN_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _cell(cell: str, where: str) -> float:
    """A cell as float64: a plain decimal directly (Python rounds it correctly, as the exact value would
    round), anything else (a fraction) through :func:`~symtheory.exact_numbers.exact_number`."""
    from symtheory.exact_numbers import exact_number

    text = cell.strip()
    if _PLAIN_DECIMAL.fullmatch(text):
        value = float(text)
    else:
        try:
            value = float(exact_number(text, where))
        except OverflowError:
            value = float("inf")
    if not math.isfinite(value):
        raise BadInput(f"{where}: {text[:40]!r} is too large for a probability")
    return value


def symmetric_rate(matrix: np.ndarray, atol: float = 1e-12) -> float | None:
    """eta if T equals the symmetric-noise matrix of some rate eta (within atol), else None."""
    k = matrix.shape[0]
    eta = 1.0 - float(np.mean(np.diag(matrix)))
    return eta if np.allclose(matrix, symmetric(min(max(eta, 0.0), 1.0), k), rtol=0, atol=atol) else None


@dataclass(frozen=True)
class GhoshCondition:
    """Whether T[i, i] > T[i, j] for every j != i, with the smallest margin and the row where it occurs."""

    holds: bool
    margin: float
    worst_row: int
    worst_column: int

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        return {"holds": self.holds, "margin": self.margin, "worst_row": self.worst_row,
                "worst_column": self.worst_column,
                "statement": "T[i,i] > T[i,j] for all j != i (eta_ij < 1 - eta_i)"}


def ghosh_condition(matrix: np.ndarray) -> GhoshCondition:
    """Ghosh, Kumar & Sastry 2017 (AAAI), Theorem 3, noise condition: eta_ij < 1 - eta_i for all j != i.

    With eta_ij = T[i, j] and eta_i = sum_{j != i} eta_ij this reads T[i, i] > T[i, j]. The theorem (as
    stated there) says: a symmetric loss with 0 <= L <= C/(K-1) whose clean risk minimizer f* has
    R(f*) = 0 is noise tolerant under class-conditional noise satisfying this condition, i.e. f* also
    minimizes the noisy risk. It is a sufficient condition on minimizers, not on the whole ranking.
    """
    t = np.asarray(matrix, dtype=float)
    off = t.copy()
    np.fill_diagonal(off, -np.inf)
    columns = off.argmax(axis=1)
    margins = np.diag(t) - off[np.arange(len(t)), columns]
    row = int(margins.argmin())
    return GhoshCondition(bool((margins > 0).all()), float(margins[row]), row, int(columns[row]))
