"""Install layout: one import package ``symtheory`` with subpackages, no top-level ``cli``/``empirical``."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib.metadata import entry_points
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(REPO)], check=True, capture_output=True, timeout=300)
    return next(out.glob("symtheory-*.whl"))


def test_wheel_holds_one_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.startswith("symtheory-")}
    assert tops == {"symtheory"}
    for module in ("symtheory/cli/app.py", "symtheory/empirical/__init__.py", "symtheory/paper_checks/__init__.py",
                   "symtheory/registry.py"):
        assert module in names


def test_wheel_imports_and_runs(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    code = ("import sys, symtheory, symtheory.cli.app, symtheory.empirical, symtheory.paper_checks;"
            "assert symtheory.__file__.startswith(sys.argv[1]), symtheory.__file__; print('ok')")
    result = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True,
                            env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}, cwd=tmp_path, timeout=120)
    assert result.stdout.strip() == "ok", result.stderr


def test_editable_install_imports_from_anywhere(tmp_path):
    code = "import symtheory.cli.app, symtheory.empirical, symtheory.paper_checks; print('ok')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.stdout.strip() == "ok", result.stderr


def test_python_dash_m_entry_point(tmp_path):
    result = subprocess.run([sys.executable, "-m", "symtheory", "--help"], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert result.returncode == 0 and "check-loss" in result.stdout


def test_console_script_goes_through_run():
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "symtheory"]
    assert script.value == "symtheory.cli.app:run"
