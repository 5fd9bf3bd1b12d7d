"""Figures in the style of Patel & Sastry 2021: one panel per loss, one line per eta.

``kind="j1"``: training accuracy J1 per epoch (their Figs. 1-3). ``kind="j1j2"``: J1 solid and J2 dashed in
the same colour (their Figs. 4-5). Runs are grouped into panels by experiment: every training setting but
eta, seed and how the run executed (device, precision, ...), so runs with another subset, optimizer, loss
parameter or epoch count never share a panel; the settings that tell panels of one loss apart are in their
titles. Several runs of one eta in a panel (seeds) are drawn as their mean with a min-max band. Drawn with
matplotlib's Agg canvas (no display needed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from symtheory.empirical.config import EXECUTION_FIELDS, matrix_digest
from symtheory.empirical.run_dir import RunDir, is_run_dir, read_summary, run_dirs_below
from symtheory.errors import BadInput
from symtheory.figure_file import figure_target
from symtheory.wording import plural

PLOT_KINDS = ("j1", "j1j2")
LOSS_ORDER = ("cce", "mse", "rll", "nmse")
NOT_IN_PANEL_KEY = ("eta", "seed", "noise", "noise_matrix") + EXECUTION_FIELDS
"""Settings that do not separate panels: eta and noise kind (lines of a panel), seed (averaged), and how a
run executed."""


@dataclass(frozen=True)
class RunRecord:
    """A finished or partial run as read from its directory."""

    path: Path
    config: dict[str, Any]
    rows: list[dict[str, Any]]

    @property
    def train(self) -> dict[str, Any]:
        return self.config["train"]

    @property
    def panel_key(self) -> tuple[str, str, str, str]:
        """(arch, dataset, loss, the other experiment settings as canonical JSON): runs sharing it differ only
        in eta, noise kind or seed."""
        t = self.train
        rest = {k: v for k, v in t.items() if k not in NOT_IN_PANEL_KEY + ("arch", "dataset", "loss")}
        rest["num_train"] = self.config.get("data", {}).get("num_train")
        return (t["arch"], self.config.get("data", {}).get("name", t["dataset"]), t["loss"],
                json.dumps(rest, sort_keys=True, default=str))


REQUIRED_SETTINGS = ("arch", "dataset", "loss", "eta")
"""The train settings a run's config.json must hold for its run to be drawn."""


def load_run(path: str | Path) -> RunRecord:
    """config.json and metrics.jsonl of the run in ``path`` (none when it has no metrics.jsonl, a run stopped
    before its first epoch; a last line cut short by a kill is ignored); BadInput if it is not a run directory,
    its config.json cannot be read, or a damaged metrics line has later epochs after it
    (:meth:`~symtheory.empirical.run_dir.RunDir.read_metrics`)."""
    p = Path(path)
    if not is_run_dir(p):
        raise BadInput(f"{p} is not a run directory (needs config.json, and metrics.jsonl, summary.json or "
                       "labels.npz)")
    try:
        config = json.loads((p / "config.json").read_text())
    except (ValueError, OSError) as exc:
        raise BadInput(f"{p}: config.json cannot be read ({exc})") from None
    train = config.get("train") if isinstance(config, dict) else None
    missing = [k for k in REQUIRED_SETTINGS if not isinstance(train, dict) or k not in train]
    if missing:
        raise BadInput(f"{p}: config.json has no train settings {', '.join(missing)}")
    return RunRecord(p, config, RunDir(p).read_metrics())


def collect_runs(paths: list[str | Path], unreadable: list[tuple[Path, str]] | None = None) -> list[RunRecord]:
    """Runs named directly, or found at any depth below a directory that is not itself a run (as ``report``
    and ``paper-check`` find them: :func:`~symtheory.empirical.run_dir.run_dirs_below`); each run once. Plain files are skipped (a shell glob over a grid folder
    also names its grid.csv); a path that does not exist is an error. A run whose config.json cannot be read
    is an error, or, given an ``unreadable`` list, is added to it (path, reason) and left out."""
    found: dict[Path, RunRecord] = {}

    def add(run_dir: Path) -> None:
        if run_dir.resolve() in found:
            return
        try:
            found[run_dir.resolve()] = load_run(run_dir)
        except BadInput as exc:
            if unreadable is None:
                raise
            unreadable.append((run_dir, str(exc).removeprefix(f"{run_dir}: ")))

    for raw in paths:
        p = Path(raw)
        if is_run_dir(p):
            add(p)
        elif p.is_file():
            continue
        elif p.is_dir():
            children = run_dirs_below(p)
            if not children:
                raise BadInput(f"{p} is neither a run directory nor a folder holding run directories")
            for c in children:
                add(c)
        else:
            raise BadInput(f"no run directory at {p}")
    if not found:
        raise BadInput("no runs to plot" + (f": none of the {len(unreadable)} found can be read ("
                                            + _first_and_count(unreadable) + ")" if unreadable else ""))
    return list(found.values())


def _first_and_count(left_out: list[tuple[Path, str]]) -> str:
    """'PATH: why' of the first run left out, and how many more there are."""
    path, why = left_out[0]
    more = len(left_out) - 1
    return f"{path}: {why}" + (f"; and {more} more" if more else "")


TITLE_WIDTH = 44
"""Characters per line of a panel title (a 4.2-inch panel at font size 10); longer lines wrap."""


def _eta_label(run: RunRecord) -> str:
    """'eta = 0.4', 'pair eta = 0.2', or for transition-matrix noise 'matrix' and 8 hex digits of the matrix
    (:func:`~symtheory.empirical.config.matrix_digest`), so runs of two matrices are two lines, not seeds of
    one."""
    t = run.train
    if t.get("noise") == "matrix":
        return f"matrix {matrix_digest(t['noise_matrix'])}" if t.get("noise_matrix") else "matrix"
    prefix = "pair " if t.get("noise") == "pair" else ""
    return f"{prefix}eta = {t['eta']:g}"


def _eta_key(run: RunRecord) -> tuple[int, float]:
    t = run.train
    return ({"symmetric": 0, "pair": 1}.get(t.get("noise", "symmetric"), 2), float(t["eta"]))


def _panel_title(key: tuple[str, str, str, str], runs: list[RunRecord], varying: list[str]) -> str:
    arch, dataset, loss, _ = key
    t = runs[0].train
    params = t.get("loss_params") or {}
    extra = f" ({', '.join(f'{k}={v:g}' for k, v in params.items())})" if params else ""
    size = runs[0].config.get("data", {}).get("num_train")
    preset = f"{t['preset']}: " if t.get("preset") else ""
    name = f"L = {t['loss_expr']}" if t.get("loss_expr") else loss.upper()
    head = f"{name}{extra}\n{preset}{arch} / {dataset}" + (f", n={size}" if size is not None else "")
    others = [f"{name}={_setting_text(t.get(name))}" for name in varying
              if name not in ("loss_params", "loss_expr", "preset", "num_train", "subset")]
    return _wrapped(head + ("\n" + ", ".join(others) if others else ""), TITLE_WIDTH)


def _wrapped(text: str, width: int) -> str:
    """Each line of ``text`` wrapped at ``width`` characters (a long expression breaks at its spaces)."""
    import textwrap

    return "\n".join(textwrap.fill(line, width, break_on_hyphens=False) or line for line in text.split("\n"))


def _setting_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return ",".join(f"{k}:{_setting_text(v)}" for k, v in value.items()) or "-"
    return str(value)


def _varying_settings(keys: list[tuple[str, str, str, str]]) -> list[str]:
    """The settings (beyond arch, dataset and loss) whose values differ between panels of one loss."""
    by_loss: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for key in keys:
        by_loss.setdefault(key[:3], []).append(json.loads(key[3]))
    varying: list[str] = []
    for settings in by_loss.values():
        for name in sorted({n for s in settings for n in s}):
            if len({json.dumps(s.get(name), sort_keys=True) for s in settings}) > 1 and name not in varying:
                varying.append(name)
    return varying


def _draw_group(ax, runs: list[RunRecord], colour, label: str, kind: str) -> None:
    """One eta of a panel: its run's J1 (and J2 dashed), or for several runs (seeds, as long as each other:
    :func:`_seeds_drawn`) their mean per epoch, with a band from min to max."""
    import numpy as np

    length = min(len(r.rows) for r in runs)
    epochs = [row["epoch"] for row in runs[0].rows[:length]]
    marker = "o" if length <= 20 else None
    shown = label if len(runs) == 1 else f"{label} ({len(runs)} seeds)"
    for metric, style in (("j1", "-"), ("j2", "--")) if kind == "j1j2" else (("j1", "-"),):
        values = np.array([[row[metric] for row in r.rows[:length]] for r in runs], dtype=float)
        hollow = {"mfc": "white"} if metric == "j2" else {}
        ax.plot(epochs, values.mean(axis=0), color=colour, lw=1.6, ls=style, marker=marker, ms=3 if not hollow else 4,
                label=shown if metric == "j1" else None, **hollow)
        if len(runs) > 1:
            ax.fill_between(epochs, values.min(axis=0), values.max(axis=0), color=colour, alpha=0.2, lw=0)


@dataclass
class Panel:
    """One panel: its title and the runs of each eta label, one per seed (several: drawn as mean and band).
    ``left_out``: the panel's runs not drawn, with why (a second copy of a seed's run, e.g. the same grid
    trained twice, as ``report`` leaves it out; a seed's run with fewer epochs than its eta's longest)."""

    title: str
    groups: dict[str, list[RunRecord]]
    left_out: list[tuple[Path, str]] = field(default_factory=list)


def _seeds_drawn(runs: list[RunRecord]) -> tuple[list[RunRecord], list[tuple[Path, str]]]:
    """Of one eta's runs: one per seed, each with the most epochs any of them recorded (a mean over seeds
    runs along the epochs every seed reached, so a run behind would cut the others short), and those left
    out."""
    by_seed: dict[Any, RunRecord] = {}
    left_out: list[tuple[Path, str]] = []
    for run in runs:
        first = by_seed.setdefault(run.train.get("seed"), run)
        if first is not run:
            left_out.append((run.path, f"a second run of seed {run.train.get('seed')} ({first.path} is drawn)"))
    longest = max(len(r.rows) for r in by_seed.values())
    drawn = [r for r in by_seed.values() if len(r.rows) == longest]
    left_out += [(r.path, f"{plural(len(r.rows), 'epoch')} recorded, its other seeds' runs {longest}")
                 for r in by_seed.values() if len(r.rows) < longest]
    return drawn, left_out


def _settings_order(settings_json: str) -> list[tuple[str, int, Any]]:
    """A sort key for a panel's other settings: numbers by value (epochs 30 before 100), the rest by their
    JSON text, each after its setting's name."""
    settings = json.loads(settings_json)
    return [(name, 0, value) if isinstance(value, (int, float)) and not isinstance(value, bool)
            else (name, 1, json.dumps(value, sort_keys=True, default=str)) for name, value in sorted(settings.items())]


def layout_panels(runs: list[RunRecord]) -> list[Panel]:
    """The panels of a figure, in the paper's loss order: one per experiment (see :attr:`RunRecord.panel_key`),
    runs without a recorded epoch, or with jumbled epochs (:func:`epoch_problem`), left out; BadInput when
    none is left."""
    if not any(r.rows for r in runs):
        raise BadInput("no run has a recorded epoch to plot ("
                       + _first_and_count([(r.path, _why_no_epoch(r.path)) for r in runs]) + ")")
    recorded = [r for r in runs if r.rows]
    runs = [r for r in recorded if not epoch_problem(r)]
    if not runs:
        raise BadInput("no run can be drawn (" + _first_and_count([(r.path, epoch_problem(r)) for r in recorded])
                       + ")")
    panels: dict[tuple[str, str, str, str], list[RunRecord]] = {}
    for run in runs:
        panels.setdefault(run.panel_key, []).append(run)
    order = {name: i for i, name in enumerate(LOSS_ORDER)}
    keys = sorted(panels, key=lambda k: (k[0], k[1], order.get(k[2], len(order)), k[2], _settings_order(k[3])))
    varying = _varying_settings(keys)
    laid_out = []
    for key in keys:
        by_label: dict[str, list[RunRecord]] = {}
        for run in sorted(panels[key], key=_eta_key):
            by_label.setdefault(_eta_label(run), []).append(run)
        panel = Panel(_panel_title(key, panels[key], varying), {})
        for label, members in by_label.items():
            panel.groups[label], left_out = _seeds_drawn(members)
            panel.left_out += left_out
        laid_out.append(panel)
    return laid_out


def epoch_problem(run: RunRecord) -> str | None:
    """Why a run's metrics cannot be drawn as its curve: more lines than its planned epochs, or epochs not
    1, 2, ... in order (two processes appended to one run: which lines are its own is unknown); else None."""
    epochs = [row.get("epoch") for row in run.rows]
    planned = run.train.get("epochs")
    if isinstance(planned, int) and len(epochs) > planned:
        return f"metrics.jsonl holds {len(epochs)} lines for {planned} epochs (a run two processes appended to?)"
    if epochs != list(range(1, len(epochs) + 1)):
        return "metrics.jsonl's epochs are not 1, 2, ... in order (a run two processes appended to?)"
    return None


def _why_no_epoch(path: Path) -> str:
    """'no recorded epoch', with the status and message its summary.json gives (a run that diverged in its
    first epoch, say)."""
    summary = read_summary(path)
    status, message = summary.get("status"), summary.get("message")
    return "no recorded epoch" + (f" (status {status}" + (f": {message}" if message else "") + ")" if status else "")


def runs_not_drawn(runs: list[RunRecord]) -> list[tuple[Path, str]]:
    """The runs a figure of ``runs`` leaves out, with why (no recorded epoch; see :class:`Panel`)."""
    empty = [(r.path, _why_no_epoch(r.path)) for r in runs if not r.rows]
    jumbled = [(r.path, why) for r in runs if r.rows and (why := epoch_problem(r))]
    return empty + jumbled + [item for panel in layout_panels(runs) for item in panel.left_out]


def plot_runs(runs: list[RunRecord], out: str | Path, kind: str = "j1j2", title: str | None = None) -> Path:
    """Draw the runs into ``out`` (format from its suffix: png, pdf, svg; none: .png added; checked by
    :func:`~symtheory.figure_file.figure_target`); returns the path written."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    if kind not in PLOT_KINDS:
        raise BadInput(f"unknown plot kind {kind!r}; choices: {', '.join(PLOT_KINDS)}")
    panels = layout_panels(runs)
    labels = [lab for _, lab in sorted({(_eta_key(r), _eta_label(r)) for r in runs if r.rows})]
    cmap_values = {lab: i / max(len(labels) - 1, 1) for i, lab in enumerate(labels)}

    cols = min(len(panels), 4)
    rows_n = (len(panels) + cols - 1) // cols
    fig = Figure(figsize=(4.2 * cols, 3.4 * rows_n + (0.4 if title else 0)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows_n, cols, squeeze=False, sharey=True)
    cmap = matplotlib.colormaps["viridis"]
    for ax, panel in zip(axes.flat, panels):
        for label, members in panel.groups.items():
            _draw_group(ax, members, cmap(0.9 * cmap_values[label]), label, kind)
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel("epoch")
        last = max(row["epoch"] for members in panel.groups.values() for r in members for row in r.rows)
        ax.set_xlim(0, last + 1)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("training accuracy (J1)" if kind == "j1" else "accuracy")
    if kind == "j1j2":
        markers = any(len(r.rows) <= 20 for r in runs if r.rows)
        fig.legend(handles=[Line2D([], [], color="k", lw=1.6, marker="o" if markers else None, ms=3,
                                   label="J1 (noisy labels)"),
                            Line2D([], [], color="k", lw=1.6, ls="--", marker="o" if markers else None, ms=4,
                                   mfc="white", label="J2 (clean labels)")],
                   loc="outside lower center", ncols=2, fontsize=9)
    if title:
        fig.suptitle(_wrapped(title, int(TITLE_WIDTH * 0.85 * cols)))
    target = figure_target(out, "--output", "j1.png")
    if target.parent and not target.parent.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(target, dpi=120)
    except (ValueError, OSError) as exc:
        raise BadInput(f"cannot write figure {target}: {exc}") from None
    return target
