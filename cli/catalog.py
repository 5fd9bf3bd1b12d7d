"""``symtheory presets`` (the paper's experiments and our choices where it is silent) and ``symtheory data``
(which datasets the data directory holds, and how to provide the others)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from symtheory.cli.app import app
from symtheory.cli.output import console, print_json


def preset_lines(d: dict) -> list[str]:
    """One preset in full: every setting, our choices where the paper is silent, and how to run it."""
    momentum = f", momentum {d['momentum']:g}" if d["optimizer"] == "sgd" else ""
    params = "; ".join(f"{loss}: " + ", ".join(f"{k} = {v:g}" for k, v in p.items())
                       for loss, p in d["loss_params"].items())
    lines = [f"{d['name']}: {d['description']}",
             f"  data {d['dataset']}, network {d['arch']}, {d['epochs']} epochs, batch {d['batch_size']}",
             f"  {d['optimizer']} lr {d['lr']:g} ({d['lr_schedule']}){momentum}, weight decay {d['weight_decay']:g}",
             f"  normalize {'on' if d['normalize'] else 'off'}, augment {'on' if d['augment'] else 'off'}; "
             f"loss parameters: {params or 'none'}",
             f"  grid: losses {', '.join(d['losses'])} x eta {', '.join(f'{e:g}' for e in d['etas'])}",
             "  our choices where the paper is silent:"]
    lines += [f"    {name}: {why}" for name, why in d["choices"].items()]
    lines += [f"  run: symtheory grid --preset {d['name']} --out runs/{d['name']}   "
              f"(one run: symtheory train --preset {d['name']} --loss rll --eta 0.4)"]
    return lines


@app.command("presets")
def presets_command(
    name: Optional[str] = typer.Argument(None, help="A preset to show in full (default: every preset, one line each)."),
    as_json: bool = typer.Option(False, "--json", help="Print the presets' settings as JSON."),
) -> None:
    """The paper's experiments as presets (Patel & Sastry 2021, Sec. 2): data, network, optimizer, schedule,
    epochs, and our choices where the paper is silent."""
    from rich.markup import escape

    from symtheory.empirical.presets import PRESETS, get_preset

    described = [get_preset(name).describe()] if name else [p.describe() for p in PRESETS.values()]
    if as_json:
        print_json(described if name is None else described[0])
        return
    if name:
        for line in preset_lines(described[0]):
            console.print(escape(line), soft_wrap=True)
        return
    for d in described:
        console.print(f"[bold]{escape(d['name'])}[/bold]: {escape(d['description'])}", soft_wrap=True)
    console.print("symtheory presets NAME shows one in full, with our choices where the paper is silent",
                  soft_wrap=True)


@app.command("data")
def data_command(
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Dataset root (default $SYMTHEORY_DATA, then "
                                            "the user cache)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Comma-separated datasets (default: all: mnist, "
                                          "fashion-mnist, cifar10, cifar10-subset)."),
    download: bool = typer.Option(False, "--download", help="Download the missing ones that torchvision can "
                                  "(needs internet)."),
    as_json: bool = typer.Option(False, "--json", help="Print each dataset's status as JSON."),
) -> None:
    """Which datasets the data directory holds, each checked as training loads it (canonical checksums), and
    how to provide the missing ones. Exit 0 whatever is missing."""
    from rich.markup import escape

    from symtheory.cli.grid import parse_list
    from symtheory.empirical.config import get_dataset_spec
    from symtheory.empirical.data import resolve_data_dir
    from symtheory.empirical.data_status import READY, data_report

    names = tuple(dict.fromkeys(get_dataset_spec(n).name for n in parse_list(dataset, str, "dataset") or ())) or None
    report = data_report(data_dir, download, names)
    if as_json:
        print_json({"data_dir": str(resolve_data_dir(data_dir)), "datasets": [s.to_dict() for s in report]})
        return
    console.print(escape(f"data directory: {resolve_data_dir(data_dir)}"), soft_wrap=True)
    for s in report:
        if s.status == READY:
            console.print(f"[green]ready[/green]   {escape(s.name)}: {s.train:,} train / {s.test:,} test images in "
                          f"{escape(s.path)}", soft_wrap=True)
            if s.detail:
                console.print(f"  [yellow]warning[/yellow]: {escape(s.detail)}", soft_wrap=True)
        else:
            detail = s.detail.removeprefix(f"{s.name} data ")
            console.print(f"[yellow]{s.status}[/yellow] {escape(s.name)}: {escape(detail)}", soft_wrap=True)
