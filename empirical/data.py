"""Image data held whole on the device: MNIST, Fashion-MNIST, CIFAR-10 and the real CIFAR-10 subset.

Files follow torchvision's layout under a data directory (``MNIST/raw``, ``FashionMNIST/raw``,
``cifar-10-batches-py``, and ``cifar-10-partial/cifar10_partial.npz`` for ``cifar10-subset``). The directory
is ``--data-dir``, else ``$SYMTHEORY_DATA``, else ``$XDG_CACHE_HOME/symtheory/data`` (``~/.cache/...``).
A split is one uint8 tensor [N, C, H, W] plus int64 labels [N]; normalization x -> (x/255 - mean_c)/std_c
(per-channel statistics of the training split) and the optional flip/crop augmentation run batched on the
device, so training needs neither PIL nor a DataLoader.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from symtheory.empirical.config import DATASETS, SUBSET_FILE, DatasetSpec, get_dataset_spec
from symtheory.errors import BadInput

ENV_VAR = "SYMTHEORY_DATA"
SUBSET_SHA256 = "1fb10eafaac367890507a85a1b605ccb741a60e7a035a53896d36e6b947c1106"


@dataclass
class ImageData:
    """Train and test splits as uint8 [N, C, H, W] images and int64 labels, with per-channel statistics.

    ``train_indices`` are the positions of the training images in the training split as loaded (for --subset):
    of the 60,000 or 50,000 images, or for cifar10-subset of its 5,000 (not CIFAR-10's 50,000; the file's
    ``train_subset_indices`` maps them there).
    """

    name: str
    train_images: Tensor
    train_labels: Tensor
    test_images: Tensor
    test_labels: Tensor
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    source: str
    train_indices: Tensor

    @property
    def in_channels(self) -> int:
        return int(self.train_images.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.train_images.shape[-1])

    def to(self, device: torch.device | str) -> "ImageData":
        """The same data with every tensor on ``device``."""
        return replace(
            self,
            train_images=self.train_images.to(device),
            train_labels=self.train_labels.to(device),
            test_images=self.test_images.to(device),
            test_labels=self.test_labels.to(device),
        )

    def describe(self) -> dict:
        """A JSON-ready record of what was loaded (for config.json)."""
        return {
            "name": self.name,
            "source": self.source,
            "num_train": int(self.train_images.shape[0]),
            "num_test": int(self.test_images.shape[0]),
            "shape": list(self.train_images.shape[1:]),
            "num_classes": self.num_classes,
            "mean": list(self.mean),
            "std": list(self.std),
        }


def default_data_dir() -> Path:
    """``$SYMTHEORY_DATA`` if set, else the user cache directory ``$XDG_CACHE_HOME/symtheory/data``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "symtheory" / "data"


def resolve_data_dir(data_dir: str | Path | None) -> Path:
    """The data directory to use: the given one, else :func:`default_data_dir`."""
    return Path(data_dir).expanduser() if data_dir else default_data_dir()


def _how_to_provide(spec: DatasetSpec, download_possible: bool) -> str:
    ways = f"point --data-dir DIR or {ENV_VAR}=DIR at a directory holding {spec.folder}"
    if download_possible:
        ways += ", or pass --download (needs internet)"
    return ways


def _missing(spec: DatasetSpec, root: Path, detail: str, download_possible: bool = True) -> BadInput:
    hint = _how_to_provide(spec, download_possible)
    if spec.name == "cifar10":
        hint += "; where the full CIFAR-10 is not available, --dataset cifar10-subset trains on the real 5,000-image subset"
    return BadInput(f"{spec.name} data not found or corrupt in {root / spec.folder} ({detail}); {hint}")


def _torchvision_dataset(spec: DatasetSpec, root: Path, train: bool, download: bool):
    import torchvision.datasets as tvd

    cls = getattr(tvd, spec.torchvision_class)
    try:
        return cls(root=str(root), train=train, download=download)
    except (RuntimeError, OSError, ValueError, EOFError, AssertionError, TypeError) as exc:
        if download:
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
            cause = lines[0] if len(lines) == 1 else f"{lines[0].rstrip(':')}: {lines[-1]}"
            raise _missing(spec, root, f"download failed: {cause}", download_possible=False) from None
        if not (root / spec.folder).is_dir():
            reason = "no such folder"
        else:
            reason = "files missing or failing torchvision's integrity check"
        raise _missing(spec, root, reason) from None


# SHA-256 of the uncompressed IDX files, i.e. of the canonical .gz files (MD5s in torchvision's ``resources``)
# decompressed: an uncompressed copy is read only when it matches, so a damaged one is never trusted.
IDX_SHA256 = {
    "MNIST": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "FashionMNIST": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}


def is_canonical_idx(kind: str, name: str, data: bytes) -> bool:
    """Whether ``data`` is the canonical uncompressed IDX file ``name`` of ``kind`` (MNIST, FashionMNIST), by
    its SHA-256 (IDX_SHA256)."""
    return hashlib.sha256(data).hexdigest() == IDX_SHA256[kind][name]


def _read_idx(spec: DatasetSpec, root: Path, name: str) -> Tensor:
    """The IDX file ``name`` (say ``train-images-idx3-ubyte``) of an MNIST-style dataset, parsed with numpy, from
    a checked copy only: its canonical ``.gz`` where present (torchvision's MD5), else the uncompressed file
    (SHA-256 of the canonical file decompressed). A copy that fails its check is reported corrupt, naming it."""
    import torchvision.datasets as tvd

    raw = root / spec.folder
    gz = raw / f"{name}.gz"
    if gz.is_file():
        packed = gz.read_bytes()
        if hashlib.md5(packed).hexdigest() != dict(getattr(tvd, spec.torchvision_class).resources)[gz.name]:
            raise _missing(spec, root, f"{gz.name}: MD5 differs from the canonical file")
        data = gzip.decompress(packed)
    elif (raw / name).is_file():
        data = (raw / name).read_bytes()
        if not is_canonical_idx(spec.torchvision_class, name, data):
            raise _missing(spec, root, f"{name}: SHA-256 differs from the canonical file (the canonical {gz.name} "
                                       "decompressed); delete it and provide the canonical file or its .gz")
    else:
        raise _missing(spec, root, f"{name} missing (neither it nor {gz.name} is there)" if raw.is_dir()
                       else "no such folder")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return torch.from_numpy(array.reshape(dims).copy())


def _load_idx_split(spec: DatasetSpec, root: Path, train: bool, download: bool) -> tuple[Tensor, Tensor]:
    """MNIST-style split from checked files (:func:`_read_idx`); with ``download``, torchvision fetches the
    files first when one is not there."""
    raw = root / spec.folder
    prefix = "train" if train else "t10k"
    names = [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]
    if download and not all((raw / n).is_file() or (raw / f"{n}.gz").is_file() for n in names):
        _torchvision_dataset(spec, root, train, download)
    images, labels = (_read_idx(spec, root, n) for n in names)
    expected = 60000 if train else 10000
    if tuple(images.shape) != (expected, 28, 28) or tuple(labels.shape) != (expected,):
        raise _missing(spec, root, f"{prefix} split has shape {tuple(images.shape)}, expected ({expected}, 28, 28)")
    return images.unsqueeze(1).contiguous(), labels.long()


def _load_cifar10_split(spec: DatasetSpec, root: Path, train: bool, download: bool) -> tuple[Tensor, Tensor]:
    ds = _torchvision_dataset(spec, root, train, download)
    images = torch.from_numpy(np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2)))
    return images, torch.as_tensor(ds.targets, dtype=torch.long)


def _load_cifar10_subset(spec: DatasetSpec, root: Path) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    path = root / SUBSET_FILE
    if not path.is_file():
        raise _missing(spec, root, "file missing; it is derived from cut-short CIFAR-10 batches and cannot be "
                       "downloaded", download_possible=False)
    raw = path.read_bytes()
    if hashlib.sha256(raw).hexdigest() != SUBSET_SHA256:
        raise _missing(spec, root, "SHA-256 differs from the documented file", download_possible=False)
    with np.load(path) as z:
        train_x = torch.from_numpy(z["train_images_subset"].copy())
        train_y = torch.from_numpy(z["train_labels"][z["train_subset_indices"]].astype(np.int64))
        test_x = torch.from_numpy(z["test_images_subset"].copy())
        test_y = torch.from_numpy(z["test_labels"][z["test_subset_indices"]].astype(np.int64))
    return train_x, train_y, test_x, test_y


def channel_stats(images: Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and (population) standard deviation of uint8 images scaled to [0, 1], exactly from
    each channel's 256-bin histogram."""
    values = np.arange(256, dtype=np.float64) / 255
    means, stds = [], []
    for c in range(images.shape[1]):
        hist = torch.bincount(images[:, c].reshape(-1).to(torch.int64), minlength=256).numpy().astype(np.float64)
        p = hist / hist.sum()
        mean = float(p @ values)
        means.append(mean)
        stds.append(float(np.sqrt(p @ (values - mean) ** 2)))
    return tuple(means), tuple(stds)


def load_dataset(name: str, data_dir: str | Path | None = None, download: bool = False) -> ImageData:
    """Load ``name`` from the data directory (see the module docstring) onto the CPU.

    BadInput, saying where it looked and how to provide the data, when files are missing or corrupt.
    """
    spec = get_dataset_spec(name)
    root = resolve_data_dir(data_dir)
    if download and spec.torchvision_class is not None:
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInput(f"cannot create data directory {root} for --download: {exc.strerror}") from None
    if spec.name == "cifar10-subset":
        train_x, train_y, test_x, test_y = _load_cifar10_subset(spec, root)
    elif spec.name == "cifar10":
        train_x, train_y = _load_cifar10_split(spec, root, True, download)
        test_x, test_y = _load_cifar10_split(spec, root, False, download)
    else:
        train_x, train_y = _load_idx_split(spec, root, True, download)
        test_x, test_y = _load_idx_split(spec, root, False, download)
    mean, std = channel_stats(train_x)
    return ImageData(spec.name, train_x, train_y, test_x, test_y, spec.num_classes, mean, std,
                     os.path.abspath(root / spec.folder), torch.arange(train_x.shape[0]))


def stratified_subset(labels: Tensor | np.ndarray, size: int, seed: int, name: str = "") -> np.ndarray:
    """Sorted indices of a seeded, class-stratified sample of ``size`` examples.

    Class c gets floor(size n_c / n) examples, the remainder going to the largest fractional parts (ties to
    the lower class); within a class the examples are a uniform sample from numpy's PCG64 seeded by
    (seed, 2).
    """
    y = np.asarray(labels)
    n = y.shape[0]
    if not 1 <= size <= n:
        raise BadInput(f"--subset must be between 1 and {n:,}, the size of the {name + ' ' if name else ''}training split, "
                       f"got {size:,}")
    classes, counts = np.unique(y, return_counts=True)
    exact = counts * size / n
    quota = np.floor(exact).astype(int)
    order = np.lexsort((classes, -(exact - quota)))
    quota[order[: size - quota.sum()]] += 1
    rng = np.random.default_rng([seed, 2])
    chosen = [rng.permutation(np.flatnonzero(y == c))[:q] for c, q in zip(classes, quota)]
    return np.sort(np.concatenate(chosen))


def take_train_subset(data: ImageData, indices: np.ndarray | Tensor) -> ImageData:
    """The data restricted to the given training positions (test split and statistics unchanged)."""
    idx = torch.as_tensor(np.asarray(indices), dtype=torch.long)
    return replace(data, train_images=data.train_images[idx], train_labels=data.train_labels[idx],
                   train_indices=data.train_indices[idx])


@dataclass(frozen=True)
class Preprocess:
    """uint8 batch -> float input on the device: (x/255 - mean_c)/std_c, then, when augmenting, a random
    left-right flip (only for a dataset whose classes survive mirroring; data of no known dataset, such as
    benchmarks' random images, is flipped) and a random 4-pixel crop."""

    scale: Tensor
    shift: Tensor
    augment: bool = False
    crop_padding: int = 4
    channels_last: bool = False
    mirror: bool = True

    @classmethod
    def build(cls, data: ImageData, device: torch.device | str, normalize: bool = True, augment: bool = False,
              channels_last: bool = False) -> "Preprocess":
        """Fold normalization into one multiply-add: x_float = x_uint8 * scale + shift."""
        c = data.in_channels
        mean = torch.tensor(data.mean if normalize else (0.0,) * c, dtype=torch.float32)
        std = torch.tensor(data.std if normalize else (1.0,) * c, dtype=torch.float32)
        scale = (1.0 / (255.0 * std)).view(1, c, 1, 1).to(device)
        shift = (-mean / std).view(1, c, 1, 1).to(device)
        spec = DATASETS.get(data.name.strip().lower())
        return cls(scale, shift, augment, channels_last=channels_last,
                   mirror=spec.mirror_invariant if spec is not None else True)

    def __call__(self, images: Tensor, generator: torch.Generator | None = None, train: bool = False) -> Tensor:
        x = images.float().mul_(self.scale).add_(self.shift)
        if train and self.augment:
            x = random_crop(random_flip(x, generator) if self.mirror else x, self.crop_padding, generator)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x


def random_flip(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = torch.rand(x.shape[0], device=x.device, generator=generator) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)


def random_crop(x: Tensor, padding: int, generator: torch.Generator | None = None) -> Tensor:
    """Zero-pad by ``padding`` on each side and cut each image at its own uniform random offset."""
    if padding <= 0:
        return x
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (padding,) * 4)
    offsets = torch.randint(0, 2 * padding + 1, (2, n), device=x.device, generator=generator)
    rows = (offsets[0].view(n, 1) + torch.arange(h, device=x.device)).view(n, 1, h, 1)
    cols = (offsets[1].view(n, 1) + torch.arange(w, device=x.device)).view(n, 1, 1, w)
    padded = padded.gather(2, rows.expand(n, c, h, w + 2 * padding))
    return padded.gather(3, cols.expand(n, c, h, w))
