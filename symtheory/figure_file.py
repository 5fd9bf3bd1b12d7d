"""The file a figure or a report is written to, checked before any work: not a folder, a device, or below an
existing file; for a figure, a suffix matplotlib writes."""

from __future__ import annotations

from pathlib import Path

from symtheory.errors import BadInput


def figure_target(path: str | Path, option: str, example: str) -> Path:
    """The file the figure goes to: ``path``, with '.png' added when it has no suffix (the format follows the
    suffix). BadInput when matplotlib writes no such format, when ``path`` is a folder or a device, or a folder
    on the way is an existing file, so that a bad ``option`` (the command's option naming it;
    ``example``: a file name the errors suggest) is refused before any work; missing folders are created when
    the figure is written."""
    from matplotlib.backend_bases import FigureCanvasBase

    target = file_target(path, option, example)
    if not target.suffix:
        target = target.with_suffix(".png")
    formats = FigureCanvasBase.get_supported_filetypes()
    if target.suffix[1:].lower() not in formats:
        raise BadInput(f"{option} {str(path)!r}: matplotlib writes no {target.suffix!r} figures; use one of "
                       f"{', '.join('.' + f for f in sorted(formats))}")
    return target


def file_target(path: str | Path, option: str, example: str) -> Path:
    """``path`` as a file to write: BadInput when it is a folder or a device, or a folder on the way is an
    existing file (``option``: the command's option naming it; ``example``: a file name the errors suggest)."""
    target = Path(path)
    if target.is_dir():
        raise BadInput(f"{option} {str(path)!r} is a folder; give a file name such as {str(target / example)!r}")
    if target.exists() and not target.is_file():
        raise BadInput(f"{option} {str(path)!r} is not a regular file (a device or pipe); give a file name such as "
                       f"{example!r}")
    blocking = next((p for p in target.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise BadInput(f"{option} {str(path)!r}: {str(blocking)!r} is a file, not a folder")
    return target
