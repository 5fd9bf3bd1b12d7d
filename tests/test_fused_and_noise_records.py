"""Gaps left by test_fused.py and test_label_noise.py, each test aimed at a plausible bug.

Fused groups: runs of one loss with different parameters keep their own parameters (StackedLoss, and a
fused group trained against each run fused alone); eval mode uses each run's own BatchNorm running
statistics; loading a run's state restores its BatchNorm buffers (alone and through a fused resume).
Label noise: a matrix-noise run directory stores its transition matrix and the expected flip rate
mean_n (1 - T[y_n, y_n]); the noisy labels of fixed draws are pinned by SHA-256 (the noise RNG stream).

Data here is random uint8 images (no dataset files): tiny groups, one torch thread (``one_thread`` from
test_fused.py, restored after the module).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math

import numpy as np
import pytest
import torch
from test_fused import one_thread  # noqa: F401 - module-scoped autouse fixture: one torch thread, restored

from symtheory.empirical.checkpoint import load_checkpoint
from symtheory.empirical.data import ImageData
from symtheory.empirical.fused import train_fused
from symtheory.empirical.fused_loss import StackedLoss
from symtheory.empirical.fused_model import StackedNetwork
from symtheory.empirical.label_noise import labels_sha256, make_noisy_labels
from symtheory.empirical.losses import loss_fn
from symtheory.empirical.networks import build_network
from symtheory.empirical.presets import build_config

K = 10


def _random_data(labels, channels: int, size: int, n_test: int = 6) -> ImageData:
    """Random uint8 images with the given training labels (K classes) and n_test random test images."""
    g = torch.Generator().manual_seed(0)
    labels = torch.as_tensor(labels, dtype=torch.int64)
    n = int(labels.shape[0])
    return ImageData("random", torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=g),
                     labels, torch.randint(0, 256, (n_test, channels, size, size), dtype=torch.uint8, generator=g),
                     torch.randint(0, K, (n_test,), generator=g), K, (0.5,) * channels, (0.25,) * channels,
                     "random", torch.arange(n))


def _config(loss, params=None, **overrides):
    values = dict(arch="mlp", dataset="mnist", epochs=2, batch_size=16, optimizer="sgd", lr=0.05, momentum=0.9,
                  weight_decay=1e-4, eval_batch_size=64, device="cpu", seed=3)
    values.update(overrides)
    return build_config(None, loss, values.pop("eta", 0.4), loss_params=params or {}, **values)


def _rows(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


# --- one loss, different parameters ------------------------------------------------------------------

SAME_LOSS_OTHER_PARAMS = [("rll", {"alpha": 0.1}), ("rll", {"alpha": 1.0}), ("gce", {"q": 0.3}),
                          ("rll", {"alpha": 0.1}), ("gce", {"q": 0.7}),
                          ("sce", {"alpha": 0.5, "beta": 1.0, "A": 4.0}), ("sce", {"A": 4.0, "beta": 1.0, "alpha": 0.5})]


def test_stacked_loss_keeps_each_runs_parameters_within_one_loss():
    """Runs group by (loss, parameters), whatever the parameters' order; each row is its run's loss. At
    logits 0 (g = 1/K): rll = log((alpha + 1)/alpha), gce = (1 - K^-q)/q, sce = alpha log K + beta A (1 - 1/K)."""
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(len(SAME_LOSS_OTHER_PARAMS), 6, K, generator=gen) * 3
    logits[:, 0] = 0.0
    targets = torch.randint(0, K, (len(SAME_LOSS_OTHER_PARAMS), 6), generator=gen)
    stacked = StackedLoss(SAME_LOSS_OTHER_PARAMS, "cpu")
    assert sorted(group.runs for group in stacked.groups) == [(0, 3), (1,), (2,), (4,), (5, 6)]
    out = stacked(logits, targets)
    for r, (name, params) in enumerate(SAME_LOSS_OTHER_PARAMS):
        torch.testing.assert_close(out[r], loss_fn(name, **params)(logits[r], targets[r]), rtol=1e-6, atol=1e-6)
    at_zero = [math.log(11), math.log(2), (1 - K ** -0.3) / 0.3, math.log(11), (1 - K ** -0.7) / 0.7,
               0.5 * math.log(K) + 4.0 * 0.9, 0.5 * math.log(K) + 4.0 * 0.9]
    assert out[:, 0].tolist() == pytest.approx(at_zero, rel=1e-6)


def test_a_fused_group_of_one_loss_with_different_parameters_trains_each_run_as_alone(tmp_path):
    """rll alpha 0.1 / 1.0 and gce q 0.3 / 0.7, one seed (same init, labels, batches: only the parameters
    differ), fused as one group of four and each as a group of one: the same metrics and weights (fp32)."""
    data = _random_data(torch.arange(64) % K, 1, 28)
    configs = [_config(name, params) for name, params in SAME_LOSS_OTHER_PARAMS[:3] + SAME_LOSS_OTHER_PARAMS[4:5]]
    together = [tmp_path / f"together-{r}" for r in range(4)]
    train_fused(configs, together, data=data)
    first_losses = []
    for r, cfg in enumerate(configs):
        alone = tmp_path / f"alone-{r}"
        train_fused([cfg], [alone], data=data)
        mine, theirs = _rows(together[r]), _rows(alone)
        assert [row["epoch"] for row in mine] == [row["epoch"] for row in theirs] == [1, 2]
        for x, y in zip(mine, theirs):
            assert x["train_loss"] == pytest.approx(y["train_loss"], rel=1e-5)
            assert x["j1"] == pytest.approx(y["j1"], abs=1.01 / 64)  # within one example
            assert x["test_acc"] == pytest.approx(y["test_acc"], abs=1.01 / 6)
        weights = [load_checkpoint(d / "checkpoint.pt")["model"] for d in (together[r], alone)]
        for name, value in weights[1].items():
            torch.testing.assert_close(weights[0][name], value, rtol=1e-3, atol=1e-5)
        first_losses.append(mine[0]["train_loss"])
    # near the loss at g = 1/K: log 11 = 2.398, log 2 = 0.693, (1 - 10^-0.3)/0.3 = 1.662, (1 - 10^-0.7)/0.7 = 1.145
    assert first_losses == pytest.approx([2.398, 0.693, 1.662, 1.145], rel=0.02)


# --- BatchNorm: eval mode and loading --------------------------------------------------------------------


def _resnet(seed: int, tracked: int | None) -> torch.nn.Module:
    """A resnet32 (3x32x32, K classes) initialised from ``seed``; unless ``tracked`` is None, its BatchNorm
    running statistics are random and far from any batch's (means ~N(0, 0.5^2), variances in [0.5, 1.5]),
    with ``tracked`` batches counted."""
    with torch.random.fork_rng(devices=[]):  # the global generator is left as it was
        torch.manual_seed(seed)
        model = build_network("resnet32", 3, K, 32)
    if tracked is None:
        return model
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=g) * 0.5)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=g) + 0.5)
                module.num_batches_tracked.fill_(tracked)
    return model


@pytest.fixture(scope="module")
def resnets():
    return [_resnet(100 + r, 5 + r) for r in range(2)]


def _same_state(mine: dict, theirs: dict) -> None:
    assert list(mine) == list(theirs)
    for name, value in theirs.items():
        assert torch.equal(mine[name], value), name


@pytest.mark.parametrize("layout", ["vmap", "loop"])
@pytest.mark.parametrize("batched", [True, False])
def test_fused_eval_uses_each_runs_own_batchnorm_running_statistics(resnets, layout, batched):
    """eval(): run r's logits are its own network's in eval mode (its running statistics, not the batch's,
    not another run's), and no buffer changes."""
    net = StackedNetwork(resnets, layout).eval()
    before = [net.run_state_dict(r) for r in range(2)]
    x = torch.randn(2, 4, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    logits = net(x if batched else x[0], batched=batched)
    assert logits.shape == (2, 4, K)
    for r, model in enumerate(resnets):
        expected = model.eval()(x[r] if batched else x[0])
        torch.testing.assert_close(logits[r], expected, rtol=1e-4, atol=1e-4)
        _same_state(net.run_state_dict(r), before[r])
        assert int(before[r]["bn1.num_batches_tracked"]) == 5 + r
    with torch.no_grad():  # what a bug would give instead differs by far more than the tolerance
        other_run = resnets[1](x[0])
        batch_stats = copy.deepcopy(resnets[0]).train()(x[0])  # a copy: train mode updates the buffers
    assert (batch_stats - logits[0]).abs().max() > 0.1 and (other_run - logits[0]).abs().max() > 0.1


def test_loading_a_run_state_restores_its_batchnorm_buffers_and_leaves_the_other_runs(resnets):
    net = StackedNetwork([_resnet(r, None) for r in range(2)], "loop")
    untouched = net.run_state_dict(0)
    source = resnets[1].state_dict()
    net.load_run_state_dict(1, source)
    _same_state(net.run_state_dict(1), source)
    _same_state(net.run_state_dict(0), untouched)
    assert int(net.run_state_dict(1)["layer1.0.bn2.num_batches_tracked"]) == 6
    assert int(net.run_state_dict(0)["layer1.0.bn2.num_batches_tracked"]) == 0
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        torch.testing.assert_close(net.eval()(x, batched=False)[1], resnets[1].eval()(x), rtol=1e-4, atol=1e-4)


def test_a_resumed_fused_batchnorm_group_continues_from_its_running_statistics(tmp_path):
    """resnet32, two runs, 16 images in batches of 8: 2 epochs straight, or 1 then --resume to 2 -- the same
    checkpoints (BatchNorm running statistics restored, 4 batches tracked, not 2)."""
    data = _random_data(torch.arange(16) % K, 3, 32, n_test=2)
    configs = [_config(loss, arch="resnet32", dataset="cifar10-subset", batch_size=8, lr=0.01, seed=seed)
               for loss, seed in (("cce", 0), ("rll", 1))]
    whole = [tmp_path / f"whole-{r}" for r in range(2)]
    parts = [tmp_path / f"parts-{r}" for r in range(2)]
    train_fused(configs, whole, data=data)
    train_fused(configs, parts, data=data, epochs=1)
    train_fused(None, parts, resume=True, data=data, epochs=2)
    for a, b in zip(whole, parts):
        mine, theirs = (load_checkpoint(d / "checkpoint.pt")["model"] for d in (b, a))
        assert mine.keys() == theirs.keys()
        assert int(mine["bn1.num_batches_tracked"]) == int(theirs["bn1.num_batches_tracked"]) == 4
        assert theirs["bn1.running_mean"].abs().max() > 1e-3
        for name, value in theirs.items():
            torch.testing.assert_close(mine[name], value, rtol=1e-6, atol=1e-7, msg=name)
        assert [r["train_loss"] for r in _rows(b)] == pytest.approx([r["train_loss"] for r in _rows(a)], rel=1e-6)


# --- label noise records -------------------------------------------------------------------------------


def _shift_matrix() -> tuple[tuple[float, ...], ...]:
    """T[k, k] = 1 - k/16, T[k, k+1 mod K] = k/16 (exact in binary)."""
    t = np.zeros((K, K))
    for k in range(K):
        t[k, k], t[k, (k + 1) % K] = 1 - k / 16, k / 16
    return tuple(map(tuple, t.tolist()))


def test_a_matrix_noise_run_records_its_matrix_and_expected_flip_rate(tmp_path):
    """Class k has k + 1 of the 55 examples: expected flip rate sum_k (k + 1) k/16 / 55 = 0.375 (the mean
    over classes, 0.28125, would be wrong); 19 labels flipped by seed 3."""
    clean = np.repeat(np.arange(K), np.arange(1, K + 1))
    matrix = _shift_matrix()
    cfg = _config("cce", noise="matrix", noise_matrix=matrix, epochs=1)
    out = tmp_path / "run"
    train_fused([cfg], [out], data=_random_data(clean, 1, 28))
    with np.load(out / "labels.npz") as z:
        stored = {key: z[key] for key in z.files}
    assert sorted(stored) == ["clean", "eta", "kind", "matrix", "noisy", "train_indices"]
    assert np.array_equal(stored["matrix"], np.array(matrix))
    assert str(stored["kind"]) == "matrix" and np.isnan(stored["eta"])
    assert np.array_equal(stored["clean"], clean) and np.array_equal(stored["train_indices"], np.arange(55))
    drawn = make_noisy_labels(clean, K, 3, "matrix", matrix=np.array(matrix))
    assert np.array_equal(stored["noisy"], drawn.noisy)
    noise = json.loads((out / "config.json").read_text())["noise"]
    assert noise == {"kind": "matrix", "eta": None, "num_flipped": 19, "realised_flip_rate": 19 / 55,
                     "expected_flip_rate": pytest.approx(0.375, abs=1e-15),
                     "noisy_labels_sha256": labels_sha256(stored["noisy"])}
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["noise"], summary["eta"], summary["realised_flip_rate"]) == ("matrix", None, 19 / 55)
    assert summary["noisy_labels_sha256"] == noise["noisy_labels_sha256"]


@pytest.mark.parametrize("kind, flipped, sha256", [
    ("symmetric", 381, "089aebe78c8bd128ad22ad06b3137a5be8fe5d2d480365761fd10c5c53c83992"),
    ("pair", 381, "6a27041e95ab8e86b8adbd122dce179d723abadcac235c5984191ad6a6a56a16"),
    ("matrix", 290, "7812c77709d74d39e478a38304df0dcc092443787d500a3780361b60712d5d9a"),
])
def test_noisy_labels_of_a_fixed_draw_are_pinned(kind, flipped, sha256):
    """clean = 0..9 repeated (1,000 labels), seed 0, eta 0.4 (matrix: the shift matrix above): a change of
    the noise RNG stream or of how uniforms become labels changes these SHA-256s (of int64 LE bytes)."""
    matrix = np.array(_shift_matrix()) if kind == "matrix" else None
    labels = make_noisy_labels(np.arange(1000) % K, K, seed=0, kind=kind, eta=0.4, matrix=matrix)
    record = labels.describe()
    assert (record["num_flipped"], record["noisy_labels_sha256"]) == (flipped, sha256)
    assert labels_sha256(labels.noisy) == hashlib.sha256(labels.noisy.astype("<i8").tobytes()).hexdigest()
