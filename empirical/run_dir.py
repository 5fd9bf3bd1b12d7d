"""A run directory: config.json, labels.npz, metrics.jsonl (one JSON object per epoch), summary.json and
checkpoint.pt. JSON files are replaced atomically; metrics lines are appended and flushed to disk, so a
killed run keeps every finished epoch.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from symtheory.empirical.interrupts import interrupts_held
from symtheory.errors import BadInput

CONFIG = "config.json"
LABELS = "labels.npz"
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"
CHECKPOINT = "checkpoint.pt"
LOCK = ".trainer.lock"
"""Held by the process training a run (its pid and host): a run directory is trained by one process at a time."""
DIVERGED = "stopped-nonfinite"
"""summary.json status of a run stopped because its training loss became non-finite; resuming would repeat it."""


def read_summary(path: str | Path) -> dict[str, Any]:
    """The summary.json of the run directory ``path``; {} when it is missing or unreadable."""
    try:
        return json.loads((Path(path) / SUMMARY).read_text())
    except (OSError, ValueError):
        return {}


def divergence(path: str | Path) -> str | None:
    """Why the run in ``path`` stopped on a non-finite loss (its summary's message), or None if it did not."""
    summary = read_summary(path)
    if summary.get("status") != DIVERGED:
        return None
    return summary.get("message") or "its training loss became non-finite"


def is_run_dir(path: str | Path) -> bool:
    """Whether ``path`` is a folder ``symtheory train`` wrote: its config.json beside metrics.jsonl,
    summary.json or labels.npz (a run stopped before its first epoch has no metrics.jsonl)."""
    p = Path(path)
    return (p / CONFIG).is_file() and any((p / name).is_file() for name in (METRICS, SUMMARY, LABELS))


def run_dirs_below(folder: str | Path) -> list[Path]:
    """The run directories (:func:`is_run_dir`) at any depth below ``folder``, ``folder`` included, following
    links to folders (each real folder once), sorted."""
    found, seen = [], set()
    for root, dirs, _ in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs.clear()
            continue
        seen.add(real)
        if is_run_dir(root):
            found.append(Path(root))
    return sorted(found)


def _unstarted_leftover(path: Path) -> bool:
    """A file a run start leaves when killed before its config.json exists: labels.npz, its lock or a write
    temporary."""
    return path.is_file() and (path.name in (LABELS, LOCK) or (path.name.startswith(".") and path.name.endswith(".tmp")))


def _writer_pid(name: str) -> int | None:
    """The process id in the name of an :func:`atomic_write` temporary (``.NAME.PID.HEX.tmp``), else None."""
    parts = name.split(".")
    if not (name.startswith(".") and name.endswith(".tmp") and len(parts) >= 5 and parts[-3].isdigit()):
        return None
    return int(parts[-3])


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but belongs to someone else
        return True
    return True


def _me() -> tuple[int, str]:
    return os.getpid(), socket.gethostname()


def _lock_holder(lock: Path) -> tuple[int, str] | None:
    """The (pid, host) a lock file names; None if it is gone or does not name one."""
    try:
        pid, _, host = lock.read_text().strip().partition(" ")
    except OSError:
        return None
    return (int(pid), host) if pid.isdigit() else None


def _place_lock(tmp: Path, lock: Path) -> bool:
    """Put the written ``tmp`` in place as ``lock`` unless a lock is there (False): a hard link, which appears
    whole; where the file system has none, a file created exclusively and then written."""
    try:
        os.link(tmp, lock)
        return True
    except FileExistsError:
        return False
    except OSError:
        pass
    try:
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        handle.write(tmp.read_text())
    return True


def acquire_lock(folder: str | Path) -> None:
    """Take the run directory ``folder``'s :data:`LOCK` for this process, or BadInput naming the live process
    (on this host) that holds it. A lock whose process has ended (a kill), or that names another host (whose
    processes cannot be checked from here), is taken over; a lock this process holds is held again."""
    folder = Path(folder)
    lock = folder / LOCK
    pid, host = _me()
    for _ in range(3):
        tmp = folder / f".{LOCK}.{pid}.{secrets.token_hex(6)}.tmp"
        try:
            tmp.write_text(f"{pid} {host}\n")
        except OSError as exc:
            raise BadInput(f"cannot write in run directory {folder}: {exc.strerror or exc}") from None
        try:
            if _place_lock(tmp, lock):
                return
            holder = _lock_holder(lock)
        finally:
            tmp.unlink(missing_ok=True)
        if holder == (pid, host):
            return
        if holder is not None and holder[1] == host and _running(holder[0]):
            raise BadInput(f"{folder} is being trained by process {holder[0]}: wait for it to end or stop it (a run "
                           f"directory is trained by one process at a time; delete {lock} if no such process "
                           "trains it)")
        lock.unlink(missing_ok=True)
    raise BadInput(f"cannot take the lock {lock}: other processes keep taking it")


def release_lock(folder: str | Path) -> None:
    """Remove the run directory ``folder``'s :data:`LOCK` if this process holds it."""
    lock = Path(folder) / LOCK
    if _lock_holder(lock) == _me():
        lock.unlink(missing_ok=True)


def atomic_write(path: str | Path, write) -> None:
    """Call ``write(file_object)`` on a new temporary file beside ``path`` (mode 0666 less the umask), fsync
    it, then rename it to ``path``; Ctrl-C meanwhile takes effect once the file is in place."""
    target = Path(path)
    tmp = str(target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    with interrupts_held():
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


@dataclass(frozen=True)
class RunDir:
    """The files of one run under ``path``."""

    path: Path

    @staticmethod
    def ensure_new(path: str | Path) -> None:
        """BadInput if ``path`` exists and is not an empty directory: a run is never overwritten.

        A directory holding only what a start killed before writing its config.json leaves (labels.npz,
        temporary files of :func:`atomic_write`) counts as empty: no epoch ran there.
        """
        p = Path(path)
        if p.exists() and not p.is_dir():
            raise BadInput(f"{p} is a file, not a run directory; choose another --out (a folder that does not "
                           "exist yet, or an empty one)")
        if p.exists() and any(not _unstarted_leftover(q) for q in p.iterdir()):
            if not is_run_dir(p):
                raise BadInput(f"{p} already exists and holds other files than a run (a grid's folder, say); "
                               "choose another --out")
            raise BadInput(f"run directory {p} already exists; pass --resume {p} to continue it, or choose "
                           "another --out")

    @classmethod
    def create(cls, path: str | Path) -> "RunDir":
        """A new run directory, its lock taken (:func:`acquire_lock`); BadInput if ``path`` exists and is not empty
        (use --resume to continue). The leftovers of an unstarted run (see :meth:`ensure_new`) are removed."""
        p = Path(path)
        cls.ensure_new(p)
        try:
            p.mkdir(parents=True, exist_ok=True)
            acquire_lock(p)
            for leftover in p.iterdir():
                if leftover.name != LOCK:
                    leftover.unlink()
        except OSError as exc:
            raise BadInput(f"cannot create run directory {p}: {exc.strerror or exc}") from None
        return cls(p)

    @classmethod
    def open(cls, path: str | Path) -> "RunDir":
        """An existing run directory to resume, its lock taken (:func:`acquire_lock`); BadInput unless it holds
        config.json and labels.npz."""
        p = Path(path)
        if not p.exists():
            raise BadInput(f"no run directory at {p}: it does not exist")
        missing = [name for name in (CONFIG, LABELS) if not (p / name).is_file()]
        if missing:
            raise BadInput(f"{p} is not a run directory (missing {', '.join(missing)})")
        acquire_lock(p)
        run = cls(p)
        run.remove_stale_temporaries()
        return run

    def remove_stale_temporaries(self) -> list[str]:
        """Remove the temporary files of :func:`atomic_write` left by a process killed while writing (their
        writer, named in the file name, no longer runs); the names removed."""
        removed = []
        for leftover in self.path.iterdir():
            pid = _writer_pid(leftover.name)
            if pid is not None and pid != os.getpid() and not _running(pid) and leftover.is_file():
                leftover.unlink(missing_ok=True)
                removed.append(leftover.name)
        return sorted(removed)

    @property
    def labels_path(self) -> Path:
        return self.path / LABELS

    @property
    def checkpoint_path(self) -> Path:
        return self.path / CHECKPOINT

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS

    def write_json(self, name: str, data: Any) -> None:
        """Replace ``name`` atomically with ``data`` as indented JSON."""
        text = json.dumps(data, indent=2, allow_nan=False, default=str) + "\n"
        atomic_write(self.path / name, lambda handle: handle.write(text.encode()))

    def read_json(self, name: str) -> Any:
        path = self.path / name
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise BadInput(f"cannot read {path}: {exc}") from None

    def check_resumable(self) -> None:
        """BadInput if the run stopped on a non-finite loss: resumed with the same settings it would diverge
        the same way again."""
        message = divergence(self.path)
        if message is not None:
            raise BadInput(f"{self.path}: {message}; resuming would repeat it with the same settings: "
                           "start a new run (e.g. a lower --lr) instead")

    def append_metrics(self, row: dict[str, Any]) -> None:
        """Append one epoch's metrics as a JSON line, flushed and fsynced (Ctrl-C takes effect after it)."""
        line = json.dumps(row, allow_nan=False) + "\n"
        with interrupts_held(), open(self.metrics_path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def read_metrics(self) -> list[dict[str, Any]]:
        """The metrics rows in order. The last line, if cut short by a kill, is ignored; a damaged line with
        epochs after it is refused (BadInput naming the file and line), as skipping it would drop them."""
        if not self.metrics_path.is_file():
            return []
        rows: list[dict[str, Any]] = []
        damaged = None
        for number, line in enumerate(self.metrics_path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            if damaged is not None:
                raise BadInput(f"{self.metrics_path} line {damaged} is damaged and later lines hold more epochs; "
                               f"repair that line (its epoch's figures are not recorded elsewhere), or delete "
                               f"{self.path} and start the run again")
            row = epoch_row(line)
            if row is not None:
                rows.append(row)
            else:
                damaged = number
        return rows

    def keep_metrics_through(self, epoch: int) -> list[dict[str, Any]]:
        """Rewrite metrics.jsonl with only the rows of epochs <= ``epoch`` (before resuming); returns them.
        BadInput unless they are the rows of epochs 1..epoch, each once: a run resumed past a missing epoch
        would never be whole."""
        rows = [r for r in self.read_metrics() if r["epoch"] <= epoch]
        numbers = [r["epoch"] for r in rows]
        if numbers != list(range(1, epoch + 1)):
            missing = sorted(set(range(1, epoch + 1)) - set(numbers))
            what = (f"lacks epoch{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing[:5]))}"
                    + (", ..." if len(missing) > 5 else "") if missing else "holds an epoch twice or out of order")
            raise BadInput(f"{self.metrics_path} {what} of the {epoch} its checkpoint holds; the run cannot be "
                           f"resumed: delete {self.path} and start it again")
        text = "".join(json.dumps(r, allow_nan=False) + "\n" for r in rows)
        atomic_write(self.metrics_path, lambda handle: handle.write(text.encode()))
        return rows


def epoch_row(line: str) -> dict[str, Any] | None:
    """One line of metrics.jsonl as an epoch's figures (a JSON object with an integer 'epoch'), or None for a
    damaged or cut-short line."""
    try:
        row = json.loads(line)
    except ValueError:
        return None
    return row if isinstance(row, dict) and isinstance(row.get("epoch"), int) else None
