"""Fused training equals separate training (CPU).

Model level: R networks of one architecture with their own init, losses and batches, trained alone and
fused from the same init on the same batches (SGD with momentum 0.9 and weight decay; Adam for the mlp in
fp64). fp32, every architecture, 2 steps (lr 0.01; inception-lite 0.001): per-step per-run losses agree
to 1e-5 relative; BatchNorm running statistics after the first step to 1e-5 of each tensor's largest
entry. fp64 (mlp, resnet32, inception-lite), 3 steps at lr 0.05 (Adam 1e-3): losses to 1e-9 relative,
every weight, buffer and optimizer state to 1e-9 of its largest entry -- the fused computation is the
separate one up to summation order. Why no more fp32 steps: perturbing one network's weights by 1e-7
(relative, about one fp32 ulp) already moves its third step's loss by 2e-5 (inception-lite, SGD, batch 4)
to 1e-2 (resnet18, Adam, batch 4): with tiny batches these trajectories are chaotic, whatever computes
them. Trainer level (MLP, real MNIST subset of 384 images, first 1,000 test images, 2 epochs):
:func:`train_fused` writes the run directories :func:`train` writes, with metrics equal to fp32
tolerance (training loss to 1e-5 relative, accuracies to within one example, final weights to 1e-3
relative / 1e-5 absolute).
"""

from __future__ import annotations

import functools
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from symtheory.empirical.fused_checkpoint import merge_optimizer_states, split_optimizer_state
from symtheory.empirical.fused_loss import StackedLoss
from symtheory.empirical.fused_model import StackedNetwork, stack_batches
from symtheory.empirical.losses import loss_fn
from symtheory.empirical.networks import build_network

@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: these tensors are small, and on a shared 2-core machine a second thread spinning
    in OpenMP costs more than it gains."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


LOSSES = (("cce", {}), ("rll", {"alpha": 0.1}), ("nmse", {}))
SHAPES = {"mlp": (1, 28), "resnet32": (3, 32), "inception-lite": (3, 32), "resnet18": (1, 28)}
BATCH = {"mlp": 4, "resnet32": 4, "inception-lite": 4, "resnet18": 8}
FP32 = {"steps": 2, "sgd_lr": {"inception-lite": 0.001}, "rtol": 1e-5}
FP64 = {"steps": 3, "sgd_lr": {}, "adam_lr": 1e-3, "rtol": 1e-9}
DEFAULT_SGD_LR = {"fp32": 0.01, "fp64": 0.05}


def _optimizer(arch: str, params, fp64: bool) -> torch.optim.Optimizer:
    """Adam for the mlp in fp64 only: its first step is lr * sign(g), so gradient entries at rounding level
    flip whole-lr updates (measured: resnet18 in fp32) and the comparison would measure noise, not code."""
    precision = FP64 if fp64 else FP32
    if fp64 and arch == "mlp":
        return torch.optim.Adam(params, lr=precision["adam_lr"], weight_decay=1e-4)
    lr = precision["sgd_lr"].get(arch, DEFAULT_SGD_LR["fp64" if fp64 else "fp32"])
    return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-4)


@dataclass
class Trained:
    """Per-step losses [steps, R] alone and fused, the trained networks, their optimizers, and every run's
    state after the first step (alone and fused)."""

    separate: np.ndarray
    together: np.ndarray
    models: list
    fused: StackedNetwork
    separate_optimizers: list
    fused_optimizer: torch.optim.Optimizer
    first_separate: list
    first_fused: list


@functools.lru_cache(maxsize=None)
def _train_both(arch: str, replicas: int, shared: bool, channels_last: bool = False, fp64: bool = False,
                batch: int | None = None, layout: str = "vmap") -> Trained:
    precision = FP64 if fp64 else FP32
    dtype = torch.float64 if fp64 else torch.float32
    channels, size = SHAPES[arch]
    batch = batch or BATCH[arch]
    steps = precision["steps"]
    models = []
    for r in range(replicas):
        torch.manual_seed(100 + r)
        models.append(build_network(arch, channels, 10, size).to(dtype))
    fused = StackedNetwork(models, layout)
    generator = torch.Generator().manual_seed(7)
    xs = torch.randn(steps, replicas, batch, channels, size, size, generator=generator, dtype=dtype)
    if shared:
        xs = xs[:, :1].expand_as(xs).contiguous()
    ys = torch.randint(0, 10, (steps, replicas, batch), generator=generator)
    losses = [LOSSES[r % len(LOSSES)] for r in range(replicas)]

    separate = np.zeros((steps, replicas))
    optimizers, first_separate = [], []
    for r, model in enumerate(models):
        model.train()
        optimizer = _optimizer(arch, model.parameters(), fp64)
        fn = loss_fn(losses[r][0], **losses[r][1])
        for step in range(steps):
            loss = fn(model(xs[step, r]), ys[step, r]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            separate[step, r] = loss.item()
            if step == 0:
                first_separate.append({k: v.clone() for k, v in model.state_dict().items()})
        optimizers.append(optimizer)

    fused.train()
    optimizer = _optimizer(arch, fused.parameters(), fp64)
    stacked_loss = StackedLoss(losses, "cpu")
    together = np.zeros((steps, replicas))
    first_fused = []
    for step in range(steps):
        x = xs[step, 0] if shared else stack_batches(xs[step], channels_last, layout)
        if shared and channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        per_run = stacked_loss(fused(x, batched=not shared), ys[step]).mean(-1)
        optimizer.zero_grad()
        per_run.sum().backward()
        optimizer.step()
        together[step] = per_run.detach().numpy()
        if step == 0:
            first_fused = [fused.run_state_dict(r) for r in range(replicas)]
    return Trained(separate, together, models, fused, optimizers, optimizer, first_separate, first_fused)


@pytest.mark.parametrize("layout", ["vmap", "loop"])
@pytest.mark.parametrize("arch,replicas,shared", [
    ("mlp", 3, False), ("resnet32", 2, False), ("resnet32", 2, True), ("inception-lite", 2, False),
    ("resnet18", 2, False),
])
def test_fused_losses_equal_separate_fp32(arch, replicas, shared, layout):
    t = _train_both(arch, replicas, shared, layout=layout)
    np.testing.assert_allclose(t.together, t.separate, rtol=FP32["rtol"])
    assert not np.allclose(t.separate[0], t.separate[-1], rtol=1e-4), "the steps must change the losses"


FP64_BATCH = {"inception-lite": 2}


@pytest.mark.parametrize("arch,layout", [("mlp", "vmap"), ("resnet32", "vmap"), ("inception-lite", "vmap"),
                                         ("resnet32", "loop")])
def test_fused_losses_equal_separate_fp64(arch, layout):
    t = _train_both(arch, 2, False, fp64=True, batch=FP64_BATCH.get(arch), layout=layout)
    np.testing.assert_allclose(t.together, t.separate, rtol=FP64["rtol"])


def _compare_states(separate, fused, names, rtol, atol):
    """Every run's tensors whose name contains one of ``names``: max error <= rtol * max |entry| + atol."""
    for theirs, mine in zip(separate, fused):
        assert list(mine) == list(theirs)
        for name, value in theirs.items():
            if not any(n in name for n in names):
                continue
            if value.is_floating_point():
                error = (mine[name] - value).abs().max().item()
                assert error <= rtol * value.abs().max().item() + atol, f"{name}: max error {error:.3g}"
            else:
                assert torch.equal(mine[name], value), name


@pytest.mark.parametrize("layout", ["vmap", "loop"])
@pytest.mark.parametrize("arch", ["resnet32", "inception-lite", "resnet18"])
def test_fused_batchnorm_running_stats_equal_separate(arch, layout):
    """fp32, after the first step: running statistics and batch counts to 1e-5 of each tensor's largest
    entry (later steps add the chaos above); fp64 after 3 steps: every weight and buffer to 1e-9."""
    t = _train_both(arch, 2, False, layout=layout)
    state = t.first_separate[0]
    assert any("running_mean" in k for k in state) and all(
        state[k].abs().max() > 0 for k in state if "running_mean" in k), "running statistics must be updated"
    _compare_states(t.first_separate, t.first_fused, ("running_mean", "running_var", "num_batches_tracked"), 1e-5, 1e-7)
    _compare_states([m.state_dict() for m in t.models], [t.fused.run_state_dict(r) for r in range(2)],
                    ("num_batches_tracked",), 0, 0)
    assert any(not torch.allclose(v, t.first_fused[1][k]) for k, v in t.first_fused[0].items() if "running_var" in k)
    if arch != "resnet18":
        t64 = _train_both(arch, 2, False, fp64=True, batch=FP64_BATCH.get(arch), layout=layout)
        _compare_states([m.state_dict() for m in t64.models], [t64.fused.run_state_dict(r) for r in range(2)],
                        ("",), 1e-9, 1e-12)


@pytest.mark.filterwarnings("ignore:There is a performance drop")
@pytest.mark.parametrize("layout", ["vmap", "loop"])
def test_fused_channels_last_layout_equals_separate(layout):
    t = _train_both("resnet32", 2, False, channels_last=True, layout=layout)
    np.testing.assert_allclose(t.together, t.separate, rtol=FP32["rtol"])


@pytest.mark.parametrize("layout", ["vmap", "loop"])
def test_stack_batches_lays_every_conv_input_out_channels_last(layout):
    """vmap's conv sees the [B, R*C, H, W] view, the loop's conv sees slice r: each is channels_last."""
    x = stack_batches(torch.randn(3, 4, 2, 5, 5), channels_last=True, layout=layout)
    assert x.shape == (3, 4, 2, 5, 5)
    views = [x.transpose(0, 1).reshape(4, 6, 5, 5)] if layout == "vmap" else list(x)
    for view in views:
        assert view.is_contiguous(memory_format=torch.channels_last)


def test_stacked_network_refuses_an_unknown_layout():
    with pytest.raises(ValueError, match="unknown layout 'scan'"):
        StackedNetwork([build_network("mlp", 1, 10, 28)], "scan")


@pytest.mark.parametrize("arch", ["resnet32", "mlp"])
def test_optimizer_state_splits_into_the_separate_runs_states(arch):
    t = _train_both(arch, 2, False, fp64=True, batch=FP64_BATCH.get(arch))
    shapes = [p.shape for p in t.fused.parameters()]
    state = t.fused_optimizer.state_dict()
    for r, opt in enumerate(t.separate_optimizers):
        mine, theirs = split_optimizer_state(state, shapes, r), opt.state_dict()
        assert mine["param_groups"] == theirs["param_groups"]
        for index, entry in theirs["state"].items():
            for key, value in entry.items():
                error = (mine["state"][index][key] - value).abs().max().item()
                assert error <= 1e-9 * value.abs().max().item() + 1e-12, (index, key, error)
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
    from symtheory.empirical import data as data_module

    monkeypatch.setattr(data_module, "load_dataset", lambda *args, **kwargs: mnist)
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


def _compare_run_dirs(fused_dir, alone_dir, n_train=N_TRAIN, loss_rtol=1e-5, examples=1.01):
    assert sorted(p.name for p in fused_dir.iterdir()) == sorted(p.name for p in alone_dir.iterdir())
    mine_rows, their_rows = _rows(fused_dir), _rows(alone_dir)
    assert len(mine_rows) == len(their_rows) == 2
    for mine, theirs in zip(mine_rows, their_rows):
        assert mine.keys() == theirs.keys()
        assert mine["epoch"] == theirs["epoch"] and mine["lr"] == theirs["lr"]
        assert mine["train_loss"] == pytest.approx(theirs["train_loss"], rel=loss_rtol)
        for key, n in (("running_acc", n_train), ("j1", n_train), ("j2", n_train), ("test_acc", N_TEST)):
            assert mine[key] == pytest.approx(theirs[key], abs=examples / n), key
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
        torch.testing.assert_close(checkpoints[0]["model"][name], value, rtol=100 * loss_rtol, atol=loss_rtol)
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
    fused = json.loads((dirs[0] / "config.json").read_text())["resolved"]["fused"]
    assert fused["shared_input"] is True and fused["layout"] == "loop"
    for i, cfg in enumerate(configs):
        train(cfg, tmp_path / f"alone-{i}")
        _compare_run_dirs(dirs[i], tmp_path / f"alone-{i}")


def test_train_fused_vmap_layout_equals_separate_runs(loader, tmp_path):
    """The vmap layout at trainer level (the CPU's default is loop): the separate runs' run directories,
    the layout recorded."""
    from symtheory.empirical.fused import FusedOptions, train_fused
    from symtheory.empirical.train import train

    configs = _mnist_configs((0, 1, 2))
    dirs = [tmp_path / f"fused-{i}" for i in range(3)]
    train_fused(configs, dirs, data=loader, options=FusedOptions(layout="vmap"))
    assert json.loads((dirs[0] / "config.json").read_text())["resolved"]["fused"]["layout"] == "vmap"
    for i, cfg in enumerate(configs):
        train(cfg, tmp_path / f"alone-{i}")
        _compare_run_dirs(dirs[i], tmp_path / f"alone-{i}")


def test_a_failed_compile_falls_back_to_eager_and_says_so(loader, tmp_path, monkeypatch):
    from symtheory.empirical.fused import FusedOptions, train_fused

    def broken_compile(fn, **kwargs):
        def call(*args):
            raise RuntimeError("backend exploded")
        return call

    monkeypatch.setattr(torch, "compile", broken_compile)
    dirs = [tmp_path / f"fused-{i}" for i in range(2)]
    with pytest.warns(RuntimeWarning, match="torch.compile failed \\(RuntimeError: backend exploded\\)"):
        results = train_fused(_mnist_configs((0, 1)), dirs, data=loader, epochs=1,
                              options=FusedOptions(compile=True))
    assert [r.status for r in results] == ["finished", "finished"]
    resolved = json.loads((dirs[1] / "config.json").read_text())["resolved"]
    assert resolved["compile"] is False and resolved["fused"]["compile"] is False
    assert "trained eagerly" in resolved["fused"]["compile_fallback"]


@pytest.mark.parametrize("options,message", [
    ({"layout": "scan"}, "unknown fused layout 'scan'"),
    ({"compile_backend": "tvm"}, "unknown compile backend 'tvm'"),
    ({"compile_backend": "cudagraphs", "compile_mode": "max-autotune"}, "inductor backend only"),
    ({"batch_order": "random"}, "unknown batch order"),
    ({"checkpoint_every": 0}, "at least 1"),
])
def test_fused_options_refuse_bad_values(options, message):
    from symtheory.empirical.fused import FusedOptions
    from symtheory.errors import BadInput

    with pytest.raises(BadInput, match=message):
        FusedOptions(**options)


@pytest.mark.slow
def test_train_fused_compiled_equals_separate_runs(loader, tmp_path):
    """torch.compile on the CPU (about 30 s of compiling): the compiled step, the eager ragged last batch
    (400 = 6 x 64 + 16) and the compiled evaluation give the separate runs' metrics."""
    from dataclasses import replace

    from symtheory.empirical.fused import FusedOptions, train_fused
    from symtheory.empirical.train import train

    configs = [replace(c, subset=400) for c in _mnist_configs((0, 1, 2))]
    dirs = [tmp_path / f"fused-{i}" for i in range(3)]
    train_fused(configs, dirs, data=loader, options=FusedOptions(compile=True))
    assert json.loads((dirs[0] / "config.json").read_text())["resolved"]["fused"]["compile"] is True
    for i, cfg in enumerate(configs):
        train(cfg, tmp_path / f"alone-{i}")
        _compare_run_dirs(dirs[i], tmp_path / f"alone-{i}", n_train=400)


@pytest.mark.gpu
@pytest.mark.parametrize("options", [{}, {"layout": "loop", "compile_backend": "cudagraphs"}],
                         ids=["defaults", "loop-cudagraphs"])
def test_train_fused_on_cuda_matches_separate_runs(options, loader, tmp_path):
    """On CUDA with the fused defaults (torch.compile by inductor, cudnn autotuning), and with the loop
    layout replayed as CUDA graphs, fp32: the separate runs' metrics to 1e-4 (loss) and two examples
    (accuracies); compilation must not have fallen back to eager."""
    from dataclasses import replace

    from symtheory.empirical.fused import FusedOptions, train_fused
    from symtheory.empirical.train import train

    configs = [replace(c, device="cuda", precision="fp32") for c in _mnist_configs((0, 1, 2))]
    dirs = [tmp_path / f"fused-{i}" for i in range(3)]
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="torch.compile failed", category=RuntimeWarning)
        train_fused(configs, dirs, data=loader, options=FusedOptions(**options))
    fused = json.loads((dirs[0] / "config.json").read_text())["resolved"]["fused"]
    assert fused["compile"] is True and fused["layout"] == options.get("layout", "vmap")
    for i, cfg in enumerate(configs):
        train(cfg, tmp_path / f"alone-{i}")
        _compare_run_dirs(dirs[i], tmp_path / f"alone-{i}", loss_rtol=1e-4, examples=2.01)


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


def test_ctrl_c_while_a_fused_group_saves_leaves_every_run_at_the_same_epoch(fused_own_seeds, mnist, tmp_path,
                                                                            monkeypatch):
    import signal

    from symtheory.empirical import fused as fused_module
    from symtheory.empirical.checkpoint import load_checkpoint
    from symtheory.empirical.fused import train_fused

    real_save, calls = fused_module.save_checkpoint, []

    def save_then_ctrl_c(path, state):
        """Ctrl-C as the first run's checkpoint is saved: raise_signal sends SIGINT to this thread and runs its
        Python handler before returning (os.kill sent it to the process, its handler left to a later check), so
        it is in hand at this exact point; held here, it takes effect once every run's checkpoint is saved."""
        calls.append(path)
        if len(calls) == 1:
            assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler, "SIGINT not held while saving"
            signal.raise_signal(signal.SIGINT)
        real_save(path, state)

    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # else Ctrl-C is not held at all
    monkeypatch.setattr(fused_module, "save_checkpoint", save_then_ctrl_c)
    parts = [tmp_path / f"parts-{i}" for i in range(3)]
    with pytest.raises(KeyboardInterrupt):
        train_fused(_mnist_configs((0, 1, 2)), parts, data=mnist)
    monkeypatch.undo()
    assert len(calls) == 3
    for part in parts:
        assert len(_rows(part)) == load_checkpoint(part / "checkpoint.pt")["epoch"] == 1
        summary = json.loads((part / "summary.json").read_text())
        assert (summary["status"], summary["message"]) == (
            "interrupted", f"interrupted after epoch 1; --resume {part} continues")
    train_fused(None, parts, resume=True, data=mnist)
    whole, _ = fused_own_seeds
    for a, b in zip(whole, parts):
        assert [r["j1"] for r in _rows(b)] == pytest.approx([r["j1"] for r in _rows(a)], rel=1e-6)


def _same_rows(mine, theirs):
    assert [r["epoch"] for r in mine] == [r["epoch"] for r in theirs]
    for x, y in zip(mine, theirs):
        for key in x.keys() - {"seconds"}:
            assert x[key] == (pytest.approx(y[key], rel=1e-6) if y[key] is not None else None), key


def _dead_pid() -> int:
    """A process id that ran and has ended (its zombie reaped)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def test_a_group_killed_while_it_saves_checkpoints_catches_up_then_resumes_together(mnist, tmp_path):
    """SIGKILL during a checkpoint round leaves some runs' checkpoints at epoch e and the others' at e - 1
    (every metrics line of e written): the runs behind train epoch e, then the group goes on together, to
    the uninterrupted group's metrics; the kill's write temporaries are removed."""
    from symtheory.empirical.checkpoint import checkpoint_epoch
    from symtheory.empirical.fused import train_fused

    configs = _mnist_configs((0, 1, 2))
    whole = [tmp_path / f"whole-{i}" for i in range(3)]
    train_fused(configs, whole, data=mnist, epochs=3)
    parts = [tmp_path / f"parts-{i}" for i in range(3)]
    train_fused(configs, parts, data=mnist, epochs=1)
    behind = (parts[2] / "checkpoint.pt").read_bytes()
    train_fused(None, parts, resume=True, data=mnist, epochs=2)
    (parts[2] / "checkpoint.pt").write_bytes(behind)  # its epoch-2 checkpoint never replaced epoch 1's
    stale = parts[2] / f".checkpoint.pt.{_dead_pid()}.0123456789ab.tmp"
    stale.write_bytes(b"cut short")
    assert [checkpoint_epoch(p / "checkpoint.pt") for p in parts] == [2, 2, 1]
    assert [len(_rows(p)) for p in parts] == [2, 2, 2]

    seen = []

    def on_epoch(r, row):  # each run's summary.json already holds the epoch just finished
        summary = json.loads((parts[r] / "summary.json").read_text())
        seen.append((r, row["epoch"], summary["status"], summary["epochs_completed"]))

    results = train_fused(None, parts, resume=True, data=mnist, epochs=3, on_epoch=on_epoch)
    assert seen == [(2, 2, "running", 2), (0, 3, "running", 3), (1, 3, "running", 3), (2, 3, "running", 3)]
    assert [r.status for r in results] == ["finished"] * 3
    assert not stale.exists()
    for a, b in zip(whole, parts):
        _same_rows(_rows(b), _rows(a))
        assert checkpoint_epoch(b / "checkpoint.pt") == 3
        summary = json.loads((b / "summary.json").read_text())
        assert (summary["status"], summary["epochs_completed"]) == ("finished", 3)


def test_grid_fused_resumes_a_group_a_kill_left_at_different_checkpoint_epochs(data_dir, tmp_path):
    """The review's repro through the command: runs at checkpoint epochs 2, 2, 1 (metrics of epoch 2 all
    written, summaries 'running') were refused with exit 2 after 'resuming'; now the grid finishes them."""
    from cli_helpers import run_cli
    from symtheory.empirical.checkpoint import checkpoint_epoch
    from symtheory.empirical.grid import plan_grid, run_grid

    out = tmp_path / "grid"
    args = dict(subset=64, device="cpu", batch_size=32)

    def plan(epochs):
        return plan_grid(out, None, ["cce", "rll", "nmse"], [0.2], epochs=epochs, **args)

    run_grid(plan(1), "fused", data_dir=data_dir)
    dirs = [r.run_dir for r in plan(2)]
    behind = (dirs[2] / "checkpoint.pt").read_bytes()
    run_grid(plan(2), "fused", data_dir=data_dir)
    uninterrupted = [_rows(d) for d in dirs]
    (dirs[2] / "checkpoint.pt").write_bytes(behind)
    for d in dirs:
        summary = json.loads((d / "summary.json").read_text())
        (d / "summary.json").write_text(json.dumps({**summary, "status": "running"}))
    assert [checkpoint_epoch(d / "checkpoint.pt") for d in dirs] == [2, 2, 1]

    done = run_cli("grid", "--fused", "--losses", "cce,rll,nmse", "--etas", "0.2", "--subset", "64", "--batch-size",
                   "32", "--epochs", "2", "--device", "cpu", "--data-dir", str(data_dir), "--out", str(out), "--json",
                   timeout=300)
    assert done.returncode == 0, done.stderr
    assert [(o["action"], o["status"]) for o in json.loads(done.stdout)] == [("resumed (fused)", "finished")] * 3
    for d, rows in zip(dirs, uninterrupted):
        _same_rows(_rows(d), rows)
        assert checkpoint_epoch(d / "checkpoint.pt") == 2


def test_grid_fused_resumes_runs_stopped_at_different_epochs_in_one_group(data_dir, tmp_path, monkeypatch):
    """Interrupted runs at epochs 1 and 2 resume in one fused call (the one behind catches up), not one call
    per epoch count; both finish with the grid's epochs."""
    import symtheory.empirical.fused as fused
    from symtheory.empirical.grid import plan_grid, run_grid

    def plan(epochs):
        return plan_grid(tmp_path, None, ["cce", "rll"], [0.2], epochs=epochs, subset=64, device="cpu",
                         batch_size=32)

    run_grid(plan(1)[:1], "fused", data_dir=data_dir)
    run_grid(plan(2)[1:], "fused", data_dir=data_dir)
    calls = []
    original = fused.train_fused

    def counted(configs, out_dirs, **kwargs):
        calls.append([Path(d).name for d in out_dirs])
        return original(configs, out_dirs, **kwargs)

    monkeypatch.setattr(fused, "train_fused", counted)
    outcomes = run_grid(plan(3), "fused", data_dir=data_dir)
    assert calls == [["cce-eta0.2-seed0", "rll-eta0.2-seed0"]]
    assert [(o.action, o.status) for o in outcomes] == [("resumed (fused)", "finished")] * 2
    assert [[row["epoch"] for row in _rows(tmp_path / name)] for name in calls[0]] == [[1, 2, 3]] * 2


def test_a_write_temporary_of_a_running_process_is_kept_on_resume(tmp_path):
    from symtheory.empirical.run_dir import RunDir

    for name in ("config.json", "labels.npz"):
        (tmp_path / name).write_text("{}")
    dead, alive = _dead_pid(), os.getppid()
    for pid in (dead, alive):
        (tmp_path / f".checkpoint.pt.{pid}.0123456789ab.tmp").write_bytes(b"")
    (tmp_path / ".notes.tmp").write_bytes(b"")
    RunDir.open(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f".checkpoint.pt.{alive}.0123456789ab.tmp", ".notes.tmp", ".trainer.lock", "config.json", "labels.npz"]


@pytest.mark.parametrize("recorded, saved, when, ending", [
    (3, 3, "after epoch 3", "continues"), (3, 2, "after epoch 3", "continues from the checkpoint of epoch 2"),
    (1, 0, "after epoch 1", "starts it again from epoch 1 (no checkpoint yet)"),
    (0, 0, "before its first epoch finished", "continues")])  # this read "after epoch 0"
def test_an_interrupted_fused_run_says_where_resume_starts(recorded, saved, when, ending, tmp_path):
    from symtheory.empirical.run_setup import interrupted_message

    expected = f"interrupted {when}; --resume {tmp_path} {ending}"
    assert interrupted_message(recorded, saved, tmp_path) == expected


def test_train_fused_refuses_runs_that_cannot_share_a_model(tmp_path):
    from dataclasses import replace

    from symtheory.empirical.fused import train_fused
    from symtheory.errors import BadInput

    configs = _mnist_configs((0, 1, 2))
    configs[1] = replace(configs[1], lr=0.1)
    with pytest.raises(BadInput, match="lr differs"):
        train_fused(configs, [tmp_path / f"r{i}" for i in range(3)])
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("arch,layout,batched", [
    ("resnet32", "vmap", False),
    *[pytest.param(*case, marks=pytest.mark.slow) for case in (
        ("resnet32", "loop", False), ("resnet32", "vmap", True), ("inception-lite", "vmap", False),
        ("resnet18", "vmap", False))],
])
def test_the_compiled_step_and_prediction_trace_as_one_graph_each(arch, layout, batched):
    """torch.compile gets one graph with no break for the training step and for prediction (a graph break,
    e.g. a host read inside a network, would split the step and cost a sync per step on a GPU)."""
    import torch._dynamo as dynamo

    from symtheory.empirical.data import ImageData
    from symtheory.empirical.fused import FusedOptions, forward_loss, make_group
    from symtheory.empirical.presets import build_config
    from symtheory.empirical.run_setup import new_labels

    channels, size = SHAPES[arch]
    preset = {"resnet32": "cifar10-resnet32", "inception-lite": "cifar10-inception", "resnet18": "mnist-resnet18"}[arch]
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (16, channels, size, size), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (16,), generator=g)
    data = ImageData("random", images, labels, images[:4], labels[:4], 10, (0.5,) * channels, (0.25,) * channels,
                     "random", torch.arange(16))
    configs = [build_config(preset, loss, 0.4, seed=seed if batched else 0, batch_size=4, device="cpu")
               for seed, loss in enumerate(("cce", "rll"))]
    group = make_group(configs, data, [new_labels(c, data) for c in configs], torch.device("cpu"),
                       FusedOptions(layout=layout, compile=False))
    input_batched = group.batched_train_input
    assert input_batched == batched
    x = torch.randn((2, 4, channels, size, size) if batched else (4, channels, size, size))
    targets = torch.randint(0, 10, (2, 4))
    try:
        group.net.train()
        step = dynamo.explain(forward_loss(group, batched))(x, targets)
        group.net.eval()
        predict = dynamo.explain(lambda inputs: group.net(inputs, batched).argmax(-1))(x)
    finally:
        dynamo.reset()
    for explained in (step, predict):
        assert (explained.graph_count, explained.graph_break_count) == (1, 0), explained.break_reasons


def test_more_groups_than_dynamos_recompile_limit_still_compile():
    """Each group of a new shape is a new graph of the same step function; dynamo's default limit (8) would
    run the ninth eagerly without a word. Ten groups (R = 1..10, the traced graph of the aot_eager
    backend): every one gets its own graph and none hits the limit; an eleventh group of a shape seen
    before (R = 3, other seeds, so other weights) reuses that graph and still gets its own losses."""
    from torch._dynamo.utils import counters

    from symtheory.empirical.data import ImageData
    from symtheory.empirical.fused import FusedOptions, forward_loss, make_group, _maybe_compile
    from symtheory.empirical.presets import build_config
    from symtheory.empirical.run_setup import new_labels

    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (32, 1, 28, 28), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (32,), generator=g)
    data = ImageData("random", images, labels, images[:4], labels[:4], 10, (0.5,), (0.25,), "random",
                     torch.arange(32))
    x = torch.randn(8, 1, 28, 28, generator=g)
    torch._dynamo.reset()
    counters.clear()
    try:
        for replicas, seed in [(r, 0) for r in range(1, 11)] + [(3, 5)]:
            configs = [build_config(None, "cce", 0.4, arch="mlp", dataset="mnist", batch_size=8, device="cpu",
                                    seed=seed) for _ in range(replicas)]
            group = make_group(configs, data, [new_labels(c, data) for c in configs], torch.device("cpu"),
                               FusedOptions(compile=True, compile_backend="aot_eager"))
            targets = torch.randint(0, 10, (replicas, 8), generator=g)
            compiled = _maybe_compile(forward_loss(group, False), group)
            torch.testing.assert_close(compiled(x, targets)[1], forward_loss(group, False)(x, targets)[1])
        assert counters["stats"]["unique_graphs"] == 10
        assert not [k for k in counters["unimplemented"] if "recompile limit" in k.lower()]
    finally:
        torch._dynamo.reset()


def test_loop_layout_gathers_gradients_with_one_stack_per_parameter():
    """The loop layout's backward graph: each stacked parameter's gradient is one stack of the R slices'
    gradients -- never R scatters into zero tensors of the whole stack, which would move R times its bytes."""
    from torch._dynamo.backends.common import aot_autograd
    from torch._functorch.aot_autograd import make_boxed_func

    graphs = {}

    def keep(name):
        def compiler(gm, example_inputs):
            graphs[name] = gm
            return make_boxed_func(gm.forward)
        return compiler

    models = []
    for r in range(3):
        torch.manual_seed(r)
        models.append(build_network("mlp", 1, 10, 28))
    net = StackedNetwork(models, "loop")
    n_params = len(list(net.parameters()))
    try:
        objective = torch.compile(lambda x: net(x, False).square().sum(),
                                  backend=aot_autograd(fw_compiler=keep("fw"), bw_compiler=keep("bw")))
        objective(torch.randn(4, 1, 28, 28)).backward()
    finally:
        torch._dynamo.reset()
    targets = [str(node.target) for node in graphs["bw"].graph.nodes if node.op == "call_function"]
    assert not [t for t in targets if "select_backward" in t]
    assert targets.count("aten.stack.default") == n_params


def test_stacked_loss_takes_a_loss_expression_beside_registry_losses():
    from symtheory.empirical.fused_loss import StackedLoss
    from symtheory.empirical.losses import expression_loss, loss_fn

    gen = torch.Generator().manual_seed(0)
    logits, targets = torch.randn(3, 5, 4, generator=gen), torch.randint(0, 4, (3, 5), generator=gen)
    stacked = StackedLoss([("expr", {"a": 0.5}, "(1 - p**a)/a"), ("cce", {}, None), ("expr", {"a": 0.5},
                          "(1 - p**a)/a")], "cpu")
    out = stacked(logits, targets)
    assert len(stacked.groups) == 2
    expected = [expression_loss("(1 - p**a)/a", {"a": 0.5}), loss_fn("cce"), expression_loss("(1 - p**a)/a", {"a": 0.5})]
    for r, fn in enumerate(expected):
        assert torch.allclose(out[r], fn(logits[r], targets[r]), atol=1e-6)


def test_stacked_loss_of_several_groups_is_fp32_for_bf16_logits():
    # the several-group path returned bf16 (values rounded to 3 digits), the one-group path fp32
    from symtheory.empirical.fused_loss import StackedLoss
    from symtheory.empirical.losses import loss_fn

    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 64, 10, generator=gen).bfloat16()
    targets = torch.randint(0, 10, (2, 64), generator=gen)
    out = StackedLoss([("cce", {}, None), ("mae", {}, None)], "cpu")(logits, targets)
    assert out.dtype == torch.float32
    for r, fn in enumerate([loss_fn("cce"), loss_fn("mae")]):
        assert torch.equal(out[r], fn(logits[r], targets[r]))


def test_grid_fused_announces_its_runs_only_once_the_group_is_set_up(data_dir, tmp_path, monkeypatch):
    # 'training (fused)' was printed for every run before train_fused had checked the group
    import symtheory.empirical.fused as fused
    from symtheory.empirical.grid import plan_grid, run_grid
    from symtheory.errors import BadInput

    runs = plan_grid(tmp_path, None, ["cce", "rll"], [0.2], epochs=1, subset=64, device="cpu", batch_size=32)
    announced = []
    original = fused.train_fused

    def refused(*args, **kwargs):
        raise BadInput("the group cannot be fused")

    monkeypatch.setattr(fused, "train_fused", refused)
    with pytest.raises(BadInput):
        run_grid(runs, "fused", data_dir=data_dir, on_run=lambda run, action: announced.append(action))
    assert announced == []
    monkeypatch.setattr(fused, "train_fused", original)
    outcomes = run_grid(runs, "fused", data_dir=data_dir,
                        on_run=lambda run, action: announced.append((run.run_dir.name, action)))
    assert announced == [("cce-eta0.2-seed0", "trained (fused)"), ("rll-eta0.2-seed0", "trained (fused)")]
    assert [o.status for o in outcomes] == ["finished"] * 2
