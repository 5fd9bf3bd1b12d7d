"""Numeric check of Theorem 1 (Patel & Sastry 2021): do clean and noisy risks rank classifiers alike?

For a symmetric loss (sum_j L(g, j) = C) and symmetric noise, R_eta(h) = C eta/(K-1) + (1 - eta K/(K-1)) R(h),
so for eta < (K-1)/K the rankings agree (Kendall tau = 1, no swapped pair), at eta = (K-1)/K every noisy
risk equals C/K, and above it the ranking reverses (tau = -1). Losses that are not symmetric (cce, mse)
carry no such guarantee: R_eta(h) = R(h) + eta (S(h) - K R(h))/(K-1) with S(h) = E_x sum_k L(h(x), k), and
S varies with h, so pairs swap from some rate on. Here every risk is an exact finite sum over a synthetic
distribution (noisy posterior p(.|x) T), complemented by Monte Carlo risks from sampled labels and by
ERM on sampled training sets; for class-conditional T the sufficient condition of Ghosh, Kumar & Sastry
2017 (AAAI, Thm. 3) is checked against what happens.
"""

from __future__ import annotations

import warnings

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from symtheory import noise_matrices as nm
from symtheory.classifiers import ClassifierFamily, make_family
from symtheory.distributions import FiniteDistribution, make_distribution
from symtheory.erm import ErmResult, erm_result, minimizers
from symtheory.errors import BadInput
from symtheory.finite_risk import compile_losses, risk_sums
from symtheory.loss_facts import LossFacts, loss_facts
from symtheory.monte_carlo import MonteCarloCheck, draw_labels, monte_carlo_check
from symtheory.noise_settings import REGIME_TEXT, NoiseSetting
from symtheory.rank_stats import (RTOL, AffineFit, Agreement, SwappedPair, affine_fit, agreement, swap_detector,
                                  worst_swap)
from symtheory.evaluate import class_major_backend, compile_loss_matrix
from symtheory.registry import LOSSES, get_loss
from symtheory.user_loss import UserLoss
from symtheory.risk import affine_intercept, affine_slope

SEARCH_STEPS = 48


@dataclass(frozen=True)
class RankingConfig:
    """Sizes and options of one run (the distribution and the family are drawn from the rng)."""

    classes: int = 10
    classifiers: int = 200
    support: int = 1000
    losses: tuple[str, ...] = tuple(LOSSES)
    label_rule: str = "posterior"
    mc_samples: int = 10_000
    erm_samples: int = 0
    erm_seeds: int = 0
    rtol: float = RTOL
    expressions: tuple[UserLoss, ...] = ()
    """Users' own losses (``--expr``), ranked after the registry's under their names ('expr', or 'expr1',
    'expr2', ... when there are several)."""

    def validated(self) -> "RankingConfig":
        """The config with loss names canonical; BadInput for sizes out of range or unknown losses."""
        nm.check_classes(self.classes)
        for name, value, low in (("classifiers", self.classifiers, 2), ("support points", self.support, 1),
                                 ("Monte Carlo samples", self.mc_samples, 0), ("ERM samples", self.erm_samples, 0),
                                 ("ERM seeds", self.erm_seeds, 0)):
            if value < low:
                raise BadInput(f"the number of {name} must be at least {low}, got {value}")
        if self.erm_seeds and not self.erm_samples:
            raise BadInput("ERM needs a training-set size (--erm-samples) as well as seeds")
        if not self.losses and not self.expressions:
            raise BadInput("no loss to check")
        names = tuple(dict.fromkeys(get_loss(n).name for n in self.losses))
        if len({u.name for u in self.expressions}) != len(self.expressions):
            raise BadInput("two expressions share a name")
        for user in self.expressions:
            try:
                user.facts(self.classes)
            except BadInput as exc:
                if len(self.expressions) == 1:
                    raise
                raise BadInput(f"{user.name} ({user.text}): {exc}") from None
        return RankingConfig(self.classes, self.classifiers, self.support, names, self.label_rule,
                             self.mc_samples, self.erm_samples, self.erm_seeds, self.rtol, tuple(self.expressions))

    @property
    def loss_names(self) -> tuple[str, ...]:
        """The registry losses, then the users' expressions (by their table names)."""
        return self.losses + tuple(u.name for u in self.expressions)

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"classes": self.classes, "classifiers": self.classifiers, "support": self.support,
                "losses": list(self.loss_names), "label_rule": self.label_rule, "mc_samples": self.mc_samples,
                "erm_samples": self.erm_samples, "erm_seeds": self.erm_seeds, "tie_rtol": self.rtol,
                "expressions": [u.to_dict() for u in self.expressions],
                "expression": self.expressions[0].to_dict() if len(self.expressions) == 1 else None}


@dataclass
class GhoshCheck:
    """The hypotheses of Ghosh et al. 2017, Thm. 3 for one loss and one T, and whether each holds here."""

    symmetric: bool
    bounded: bool
    deterministic: bool
    condition: bool
    bound_source: str = "family maximum"

    def failing(self) -> list[str]:
        """The hypotheses that do not hold here, in words."""
        named = (("not symmetric", self.symmetric), ("L > C/(K-1)", self.bounded),
                 ("soft labels", self.deterministic), ("T condition fails", self.condition))
        return [text for text, ok in named if not ok]

    @property
    def applies(self) -> bool:
        """All hypotheses hold (R(f*) = 0 is approximated by deterministic labels and near-one-hot classifiers)."""
        return self.symmetric and self.bounded and self.deterministic and self.condition

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"symmetric_loss": self.symmetric, "max_loss_at_most_C_over_K_minus_1": self.bounded,
                "deterministic_labels": self.deterministic, "T_diagonal_dominant": self.condition,
                "bound_checked_with": self.bound_source, "applies": self.applies}


@dataclass
class LossRanking:
    """Clean versus noisy ranking for one loss under one noise matrix."""

    loss: LossFacts
    setting: NoiseSetting
    clean: np.ndarray = field(repr=False)
    noisy: np.ndarray = field(repr=False)
    agreement: Agreement
    worst: SwappedPair | None
    worst_names: tuple[str, str] | None
    fit: AffineFit
    theory_slope: float | None
    theory_intercept: float | None
    noisy_spread: float
    minimizer_kept: bool
    ghosh: GhoshCheck | None
    monte_carlo: MonteCarloCheck | None
    erm: ErmResult | None
    verdict: str
    as_predicted: bool | None

    def to_dict(self) -> dict:
        """JSON-ready (risks per classifier left out; they are in the arrays)."""
        return {
            "loss": self.loss.name, "symmetric": self.loss.verdict, "constant": self.loss.constant,
            "noise": self.setting.label, "eta": self.setting.shown_eta, "regime": self.setting.regime(),
            **self.agreement.to_dict(),
            "worst_swap": None if self.worst is None else self.worst.to_dict(self.worst_names),
            "affine_fit": self.fit.to_dict(), "theory_slope": self.theory_slope,
            "theory_intercept": self.theory_intercept, "noisy_relative_spread": self.noisy_spread,
            "minimizer_kept": self.minimizer_kept,
            "ghosh": None if self.ghosh is None else self.ghosh.to_dict(),
            "monte_carlo": None if self.monte_carlo is None else self.monte_carlo.to_dict(),
            "erm": None if self.erm is None else self.erm.to_dict(),
            "verdict": self.verdict, "as_predicted": self.as_predicted,
        }


@dataclass
class FirstSwap:
    """Smallest symmetric rate at which some pair of classifiers swaps, and the pair swapping there.

    Just above that rate ``swapped`` pairs are swapped and ``kept`` keep their clean order (the others
    are tied there): for a symmetric loss no pair keeps its order, all swap at once at (K-1)/K.
    """

    loss: str
    eta: float | None
    pair: SwappedPair | None
    names: tuple[str, str] | None
    swapped: int
    kept: int

    @property
    def all_at_once(self) -> bool:
        """No pair keeps its clean order just above the first-swap rate."""
        return self.eta is not None and self.kept == 0

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"loss": self.loss, "eta": self.eta, "swapped_pairs": self.swapped, "kept_pairs": self.kept,
                "all_at_once": self.all_at_once, "pair": None if self.pair is None else self.pair.to_dict(self.names)}


@dataclass
class RankingReport:
    """Everything one run found, per noise setting and loss."""

    config: RankingConfig
    distribution: FiniteDistribution
    family: ClassifierFamily
    settings: list[NoiseSetting]
    results: list[LossRanking]
    first_swaps: dict[str, FirstSwap]

    @property
    def threshold(self) -> float:
        """(K-1)/K."""
        return float(nm.threshold(self.config.classes))

    def result(self, loss: str, setting: int = 0) -> LossRanking:
        """The result for a loss (by name) under the setting with this index."""
        name = loss if loss in {u.name for u in self.config.expressions} else get_loss(loss).name
        chosen = self.settings[setting]
        return next(r for r in self.results if r.loss.name == name and r.setting is chosen)

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"config": self.config.to_dict(), "threshold": self.threshold,
                "tie_rule": f"risks within {self.config.rtol:g} * max|risk| of each other are tied",
                "distribution": self.distribution.to_dict(), "family": self.family.to_dict(),
                "settings": [s.to_dict() for s in self.settings],
                "results": [r.to_dict() for r in self.results],
                "first_swap": {k: v.to_dict() for k, v in self.first_swaps.items()}}


def symmetric_noisy_risk(clean: np.ndarray, label_sum: np.ndarray, eta: float, classes: int) -> np.ndarray:
    """R_eta = (1 - eta) R + eta/(K-1) (S - R) = R + eta (S - K R)/(K-1), for any loss (S = E_x sum_k L)."""
    return clean + eta * (label_sum - classes * clean) / (classes - 1)


def first_swap(clean: np.ndarray, label_sum: np.ndarray, classes: int, rtol: float = RTOL,
               steps: int = SEARCH_STEPS) -> tuple[float | None, Agreement | None, SwappedPair | None]:
    """Smallest eta in [0, 1] with a swapped pair under symmetric noise, by bisection.

    Each pair's noisy risk difference is affine in eta, so it changes sign at most once and the set of
    swapped pairs only grows with eta: bisection on 'some pair is swapped' is exact to 2^-steps.
    Returns that eta, the agreement just above it and the pair with the largest clean gap swapped there.
    """
    def noisy(eta: float) -> np.ndarray:
        return symmetric_noisy_risk(clean, label_sum, eta, classes)

    swapped = swap_detector(clean, rtol)
    if not swapped(noisy(1.0)):
        return None, None, None
    lo, hi = 0.0, 1.0
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if swapped(noisy(mid)) else (mid, hi)
    above = noisy(hi)
    return hi, agreement(clean, above, rtol), worst_swap(clean, above, rtol)


def _ghosh(facts: LossFacts, largest: float, distribution: FiniteDistribution, setting: NoiseSetting) -> GhoshCheck:
    """Ghosh et al. 2017, Thm. 3 hypotheses; L <= C/(K-1) is checked with the proved sup of L when there is one,
    else with the largest loss value over the classifier family (which can miss a larger sup)."""
    bound = None if facts.constant is None else facts.constant / (distribution.classes - 1)
    top, source = (facts.supremum, "proved sup") if facts.supremum is not None else (largest, "family maximum")
    bounded = bound is not None and top <= bound * (1 + 1e-9) + 1e-12
    return GhoshCheck(facts.symmetric, bounded, distribution.label_rule == "deterministic",
                      nm.ghosh_condition(setting.matrix).holds, source)


def _verdict(facts: LossFacts, regime: str, agree: Agreement, kept: bool, ghosh: GhoshCheck | None,
             spread: float) -> tuple[str, bool | None]:
    swaps = f"{agree.discordant} swap{'s' if agree.discordant != 1 else ''}"
    if regime == "class-conditional":
        text = "minimizer kept" if kept else "minimizer changed"
        return (text, kept) if ghosh is not None and ghosh.applies else (text, None)
    if not facts.symmetric:
        return (swaps if agree.discordant else "no swap"), None
    if regime != "at" and agree.tied_first == agree.pairs:
        ok = agree.groups_second == 1
        return ("R all tied, so is R_eta" if ok else f"R all tied, R_eta NOT ({agree.groups_second} values)"), ok
    if regime != "at" and agree.groups_second == 1 and agree.pairs:
        return "R_eta all tied (within rtol): ranking not resolved", None
    if regime == "below":
        if agree.discordant:
            return f"CHANGED ({swaps})", False
        return ("kept (tau=1)" if agree.tau == 1.0 else f"kept, {agree.unresolved} unresolved"), True
    if regime == "at":
        ok = agree.groups_second == 1
        return (f"all tied ({spread:.0e})" if ok else f"NOT tied ({agree.groups_second} values)"), ok
    if agree.concordant:
        return f"NOT reversed ({agree.concordant} kept)", False
    return ("reversed (tau=-1)" if agree.tau == -1.0 else f"reversed, {agree.unresolved} unresolved"), True


def _theory(facts: LossFacts, setting: NoiseSetting) -> tuple[float | None, float | None]:
    if not facts.symmetric or setting.eta is None:
        return None, None
    k = setting.matrix.shape[0]
    return affine_slope(setting.eta, k), affine_intercept(facts.constant, setting.eta, k)


def verify_ranking(settings: Sequence[NoiseSetting], config: RankingConfig, rng: np.random.Generator,
                   workers: int | None = None, progress: Callable[[int], None] | None = None) -> RankingReport:
    """Draw a distribution and a classifier family from ``rng``, compute exact (and sampled) risks for
    every loss and noise setting in one pass over the family, and compare the rankings."""
    config = config.validated()
    if not settings:
        raise BadInput("no noise setting to check (give at least one eta)")
    k = config.classes
    for s in settings:
        nm.validate(s.matrix, k)
    distribution = make_distribution(config.support, k, rng, config.label_rule)
    family = make_family(distribution, config.classifiers, rng)
    matrices = [s.matrix for s in settings]
    n = distribution.support

    columns = [distribution.label_weights(), np.broadcast_to(distribution.weights[:, None], (n, k))]
    columns += [distribution.label_weights(t) for t in matrices]
    exact = np.stack(columns, axis=-1)
    parts = [exact]
    square = None
    if config.mc_samples:
        sampled = draw_labels(distribution, matrices, config.mc_samples, rng).frequencies(n, k)
        parts.append(sampled)
        square = np.delete(exact, 1, axis=-1)
    erm_parts = [draw_labels(distribution, matrices, config.erm_samples, rng).frequencies(n, k)
                 for _ in range(config.erm_seeds)]
    parts += erm_parts
    compiled = compile_losses(config.losses, k)
    users = {u.name: u for u in config.expressions}
    for name, user in users.items():
        compiled[name] = compile_loss_matrix(user.form(k), k, class_major_backend())
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        sums = risk_sums(family, compiled, np.concatenate(parts, axis=-1), square, workers, progress)

    offsets = np.cumsum([0] + [p.shape[-1] for p in parts])
    results, first_swaps = [], {}
    for name in config.loss_names:
        facts = users[name].facts(k) if name in users else loss_facts(name, k)
        first = sums[name].first
        if not np.isfinite(first).all() or (sums[name].second is not None and not np.isfinite(sums[name].second).all()):
            raise BadInput(f"the risks of {name} are not finite numbers in float64 (its values overflow or are "
                           "undefined at the support's points); rescale the loss")
        clean, label_sum = first[:, 0], first[:, 1]
        eta, at_first, pair = first_swap(clean, label_sum, k, config.rtol)
        first_swaps[name] = FirstSwap(name, eta, pair, _names(family, pair),
                                      at_first.discordant if at_first else 0, at_first.concordant if at_first else 0)
        largest = float(sums[name].largest.max())
        for j, setting in enumerate(settings):
            noisy = first[:, 2 + j]
            mc = None
            if config.mc_samples:
                base = offsets[1]
                second = (sums[name].second[:, 0], sums[name].second[:, 1 + j])
                mc = monte_carlo_check(config.mc_samples, clean, noisy, first[:, base], first[:, base + 1 + j], second,
                                       config.rtol)
            erm = None
            if config.erm_seeds:
                base = offsets[2 if config.mc_samples else 1]
                width = 1 + len(settings)
                idx = base + width * np.arange(config.erm_seeds)
                erm = erm_result(clean, first[:, idx], first[:, idx + 1 + j], config.erm_samples, config.rtol)
            results.append(_assess(facts, setting, clean, noisy, largest, distribution, family, config, mc, erm))
    return RankingReport(config, distribution, family, list(settings), results, first_swaps)


def _names(family: ClassifierFamily, pair: SwappedPair | None) -> tuple[str, str] | None:
    return None if pair is None else (family.describe(pair.better), family.describe(pair.worse))


def _assess(facts: LossFacts, setting: NoiseSetting, clean: np.ndarray, noisy: np.ndarray, largest: float,
            distribution: FiniteDistribution, family: ClassifierFamily, config: RankingConfig,
            mc: MonteCarloCheck | None, erm: ErmResult | None) -> LossRanking:
    agree = agreement(clean, noisy, config.rtol)
    worst = worst_swap(clean, noisy, config.rtol)
    scale = float(np.max(np.abs(noisy)))
    spread = float(noisy.max() - noisy.min()) / scale if scale > 0 else 0.0
    h_noisy = int(np.argmax(minimizers(noisy, config.rtol)))
    kept = bool(minimizers(clean, config.rtol)[h_noisy])
    regime = setting.regime()
    ghosh = _ghosh(facts, largest, distribution, setting) if regime == "class-conditional" else None
    verdict, ok = _verdict(facts, regime, agree, kept, ghosh, spread)
    slope, intercept = _theory(facts, setting)
    return LossRanking(facts, setting, clean, noisy, agree, worst, _names(family, worst),
                       affine_fit(clean, noisy, config.rtol), slope, intercept, spread, kept, ghosh, mc, erm,
                       verdict, ok)


def regime_text(setting: NoiseSetting) -> str:
    """One line on what theory says for this setting's regime."""
    return REGIME_TEXT[setting.regime()]
