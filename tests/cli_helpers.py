"""Running the ``symtheory`` command in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys


def run_cli(*args: str, timeout: float = 120, cwd=None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m symtheory ARGS`` with the test interpreter; text output captured; ``env`` added to the
    environment."""
    return subprocess.run([sys.executable, "-m", "symtheory", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env={**os.environ, **(env or {})})


def assert_bad_input(result: subprocess.CompletedProcess, fragment: str) -> None:
    """Exit 2, exactly one line on stderr containing ``fragment``, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert fragment in lines[0], lines[0]
