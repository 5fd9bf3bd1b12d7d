"""Fused training equals separate training (CPU).

Model level, for every architecture: R networks with their own init, losses and batches, trained alone and
fused from the same init on the same batches. fp32: per-step per-run losses agree to 1e-5 (relative) over
2 steps, BatchNorm running statistics and weights to 1e-5. fp64: losses agree to 1e-9 over 3 steps at
larger step sizes (the fused computation is the separate one up to summation order). Why not more fp32
steps: perturbing one network's weights by 1e-7 (relative, about one fp32 ulp) already moves its third
step's loss by 2e-5 (inception-lite, SGD) to 1e-2 (resnet18, Adam, batch 4) -- tiny batches make these
trajectories chaotic, whatever computes them. Trainer level (MLP, real MNIST subset, 2 epochs):
:func:`train_fused` writes the run directories :func:`train` writes, with metrics equal to fp32 tolerance
(losses to 1e-5 relative, accuracies to within one example).
"""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import torch

from symtheory.empirical.fused_checkpoint import merge_optimizer_states, split_optimizer_state
from symtheory.empirical.fused_loss import StackedLoss
from symtheory.empirical.fused_model import StackedNetwork, stack_batches
from symtheory.empirical.losses import loss_fn
from symtheory.empirical.networks import build_network

LOSSES = (("cce", {}), ("rll", {"alpha": 0.1}), ("nmse", {}))
SHAPES = {"mlp": (1, 28), "resnet32": (3, 32), "inception-lite": (3, 32), "resnet18": (1, 28)}
BATCH = {"mlp": 4, "resnet32": 4, "inception-lite": 4, "resnet18": 8}
FP32 = {"steps": 2, "sgd_lr": 0.01, "rtol": 1e-5}
FP64 = {"steps": 3, "sgd_lr": 0.05, "adam_lr": 1e-3, "rtol": 1e-9}


def _optimizer(arch: str, params, precision: dict) -> torch.optim.Optimizer:
    """Adam for resnet18 and mlp in fp64 only: its first step is lr * sign(g), so in fp32 gradient entries
    at rounding level flip whole-lr updates and the comparison measures noise, not the code."""
    if precision is FP64 and arch in ("resnet18", "mlp"):
        return torch.optim.Adam(params, lr=precision["adam_lr"], weight_decay=1e-4)
    return torch.optim.SGD(params, lr=precision["sgd_lr"], momentum=0.9, weight_decay=1e-4)


@functools.lru_cache(maxsize=None)
def _train_both(arch: str, replicas: int, shared: bool, channels_last: bool = False, fp64: bool = False,
                batch: int | None = None):
    """(separate losses [steps, R], fused losses [steps, R], separate models, fused network, optimizers)."""
    precision = FP64 if fp64 else FP32
    dtype = torch.float64 if fp64 else torch.float32
    channels, size = SHAPES[arch]
    batch = batch or BATCH[arch]
    steps = precision["steps"]
    models = []
    for r in range(replicas):
        torch.manual_seed(100 + r)
        models.append(build_network(arch, channels, 10, size).to(dtype))
    fused = StackedNetwork(models)
    generator = torch.Generator().manual_seed(7)
    xs = torch.randn(steps, replicas, batch, channels, size, size, generator=generator, dtype=dtype)
    if shared:
        xs = xs[:, :1].expand_as(xs).contiguous()
    ys = torch.randint(0, 10, (steps, replicas, batch), generator=generator)
    losses = [LOSSES[r % len(LOSSES)] for r in range(replicas)]

    separate = np.zeros((steps, replicas))
    optimizers = []
    for r, model in enumerate(models):
        model.train()
        optimizer = _optimizer(arch, model.parameters(), precision)
        fn = loss_fn(losses[r][0], **losses[r][1])
        for step in range(steps):
            loss = fn(model(xs[step, r]), ys[step, r]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            separate[step, r] = loss.item()
        optimizers.append(optimizer)

    fused.train()
    optimizer = _optimizer(arch, fused.parameters(), precision)
    stacked_loss = StackedLoss(losses, "cpu")
    together = np.zeros((steps, replicas))
    for step in range(steps):
        x = xs[step, 0] if shared else stack_batches(xs[step], channels_last)
        if shared and channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        per_run = stacked_loss(fused(x, batched=not shared), ys[step]).mean(-1)
        optimizer.zero_grad()
        per_run.sum().backward()
        optimizer.step()
        together[step] = per_run.detach().numpy()
    return separate, together, models, fused, optimizers, optimizer


@pytest.mark.parametrize("arch,replicas,shared", [
    ("mlp", 3, False), ("resnet32", 3, False), ("resnet32", 2, True), ("inception-lite", 2, False),
    ("resnet18", 2, False),
])
def test_fused_losses_equal_separate_fp32(arch, replicas, shared):
    separate, together, *_ = _train_both(arch, replicas, shared)
    np.testing.assert_allclose(together, separate, rtol=FP32["rtol"])
    assert not np.allclose(separate[0], separate[-1], rtol=1e-4), "the steps must change the losses"


FP64_BATCH = {"inception-lite": 2, "resnet18": 4}


@pytest.mark.parametrize("arch", ["mlp", "resnet32", "inception-lite", "resnet18"])
def test_fused_losses_equal_separate_fp64(arch):
    separate, together, *_ = _train_both(arch, 2, False, fp64=True, batch=FP64_BATCH.get(arch))
    np.testing.assert_allclose(together, separate, rtol=FP64["rtol"])


def _compare_states(models, fused, names, rtol, atol):
    for r, model in enumerate(models):
        mine = fused.run_state_dict(r)
        assert list(mine) == list(model.state_dict())
        for name, value in model.state_dict().items():
            if not any(n in name for n in names):
                continue
            if value.is_floating_point():
                error = (mine[name] - value).abs().max().item()
                assert error <= rtol * value.abs().max().item() + atol, f"{name}: max error {error:.3g}"
            else:
                assert torch.equal(mine[name], value), name


@pytest.mark.parametrize("arch", ["resnet32", "inception-lite", "resnet18"])
def test_fused_batchnorm_running_stats_equal_separate(arch):
    """fp32 running statistics (and batch counts) to 1e-5 of each tensor's largest entry; in fp64 every
    weight and buffer to 1e-9."""
    _, _, models, fused, _, _ = _train_both(arch, 2, False)
    state = models[0].state_dict()
    assert any("running_mean" in k for k in state) and all(
        state[k].abs().max() > 0 for k in state if "running_mean" in k), "running statistics must be updated"
    _compare_states(models, fused, ("running_mean", "running_var", "num_batches_tracked"), 1e-5, 1e-6)
    runs = [fused.run_state_dict(r) for r in range(2)]
    assert any(not torch.allclose(v, runs[1][k]) for k, v in runs[0].items() if "running_var" in k)
    _, _, models64, fused64, _, _ = _train_both(arch, 2, False, fp64=True, batch=FP64_BATCH.get(arch))
    _compare_states(models64, fused64, ("",), 1e-9, 1e-12)


def test_fused_channels_last_layout_equals_separate():
    separate, together, *_ = _train_both("resnet32", 2, False, channels_last=True)
    np.testing.assert_allclose(together, separate, rtol=FP32["rtol"])


@pytest.mark.parametrize("arch", ["resnet32", "resnet18"])
def test_optimizer_state_splits_into_the_separate_runs_states(arch):
    _, _, _, fused, separate_opts, fused_opt = _train_both(arch, 2, False, fp64=True, batch=FP64_BATCH.get(arch))
    shapes = [p.shape for p in fused.parameters()]
    state = fused_opt.state_dict()
    for r, opt in enumerate(separate_opts):
        mine, theirs = split_optimizer_state(state, shapes, r), opt.state_dict()
        assert mine["param_groups"] == theirs["param_groups"]
        for index, entry in theirs["state"].items():
            for key, value in entry.items():
                torch.testing.assert_close(mine["state"][index][key], value, rtol=1e-9, atol=1e-12)
    merged = merge_optimizer_states([split_optimizer_state(state, shapes, r) for r in range(2)], shapes)
    for index, entry in state["state"].items():
        for key, value in entry.items():
            assert torch.equal(merged["state"][index][key], value)


# --- trainer level: run directories -----------------------------------------------------------------

N_TRAIN = 384
N_TEST = 1000


def _mnist_configs(seeds):
    from symtheory.empirical.config import TrainConfig

    specs = [("cce", {}, 0.0), ("rll", {"alpha": 0.1}, 0.4), ("nmse", {}, 0.2)]
    return [TrainConfig(dataset="mnist", arch="mlp", loss=loss, loss_params=params, eta=eta, seed=seed,
                        epochs=2, batch_size=64, subset=N_TRAIN, optimizer="sgd", lr=0.05, momentum=0.9,
                        weight_decay=1e-4, eval_batch_size=256, device="cpu")
            for (loss, params, eta), seed in zip(specs, seeds)]


@pytest.fixture(scope="module")
def mnist(data_dir):
    """Real MNIST with the test split cut to its first N_TEST images (to keep evaluation cheap)."""
    from dataclasses import replace

    from symtheory.empirical.data import load_dataset

    full = load_dataset("mnist", data_dir)
    return replace(full, test_images=full.test_images[:N_TEST], test_labels=full.test_labels[:N_TEST])


@pytest.fixture()
def loader(mnist, monkeypatch):
    """The single trainer reads the same (cut) data as the fused one."""
    from symtheory.empirical import train as train_module

    monkeypatch.setattr(train_module, "load_dataset", lambda *args, **kwargs: mnist)
    return mnist


@pytest.fixture(scope="module")
def fused_own_seeds(mnist, tmp_path_factory):
    from symtheory.empirical.fused import train_fused

    root = tmp_path_factory.mktemp("fused-own-seeds")
    dirs = [root / f"run-{i}" for i in range(3)]
    results = train_fused(_mnist_configs((0, 1, 2)), dirs, data=mnist)
    return dirs, results


def _rows(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _compare_run_dirs(fused_dir, alone_dir):
    assert sorted(p.name for p in fused_dir.iterdir()) == sorted(p.name for p in alone_dir.iterdir())
    mine_rows, their_rows = _rows(fused_dir), _rows(alone_dir)
    assert len(mine_rows) == len(their_rows) == 2
    for mine, theirs in zip(mine_rows, their_rows):
        assert mine.keys() == theirs.keys()
        assert mine["epoch"] == theirs["epoch"] and mine["lr"] == theirs["lr"]
        assert mine["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-5)
        for key, n in (("running_acc", N_TRAIN), ("j1", N_TRAIN), ("j2", N_TRAIN), ("test_acc", N_TEST)):
            assert mine[key] == pytest.approx(theirs[key], abs=1.01 / n), key
    summaries = [json.loads((d / "summary.json").read_text()) for d in (fused_dir, alone_dir)]
    assert summaries[0].keys() == summaries[1].keys()
    assert summaries[0]["status"] == summaries[1]["status"] == "finished"
    configs = [json.loads((d / "config.json").read_text()) for d in (fused_dir, alone_dir)]
    assert configs[0]["train"] == configs[1]["train"] and configs[0]["noise"] == configs[1]["noise"]
    assert set(configs[0]["resolved"]) - set(configs[1]["resolved"]) == {"fused"}
    labels = [np.load(d / "labels.npz") for d in (fused_dir, alone_dir)]
    for key in ("clean", "noisy", "train_indices"):
        assert np.array_equal(labels[0][key], labels[1][key])
    checkpoints = [torch.load(d / "checkpoint.pt", weights_only=True) for d in (fused_dir, alone_dir)]
    assert checkpoints[0]["epoch"] == checkpoints[1]["epoch"] == 2
    assert checkpoints[0]["model"].keys() == checkpoints[1]["model"].keys()
    for name, value in checkpoints[1]["model"].items():
        torch.testing.assert_close(checkpoints[0]["model"][name], value, rtol=1e-4, atol=1e-5)
    assert checkpoints[0]["optimizer"]["param_groups"] == checkpoints[1]["optimizer"]["param_groups"]
    assert torch.equal(checkpoints[0]["rng"]["cpu"], checkpoints[1]["rng"]["cpu"])


def test_train_fused_writes_the_run_dirs_of_separate_runs(fused_own_seeds, loader, tmp_path):
    """Own seeds: own subsets, batch orders and inits; metrics as trained alone (fp32 tolerance)."""
    from symtheory.empirical.train import train

    dirs, results = fused_own_seeds
    assert [r.status for r in results] == ["finished"] * 3
    for i, cfg in enumerate(_mnist_configs((0, 1, 2))):
        train(cfg, tmp_path / f"alone-{i}")
        _compare_run_dirs(dirs[i], tmp_path / f"alone-{i}")


def test_train_fused_with_one_seed_shares_the_input_and_equals_separate_runs(loader, tmp_path):
    from symtheory.empirical.fused import train_fused
    from symtheory.empirical.train import train

    configs = _mnist_configs((5, 5))
    dirs = [tmp_path / f"fused-{i}" for i in range(2)]
    train_fused(configs, dirs, data=loader)
    assert json.loads((dirs[0] / "config.json").read_text())["resolved"]["fused"]["shared_input"] is True
    for i, cfg in enumerate(configs):
        train(cfg, tmp_path / f"alone-{i}")
        _compare_run_dirs(dirs[i], tmp_path / f"alone-{i}")


def test_train_fused_resumes_to_the_same_metrics(fused_own_seeds, mnist, tmp_path):
    from symtheory.empirical.fused import train_fused

    whole, _ = fused_own_seeds
    parts = [tmp_path / f"parts-{i}" for i in range(3)]
    train_fused(_mnist_configs((0, 1, 2)), parts, data=mnist, epochs=1)
    train_fused(None, parts, resume=True, data=mnist, epochs=2)
    for a, b in zip(whole, parts):
        mine, theirs = _rows(b), _rows(a)
        assert len(mine) == len(theirs) == 2
        for x, y in zip(mine, theirs):
            assert x.keys() == y.keys()
            for key in x.keys() - {"seconds"}:
                assert x[key] == (pytest.approx(y[key], rel=1e-6) if y[key] is not None else None), key
        assert json.loads((b / "config.json").read_text())["train"]["epochs"] == 2


def test_train_fused_refuses_runs_that_cannot_share_a_model(tmp_path):
    from dataclasses import replace

    from symtheory.empirical.fused import train_fused
    from symtheory.errors import BadInput

    configs = _mnist_configs((0, 1, 2))
    configs[1] = replace(configs[1], lr=0.1)
    with pytest.raises(BadInput, match="lr differs"):
        train_fused(configs, [tmp_path / f"r{i}" for i in range(3)])
    assert not any(tmp_path.iterdir())
