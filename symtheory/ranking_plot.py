"""Plot Kendall's tau between clean and noisy rankings against the noise rate, per loss (matplotlib, Agg)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from symtheory.errors import BadInput
from symtheory.figure_file import figure_target
from symtheory.ranking import RankingReport

_LEGEND_WIDTH = 48
"""Characters per line of a legend or axis label; a long --expr wraps instead of leaving the figure."""


def plot_tau(report: RankingReport, path: str | Path) -> Path:
    """tau(eta) per loss (eta: the named rate, pair-flip and asymmetric too), the line eta = (K-1)/K for
    symmetric noise, and crosses at tau = 0 where all noisy risks tie.

    Losses with identical tau at every rate (the symmetric ones, by Theorem 1) share one line. tau-b is
    undefined when every noisy risk is tied (eta = (K-1)/K for symmetric losses): the line breaks there
    and a cross on tau = 0 marks it. Writes to :func:`figure_target` of ``path`` and returns that file;
    BadInput when it cannot be written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = figure_target(path, "--plot", "tau.png")
    indices = [i for i, s in enumerate(report.settings) if s.shown_eta is not None]
    if not indices:
        return _plot_matrix_taus(report, path)
    etas = [report.settings[i].shown_eta for i in indices]
    groups: dict[tuple, list[str]] = {}
    for name in report.config.loss_names:
        taus = tuple(report.result(name, i).agreement.tau for i in indices)
        groups.setdefault(taus, []).append(name)
    shown = {u.name: f"{u.name}: {u.text}" for u in report.config.expressions}
    fig, ax = plt.subplots(figsize=(9, 4.8))
    colours = plt.get_cmap("tab20").colors
    tied_label = "all noisy risks tied (tau undefined)"
    for n, (taus, names) in enumerate(groups.items()):
        symmetric = report.result(names[0], 0).loss.symmetric
        ys = [float("nan") if t is None else t for t in taus]
        names = [shown.get(name, name) for name in names]
        label = ", ".join(names) if len(names) < 4 else f"{', '.join(names[:3])} + {len(names) - 3} more (identical)"
        label = "\n".join(textwrap.wrap(label, _LEGEND_WIDTH)) or label
        colour = colours[(2 * n) % len(colours)] if len(groups) <= len(colours) // 2 else colours[n % len(colours)]
        ax.plot(etas, ys, "-" if symmetric else "--", marker="o", markersize=3, color=colour, label=label)
        tied = [e for e, t in zip(etas, taus) if t is None]
        if tied:
            ax.plot(tied, [0.0] * len(tied), "x", color=colour, markersize=9, label=tied_label)
            tied_label = None
    if any(report.settings[i].kind in ("symmetric", "matrix") for i in indices):
        ax.axvline(report.threshold, color="grey", linestyle=":", label=f"(K-1)/K = {report.threshold:.4g}")
    kinds = {report.settings[i].kind for i in indices}
    ax.set_xlabel("noise rate eta" + (f" ({', '.join(sorted(kinds))} noise)" if kinds else ""))
    ax.set_ylabel("Kendall tau-b, clean vs noisy risk")
    ax.set_ylim(-1.05, 1.05)
    ax.set_title(f"K = {report.config.classes}, {report.config.classifiers} classifiers; "
                 "solid: symmetric losses, dashed: not")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(fig, path)


def _plot_matrix_taus(report: RankingReport, path: Path) -> Path:
    """tau per loss, one bar each, for a noise matrix given as a file (no eta to plot against)."""
    import matplotlib.pyplot as plt

    setting = report.settings[0]
    shown = {u.name: f"{u.name}: {u.text}" for u in report.config.expressions}
    names = list(report.config.loss_names)
    taus = [report.result(name, 0).agreement.tau for name in names]
    labels = ["\n".join(textwrap.wrap(shown.get(name, name), _LEGEND_WIDTH)) for name in names]
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.45 * len(names)))
    ax.barh(range(len(names)), [0.0 if t is None else t for t in taus],
            color=["tab:blue" if report.result(n, 0).loss.symmetric else "tab:orange" for n in names])
    for i, t in enumerate(taus):
        if t is None:
            ax.text(0.0, i, "  undefined (all noisy risks tied)", va="center", fontsize=7)
    ax.set_yticks(range(len(names)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(-1.05, 1.05)
    ax.axvline(0.0, color="grey", linewidth=0.8)
    ax.set_xlabel("Kendall tau-b, clean vs noisy risk")
    ax.set_title(f"noise matrix {setting.label}: K = {report.config.classes}, {report.config.classifiers} "
                 "classifiers; blue: symmetric losses, orange: not", fontsize=9)
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    """Write the figure (legend and labels inside it) and close it; BadInput when it cannot be written."""
    import matplotlib.pyplot as plt

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120, bbox_inches="tight")
    except OSError as exc:
        raise BadInput(f"cannot write the plot {str(path)!r}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
    return path
