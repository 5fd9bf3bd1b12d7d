"""Figures in the style of Patel & Sastry 2021: one panel per loss, one line per eta.

``kind="j1"``: training accuracy J1 per epoch (their Figs. 1-3). ``kind="j1j2"``: J1 solid and J2 dashed in
the same colour (their Figs. 4-5). Runs are grouped into panels by (preset or architecture, dataset, loss);
several seeds of one eta share the colour. Drawn with matplotlib's Agg canvas (no display needed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from symtheory.errors import BadInput

PLOT_KINDS = ("j1", "j1j2")
LOSS_ORDER = ("cce", "mse", "rll", "nmse")


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
    def panel_key(self) -> tuple[str, str, str]:
        t = self.train
        return (t.get("preset") or t["arch"], self.config.get("data", {}).get("name", t["dataset"]), t["loss"])


def _is_run(path: Path) -> bool:
    return (path / "config.json").is_file() and (path / "metrics.jsonl").is_file()


def load_run(path: str | Path) -> RunRecord:
    """config.json and metrics.jsonl of the run in ``path``; BadInput if it is not a run directory."""
    p = Path(path)
    if not _is_run(p):
        raise BadInput(f"{p} is not a run directory (needs config.json and metrics.jsonl)")
    config = json.loads((p / "config.json").read_text())
    rows = []
    for line in (p / "metrics.jsonl").read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            break
    return RunRecord(p, config, rows)


def collect_runs(paths: list[str | Path]) -> list[RunRecord]:
    """Runs named directly, or found one level below a directory that is not itself a run."""
    found: list[RunRecord] = []
    for raw in paths:
        p = Path(raw)
        if _is_run(p):
            found.append(load_run(p))
        elif p.is_dir():
            children = sorted(c for c in p.iterdir() if c.is_dir() and _is_run(c))
            if not children:
                raise BadInput(f"{p} is neither a run directory nor a folder of run directories")
            found.extend(load_run(c) for c in children)
        else:
            raise BadInput(f"no run directory at {p}")
    if not found:
        raise BadInput("no runs to plot")
    return found


def _eta_label(run: RunRecord) -> str:
    t = run.train
    if t.get("noise") == "matrix":
        return "matrix"
    prefix = "pair " if t.get("noise") == "pair" else ""
    return f"{prefix}eta = {t['eta']:g}"


def _eta_key(run: RunRecord) -> tuple[int, float]:
    t = run.train
    return ({"symmetric": 0, "pair": 1}.get(t.get("noise", "symmetric"), 2), float(t["eta"]))


def _panel_title(key: tuple[str, str, str], runs: list[RunRecord]) -> str:
    name, dataset, loss = key
    params = runs[0].train.get("loss_params") or {}
    extra = f" ({', '.join(f'{k}={v:g}' for k, v in params.items())})" if params else ""
    sizes = {r.config.get("data", {}).get("num_train") for r in runs}
    size = f", n={sizes.pop()}" if len(sizes) == 1 else ""
    return f"{loss.upper()}{extra}\n{name} / {dataset}{size}"


def plot_runs(runs: list[RunRecord], out: str | Path, kind: str = "j1j2", title: str | None = None) -> Path:
    """Draw the runs into ``out`` (format from its suffix: png, pdf, svg); returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    if kind not in PLOT_KINDS:
        raise BadInput(f"unknown plot kind {kind!r}; choices: {', '.join(PLOT_KINDS)}")
    panels: dict[tuple[str, str, str], list[RunRecord]] = {}
    for run in runs:
        panels.setdefault(run.panel_key, []).append(run)
    order = {name: i for i, name in enumerate(LOSS_ORDER)}
    keys = sorted(panels, key=lambda k: (k[0], k[1], order.get(k[2], len(order)), k[2]))
    labels = [lab for _, lab in sorted({(_eta_key(r), _eta_label(r)) for r in runs})]
    cmap_values = {lab: i / max(len(labels) - 1, 1) for i, lab in enumerate(labels)}

    cols = min(len(keys), 4)
    rows_n = (len(keys) + cols - 1) // cols
    fig = Figure(figsize=(4.2 * cols, 3.4 * rows_n + (0.4 if title else 0)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows_n, cols, squeeze=False, sharey=True)
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    for ax, key in zip(axes.flat, keys):
        seen = set()
        for run in sorted(panels[key], key=_eta_key):
            label = _eta_label(run)
            colour = cmap(0.9 * cmap_values[label])
            epochs = [r["epoch"] for r in run.rows]
            ax.plot(epochs, [r["j1"] for r in run.rows], color=colour, lw=1.6,
                    label=None if label in seen else label)
            if kind == "j1j2":
                ax.plot(epochs, [r["j2"] for r in run.rows], color=colour, lw=1.6, ls="--")
            seen.add(label)
        ax.set_title(_panel_title(key, panels[key]), fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    for ax in axes.flat[len(keys):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("training accuracy (J1)" if kind == "j1" else "accuracy")
    if kind == "j1j2":
        fig.legend(handles=[Line2D([], [], color="k", lw=1.6, label="J1 (noisy labels)"),
                            Line2D([], [], color="k", lw=1.6, ls="--", label="J2 (clean labels)")],
                   loc="outside lower center", ncols=2, fontsize=9)
    if title:
        fig.suptitle(title)
    target = Path(out)
    if target.parent and not target.parent.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(target, dpi=120)
    except (ValueError, OSError) as exc:
        raise BadInput(f"cannot write figure {target}: {exc}") from None
    return target
