"""Data: the loaded splits match SOURCES.md, missing or corrupt data gives one clear message, the subset is
stratified and seeded, and normalization/augmentation on the device do what they say."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from cli_helpers import run_cli
from symtheory.empirical.data import (
    Preprocess,
    default_data_dir,
    load_dataset,
    random_crop,
    random_flip,
    stratified_subset,
    take_train_subset,
)
from symtheory.errors import BadInput

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def mnist(data_dir):
    return load_dataset("mnist", data_dir)


def test_mnist_matches_sources(mnist):
    assert tuple(mnist.train_images.shape) == (60000, 1, 28, 28)
    assert mnist.train_images.dtype == torch.uint8
    assert tuple(mnist.test_images.shape) == (10000, 1, 28, 28)
    assert torch.bincount(mnist.train_labels).tolist() == MNIST_TRAIN_COUNTS
    assert torch.bincount(mnist.test_labels).tolist() == MNIST_TEST_COUNTS
    assert mnist.mean[0] == pytest.approx(0.1307, abs=1e-4)
    assert mnist.std[0] == pytest.approx(0.3081, abs=1e-4)


def test_fashion_mnist_has_6000_per_class(data_dir):
    data = load_dataset("fashion-mnist", data_dir)
    assert torch.bincount(data.train_labels).tolist() == [6000] * 10
    assert torch.bincount(data.test_labels).tolist() == [1000] * 10


def test_cifar10_subset_is_the_real_images(data_dir):
    data = load_dataset("cifar10-subset", data_dir)
    assert data.name == "cifar10-subset"
    assert tuple(data.train_images.shape) == (5000, 3, 32, 32)
    assert tuple(data.test_images.shape) == (1000, 3, 32, 32)
    row0 = data.train_images[0].reshape(-1)
    assert row0[:3].tolist() == [59, 43, 50] and row0[-3:].tolist() == [140, 84, 72]
    assert torch.bincount(data.test_labels).sum() == 1000
    assert len(data.mean) == 3


def test_full_cifar10_missing_says_where_and_how(data_dir):
    with pytest.raises(BadInput) as info:
        load_dataset("cifar10", data_dir)
    message = str(info.value)
    for part in ("cifar-10-batches-py", "--data-dir", "SYMTHEORY_DATA", "--download", "cifar10-subset"):
        assert part in message
    assert "\n" not in message


def test_empty_data_dir(tmp_path):
    with pytest.raises(BadInput, match=str(tmp_path / "MNIST" / "raw")):
        load_dataset("mnist", tmp_path)
    with pytest.raises(BadInput, match="cannot be downloaded"):
        load_dataset("cifar10-subset", tmp_path)


def test_corrupt_mnist_file_is_reported(data_dir, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in (data_dir / "MNIST" / "raw").iterdir():
        shutil.copy(f, raw / f.name)
    target = raw / "train-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:1000])
    with pytest.raises(BadInput, match="MD5 differs"):
        load_dataset("mnist", tmp_path)


def test_unknown_dataset_lists_choices():
    with pytest.raises(BadInput, match="choices: mnist, fashion-mnist, cifar10, cifar10-subset"):
        load_dataset("svhn")


def test_default_data_dir_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SYMTHEORY_DATA", str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("SYMTHEORY_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_data_dir() == tmp_path / "cache" / "symtheory" / "data"


def test_stratified_subset(mnist):
    idx = stratified_subset(mnist.train_labels, 4000, seed=0)
    counts = np.bincount(mnist.train_labels.numpy()[idx], minlength=10)
    expected = np.array(MNIST_TRAIN_COUNTS) * 4000 / 60000
    assert counts.sum() == 4000 and np.all(np.abs(counts - expected) < 1)
    assert np.all(np.diff(idx) > 0)
    assert np.array_equal(idx, stratified_subset(mnist.train_labels, 4000, seed=0))
    assert not np.array_equal(idx, stratified_subset(mnist.train_labels, 4000, seed=1))
    sub = take_train_subset(mnist, idx)
    assert torch.equal(sub.train_indices, torch.as_tensor(idx))
    with pytest.raises(BadInput, match="--subset"):
        stratified_subset(mnist.train_labels, 0, seed=0)


def test_normalization_on_the_device_gives_zero_mean_unit_std(mnist):
    prep = Preprocess.build(mnist, "cpu")
    x = prep(mnist.train_images[:20000])
    assert x.dtype == torch.float32
    # The statistics are those of all 60,000 images; a third of them is within a few thousandths.
    assert abs(x.mean().item()) < 0.01 and abs(x.std().item() - 1) < 0.01


def test_flip_and_crop_are_per_image():
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).view(2, 1, 4, 4)
    g = torch.Generator().manual_seed(0)
    flipped = random_flip(x, g)
    for i in range(2):
        assert torch.equal(flipped[i], x[i]) or torch.equal(flipped[i], x[i].flip(-1))
    assert torch.equal(random_crop(x, 0, g), x)
    cropped = random_crop(x + 1, 1, torch.Generator().manual_seed(1))
    padded = torch.nn.functional.pad(x + 1, (1, 1, 1, 1))
    for i in range(2):
        windows = [padded[i, :, r:r + 4, c:c + 4] for r in range(3) for c in range(3)]
        assert any(torch.equal(cropped[i], w) for w in windows)


def test_augmentation_mirrors_cifar_images_but_never_digits(mnist, data_dir):
    from dataclasses import replace

    cifar = load_dataset("cifar10-subset", data_dir)
    counts = {}
    for data in (mnist, cifar):
        prep = replace(Preprocess.build(data, "cpu", normalize=False, augment=True), crop_padding=0)
        x = data.train_images[:64]
        out = prep(x, torch.Generator().manual_seed(0), train=True)
        plain = prep(x)
        counts[data.name] = sum(not torch.equal(out[i], plain[i]) for i in range(64))
    assert counts["mnist"] == 0 and 16 < counts["cifar10-subset"] < 48


def test_a_failed_download_says_why_and_does_not_suggest_download_again(tmp_path, monkeypatch):
    import torchvision.datasets

    class Offline(torchvision.datasets.MNIST):
        def __init__(self, *args, **kwargs):
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nTried https://a/, got:\n"
                               "<urlopen error [Errno -2] Name or service not known>\n")

    monkeypatch.setattr(torchvision.datasets, "MNIST", Offline)
    with pytest.raises(BadInput) as info:
        load_dataset("mnist", tmp_path, download=True)
    message = str(info.value)
    assert ("download failed: Error downloading train-images-idx3-ubyte.gz: <urlopen error [Errno -2] Name or "
            "service not known>") in message
    assert "--download" not in message and "\n" not in message


def _mnist_copy(data_dir, tmp_path, uncompressed: dict[str, bytes | None]):
    """A copy of MNIST/raw under tmp_path with the canonical .gz files and, for each name in ``uncompressed``, an
    uncompressed file: the canonical content, or what the given function makes of it."""
    import gzip

    raw = tmp_path / "MNIST" / "raw"
    shutil.copytree(data_dir / "MNIST" / "raw", raw)
    for name, content in uncompressed.items():
        canonical = gzip.decompress((raw / f"{name}.gz").read_bytes())
        (raw / name).write_bytes(canonical if content is None else content(canonical))
    return raw


def _shift_labels(canonical: bytes) -> bytes:
    """The label file with every label moved to the next class: right size and header, wrong content."""
    return canonical[:8] + bytes((b + 1) % 10 for b in canonical[8:])


def test_a_corrupt_uncompressed_file_beside_its_gz_is_not_trusted(data_dir, tmp_path):
    from symtheory.empirical.data_status import dataset_status

    _mnist_copy(data_dir, tmp_path, {"train-labels-idx1-ubyte": _shift_labels, "t10k-labels-idx1-ubyte": _shift_labels,
                                     "train-images-idx3-ubyte": lambda c: c, "t10k-images-idx3-ubyte": lambda c: c})
    data = load_dataset("mnist", tmp_path)
    assert torch.bincount(data.train_labels).tolist() == MNIST_TRAIN_COUNTS
    assert torch.bincount(data.test_labels).tolist() == MNIST_TEST_COUNTS
    status = dataset_status("mnist", tmp_path)
    assert status.status == "ready"
    # ready, as training reads the .gz, but the damaged copies were not mentioned
    assert status.detail == ("train-labels-idx1-ubyte, t10k-labels-idx1-ubyte differ from the canonical file; "
                             "training reads the checked .gz instead, but torchvision's own loader would read the "
                             "damaged copy: delete it")
    shown = " ".join(run_cli("data", "--data-dir", str(tmp_path), "--dataset", "mnist", timeout=300).stdout.split())
    assert "ready mnist: 60,000 train / 10,000 test images" in shown
    assert "warning: train-labels-idx1-ubyte, t10k-labels-idx1-ubyte differ from the canonical file" in shown


def test_an_uncompressed_file_alone_is_checked_against_the_canonical_sha256(data_dir, tmp_path):
    from symtheory.empirical.data_status import dataset_status

    raw = _mnist_copy(data_dir, tmp_path, {"t10k-labels-idx1-ubyte": None})
    (raw / "t10k-labels-idx1-ubyte.gz").unlink()
    assert torch.bincount(load_dataset("mnist", tmp_path).test_labels).tolist() == MNIST_TEST_COUNTS
    (raw / "t10k-labels-idx1-ubyte").write_bytes(_shift_labels((raw / "t10k-labels-idx1-ubyte").read_bytes()))
    status = dataset_status("mnist", tmp_path)
    assert status.status == "corrupt"
    assert ("t10k-labels-idx1-ubyte: SHA-256 differs from the canonical file (the canonical "
            "t10k-labels-idx1-ubyte.gz decompressed); delete it and provide the canonical file or its .gz") in status.detail
    (raw / "t10k-labels-idx1-ubyte").unlink()
    assert "t10k-labels-idx1-ubyte missing (neither it nor t10k-labels-idx1-ubyte.gz is there)" in \
        dataset_status("mnist", tmp_path).detail


def test_cifar10_subset_train_indices_count_in_the_subset_as_the_docs_say(data_dir):
    from pathlib import Path

    data = load_dataset("cifar10-subset", data_dir)
    assert torch.equal(data.train_indices, torch.arange(5000))
    sub = take_train_subset(data, stratified_subset(data.train_labels, 100, seed=0))
    assert int(sub.train_indices.max()) < 5000
    docs = (Path(__file__).resolve().parents[1] / "docs" / "training.md").read_text()
    assert ("for `cifar10-subset`, of its 5,000 images, 0-4999, which the dataset file "
            "`cifar-10-partial/cifar10_partial.npz`'s `train_subset_indices` maps" in docs)
    import numpy as np

    with np.load(Path(data_dir) / "cifar-10-partial" / "cifar10_partial.npz") as held:
        assert held["train_subset_indices"].shape == (5000,) and int(held["train_subset_indices"].max()) < 50000
    assert "positions in the full training split" not in docs
