"""docs/your-own-loss.md is run as written: each ``console`` block's command prints the lines shown (in order,
'...' standing for text left out), each ``bash`` block's commands succeed, and the figures the page quotes
are those the commands produce (trained figures within 0.05, the theory table exactly)."""

from __future__ import annotations

import csv
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "your-own-loss.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def blocks(kind: str) -> list[str]:
    """The bodies of the page's fenced blocks of ``kind`` ('console', 'bash')."""
    return [body for lang, body in FENCE.findall(DOC.read_text()) if lang == kind]


def run(command: str, cwd: Path, data_dir: Path) -> subprocess.CompletedProcess:
    """A 'symtheory ...' line of the page, run as ``python -m symtheory`` with wide, unwrapped output."""
    words = shlex.split(command)
    assert words[0] == "symtheory", command
    env = {**os.environ, "SYMTHEORY_DATA": str(data_dir), "COLUMNS": "1000"}
    return subprocess.run([sys.executable, "-m", "symtheory", *words[1:]], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600)


def shown_lines_appear(expected: list[str], actual: str) -> None:
    """Each expected line (whitespace collapsed; '...' inside a line matches any text) matches a whole line of
    ``actual``, in order; a line that is only '...' skips."""
    lines = [" ".join(line.split()) for line in actual.splitlines()]
    at = 0
    for want in (" ".join(w.split()) for w in expected):
        if want in ("", "..."):
            continue
        pattern = re.compile(".*".join(re.escape(part.strip()) for part in want.split("...")))
        while at < len(lines) and not pattern.fullmatch(lines[at]):
            at += 1
        assert at < len(lines), f"not printed (in order): {want!r}\n---\n{actual}"
        at += 1


def console_cases() -> list[tuple[str, list[str]]]:
    cases = []
    for body in blocks("console"):
        command, shown = None, []
        for line in body.splitlines():
            if line.startswith("$ "):
                if command:
                    cases.append((command, shown))
                command, shown = line[2:], []
            else:
                shown.append(line)
        cases.append((command, shown))
    return cases


def test_the_page_has_its_blocks():
    assert [c for c, _ in console_cases()] == [
        'symtheory check-loss --expr "1 - p**2 + sum_other(q**2)/(K-1)"',
        'symtheory check-loss --expr "(1 - p**a)/a"',
        'symtheory check-loss --expr "(1 - p**a)/sum_all(1 - q**a)"',
        'symtheory prove-risk --expr "1 - p**2 + sum_other(q**2)/(K-1)"',
        'symtheory verify-ranking --expr "1 - p**2 + sum_other(q**2)/(K-1)" --loss cce --eta 0.6,0.9,0.95']
    assert len(blocks("bash")) == 1


@pytest.mark.parametrize("command, shown", console_cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_a_console_block_prints_what_the_page_shows(command, shown, tmp_path, data_dir):
    done = run(command, tmp_path, data_dir)
    assert done.returncode == 0, done.stderr
    shown_lines_appear(shown, done.stdout)


def doc_table(header: str) -> list[list[str]]:
    """The rows (cells) of the page's Markdown table whose header line starts with ``header``."""
    lines = DOC.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


@pytest.mark.slow
def test_the_training_block_runs_and_gives_the_figures_the_page_quotes(tmp_path, data_dir):
    for command in blocks("bash")[0].splitlines():
        done = run(command, tmp_path, data_dir)
        assert done.returncode == 0, (command, done.stderr)
    with open(tmp_path / "runs" / "mine" / "grid.csv", newline="") as handle:
        measured = {(row["loss"], float(row["eta"])): row for row in csv.DictReader(handle)}
    quoted = doc_table("| loss | eta | final J1 |")
    assert len(quoted) == len(measured) == 6
    for loss, eta, j1, j2, test in quoted:
        row = measured[(loss, float(eta))]
        for name, value in (("j1", j1), ("j2", j2), ("test_acc", test)):
            assert abs(float(row[name]) - float(value)) <= 0.05, (loss, eta, name, row[name], value)
    report = (tmp_path / "runs" / "mine" / "report.md").read_text().splitlines()
    theory = ["| " + " | ".join(cells) + " |" for cells in doc_table("| loss | symmetric | C |")]
    assert len(theory) == 3 and all(line in report for line in theory), theory
