"""The Typer app and the entry point that turns bad input into one line on stderr and exit code 2.

Each command lives in a module of its own (listed in COMMAND_MODULES) that registers on ``app``; the
heavy imports (sympy, torch) happen inside the commands, so ``--help`` and the theory commands stay fast
and never import torch.
"""

from __future__ import annotations

import gc
import importlib
import sys
from contextlib import contextmanager
from typing import Callable, Iterator

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

def _print_version(value: bool) -> None:
    if value:
        from symtheory import __version__

        print(f"symtheory {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                          help="Print symtheory's version and exit.")) -> None:
    pass


COMMAND_MODULES = [
    "symtheory.cli.theory",
    "symtheory.cli.ranking",
    "symtheory.cli.train",
    "symtheory.cli.grid",
    "symtheory.cli.checks",
    "symtheory.cli.reproduce",
    "symtheory.cli.catalog",
]


def _register() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name)


def fail(message: str, code: int = 2) -> None:
    """Print one line on stderr and exit (2 for bad input)."""
    print(f"symtheory: error: {message}", file=sys.stderr)
    raise SystemExit(code)


OPTIONAL_MODULES = {"torch": "torch", "torchvision": "torch"}
"""Modules of an optional extra (pyproject's [project.optional-dependencies]), by the extra that installs them."""


def missing_module_message(module: str, command: str | None = None) -> str:
    """One line: which command needs the missing optional module, and how to install its extra."""
    extra = OPTIONAL_MODULES[module]
    who = f"symtheory {command}" if command else "this command"
    return (f"{who} needs {module}, which is not installed: pip install 'symtheory[{extra}]' (from a checkout: "
            f"pip install '.[{extra}]'); the theory commands (check-loss, prove-risk, losses, verify-ranking) run "
            "without it")


OUT_OF_MEMORY = 1
"""Exit code when numpy or torch cannot allocate memory (host or GPU)."""


def is_out_of_memory(exc: BaseException) -> bool:
    """numpy's MemoryError, torch's OutOfMemoryError (GPU), or torch's CPU allocator failing."""
    text = str(exc)
    return (isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError"
            or "DefaultCPUAllocator" in text or "out of memory" in text.lower())


SIZE_OPTIONS = {
    "verify-ranking": "--classifiers, --support, --classes, --samples, --erm-samples",
    "train": "--batch-size, --eval-batch-size, --subset",
    "grid": "--batch-size, --subset, fewer runs (--losses, --etas, --seeds)",
    "reproduce": "--subset, fewer runs (--presets, --losses, --etas, --seeds)",
    "check-loss": "--classes",
    "prove-risk": "--classes",
}
"""Per command, the options that size its work: what an out-of-memory message tells the user to lower."""


def out_of_memory_message(exc: BaseException, command: str | None = None) -> str:
    """One line: the allocator's own first sentence, and which of ``command``'s sizes to lower."""
    detail = " ".join(str(exc).split())
    detail = ". ".join(detail.split(". ")[:2])[:200] if detail else type(exc).__name__
    sizes = SIZE_OPTIONS.get(command or "", "--batch-size, --subset, --classes, --support, --classifiers")
    return f"out of memory: {detail}; use smaller sizes (e.g. {sizes})"


def command_name(argv: list[str] | None) -> str | None:
    """The subcommand of a command line (its first word that is not an option), or None."""
    words = sys.argv[1:] if argv is None else argv
    return next((w for w in words if not w.startswith("-")), None)


_invoked: list[list[str]] = []


def invoked_command() -> list[str]:
    """The command line that :func:`main` is running, as 'symtheory' and its words (``main``'s ``argv`` when
    given, else the process's), for records such as reproduce.json."""
    return ["symtheory", *(_invoked[-1] if _invoked else sys.argv[1:])]


INTERRUPTED = 130
"""Exit code after Ctrl-C (128 + SIGINT); typer turns a KeyboardInterrupt in a command into this code."""


class Interrupted(Exception):
    """Ctrl-C stopped a command; the message says how to go on (a plain Exception, so typer lets it through)."""


@contextmanager
def resume_hint_on_interrupt(hint: Callable[[], str]) -> Iterator[None]:
    """Turn Ctrl-C inside the block into :class:`Interrupted` carrying ``hint()``, which :func:`main` prints as
    one line, ``symtheory: interrupted; <hint>`` (or ``symtheory: <hint>`` when the hint says "interrupted ..."),
    before exiting 130."""
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(hint()) from None


def _stop_interrupted(hint: str = "") -> None:
    line = hint if hint.startswith("interrupted") else "interrupted" + ("; " + hint if hint else "")
    print(f"symtheory: {line}", file=sys.stderr)
    raise SystemExit(INTERRUPTED)


def main(argv: list[str] | None = None) -> None:
    """Run the app; usage errors and BadInput exit 2 with one line, Ctrl-C exits 130 with one line (how to go
    on, where a command knows), never a traceback."""
    _invoked.append(list(sys.argv[1:] if argv is None else argv))
    try:
        _register()
        result = app(args=argv, prog_name="symtheory", standalone_mode=False)
    except typer.Abort:
        fail("aborted", 130)
    except TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            raise SystemExit(0) from None
        message = (exc.format_message() or type(exc).__name__).strip().splitlines()
        fail(message[0] if message else type(exc).__name__, getattr(exc, "exit_code", 2) or 2)
    except BadInput as exc:
        fail(str(exc))
    except ModuleNotFoundError as exc:
        if exc.name not in OPTIONAL_MODULES:
            raise
        fail(missing_module_message(exc.name, command_name(argv)))
    except MemoryError as exc:
        fail(out_of_memory_message(exc, command_name(argv)), OUT_OF_MEMORY)
    except RuntimeError as exc:
        if not is_out_of_memory(exc):
            raise
        fail(out_of_memory_message(exc, command_name(argv)), OUT_OF_MEMORY)
    except Interrupted as exc:
        _stop_interrupted(str(exc))
    except KeyboardInterrupt:
        _stop_interrupted()
    finally:
        _invoked.pop()
    if result == INTERRUPTED:
        _stop_interrupted()
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
