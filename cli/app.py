"""The Typer app and the entry point that turns bad input into one line on stderr and exit code 2.

Each command lives in a module of its own (listed in COMMAND_MODULES) that registers on ``app``; the
heavy imports (sympy, torch) happen inside the commands, so ``--help`` and the theory commands stay fast
and never import torch.
"""

from __future__ import annotations

import gc
import importlib
import sys

import typer
from typer.exceptions import TyperException

from symtheory.errors import BadInput

app = typer.Typer(
    name="symtheory",
    help="Symmetric losses and memorization under label noise (Patel & Sastry, PAKDD 2021): "
    "proofs, numeric checks and experiments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMAND_MODULES = [
    "symtheory.cli.theory",
    "symtheory.cli.ranking",
    "symtheory.cli.train",
    "symtheory.cli.grid",
    "symtheory.cli.checks",
]


def _register() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name)


def fail(message: str, code: int = 2) -> None:
    """Print one line on stderr and exit (2 for bad input)."""
    print(f"symtheory: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    """Run the app; usage errors and BadInput exit 2 with one line, never a traceback."""
    _register()
    try:
        result = app(args=argv, prog_name="symtheory", standalone_mode=False)
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        fail("aborted", 130)
    except TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            raise SystemExit(0) from None
        message = (exc.format_message() or type(exc).__name__).strip().splitlines()
        fail(message[0] if message else type(exc).__name__, getattr(exc, "exit_code", 2) or 2)
    except BadInput as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted", 130)
    raise SystemExit(result if isinstance(result, int) else 0)


def run(argv: list[str] | None = None) -> None:
    """The ``symtheory`` executable: :func:`main`, then ``gc.freeze()`` on the way out, so that the
    interpreter's last garbage collection skips the objects sympy built (a tenth of a second or more of a
    theory command's cold time; see ``benchmarks/cold_start.py --phases``). Objects are still released by
    reference counting; ``main`` itself leaves the collector alone for in-process callers."""
    try:
        main(argv)
    finally:
        gc.freeze()
