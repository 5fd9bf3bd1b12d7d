"""Printing helpers shared by the commands: a rich console, and JSON to stdout for scripts."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

console = Console(highlight=False)


def print_json(data: Any) -> None:
    """Write ``data`` as indented JSON on stdout (for --json)."""
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
