"""What a training run is made of: the datasets it can use, its learning-rate schedule and its TrainConfig.

Torch-free, so the command line can check names and values before importing torch. The learning rate of
epoch e (1-based) is a pure function of e (:meth:`LRSchedule.lr_at`), so a resumed run needs no scheduler
state.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field, fields, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping

from symtheory.errors import BadInput
from symtheory.user_loss import USER_LOSS_NAME, UserLoss

SUBSET_FILE = Path("cifar-10-partial") / "cifar10_partial.npz"
OPTIMIZERS = ("sgd", "adam")
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset name, its torchvision class, where its files live under the data directory, and its shape."""

    name: str
    description: str
    torchvision_class: str | None
    folder: str
    channels: int
    image_size: int
    num_classes: int = 10
    mirror_invariant: bool = False
    """Whether a left-right mirror image keeps its class (CIFAR-10 photos do, digits do not): --augment flips
    only such datasets."""


DATASETS: dict[str, DatasetSpec] = {
    d.name: d
    for d in (
        DatasetSpec("mnist", "MNIST, 60,000 train / 10,000 test, 1x28x28", "MNIST", "MNIST/raw", 1, 28),
        DatasetSpec("fashion-mnist", "Fashion-MNIST, 60,000 train / 10,000 test, 1x28x28", "FashionMNIST",
                    "FashionMNIST/raw", 1, 28),
        DatasetSpec("cifar10", "CIFAR-10, 50,000 train / 10,000 test, 3x32x32", "CIFAR10", "cifar-10-batches-py", 3, 32,
                    mirror_invariant=True),
        DatasetSpec("cifar10-subset", "the real CIFAR-10 subset (first 1,000 images of each batch): 5,000 train / "
                    "1,000 test, 3x32x32", None, str(SUBSET_FILE), 3, 32, mirror_invariant=True),
    )
}


def get_dataset_spec(name: str) -> DatasetSpec:
    """The entry for ``name`` (case-insensitive); BadInput listing the choices otherwise."""
    key = name.strip().lower()
    if key not in DATASETS:
        raise BadInput(f"unknown dataset {name!r}; choices: {', '.join(DATASETS)}")
    return DATASETS[key]


@dataclass(frozen=True)
class LRSchedule:
    """lr(e) = lr0 * gamma^m(e) for epoch e = 1, 2, ...

    constant: m = 0; multistep: m = number of milestones M with e > M ("times gamma after epoch M");
    exponential: m = e - 1 ("times gamma after every epoch").
    """

    kind: str = "constant"
    milestones: tuple[int, ...] = ()
    gamma: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ("constant", "multistep", "exponential"):
            raise BadInput(f"unknown lr schedule {self.kind!r}; choices: constant, multistep, exponential")
        if not (math.isfinite(self.gamma) and self.gamma > 0):
            raise BadInput(f"lr schedule gamma must be positive, got {self.gamma}")
        object.__setattr__(self, "milestones", tuple(sorted(int(m) for m in self.milestones)))

    def lr_at(self, base_lr: float, epoch: int) -> float:
        """The learning rate used throughout epoch ``epoch`` (1-based)."""
        if self.kind == "multistep":
            return base_lr * self.gamma ** sum(epoch > m for m in self.milestones)
        if self.kind == "exponential":
            return base_lr * self.gamma ** (epoch - 1)
        return base_lr

    def describe(self) -> str:
        """The schedule as text that :meth:`parse` reads back."""
        if self.kind == "multistep":
            return f"multistep:{','.join(map(str, self.milestones))}:{self.gamma:g}"
        if self.kind == "exponential":
            return f"exponential:{self.gamma:g}"
        return "constant"

    @classmethod
    def parse(cls, text: str) -> "LRSchedule":
        """``constant``, ``multistep:100,150:0.1`` or ``exponential:0.95``."""
        parts = text.strip().lower().split(":")
        try:
            if parts == ["constant"]:
                return cls()
            if parts[0] == "multistep" and len(parts) == 3:
                return cls("multistep", tuple(int(m) for m in parts[1].split(",") if m), float(parts[2]))
            if parts[0] == "exponential" and len(parts) == 2:
                return cls("exponential", (), float(parts[1]))
        except ValueError:
            pass
        raise BadInput(f"cannot read lr schedule {text!r}; write constant, multistep:100,150:0.1 or exponential:0.95")


EXECUTION_FIELDS = ("device", "precision", "channels_last", "compile", "deterministic", "eval_batch_size")
"""TrainConfig fields that say how a run executes, not which experiment it is: grids, plots and reports
treat runs that differ only in these as the same experiment."""


def exact_param_text(name: str, value: Any) -> str:
    """A parameter value as exact text: the shortest fraction with the same float64, else the float's repr."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadInput(f"parameter {name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise BadInput(f"parameter {name} must be finite, got {value!r}")
    simple = Fraction(number).limit_denominator(10**9)
    return str(simple) if float(simple) == number else repr(number)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a run. Free-flag defaults: MLP on MNIST, Adam lr 1e-3, batch 128."""

    dataset: str = "mnist"
    arch: str = "mlp"
    loss: str = "cce"
    loss_params: Mapping[str, float] = field(default_factory=dict)
    loss_expr: str | None = None
    """With loss 'expr': the user's loss, written as for ``check-loss --expr`` (its parameters in loss_params)."""
    noise: str = "symmetric"
    eta: float = 0.0
    noise_matrix: tuple[tuple[float, ...], ...] | None = None
    epochs: int = 100
    batch_size: int = 128
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    lr_schedule: LRSchedule = LRSchedule()
    normalize: bool = True
    augment: bool = False
    seed: int = 0
    subset: int | None = None
    device: str = "auto"
    precision: str = "auto"
    channels_last: bool | None = None
    compile: bool = False
    deterministic: bool | None = None
    eval_batch_size: int = 1024
    preset: str | None = None

    def __post_init__(self) -> None:
        if self.loss_expr is not None:
            from symtheory.parser import normalize_expression

            object.__setattr__(self, "loss_expr", normalize_expression(self.loss_expr))

    def validate(self) -> "TrainConfig":
        """Check names and ranges, and that the network takes the dataset's images, without torch."""
        from symtheory.empirical.label_noise import NOISE_KINDS, check_eta
        from symtheory.empirical.networks import get_architecture
        from symtheory.registry import get_loss

        data = get_dataset_spec(self.dataset)
        get_architecture(self.arch).check(data.channels, data.image_size)
        if self.loss == USER_LOSS_NAME or self.loss_expr is not None:
            user = self.user_loss()
            if not user.depends_on_g(data.num_classes):
                raise BadInput(f"the loss {self.loss_expr} does not depend on g: it has no gradient to train with")
        else:
            spec = get_loss(self.loss)
            if not spec.differentiable:
                raise BadInput(f"loss {spec.name!r} has no gradient and cannot be trained")
            for name, value in self.loss_params.items():
                spec.param(name).value(value)
        if self.noise not in NOISE_KINDS:
            raise BadInput(f"unknown noise kind {self.noise!r}; choices: {', '.join(NOISE_KINDS)}")
        if self.noise == "matrix" and self.noise_matrix is None:
            raise BadInput("noise kind 'matrix' needs --noise-matrix FILE.csv")
        check_eta(self.eta)
        if not 0 <= int(self.seed) < 2**63:
            raise BadInput(f"seed must be an integer in [0, 2**63), got {self.seed}")
        for name in ("epochs", "batch_size", "eval_batch_size"):
            if int(getattr(self, name)) < 1:
                raise BadInput(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.subset is not None and self.subset < 1:
            raise BadInput(f"subset must be at least 1, got {self.subset}")
        if self.optimizer not in OPTIMIZERS:
            raise BadInput(f"unknown optimizer {self.optimizer!r}; choices: {', '.join(OPTIMIZERS)}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise BadInput(f"lr must be positive, got {self.lr}")
        if not (0 <= self.momentum < 1):
            raise BadInput(f"momentum must be in [0, 1), got {self.momentum}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise BadInput(f"weight decay must be non-negative and finite, got {self.weight_decay}")
        if self.precision not in PRECISIONS:
            raise BadInput(f"unknown precision {self.precision!r}; choices: {', '.join(PRECISIONS)}")
        return self

    def user_loss(self) -> "UserLoss":
        """The user's loss of a config with loss 'expr' (BadInput unless loss and loss_expr go together); a
        parameter value is handed to the symbolic side as the simplest fraction that is the same float (1/3,
        not 3333333333333333/10**16)."""
        if not self.loss_expr or not self.loss_expr.strip():
            raise BadInput("the loss expression (--expr) is empty")
        if self.loss != USER_LOSS_NAME:
            raise BadInput(f"a loss expression is the loss {USER_LOSS_NAME!r}, not {self.loss!r}: give --expr "
                           "without --loss")
        return UserLoss(self.loss_expr, tuple(sorted((k, exact_param_text(k, v)) for k, v in self.loss_params.items())))

    def with_overrides(self, **overrides: Any) -> "TrainConfig":
        """A copy with the given (non-None) fields replaced."""
        given = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(given) - {f.name for f in fields(self)}
        if unknown:
            raise BadInput(f"unknown config field(s): {', '.join(sorted(unknown))}")
        return replace(self, **given)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (the schedule as a nested dict)."""
        data = asdict(self)
        data["loss_params"] = dict(self.loss_params)
        data["lr_schedule"]["milestones"] = list(self.lr_schedule.milestones)
        if self.noise_matrix is not None:
            data["noise_matrix"] = [list(row) for row in self.noise_matrix]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainConfig":
        """Inverse of :meth:`to_dict`; unknown keys are refused."""
        values = dict(data)
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise BadInput(f"config has unknown field(s): {', '.join(sorted(unknown))}")
        if isinstance(values.get("lr_schedule"), Mapping):
            schedule = dict(values["lr_schedule"])
            values["lr_schedule"] = LRSchedule(schedule["kind"], tuple(schedule["milestones"]), schedule["gamma"])
        if values.get("noise_matrix") is not None:
            values["noise_matrix"] = tuple(tuple(float(v) for v in row) for row in values["noise_matrix"])
        return cls(**values)

    def run_name(self) -> str:
        """``<preset or arch>-<dataset>-<loss>-eta<eta>-seed<seed>`` (noise kind inserted unless symmetric; matrix
        noise is ``matrix-`` and the first 8 hex digits of the SHA-256 of its values, :meth:`matrix_tag`)."""
        if self.noise == "matrix":
            tag = self.matrix_tag
        else:
            tag = ("" if self.noise == "symmetric" else f"{self.noise}-") + f"eta{self.eta:g}"
        return f"{self.preset or self.arch}-{self.dataset}-{self.loss_tag}-{tag}-seed{self.seed}"

    @property
    def matrix_tag(self) -> str:
        """'matrix-' and 8 hex digits of the SHA-256 of the transition matrix's rows (each value as its shortest
        float repr), so runs of different matrices get different default folders; 'matrix' without one."""
        return "matrix" if self.noise_matrix is None else f"matrix-{matrix_digest(self.noise_matrix)}"

    @property
    def loss_tag(self) -> str:
        """The loss in a directory name: its name ('rll'), or for a user's loss 'expr-' and the first 8 hex
        digits of the SHA-256 of the expression's canonical spelling (:func:`expression_spelling`), so
        '(1-p^a)/a' and '(1 - p**a)/a' name one run ('expr-...' as for the latter)."""
        if self.loss_expr is None:
            return self.loss
        return f"{self.loss}-{short_digest(expression_spelling(self.loss_expr))}"


def short_digest(text: str) -> str:
    """The first 8 hex digits of the SHA-256 of ``text``: a short name that tells long things apart (a user's
    expression, a transition matrix, an experiment's name) in folder and file names."""
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def matrix_digest(matrix) -> str:
    """:func:`short_digest` of a transition matrix's rows, each value as its shortest float repr: a short name
    that tells matrices apart in folder names, figure legends and report headings."""
    return short_digest(";".join(",".join(repr(float(v)) for v in row) for row in matrix))


def expression_spelling(text: str) -> str:
    """A user's expression spelt one way, token by token: '^' as '**', one space on each side of a binary + or
    -, none elsewhere ('(1-p ^ a) / a' -> '(1 - p**a)/a', '-log( p )' -> '-log(p)'); the tokens, hence the
    parsed loss, are unchanged. Text that does not tokenize is returned with its whitespace made canonical."""
    import io
    import tokenize

    source = " ".join(text.split()).replace("^", "**")
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
                  if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT,
                                    tokenize.DEDENT, tokenize.COMMENT)]
    except (tokenize.TokenError, SyntaxError):
        return source
    words = (tokenize.NAME, tokenize.NUMBER)
    parts: list[str] = []
    previous = None
    for token in tokens:
        operand_before = previous is not None and (previous.type in words or previous.string in (")", "]"))
        if token.string in ("+", "-") and operand_before:
            parts.append(f" {token.string} ")
        else:
            if previous is not None and previous.type in words and token.type in words:
                parts.append(" ")
            parts.append(token.string)
        previous = token
    return "".join(parts)


def same_expression(first: Any, second: Any) -> bool:
    """Whether two saved or typed expressions are one loss: the same canonical spelling
    (:func:`expression_spelling`), or the same parsed expression ('1-p' and '(1 - p)'), as ``--expr`` judges
    two given in one call."""
    if not (isinstance(first, str) and isinstance(second, str)):
        return False
    if expression_spelling(first) == expression_spelling(second):
        return True
    from symtheory.parser import parse_loss_expression

    try:
        return parse_loss_expression(first) == parse_loss_expression(second)
    except BadInput:
        return False
