"""Which datasets a data directory holds, each checked as training would load it (canonical checksums), and
how to provide the ones that are missing (README "Training on noisy labels"; docs/training.md, Data)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from symtheory.empirical.config import DATASETS
from symtheory.errors import BadInput

READY, MISSING, CORRUPT = "ready", "missing", "corrupt"


@dataclass(frozen=True)
class DatasetStatus:
    """One dataset in one data directory: ready (with its split sizes), missing (its folder or file is not
    there, or the folder is empty) or corrupt (there, but failing its checksum or shape), with what to do."""

    name: str
    description: str
    path: str
    status: str
    train: int | None = None
    test: int | None = None
    detail: str = ""

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


def _holds_files(path: Path) -> bool:
    """Whether ``path`` is a file, or a folder with a file somewhere below it (torchvision leaves an empty
    folder behind after a failed download)."""
    return path.is_file() or (path.is_dir() and any(p.is_file() for p in path.rglob("*")))


def dataset_status(name: str, data_dir: str | Path | None = None, download: bool = False) -> DatasetStatus:
    """Load ``name`` from the data directory (downloading it first with ``download``, where torchvision can)
    and report it: ready with its train and test sizes, or missing or corrupt with the loader's own one-line
    reason and how to provide the files."""
    from symtheory.empirical.data import load_dataset, resolve_data_dir

    spec = DATASETS[name]
    path = str(resolve_data_dir(data_dir) / spec.folder)
    try:
        data = load_dataset(name, data_dir, download)
    except BadInput as exc:
        return DatasetStatus(name, spec.description, path, CORRUPT if _holds_files(Path(path)) else MISSING,
                             detail=str(exc))
    return DatasetStatus(name, spec.description, path, READY, int(data.train_labels.shape[0]),
                         int(data.test_labels.shape[0]), detail=_stray_copies_note(spec.torchvision_class, Path(path)))


def _stray_copies_note(idx_kind: str | None, raw: Path) -> str:
    """A warning for uncompressed IDX files that sit beside their canonical .gz but differ from the canonical
    file: training reads the checked .gz and never them, but torchvision's own MNIST class reads them first."""
    from symtheory.empirical.data import IDX_SHA256, is_canonical_idx

    damaged = [name for name in IDX_SHA256.get(idx_kind or "", {})
               if (raw / name).is_file() and (raw / f"{name}.gz").is_file()
               and not is_canonical_idx(idx_kind, name, (raw / name).read_bytes())]
    if not damaged:
        return ""
    return (f"{', '.join(damaged)} differ{'s' if len(damaged) == 1 else ''} from the canonical file; training reads "
            f"the checked .gz instead, but torchvision's own loader would read the damaged copy: delete it")


def data_report(data_dir: str | Path | None = None, download: bool = False,
                names: tuple[str, ...] | None = None) -> list[DatasetStatus]:
    """:func:`dataset_status` of every known dataset (or of ``names``), in the registry's order."""
    return [dataset_status(name, data_dir, download) for name in (names or tuple(DATASETS))]
